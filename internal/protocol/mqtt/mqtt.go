// Package mqtt is the adapter for MQTT 3.1, 3.1.1 and 5 over WebSocket
// (mosquitto, EMQX, HiveMQ, RabbitMQ web-mqtt).
//
// After the upgrade the session sends CONNECT; on CONNACK it subscribes to
// every configured topic filter, one SUBSCRIBE each. PUBLISH packets are
// the records; everything else (CONNACK, SUBACK, PINGRESP, the QoS
// handshakes) is control. The WebSocket carries MQTT as a byte stream in
// binary frames, so packets are reassembled: one may span frames and a
// frame may hold several.
package mqtt

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/protocol"
)

// Name is the protocol's registry name.
const Name = "mqtt"

// ReasonBadPacket is the Event.Reason of a record that is not a readable
// PUBLISH packet (it cannot come from a session; only from a damaged
// journal).
const ReasonBadPacket = "bad_packet"

// topicAliasMax is how many topic aliases an MQTT 5 session accepts from
// the broker (Topic Alias Maximum in CONNECT).
const topicAliasMax = 64

// Spec is the MQTT protocol's registry entry: a URL path containing /mqtt
// or a server accepting the mqtt (or mqttv3.1) subprotocol picks it under
// protocol auto; the server says nothing first.
func Spec() protocol.Spec {
	return protocol.Spec{
		Name:         Name,
		New:          New,
		Subprotocols: []string{"mqtt", "mqttv3.1"},
		Paths:        []string{"/mqtt"},
	}
}

// Adapter is the MQTT adapter of one target. It is immutable and safe for
// concurrent use.
type Adapter struct {
	filters      []string
	version      byte // protocol level: 3 (3.1), 4 (3.1.1) or 5
	clientID     string
	qos          byte
	keepAlive    uint16 // seconds
	clean        bool
	username     string
	password     string
	hasUser      bool
	hasPass      bool
	userProperty string // MQTT 5 user property naming the sender
	text         bool   // payload_format "text": payloads are never parsed as JSON
	skipRetained bool   // retained "skip": messages replayed from the broker's store are control

	replyTopicName string // reply_topic: where automatic replies are published; "" for the room's topic
}

// New builds an MQTT adapter from cfg: subscribe lists the topic filters
// (at least one; + and # wildcards); auth.username and auth.password go in
// CONNECT; options are version (3, 4 or 5; default 4, MQTT 3.1.1),
// client_id (default "wsmon-" and 12 random hex digits, new for every
// target each time wsmon starts), qos (0 or 1, default 0), keepalive
// (seconds, default 60; 0 turns keep-alive off), clean_session (default
// true; false needs a client_id of your own), user_property (MQTT 5: a
// user property naming the sender), payload_format ("auto" or "text",
// default "auto") and retained ("keep" or "skip", default "keep": whether
// the retained message a broker replays on every subscription is
// recorded); reply_topic (the topic automatic replies are published to,
// no wildcards; default the answered message's topic, see Compose).
func New(cfg protocol.Config) (protocol.Adapter, error) {
	if _, err := cfg.ParseURL(); err != nil {
		return nil, err
	}
	a := &Adapter{}
	if len(cfg.Subscribe) == 0 {
		return nil, fmt.Errorf("subscribe: mqtt needs at least one topic filter to subscribe to (e.g. chat/# )")
	}
	for i, f := range cfg.Subscribe {
		if err := checkFilter(f); err != nil {
			return nil, fmt.Errorf("subscribe: topic filter %q: %v", f, err)
		}
		if slices.Contains(cfg.Subscribe[:i], f) {
			return nil, fmt.Errorf("subscribe: topic filter %q is listed twice", f)
		}
	}
	a.filters = slices.Clone(cfg.Subscribe)

	r := cfg.Options.Read()
	a.version = byte(r.Int("version", 4, 3, 5))
	_, ownID := cfg.Options["client_id"]
	a.clientID = r.String("client_id", randomClientID())
	a.qos = byte(r.Int("qos", 0, 0, 1))
	a.keepAlive = uint16(r.Int("keepalive", 60, 0, 65535))
	a.clean = r.Bool("clean_session", true)
	a.userProperty = r.String("user_property", "")
	a.text = r.OneOf("payload_format", "auto", "auto", "text") == "text"
	a.skipRetained = r.OneOf("retained", "keep", "keep", "skip") == "skip"
	a.replyTopicName = r.String("reply_topic", "")
	if err := r.Err(); err != nil {
		return nil, err
	}
	if cfg.Options["reply_topic"] != nil {
		if err := checkTopic(a.replyTopicName); err != nil {
			return nil, fmt.Errorf("options.reply_topic: %v", err)
		}
	}
	switch {
	case a.clientID == "":
		return nil, fmt.Errorf("options.client_id: must not be empty")
	case len(a.clientID) > 65535 || !utf8.ValidString(a.clientID) || strings.ContainsRune(a.clientID, 0):
		return nil, fmt.Errorf("options.client_id: must be UTF-8 text without NUL of at most 65535 bytes")
	case a.version == 3 && len(a.clientID) > 23:
		return nil, fmt.Errorf("options.client_id: MQTT 3.1 allows at most 23 characters, got %d", len(a.clientID))
	case !a.clean && !ownID:
		return nil, fmt.Errorf("options.client_id: clean_session false needs a client_id of your own (the broker finds the kept session by it)")
	case a.userProperty != "" && a.version != 5:
		return nil, fmt.Errorf("options.user_property: user properties need MQTT 5 (options.version 5)")
	}

	switch {
	case cfg.Auth.Token != "":
		return nil, fmt.Errorf("auth: mqtt has no token login; a broker that takes a token as password wants it in auth.password")
	case cfg.Auth.Password != "" && cfg.Auth.Username == "" && a.version != 5:
		return nil, fmt.Errorf("auth: password without username needs MQTT 5 (options.version 5)")
	case len(cfg.Auth.Username) > 65535 || len(cfg.Auth.Password) > 65535:
		return nil, fmt.Errorf("auth: username and password are limited to 65535 bytes")
	case !utf8.ValidString(cfg.Auth.Username):
		return nil, fmt.Errorf("auth: username must be UTF-8")
	}
	a.username, a.hasUser = cfg.Auth.Username, cfg.Auth.Username != ""
	a.password, a.hasPass = cfg.Auth.Password, cfg.Auth.Password != ""
	return a, nil
}

