# wsmon build and test entry points. `make run` and `make test` are the two
# commands the README promises work on a fresh machine.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/wsmon/wsmon/internal/cli.Version=$(VERSION)
BIN     := bin/wsmon
UIDIST  := internal/webui/dist/index.html

.PHONY: all build ui run test test-go vet fuzz bench clean testservers

all: build

# The dashboard is built with npm + esbuild and embedded with go:embed.
# Without npm the binary still builds and serves a "UI not built" page.
ui: $(UIDIST)
$(UIDIST): $(shell find web/src -type f 2>/dev/null) web/package.json web/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd web && npm ci --no-audit --no-fund && npm run build; \
	else \
		echo "npm not found: building without the dashboard UI"; \
	fi

build: ui
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/wsmon

# Build and start capture + dashboard against the built-in demo chat server.
run: build
	./$(BIN) all --demo

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above need formatting"; exit 1; }

# The real servers the protocol tests talk to: npm packages of each
# test/servers/<name>/ (installed from its package-lock.json), and servers
# built from the Go module proxy into bin/testservers/ (built once; delete
# the file to rebuild). Debian's mosquitto, nats-server and rabbitmq-server
# are used from the system; .ci/run installs them when missing.
TESTSERVERS_NPM := $(patsubst %/package.json,%/node_modules/.installed,$(wildcard test/servers/*/package.json))
TESTSERVERS_GO  := bin/testservers/centrifugo bin/testservers/anycable-go
testservers: $(TESTSERVERS_NPM) $(TESTSERVERS_GO)
bin/testservers/centrifugo:
	GOBIN=$(CURDIR)/bin/testservers GOFLAGS=-mod=mod $(GO) install github.com/centrifugal/centrifugo/v6@v6.9.1
# AnyCable (an ActionCable server), built inside its downloaded module: a
# plain `go install` of it is refused by the module proxy here.
bin/testservers/anycable-go:
	@mkdir -p bin/testservers
	cd "$$(GOFLAGS=-mod=mod $(GO) mod download -json github.com/anycable/anycable-go@v1.5.6 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p')" && \
		GOFLAGS=-mod=mod $(GO) build -trimpath -o $(CURDIR)/bin/testservers/anycable-go ./cmd/anycable-go
test/servers/%/node_modules/.installed: test/servers/%/package.json test/servers/%/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd test/servers/$* && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed; \
	else \
		echo "npm not found: the $* protocol tests will skip"; \
	fi

# Every test: vet, gofmt, unit + integration tests with the race detector
# (protocol adapters against real servers on loopback), browser end-to-end
# tests in headless Chromium (WSMON_CHROMIUM or /usr/bin/chromium); then the
# memory tests, which skip under -race, without it. With WSMON_TEST_PG_DSN
# set (a PostgreSQL server where tests may create schemas, e.g.
# postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable), the tests
# of every package that touches the database run once more on PostgreSQL,
# each in a schema of its own, without the race detector (.ci/run sets it).
# Not repeated there: the memory tests, and the capture side's tests that
# do not depend on the database (network faults, a dashboard flood, the
# journal's full disk, MQTT replies).
PG_SKIP = TestPeakRSSLargeFrames|TestReplayUnderAddressSpaceLimit|TestDashboardFloodDoesNotStopCapture|TestConnectionDropFINAndRST|TestBlackholedConnectionDetectedAtPongTimeout|TestDiskFullIsVisibleBoundedAndRecovers|TestAutomaticReplyMQTT
PG_PACKAGES = ./internal/store/... ./internal/index/ ./internal/ingest/ ./internal/analysis/ ./internal/query/ ./internal/web/ ./internal/cli/ ./internal/app/
test: ui vet testservers
	env -u WSMON_TEST_PG_DSN $(GO) test -race -timeout 25m ./...
	env -u WSMON_TEST_PG_DSN $(GO) test -timeout 10m -run 'TestPeakRSSLargeFrames|TestReplayUnderAddressSpaceLimit' ./internal/app/
	@if [ -n "$$WSMON_TEST_PG_DSN" ]; then \
		echo "the database tests again, on PostgreSQL (WSMON_TEST_PG_DSN)"; \
		$(GO) test -timeout 20m -skip '$(PG_SKIP)' $(PG_PACKAGES); \
	else echo "WSMON_TEST_PG_DSN unset: the tests ran on SQLite only"; fi

# Fuzz every parser: each `func FuzzXxx` in internal/ (the journal reader,
# the config loader, the HTTP parameter, login and target parsers, the
# message and JSON scanners, every protocol adapter) runs for FUZZTIME.
# Inputs that fail are written under the package's testdata/fuzz/ and kept
# there as seeds (plain `go test` runs them too). CI runs
# `make fuzz FUZZTIME=3s`. A run that fails only because the fuzz engine
# timed out stopping a busy worker at the deadline ("context deadline
# exceeded", no failing input written; it happens on a loaded machine) is
# run once more.
FUZZTIME ?= 30s
FUZZ = -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
fuzz:
	@for f in $$(grep -l '^func Fuzz' $$(find internal -name '*_test.go' | sort)); do \
		for fn in $$(grep -o '^func Fuzz[A-Za-z0-9_]*' $$f | cut -d' ' -f2); do \
			echo "fuzz $$fn ./$$(dirname $$f) ($(FUZZTIME))"; \
			out=$$($(GO) test -run '^$$' -fuzz "^$$fn\$$" $(FUZZ) ./$$(dirname $$f)/ 2>&1); rc=$$?; echo "$$out" | tail -3; \
			if [ $$rc -ne 0 ] && echo "$$out" | grep -q 'context deadline exceeded' && ! echo "$$out" | grep -q 'Failing input written'; then \
				echo "  (the fuzz engine timed out stopping a busy worker, no failing input: once more)"; \
				out=$$($(GO) test -run '^$$' -fuzz "^$$fn\$$" $(FUZZ) ./$$(dirname $$f)/ 2>&1); rc=$$?; echo "$$out" | tail -3; \
			fi; \
			[ $$rc -eq 0 ] || echo "$$out"; \
			[ $$rc -eq 0 ] || exit 1; \
		done; \
	done

bench: build
	./$(BIN) bench

clean:
	rm -rf bin web/node_modules test/servers/*/node_modules
	find internal/webui/dist -mindepth 1 ! -name .gitignore -delete
