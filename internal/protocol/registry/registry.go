// Package registry is the one list of chat protocols wsmon speaks: it
// builds a target's adapter by protocol name, and owns protocol "auto",
// which picks the protocol from the URL, the subprotocol the server
// accepted, or the server's first frame.
package registry

import (
	"fmt"
	"slices"
	"strings"

	"github.com/wsmon/wsmon/internal/protocol"
	"github.com/wsmon/wsmon/internal/protocol/actioncable"
	"github.com/wsmon/wsmon/internal/protocol/centrifugo"
	"github.com/wsmon/wsmon/internal/protocol/graphqlws"
	"github.com/wsmon/wsmon/internal/protocol/mqtt"
	"github.com/wsmon/wsmon/internal/protocol/nats"
	"github.com/wsmon/wsmon/internal/protocol/phoenix"
	"github.com/wsmon/wsmon/internal/protocol/raw"
	"github.com/wsmon/wsmon/internal/protocol/signalr"
	"github.com/wsmon/wsmon/internal/protocol/socketio"
	"github.com/wsmon/wsmon/internal/protocol/stomp"
)

// Auto is the name of the protocol that picks one of the others.
const Auto = "auto"

// specs lists every protocol, in the order auto tries them. It is built
// fresh on each call so that nothing in the package is mutable.
func specs() []protocol.Spec {
	return []protocol.Spec{
		socketio.Spec(),
		stomp.Spec(),
		mqtt.Spec(),
		signalr.Spec(),
		graphqlws.Spec(),
		centrifugo.Spec(),
		phoenix.Spec(),
		actioncable.Spec(),
		nats.Spec(),
		raw.Spec(), // last: auto's fallback
	}
}

// Names returns "auto" and every protocol name, for help and errors.
func Names() []string {
	out := []string{Auto}
	for _, s := range specs() {
		out = append(out, s.Name)
	}
	return out
}

// lookup returns the spec named name.
func lookup(name string) (protocol.Spec, bool) {
	for _, s := range specs() {
		if s.Name == name {
			return s, true
		}
	}
	return protocol.Spec{}, false
}

// New builds the adapter for protocol name ("" means auto) from cfg. why
// says, for auto, what it decided at this point and why (logged at start);
// an auto adapter that cannot decide from the URL decides per connection.
// Errors name the offending key without the target ("protocol: ...",
// "subscribe: ...", "options.qos: ...").
func New(name string, cfg protocol.Config) (a protocol.Adapter, why string, err error) {
	if name == "" || name == Auto {
		return newAuto(cfg)
	}
	s, ok := lookup(name)
	if !ok {
		return nil, "", fmt.Errorf("protocol: unknown protocol %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	a, err = s.New(cfg)
	return a, "", err
}

// ForSession returns the adapter that decodes the records of a session
// that spoke protocol: a itself, or for an auto adapter the one it picked.
// Records of sessions journaled before protocols were recorded ("") use a.
func ForSession(a protocol.Adapter, protocol string) protocol.Adapter {
	if protocol == "" || a.Name() == protocol {
		return a
	}
	if au, ok := a.(*autoAdapter); ok {
		if sub := au.sub(protocol); sub != nil {
			return sub
		}
	}
	return a
}

// pathMatch returns the spec whose URL path marker appears in path as
// whole segments ("/cable" matches "/cable" and "/app/cable/x", not
// "/cables").
func pathMatch(path string) (protocol.Spec, string, bool) {
	for _, s := range specs() {
		for _, p := range s.Paths {
			if segmentsContain(path, strings.TrimSuffix(p, "/")) {
				return s, p, true
			}
		}
	}
	return protocol.Spec{}, "", false
}

// segmentsContain reports whether marker (starting with '/') occurs in
// path followed by the end or a '/'.
func segmentsContain(path, marker string) bool {
	for i := 0; ; {
		j := strings.Index(path[i:], marker)
		if j < 0 {
			return false
		}
		end := i + j + len(marker)
		if end == len(path) || path[end] == '/' {
			return true
		}
		i += j + 1
	}
}

// subprotocolMatch returns the spec that owns the accepted subprotocol.
func subprotocolMatch(sub string) (protocol.Spec, bool) {
	if sub == "" {
		return protocol.Spec{}, false
	}
	for _, s := range specs() {
		if slices.Contains(s.Subprotocols, sub) {
			return s, true
		}
	}
	return protocol.Spec{}, false
}
