# wsmon build and test entry points. `make run` and `make test` are the two
# commands the README promises work on a fresh machine.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X github.com/wsmon/wsmon/internal/cli.Version=$(VERSION)
BIN     := bin/wsmon
UIDIST  := internal/webui/dist/index.html

.PHONY: all build ui run test test-go vet fuzz bench clean

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

# Every test: vet, gofmt, unit + integration tests with the race detector,
# browser end-to-end tests in headless Chromium (WSMON_CHROMIUM or
# /usr/bin/chromium), PostgreSQL store tests when WSMON_TEST_PG_DSN is set.
test: ui vet
	$(GO) test -race -timeout 15m ./...

# Fuzz the parsers; inputs that fail are kept under testdata/fuzz as seeds.
FUZZ = -fuzztime 30s -fuzzminimizetime 5s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzNormalize$$' $(FUZZ) ./internal/message/
	$(GO) test -run '^$$' -fuzz '^FuzzScanner$$' $(FUZZ) ./internal/message/
	$(GO) test -run '^$$' -fuzz '^FuzzRawDecode$$' $(FUZZ) ./internal/message/
	$(GO) test -run '^$$' -fuzz '^FuzzLoadFile$$' $(FUZZ) ./internal/config/
	$(GO) test -run '^$$' -fuzz '^FuzzFindInBlob$$' $(FUZZ) ./internal/search/

bench: build
	./$(BIN) bench

clean:
	rm -rf bin web/node_modules
	find internal/webui/dist -mindepth 1 ! -name .gitignore -delete
