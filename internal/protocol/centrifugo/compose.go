package centrifugo

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/wsmon/wsmon/internal/jsontok"
	"github.com/wsmon/wsmon/internal/protocol"
)

// replyIDBase is where the command ids of automatic replies start, far
// above the connect and subscribe commands' (2, 3, ...), so a reply's
// reply is never taken for a subscription's.
const replyIDBase = 1 << 31

// Compose publishes text to options.reply_channel; else to room when it is
// a subscribed channel; else to the first subscribed channel
// (protocol.Composer): {"id": N, "publish": {"channel": .., "data": ..}},
// data the text as a JSON string, or with options.reply_format "json" the
// JSON value the text is. The server needs publishing allowed for the
// channel (allow_publish_for_subscriber, or a proxy); it pushes the
// publication to every subscriber, wsmon included, so the echo is that
// publication's event (its info.user is the connection's, unknown here).
// A refused publish is answered with an error reply, which is control.
// Compose reads only the adapter and an atomic counter.
func (s *session) Compose(text, room string, out *protocol.Output) (protocol.Event, error) {
	channel := s.a.replyChannel
	switch {
	case channel != "":
	case room != "" && slices.Contains(s.a.channels, room):
		channel = room
	case len(s.a.channels) > 0:
		channel = s.a.channels[0]
	default:
		return protocol.Event{}, fmt.Errorf("centrifugo: no channel to publish the reply to (subscribe lists none); set options.reply_channel")
	}
	data, err := protocol.ReplyValue(text, s.a.replyJSON)
	if err != nil {
		return protocol.Event{}, err
	}
	b := []byte(`{"id":`)
	b = strconv.AppendUint(b, uint64(replyIDBase+s.replies.Add(1)%replyIDBase), 10)
	b = append(b, `,"publish":{"channel":`...)
	b = jsontok.AppendString(b, channel)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	b = append(b, "}}"...)
	out.Reply(false, b)
	return protocol.ReplyEcho(channel, data), nil
}

// checkChannel validates a channel from the options as New validates the
// subscribe entries.
func checkChannel(c string) error {
	switch {
	case c == "":
		return fmt.Errorf("must not be empty")
	case strings.TrimSpace(c) != c:
		return fmt.Errorf("channel %q has leading or trailing spaces", c)
	case !utf8.ValidString(c) || strings.IndexFunc(c, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0:
		return fmt.Errorf("channel %q holds a control character or invalid UTF-8", c)
	}
	return nil
}
