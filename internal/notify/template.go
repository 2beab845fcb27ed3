package notify

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
	"unicode/utf8"
)

// DefaultText is the message text of every type but webhook when
// Config.Template is empty.
const DefaultText = `[wsmon] {{.Rule}}: {{.Detail}}
target {{.Target}}{{if .Room}} · room {{.Room}}{{end}}{{if .User}} · user {{.User}}{{end}}
{{if .Content}}“{{.Content}}”
{{end}}alert {{.ID}}{{if .MessageID}} · message {{.MessageID}}{{end}} · {{.At.UTC.Format "2006-01-02 15:04:05"}} UTC`

// Bounds of rendered text.
const (
	// maxTextContent is the most characters of Alert.Content a chat or
	// email text shows (the webhook body carries all MaxContent bytes).
	maxTextContent = 1000
	// maxBody bounds what a template may render; more is an error.
	maxBody = 256 << 10
)

// textLimit is the most bytes of message text a platform takes; a longer
// text is cut at a character boundary and ends with Ellipsis.
func textLimit(typ string) int {
	switch typ {
	case TypeWeCom:
		// developer.work.weixin.qq.com/document/path/91770 (群机器人配置说明):
		// text.content "最长不超过2048个字节，必须是utf8编码".
		return 2048
	case TypeEmail:
		return 64 << 10
	default:
		// Slack truncates text past 40,000 characters and asks for far
		// less; DingTalk and Feishu bound the request body near 20 KB.
		// An alert needs a few lines.
		return 4000
	}
}

// escapeFunc is the name under which a renderer's escaper is callable;
// every printing action of a template gets it appended (see escapeTree).
const escapeFunc = "_wsmonEscape"

// renderer turns an Alert into a request body (webhook) or message text
// (every other type). It is immutable and safe for concurrent use.
type renderer struct {
	typ  string
	tmpl *template.Template // nil: webhook without template, the body is the Alert as JSON
}

// newRenderer parses c.Template (or DefaultText) and checks it by
// rendering a sample alert with hostile content.
func newRenderer(c Config) (*renderer, error) {
	r := &renderer{typ: c.Type}
	text := c.Template
	if text == "" {
		if c.Type == TypeWebhook {
			return r, nil
		}
		text = DefaultText
	}
	esc := escaper(c.Type)
	t, err := template.New(c.Name).Option("missingkey=error").Funcs(template.FuncMap{
		"json":     jsonValue,
		"printf":   boundedPrintf,
		escapeFunc: func(args ...any) string { return esc(stringify(args)) },
	}).Parse(text)
	if err != nil {
		return nil, err
	}
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			if err := escapeTree(tt.Tree.Root); err != nil {
				return nil, err
			}
		}
	}
	r.tmpl = t
	if _, err := r.render(sampleAlert()); err != nil {
		return nil, err
	}
	return r, nil
}

// sampleAlert is what Validate renders a template with: every field set,
// content with quotes, newlines, template and mention syntax.
func sampleAlert() *Alert {
	return &Alert{ID: 1, Rule: "sample", RuleType: "keyword", Target: "demo", Room: "lobby", User: "alice",
		Content: "say \"紧急\"\n{{.Rule}} <!channel> <at user_id=\"all\"></at> \\ \u2028", MessageID: 2,
		Detail: `keyword "紧急" from alice in #lobby`, At: time.Unix(0, 0).UTC()}
}

// errNotJSON is a webhook template's output that is not JSON.
var errNotJSON = errors.New("the rendered body is not valid JSON (put values in quotes, \"{{.Content}}\", or use {{json .Content}})")

// render returns the webhook body or the message text for a. Its errors
// are permanent: the same alert renders the same way every time.
func (r *renderer) render(a *Alert) ([]byte, error) {
	if r.tmpl == nil {
		return json.Marshal(a)
	}
	d := *a
	if r.typ != TypeWebhook {
		d.Content = cutRunes(d.Content, maxTextContent)
	}
	var buf bytes.Buffer
	if err := r.tmpl.Execute(&limitWriter{w: &buf, n: maxBody}, &d); err != nil {
		return nil, err
	}
	out := buf.Bytes()
	if r.typ == TypeWebhook {
		if !json.Valid(out) {
			return nil, errNotJSON
		}
		return out, nil
	}
	// Invalid UTF-8 now, so the cut below holds after JSON encoding
	// (which would turn each invalid byte into a 3-byte U+FFFD).
	s := strings.TrimSpace(strings.ToValidUTF8(string(out), "\uFFFD"))
	if s == "" {
		return nil, errors.New("the template renders an empty message")
	}
	return []byte(cutBytes(s, textLimit(r.typ))), nil
}

