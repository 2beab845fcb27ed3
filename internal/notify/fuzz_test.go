package notify

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/mail"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// fuzzWebhookTemplate puts values both inside JSON strings and as whole
// JSON values.
const fuzzWebhookTemplate = `{"text": "{{.User}}: {{.Content}}", "detail": {{json .Detail}}, "room": "{{.Room}}", "id": {{.ID}}}`

// FuzzPayloads builds every sink's request (and the email) from hostile
// alert text: nothing panics, every JSON body is valid and has exactly
// its platform's shape, the text keeps within the platform's limit, no
// mention markup survives where it is escaped, and the email has its ten
// headers and a one-line subject.
func FuzzPayloads(f *testing.F) {
	seeds := [][4]string{
		{"hello", "alice", "lobby", `keyword "紧急" from alice in #lobby`},
		{`"}, "admin": true, "x": "`, `bob"`, `\`, "quote \" and backslash \\"},
		{"{{.Rule}} {{template \"x\"}} {{", "}}", "{{end}}", "{{.Content}}"},
		{"<!channel> <@U123> <at user_id=\"all\">所有人</at> <@all>", "&amp;", "<>", "<script>"},
		{"a\r\nBcc: victim@example.com\r\n\r\nbody", "\r\n", "\n.\n", "x\r\nSubject: y"},
		{"\u2028\u2029\x00\x1b\x7f", "\xff\xfe", "\xc3", "=?utf-8?q?=0D=0A?="},
		{strings.Repeat("紧急", 3000), strings.Repeat("u", 300), "", strings.Repeat("d", 2000)},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3])
	}
	from, _ := mail.ParseAddress("wsmon <wsmon@example.com>")
	to, _ := mail.ParseAddress("ops@example.com")
	renderers := map[string]*renderer{}
	for _, c := range []Config{
		{Name: "webhook", Type: TypeWebhook},
		{Name: "webhook-tmpl", Type: TypeWebhook, Template: fuzzWebhookTemplate},
		{Name: "slack", Type: TypeSlack}, {Name: "dingtalk", Type: TypeDingTalk}, {Name: "feishu", Type: TypeFeishu},
		{Name: "wecom", Type: TypeWeCom}, {Name: "email", Type: TypeEmail},
	} {
		r, err := newRenderer(c)
		if err != nil {
			f.Fatal(err)
		}
		renderers[c.Name] = r
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, content, user, room, detail string) {
		a := Alert{ID: 9, Rule: "r", RuleType: "keyword", Target: "t", Room: room, User: user,
			Content: cutBytes(content, MaxContent), MessageID: 3, Detail: detail, At: now}
		valid := utf8.ValidString(content) && utf8.ValidString(user) && utf8.ValidString(room) && utf8.ValidString(detail)

		for name, r := range renderers {
			typ := strings.TrimSuffix(name, "-tmpl")
			cfg := Config{Name: name, Type: typ, URL: "https://bot.example.com/x?access_token=t", Secret: "s"}
			if typ == TypeSlack || typ == TypeWeCom {
				cfg.Secret = ""
			}
			if typ == TypeEmail {
				body, err := r.render(&a)
				if err != nil {
					t.Fatalf("email: %v", err)
				}
				checkFuzzEmail(t, buildEmail(&a, from, []*mail.Address{to}, string(body), now, "host"))
				continue
			}
			req, err := buildRequest(cfg, r, &a, now)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if !json.Valid(req.body) {
				t.Fatalf("%s: invalid JSON %q", name, req.body)
			}
			switch name {
			case "webhook":
				var got Alert
				if err := strictDecode(req.body, &got); err != nil {
					t.Fatalf("webhook: %v", err)
				}
				if valid && got != a {
					t.Fatalf("webhook: decoded %+v, want %+v", got, a)
				}
			case "webhook-tmpl":
				var got struct {
					Text, Detail, Room string
					ID                 int64
				}
				if err := strictDecode(req.body, &got); err != nil {
					t.Fatalf("templated webhook: %v in %s", err, req.body)
				}
				if valid && (got.Text != user+": "+a.Content || got.Detail != detail || got.Room != room || got.ID != 9) {
					t.Fatalf("templated webhook decoded %+v", got)
				}
			default:
				text := chatText(t, typ, req.body)
				if len(text) > textLimit(typ) || !utf8.ValidString(text) {
					t.Fatalf("%s: %d bytes, valid UTF-8 %v", typ, len(text), utf8.ValidString(text))
				}
				if (typ == TypeSlack || typ == TypeFeishu || typ == TypeWeCom) && strings.Contains(text, "<") {
					t.Fatalf("%s: markup survives: %q", typ, text)
				}
			}
		}
	})
}

// chatText decodes a chat platform's payload strictly and returns its
// message text.
func chatText(t *testing.T, typ string, body []byte) string {
	t.Helper()
	switch typ {
	case TypeSlack:
		var m struct {
			Text string `json:"text"`
		}
		if err := strictDecode(body, &m); err != nil {
			t.Fatalf("slack: %v", err)
		}
		return m.Text
	case TypeFeishu:
		var m struct {
			Timestamp, Sign string
			MsgType         string `json:"msg_type"`
			Content         struct {
				Text string `json:"text"`
			} `json:"content"`
		}
		if err := strictDecode(body, &m); err != nil || m.MsgType != "text" || m.Sign == "" {
			t.Fatalf("feishu: %v %s", err, body)
		}
		return m.Content.Text
	default: // dingtalk, wecom
		var m struct {
			MsgType string `json:"msgtype"`
			Text    struct {
				Content string `json:"content"`
			} `json:"text"`
		}
		if err := strictDecode(body, &m); err != nil || m.MsgType != "text" {
			t.Fatalf("%s: %v %s", typ, err, body)
		}
		return m.Text.Content
	}
}

func checkFuzzEmail(t *testing.T, raw []byte) {
	t.Helper()
	head, _, ok := bytes.Cut(raw, []byte("\r\n\r\n"))
	if !ok {
		t.Fatal("email: no blank line after the headers")
	}
	for _, line := range bytes.Split(head, []byte("\r\n")) {
		if len(line) > 998 || bytes.ContainsAny(line, "\r\n") {
			t.Fatalf("email: bad header line %q", line)
		}
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("email: %v", err)
	}
	if len(msg.Header) != 10 {
		t.Fatalf("email: %d headers %v", len(msg.Header), msg.Header)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || strings.ContainsAny(subject, "\r\n") {
		t.Fatalf("email: subject %q: %v", subject, err)
	}
}
