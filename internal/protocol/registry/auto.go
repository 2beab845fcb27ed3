package registry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

// SniffWait is how long auto waits after the upgrade for the server's
// first frame when neither the URL nor the subprotocol told the protocol.
// A server that says nothing in that time is taken as raw.
const SniffWait = 2 * time.Second

// newAuto decides from the URL when it can (returning that protocol's
// adapter), else returns an adapter that decides per connection.
func newAuto(cfg protocol.Config) (protocol.Adapter, string, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, "", fmt.Errorf("url: %w", err)
	}
	if s, marker, ok := pathMatch(u.Path); ok {
		a, err := s.New(cfg)
		return a, fmt.Sprintf("URL path contains %s", marker), err
	}
	au := &autoAdapter{cfg: cfg, built: map[string]protocol.Adapter{}}
	if au.sub("raw") == nil { // format and framing are checked now, not at the first connection
		_, err := lookupNew("raw", rawConfig(cfg))
		return nil, "", err
	}
	return au, "decided per connection from the accepted subprotocol or the server's first frame, else raw", nil
}

// autoAdapter picks after the upgrade, from the accepted subprotocol (one
// the operator offered) or the server's first frame. The adapters it picks
// are built once and kept.
type autoAdapter struct {
	cfg   protocol.Config
	mu    sync.Mutex
	built map[string]protocol.Adapter
}

func (*autoAdapter) Name() string { return Auto }

// sub returns the adapter for protocol name, building it on first use; nil
// when it cannot be built from the target's settings.
func (a *autoAdapter) sub(name string) protocol.Adapter {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ad, ok := a.built[name]; ok {
		return ad
	}
	s, ok := lookup(name)
	if !ok {
		return nil
	}
	cfg := a.cfg
	if name == "raw" {
		cfg = rawConfig(cfg)
	}
	ad, err := s.New(cfg)
	if err != nil {
		ad = nil
	}
	a.built[name] = ad
	return ad
}

// Prepare changes nothing. Auto does not offer the protocols'
// subprotocols itself: many servers (Node's ws library among them) accept
// the first subprotocol a client offers whatever it is, so an offered
// "v12.stomp" would be accepted by a Socket.IO or plain JSON server and
// prove nothing. Only the subprotocols the operator configured are offered.
func (*autoAdapter) Prepare(context.Context, *protocol.Dial) error { return nil }

// Open picks the protocol: the accepted subprotocol's, else the one whose
// Sniff recognises the first frame (waiting at most SniffWait for it),
// else raw. The peeked frame is fed to the picked session by the runner.
func (a *autoAdapter) Open(ctx context.Context, c protocol.Conn) (protocol.Session, error) {
	name, why := "", ""
	if s, ok := subprotocolMatch(c.Subprotocol()); ok {
		name, why = s.Name, "server accepted subprotocol "+c.Subprotocol()
	} else {
		pctx, cancel := context.WithTimeout(ctx, SniffWait)
		f, err := c.ReadFrame(pctx)
		cancel()
		switch {
		case err == nil:
			for _, s := range specs() {
				if s.Sniff != nil && s.Sniff(f) {
					name, why = s.Name, "recognised the server's first frame"
					break
				}
			}
			if name == "" {
				why = "the server's first frame matched no protocol"
			}
		case errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil:
			why = fmt.Sprintf("the server sent nothing within %s", SniffWait)
		default:
			return nil, err
		}
	}
	if name == "" {
		name = "raw"
		if len(a.cfg.Subscribe) > 0 {
			return nil, protocol.Refuse(Auto, "could not tell the protocol (%s) and subscribe needs one: set protocol", why)
		}
	}
	ad := a.sub(name)
	if ad == nil {
		_, err := lookupNew(name, a.cfg)
		return nil, protocol.Refuse(Auto, "picked %s (%s) but its settings are wrong: %v", name, why, err)
	}
	s, err := ad.Open(ctx, c)
	if err != nil {
		return nil, err
	}
	return picked{Session: s, why: why}, nil
}

// rawConfig is cfg for auto's raw fallback: subscriptions and options
// belong to the protocol auto could not recognise.
func rawConfig(cfg protocol.Config) protocol.Config {
	cfg.Subscribe, cfg.Options = nil, nil
	return cfg
}

func lookupNew(name string, cfg protocol.Config) (protocol.Adapter, error) {
	s, _ := lookup(name)
	return s.New(cfg)
}

// Decode is never reached for sessions auto picked (ForSession routes their
// records); it decodes as raw for records of unknown origin.
func (a *autoAdapter) Decode(rec protocol.Frame) []protocol.Event {
	return a.sub("raw").Decode(rec)
}

// picked is a session auto chose, with the reason for the log.
type picked struct {
	protocol.Session
	why string
}

// Why says why auto picked the session's protocol.
func (p picked) Why() string { return p.why }

// Compose forwards to the picked session (protocol.Composer).
func (p picked) Compose(text, room string, out *protocol.Output) (protocol.Event, error) {
	c, ok := p.Session.(protocol.Composer)
	if !ok {
		return protocol.Event{}, fmt.Errorf("protocol %s %w", p.Session.Protocol(), protocol.ErrCannotSend)
	}
	return c.Compose(text, room, out)
}