// escaper returns what every value a template prints goes through:
//   - webhook: JSON string content, so a value cannot end the string it
//     is in (quotes, backslashes, control characters, U+2028/9 escaped;
//     invalid UTF-8 becomes U+FFFD);
//   - slack: &, < and > as &amp; &lt; &gt;, the escaping Slack asks for
//     (docs.slack.dev "Formatting text for app surfaces": "Escaping
//     text"), so chat text cannot write <!channel>, <@U123> or a link;
//   - feishu, lark, wecom: < as the fullwidth ＜, so chat text cannot
//     write Feishu's <at user_id="all"> or WeCom's <@userid> mentions
//     (91770: "text/markdown类型消息支持在content中使用<@userid>扩展语法");
//   - dingtalk, email: nothing (DingTalk mentions only whom the request's
//     "at" field lists, which is never set; an email body is text/plain).
func escaper(typ string) func(string) string {
	switch typ {
	case TypeWebhook:
		return jsonString
	case TypeSlack:
		return slackEscaper.Replace
	case TypeFeishu, TypeLark, TypeWeCom:
		return angleEscaper.Replace
	default:
		return func(s string) string { return s }
	}
}

var (
	slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")
	angleEscaper = strings.NewReplacer("<", "＜")
)

// jsonString returns s as the content of a JSON string, without quotes.
func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b[1 : len(b)-1])
}

// jsonValue is the templates' json function: v as a JSON value.
func jsonValue(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// stringify is how a printed pipeline value becomes text, as
// text/template prints it.
func stringify(args []any) string {
	if len(args) == 1 {
		if s, ok := args[0].(string); ok {
			return s
		}
	}
	return fmt.Sprint(args...)
}

// escapeTree appends the escaper to every action that prints, the way
// html/template does: {{.Content}} becomes {{.Content | _wsmonEscape}}.
// A pipeline that ends in json (a whole JSON value) or already in the
// escaper is left alone; declarations and assignments print nothing.
// range is refused: an Alert has nothing to iterate over but integers,
// and {{range 1000000000}} would stall the sink.
func escapeTree(n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := escapeTree(c); err != nil {
				return err
			}
		}
	case *parse.ActionNode:
		p := n.Pipe
		if len(p.Decl) > 0 || len(p.Cmds) == 0 {
			return nil
		}
		if last := p.Cmds[len(p.Cmds)-1]; len(last.Args) > 0 {
			if id, ok := last.Args[0].(*parse.IdentifierNode); ok && (id.Ident == "json" || id.Ident == escapeFunc) {
				return nil
			}
		}
		p.Cmds = append(p.Cmds, &parse.CommandNode{
			NodeType: parse.NodeCommand,
			Pos:      p.Position(),
			Args:     []parse.Node{parse.NewIdentifier(escapeFunc).SetTree(nil).SetPos(p.Position())},
		})
	case *parse.IfNode:
		return errors.Join(escapeTree(n.List), escapeTree(n.ElseList))
	case *parse.WithNode:
		return errors.Join(escapeTree(n.List), escapeTree(n.ElseList))
	case *parse.RangeNode:
		return errors.New("range is not supported: an alert has no lists")
	}
	return nil
}

// boundedPrintf is the templates' printf: fmt.Sprintf, but a width or
// precision over 999 (or given by an argument, *) is an error, so a
// template cannot allocate gigabytes with %01000000000d.
func boundedPrintf(format string, args ...any) (string, error) {
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		digits := 0
	spec: // flags, [argument index], width, .precision up to the verb
		for i++; i < len(format); i++ {
			switch c := format[i]; {
			case c >= '0' && c <= '9':
				if digits++; digits > 3 {
					return "", errors.New("printf: width or precision over 999")
				}
			case c == '*':
				return "", errors.New("printf: * width is not supported")
			case strings.IndexByte(".+-# []", c) >= 0:
				digits = 0
			default:
				break spec
			}
		}
	}
	return fmt.Sprintf(format, args...), nil
}

// limitWriter fails a write past n bytes.
type limitWriter struct {
	w *bytes.Buffer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.w.Len()+len(p) > l.n {
		return 0, fmt.Errorf("the template renders more than %d bytes", l.n)
	}
	return l.w.Write(p)
}

// cutRunes returns s cut to at most n characters, ending in Ellipsis when
// cut.
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i = range s {
		if count == n-1 {
			break
		}
		count++
	}
	return s[:i] + Ellipsis
}

// cutBytes returns s cut at a character boundary to at most n bytes,
// ending in Ellipsis when cut.
func cutBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n - len(Ellipsis)
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + Ellipsis
}