// randomClientID is "wsmon-" and 12 random hex digits: 18 characters, within
// MQTT 3.1's limit of 23, and unique per target and run, so two wsmon
// processes (or targets) never take over each other's session.
func randomClientID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "wsmon-" + hex.EncodeToString(b[:])
}

// checkFilter validates a topic filter: not empty, UTF-8 without NUL, at
// most 65535 bytes, '#' only as the whole last level, '+' only as a whole
// level.
func checkFilter(f string) error {
	switch {
	case f == "":
		return fmt.Errorf("empty")
	case len(f) > 65535:
		return fmt.Errorf("longer than 65535 bytes")
	case !utf8.ValidString(f) || strings.ContainsRune(f, 0):
		return fmt.Errorf("must be UTF-8 text without NUL")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return fmt.Errorf("'#' must be the whole last level")
		}
		if strings.Contains(l, "+") && l != "+" {
			return fmt.Errorf("'+' must be a whole level")
		}
	}
	return nil
}

// Name returns "mqtt".
func (*Adapter) Name() string { return Name }

// Prepare offers the MQTT subprotocol: mqttv3.1 for MQTT 3.1, else mqtt.
func (a *Adapter) Prepare(_ context.Context, d *protocol.Dial) error {
	p := "mqtt"
	if a.version == 3 {
		p = "mqttv3.1"
	}
	if !slices.Contains(d.Subprotocols, p) {
		d.Subprotocols = append(d.Subprotocols, p)
	}
	return nil
}

// Open sends CONNECT and returns the session.
func (a *Adapter) Open(ctx context.Context, c protocol.Conn) (protocol.Session, error) {
	if err := c.Write(ctx, protocol.Frame{Binary: true, Data: a.connectPacket()}); err != nil {
		return nil, err
	}
	return newSession(a), nil
}

// connectPacket is the CONNECT packet. MQTT 5 sessions also say the
// largest packet they take, that they accept topic aliases and, for a kept
// session, that it never expires (as in 3.1.1).
func (a *Adapter) connectPacket() []byte {
	var b []byte
	if a.version == 3 {
		b = appendString(b, "MQIsdp")
	} else {
		b = appendString(b, "MQTT")
	}
	b = append(b, a.version)
	var flags byte
	if a.hasUser {
		flags |= 0x80
	}
	if a.hasPass {
		flags |= 0x40
	}
	if a.clean {
		flags |= 0x02
	}
	b = append(b, flags)
	b = binary.BigEndian.AppendUint16(b, a.keepAlive)
	if a.version == 5 {
		var p []byte
		if !a.clean {
			p = append(p, propSessionExpiry)
			p = binary.BigEndian.AppendUint32(p, 0xffffffff)
		}
		p = append(p, propMaxPacketSize)
		p = binary.BigEndian.AppendUint32(p, maxPacket)
		p = append(p, propTopicAliasMax)
		p = binary.BigEndian.AppendUint16(p, topicAliasMax)
		b = appendUvarint(b, len(p))
		b = append(b, p...)
	}
	b = appendString(b, a.clientID)
	if a.hasUser {
		b = appendString(b, a.username)
	}
	if a.hasPass {
		b = appendString(b, a.password)
	}
	return packet(typeConnect<<4, b)
}

