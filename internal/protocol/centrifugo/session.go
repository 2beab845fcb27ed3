package centrifugo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/wsmon/wsmon/internal/protocol"
)

// pong answers the server's ping ({}) when the connect reply asked for it.
var pong = []byte("{}")

// session is one Centrifugo connection. Only Feed touches it (the server
// pings, Tick does nothing), so it needs no lock; the stream positions it
// updates live on the adapter, under its lock.
type session struct {
	a         *Adapter
	connected bool
	client    string            // our client id, from the connect reply
	pong      bool              // answer pings
	nextID    uint32            // id of the next command
	subs      map[uint32]string // subscribe command id -> channel, until its reply

	replies atomic.Uint32 // automatic replies sent (their command ids, from replyIDBase)
}

func newSession(a *Adapter) *session {
	return &session{a: a, nextID: connectID + 1, subs: map[uint32]string{}}
}

func (*session) Protocol() string                       { return Name }
func (s *session) Ready() bool                          { return s.connected }
func (*session) Heartbeat() time.Duration               { return 0 }
func (*session) Tick(time.Time, *protocol.Output) error { return nil }

// Feed handles one frame: one reply per line.
func (s *session) Feed(f protocol.Frame, out *protocol.Output) error {
	for rest := f.Data; len(rest) > 0; {
		line, tail, _ := bytes.Cut(rest, []byte{'\n'})
		rest = tail
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := s.reply(line, f.Binary, out); err != nil {
			return err
		}
	}
	return nil
}

// reply handles one reply line.
func (s *session) reply(line []byte, binary bool, out *protocol.Output) error {
	if bytes.Equal(bytes.TrimSpace(line), pong) {
		out.Ctrl(binary, line)
		if s.pong {
			out.Reply(false, pong)
		}
		return nil
	}
	var r reply
	if err := json.Unmarshal(line, &r); err != nil {
		return fmt.Errorf("centrifugo: reply is not JSON: %v", err)
	}
	switch {
	case r.ID == connectID:
		out.Ctrl(binary, line)
		return s.connectReply(&r, out)
	case r.ID != 0:
		channel, ok := s.subs[r.ID]
		if !ok {
			out.Ctrl(binary, line)
			return nil
		}
		delete(s.subs, r.ID)
		return s.subscribeReply(channel, &r, line, binary, out)
	case r.Push != nil:
		return s.push(r.Push, line, binary, out)
	}
	out.Ctrl(binary, line)
	return nil
}

// connectReply handles the reply to connect: on success it subscribes.
func (s *session) connectReply(r *reply, out *protocol.Output) error {
	if s.connected {
		return nil
	}
	if e := r.Error; e != nil {
		switch {
		case e.Temporary:
			return fmt.Errorf("centrifugo: connect failed: %s (%d, temporary)", e.Message, e.Code)
		case e.Code == 109:
			return protocol.Refuse(Name, "connect: %s (%d): wsmon cannot refresh a connection token; put a fresh one in auth.token", e.Message, e.Code)
		case e.Code == 101:
			return protocol.Refuse(Name, "connect: %s (%d): check auth.token", e.Message, e.Code)
		}
		return protocol.Refuse(Name, "connect: %s (%d)", e.Message, e.Code)
	}
	if r.Connect == nil {
		return fmt.Errorf("centrifugo: connect reply without result")
	}
	var res connectResult
	if err := json.Unmarshal(*r.Connect, &res); err != nil {
		return fmt.Errorf("centrifugo: bad connect result: %v", err)
	}
	s.connected, s.client, s.pong = true, res.Client, res.Pong
	for _, c := range s.a.channels {
		s.subscribe(c, out)
	}
	return nil
}

// subscribe sends a subscribe command for channel.
func (s *session) subscribe(channel string, out *protocol.Output) {
	id := s.nextID
	s.nextID++
	s.subs[id] = channel
	out.Reply(false, s.a.subscribeCommand(id, channel))
}

