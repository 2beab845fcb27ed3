package stomp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/url"
	"strings"
)

// SockJS is a transport layer some STOMP endpoints (Spring's
// withSockJS(), older RabbitMQ web-stomp) put between the WebSocket and
// STOMP. Over its websocket transport, at
// <prefix>/<server>/<session>/websocket, the server sends text frames of
// one of these kinds:
//
//	o                 the session is open (nothing may be sent before it)
//	h                 a heartbeat
//	a["msg",...]      a JSON array of messages, each a STOMP frame (or a
//	                  part of a stream of frames) as a JSON string
//	m"msg"            one message (early SockJS versions)
//	c[3000,"reason"]  the server closes the session
//
// and the client sends JSON arrays of strings, ["msg"].

// sockjsKind is the kind of one SockJS frame.
type sockjsKind byte

const (
	sockjsOpen      sockjsKind = 'o'
	sockjsHeartbeat sockjsKind = 'h'
	sockjsArray     sockjsKind = 'a'
	sockjsMessage   sockjsKind = 'm'
	sockjsClose     sockjsKind = 'c'
)

// parseSockJS splits a SockJS frame into its kind and messages (for a and
// m) or the close code and reason (for c, as the one message "code reason").
func parseSockJS(data []byte) (sockjsKind, []string, error) {
	if len(data) == 0 {
		return 0, nil, fmt.Errorf("stomp: empty SockJS frame")
	}
	kind, rest := sockjsKind(data[0]), data[1:]
	switch kind {
	case sockjsOpen, sockjsHeartbeat:
		if len(bytes.TrimSpace(rest)) != 0 {
			return 0, nil, fmt.Errorf("stomp: bad SockJS frame %q", clip(data))
		}
		return kind, nil, nil
	case sockjsArray:
		var msgs []string
		if err := json.Unmarshal(rest, &msgs); err != nil {
			return 0, nil, fmt.Errorf("stomp: bad SockJS message array: %v", err)
		}
		return kind, msgs, nil
	case sockjsMessage:
		var msg string
		if err := json.Unmarshal(rest, &msg); err != nil {
			return 0, nil, fmt.Errorf("stomp: bad SockJS message: %v", err)
		}
		return kind, []string{msg}, nil
	case sockjsClose:
		var c []any
		if err := json.Unmarshal(rest, &c); err != nil || len(c) != 2 {
			return kind, []string{strings.TrimSpace(string(clip(rest)))}, nil
		}
		return kind, []string{fmt.Sprintf("%v %v", c[0], c[1])}, nil
	}
	return 0, nil, fmt.Errorf("stomp: not a SockJS frame: %q", clip(data))
}

// wrapSockJS encodes one client message as a SockJS frame: a JSON array
// holding it as a string.
func wrapSockJS(msg []byte) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	_ = e.Encode([]string{string(msg)}) // a []string always encodes
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'})
}

// sockjsSuffix reports whether path ends in a SockJS websocket transport
// address, /<server>/<session>/websocket with a numeric server id (as
// every SockJS client makes it), and returns the prefix before it.
func sockjsSuffix(path string) (prefix string, ok bool) {
	rest, found := strings.CutSuffix(path, "/websocket")
	if !found {
		return "", false
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return "", false
	}
	session := rest[i+1:]
	rest = rest[:i]
	j := strings.LastIndexByte(rest, '/')
	if j < 0 {
		return "", false
	}
	server := rest[j+1:]
	if session == "" || strings.Contains(session, ".") || server == "" || strings.Trim(server, "0123456789") != "" {
		return "", false
	}
	return rest[:j], true
}

// sockjsURL returns u pointed at a fresh SockJS session: the endpoint
// prefix (u's path without any SockJS suffix it has) followed by a random
// three-digit server id, a random eight-letter session id and /websocket.
// A fresh session per attempt keeps a reconnect from meeting the server's
// "Another connection still open" for the previous one. http and https
// become ws and wss.
func sockjsURL(u *url.URL) *url.URL {
	v := *u
	switch v.Scheme {
	case "http":
		v.Scheme = "ws"
	case "https":
		v.Scheme = "wss"
	}
	prefix, ok := sockjsSuffix(v.Path)
	if !ok {
		prefix = strings.TrimSuffix(v.Path, "/")
	}
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	session := make([]byte, 8)
	for i := range session {
		session[i] = letters[rand.IntN(len(letters))]
	}
	v.Path = fmt.Sprintf("%s/%03d/%s/websocket", prefix, rand.IntN(1000), session)
	v.RawPath = ""
	return &v
}