// subscribePacket is the SUBSCRIBE of filter number i, packet id i+1.
func (a *Adapter) subscribePacket(i int) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(i+1))
	if a.version == 5 {
		b = append(b, 0) // no properties
	}
	b = appendString(b, a.filters[i])
	opts := a.qos // MQTT 5: no-local and retain-as-published 0
	if a.version == 5 && a.skipRetained {
		opts |= 2 << 4 // Retain Handling 2: do not send retained messages
	}
	b = append(b, opts)
	return packet(typeSubscribe<<4|0x02, b)
}

// publish is a parsed PUBLISH packet.
type publish struct {
	qos     byte
	topic   []byte
	pid     uint16
	props   []prop
	propsAt int // offset of the properties (MQTT 5), to rebuild the packet
	payload []byte
}

// parsePublish reads a whole PUBLISH packet (fixed header included); v5
// says whether it has properties.
func parsePublish(b []byte, v5 bool) (publish, error) {
	var p publish
	total, hdr, err := splitPacket(b)
	if err != nil || total != len(b) {
		return p, fmt.Errorf("mqtt: not one whole packet")
	}
	if b[0]>>4 != typePublish {
		return p, fmt.Errorf("mqtt: %s packet, not PUBLISH", typeNames[b[0]>>4])
	}
	p.qos = b[0] >> 1 & 3
	if p.qos == 3 {
		return p, fmt.Errorf("mqtt: PUBLISH with QoS 3")
	}
	r := reader{b: b, i: hdr}
	p.topic = r.bytes()
	if p.qos > 0 {
		p.pid = r.uint16()
		if r.err == nil && p.pid == 0 {
			return p, fmt.Errorf("mqtt: PUBLISH with packet identifier 0")
		}
	}
	p.propsAt = r.i
	if v5 {
		p.props = r.props()
	}
	p.payload = r.rest()
	if r.err != nil {
		return p, r.err
	}
	return p, nil
}

// Decode turns a PUBLISH record into its event: Room is the topic (always
// the full topic name: a session records a packet that came with only a
// topic alias rebuilt with its topic), Payload the application message. ID
// is empty: MQTT messages carry no id of their own, and packet identifiers
// are per-connection handshake numbers, never message ids. The record is a
// binary packet, but a payload that is UTF-8 text is marked text
// (Event.Binary false), so JSON or plain text chat reads as such; any other
// payload is Binary. With payload_format "text", and in MQTT 5 for a
// text/plain Content Type, the payload is plain text, never parsed as
// JSON. MQTT 5: with the user_property option, that user property is the
// User. Raw is the whole packet.
//
// A record that is not a readable PUBLISH gives one event holding it all
// with Reason "bad_packet".
func (a *Adapter) Decode(rec protocol.Frame) []protocol.Event {
	p, err := parsePublish(rec.Data, a.version == 5)
	if err != nil {
		return []protocol.Event{{Payload: rec.Data, Raw: rec.Data, Binary: true, Reason: ReasonBadPacket}}
	}
	ev := protocol.Event{
		Room:    string(p.topic),
		Payload: p.payload,
		Raw:     rec.Data,
		Binary:  !utf8.Valid(p.payload),
		Text:    a.text,
	}
	if ct, ok := find(p.props, propContentType); ok {
		mt, _, _ := strings.Cut(string(ct.s), ";")
		ev.Text = ev.Text || strings.EqualFold(strings.TrimSpace(mt), "text/plain")
	}
	if a.userProperty != "" {
		for _, pr := range p.props {
			if pr.id == propUserProperty && string(pr.key) == a.userProperty {
				ev.User = string(pr.s)
				break
			}
		}
	}
	return []protocol.Event{ev}
}

// keepAliveEvery is how often a session with keep-alive ka pings: at three
// quarters of it, well before the broker's 1.5 × keep-alive.
func keepAliveEvery(ka uint16) time.Duration {
	return time.Duration(ka) * time.Second * 3 / 4
}