// subscribeReply handles the reply to a subscribe command: an error ends
// the session (a refusal unless temporary); success records the stream
// position, and publications recovered since the last one are a record.
func (s *session) subscribeReply(channel string, r *reply, line []byte, binary bool, out *protocol.Output) error {
	if e := r.Error; e != nil {
		out.Ctrl(binary, line)
		switch {
		case e.Code == 105: // already subscribed
			return nil
		case e.Temporary:
			return fmt.Errorf("centrifugo: subscribe to channel %q failed: %s (%d, temporary)", channel, e.Message, e.Code)
		}
		return protocol.Refuse(Name, "subscribe to channel %q: %s (%d)", channel, e.Message, e.Code)
	}
	res := r.Subscribe
	if res == nil {
		out.Ctrl(binary, line)
		return nil
	}
	if res.Epoch != "" {
		s.a.setPosition(channel, position{offset: res.Offset, epoch: res.Epoch})
	}
	if len(res.Publications) > 0 {
		out.Record(binary, withContext(recordContext{Channel: channel}, line))
		return nil
	}
	out.Ctrl(binary, line)
	return nil
}

// push handles an asynchronous push.
func (s *session) push(p *push, line []byte, binary bool, out *protocol.Output) error {
	switch {
	case p.Pub != nil:
		ch := p.Channel
		if p.Pub.Channel != "" {
			ch = p.Pub.Channel
		}
		epoch := ""
		if p.Pub.Offset > 0 {
			epoch = s.a.advance(ch, p.Pub.Offset)
		}
		if epoch != "" && p.Pub.Epoch == "" {
			out.Record(binary, withContext(recordContext{Epoch: epoch}, line))
		} else {
			out.Record(binary, line)
		}
	case p.Join != nil, p.Leave != nil:
		// The server tells wsmon of its own join too: not chat.
		info := p.Join
		if info == nil {
			info = p.Leave
		}
		var ci struct {
			Client string `json:"client"`
		}
		if s.client != "" && json.Unmarshal(info.Info, &ci) == nil && ci.Client == s.client {
			out.Ctrl(binary, line)
			return nil
		}
		out.Record(binary, line)
	case p.Message != nil:
		out.Record(binary, line)
	case p.Unsubscribe != nil:
		out.Ctrl(binary, line)
		if !slices.Contains(s.a.channels, p.Channel) {
			return nil
		}
		// Codes from 2500 ask the client to subscribe again (insufficient
		// state, expired subscription); lower ones end the subscription.
		if p.Unsubscribe.Code >= 2500 {
			s.subscribe(p.Channel, out)
			return nil
		}
		return protocol.Refuse(Name, "server unsubscribed wsmon from channel %q: %s (%d)", p.Channel, p.Unsubscribe.Reason, p.Unsubscribe.Code)
	case p.Subscribe != nil:
		// A server-side subscription: keep its position for recovery.
		out.Ctrl(binary, line)
		if p.Subscribe.Epoch != "" && p.Channel != "" {
			s.a.setPosition(p.Channel, position{offset: p.Subscribe.Offset, epoch: p.Subscribe.Epoch})
		}
	case p.Disconnect != nil:
		out.Ctrl(binary, line)
		d := p.Disconnect
		if terminal(d.Code) {
			return protocol.Refuse(Name, "server disconnected wsmon: %s (%d)", d.Reason, d.Code)
		}
		return fmt.Errorf("centrifugo: server disconnected: %s (%d)", d.Reason, d.Code)
	default:
		out.Ctrl(binary, line)
	}
	return nil
}

// terminal reports whether a Centrifugo disconnect code (also used as the
// WebSocket close code) means "do not reconnect": 3500-3999 and 4500-4999.
func terminal(code uint32) bool {
	return (code >= 3500 && code < 4000) || (code >= 4500 && code < 5000)
}
