package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Request headers of the generic webhook.
const (
	// HeaderAlertID carries Alert.ID, for receivers to deduplicate on.
	HeaderAlertID = "X-Wsmon-Alert-Id"
	// HeaderSignature is "sha256=" and the hex HMAC-SHA256 of the body
	// keyed with Config.Secret, when a secret is set.
	HeaderSignature = "X-Wsmon-Signature"
)

// maxResponse bounds what is read of a response body.
const maxResponse = 64 << 10

// request is one HTTP delivery attempt, built fresh per attempt (the
// DingTalk and Feishu signatures carry the time).
type request struct {
	url    string
	body   []byte
	header http.Header
}

// httpSink delivers to a webhook or a chat bot over HTTP.
type httpSink struct {
	cfg    Config
	r      *renderer
	client *http.Client
}

// deliver makes one attempt; its error is a *failure when it is known
// whether to retry.
func (s *httpSink) deliver(ctx context.Context, a *Alert) error {
	req, err := buildRequest(s.cfg, s.r, a, time.Now())
	if err != nil {
		return permanent(err)
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, req.url, bytes.NewReader(req.body))
	if err != nil {
		return permanent(unwrapURLError(err))
	}
	hr.Header = req.header
	resp, err := s.client.Do(hr)
	if err != nil {
		return redactRequestError(err, req.url)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	return checkResponse(s.cfg.Type, resp.StatusCode, resp.Header, body)
}

// redactRequestError drops the URL (which holds the bot's token) from an
// http.Client error but its scheme and host.
func redactRequestError(err error, u string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("POST %s: %w", redactURL(u), ue.Err)
	}
	return err
}

// buildRequest returns the request delivering a to the sink c at now. It
// is a pure function of its arguments.
func buildRequest(c Config, r *renderer, a *Alert, now time.Time) (*request, error) {
	out, err := r.render(a)
	if err != nil {
		return nil, err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("User-Agent", "wsmon")
	if c.Type == TypeWebhook {
		h.Set(HeaderAlertID, strconv.FormatInt(a.ID, 10))
		if c.Secret != "" {
			h.Set(HeaderSignature, "sha256="+hex.EncodeToString(hmacSHA256([]byte(c.Secret), out)))
		}
		return &request{url: c.URL, body: out, header: h}, nil
	}
	return textRequest(c, string(out), now, h)
}

// textRequest returns the request posting text to the chat bot c (every
// type but webhook and email) at now, with the headers h. It is a pure
// function of its arguments.
func textRequest(c Config, text string, now time.Time, h http.Header) (*request, error) {
	u := c.URL
	var body any
	switch c.Type {
	case TypeSlack:
		// docs.slack.dev "Sending messages using incoming webhooks": POST
		// a JSON payload whose "text" is the message.
		body = slackMessage{Text: text}
	case TypeDingTalk:
		// open.dingtalk.com "自定义机器人发送群消息": {"msgtype":"text",
		// "text":{"content":…}}. With the 加签 setting the URL gets
		// &timestamp=<ms>&sign=<urlEncode(base64(HmacSHA256(key=secret,
		// data=timestamp+"\n"+secret)))>; the timestamp must be within an
		// hour of DingTalk's clock.
		body = dingTalkMessage{MsgType: "text", Text: dingTalkText{Content: text}}
		if c.Secret != "" {
			ts := strconv.FormatInt(now.UnixMilli(), 10)
			sign := base64.StdEncoding.EncodeToString(hmacSHA256([]byte(c.Secret), []byte(ts+"\n"+c.Secret)))
			pu, err := url.Parse(u)
			if err != nil {
				return nil, unwrapURLError(err)
			}
			q := pu.Query()
			q.Set("timestamp", ts)
			q.Set("sign", sign) // Encode percent-encodes it: the urlEncode step
			pu.RawQuery = q.Encode()
			u = pu.String()
		}
	case TypeFeishu, TypeLark:
		// open.feishu.cn "自定义机器人使用指南": {"msg_type":"text",
		// "content":{"text":…}}. With 签名校验 the body also has
		// "timestamp" (seconds, within an hour) and "sign" =
		// base64(HmacSHA256(key=timestamp+"\n"+secret, data="")).
		m := feishuMessage{MsgType: "text", Content: feishuText{Text: text}}
		if c.Secret != "" {
			m.Timestamp = strconv.FormatInt(now.Unix(), 10)
			m.Sign = base64.StdEncoding.EncodeToString(hmacSHA256([]byte(m.Timestamp+"\n"+c.Secret), nil))
		}
		body = m
	case TypeWeCom:
		// developer.work.weixin.qq.com/document/path/91770 (群机器人配置说明):
		// {"msgtype":"text","text":{"content":…}}; the key is in the URL.
		body = dingTalkMessage{MsgType: "text", Text: dingTalkText{Content: text}}
	default:
		return nil, fmt.Errorf("type %q is not delivered over HTTP", c.Type)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	return &request{url: u, body: b, header: h}, nil
}

// Payload shapes of the chat platforms.
type (
	slackMessage struct {
		Text string `json:"text"`
	}
	dingTalkText struct {
		Content string `json:"content"`
	}
	// dingTalkMessage is also WeCom's text message.
	dingTalkMessage struct {
		MsgType string       `json:"msgtype"`
		Text    dingTalkText `json:"text"`
	}
	feishuText struct {
		Text string `json:"text"`
	}
	feishuMessage struct {
		Timestamp string     `json:"timestamp,omitempty"`
		Sign      string     `json:"sign,omitempty"`
		MsgType   string     `json:"msg_type"`
		Content   feishuText `json:"content"`
	}
)

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// checkResponse classifies a response: nil on success, else a *failure
// saying whether to retry and after how long the server asked for.
//
//   - 429 retries after its Retry-After (Slack: docs.slack.dev "Rate
//     limits", incoming webhooks post about one message per second and
//     answer 429 with Retry-After beyond it); 5xx retries, after its
//     Retry-After if it has one (503).
//   - 3xx fails: redirects are not followed (a POST body and its
//     signature go only where configured); the error names the Location.
//   - other 4xx fail at once (Slack: 400 invalid_payload, 403
//     action_prohibited, 404 channel_not_found, 410 channel_is_archived,
//     api.slack.com/changelog/2016-05-17-changes-to-errors-for-incoming-webhooks).
//   - DingTalk, Feishu/Lark and WeCom answer 200 with a code in the body;
//     code 0 is success, their rate-limit and busy codes retry
//     (retryCode), every other code fails at once.
func checkResponse(typ string, status int, header http.Header, body []byte) error {
	after := retryAfter(header.Get("Retry-After"), time.Now())
	switch {
	case status == http.StatusTooManyRequests:
		return &failure{err: fmt.Errorf("HTTP 429 rate limited%s", bodyNote(body)), after: after}
	case status >= 500:
		return &failure{err: fmt.Errorf("HTTP %d%s", status, bodyNote(body)), after: after}
	case status >= 300 && status < 400:
		loc := header.Get("Location")
		return permanent(fmt.Errorf("HTTP %d redirect to %s (redirects are not followed: set the url to where it points)", status, redactURL(loc)))
	}
	var code *int
	var msg string
	if typ == TypeDingTalk || typ == TypeWeCom || typ == TypeFeishu || typ == TypeLark {
		code, msg = platformCode(body)
	}
	if status < 200 || status >= 300 {
		if code != nil && *code != 0 {
			return codeFailure(typ, *code, msg)
		}
		return permanent(fmt.Errorf("HTTP %d%s", status, bodyNote(body)))
	}
	switch typ {
	case TypeDingTalk, TypeWeCom, TypeFeishu, TypeLark:
		if code == nil {
			return permanent(fmt.Errorf("HTTP %d without a result code%s (is the url the bot's webhook?)", status, bodyNote(body)))
		}
		if *code != 0 {
			return codeFailure(typ, *code, msg)
		}
	}
	return nil
}

// platformCode reads the result code of a DingTalk or WeCom
// ({"errcode":0,"errmsg":"ok"}) or Feishu/Lark ({"code":0,"msg":"success"},
// formerly {"StatusCode":0,"StatusMessage":"success"}) response.
func platformCode(body []byte) (*int, string) {
	var r struct {
		ErrCode       *int   `json:"errcode"`
		ErrMsg        string `json:"errmsg"`
		Code          *int   `json:"code"`
		Msg           string `json:"msg"`
		StatusCode    *int   `json:"StatusCode"`
		StatusMessage string `json:"StatusMessage"`
	}
	if json.Unmarshal(body, &r) != nil {
		return nil, ""
	}
	switch {
	case r.ErrCode != nil:
		return r.ErrCode, r.ErrMsg
	case r.Code != nil:
		return r.Code, r.Msg
	case r.StatusCode != nil:
		return r.StatusCode, r.StatusMessage
	}
	return nil, ""
}

func codeFailure(typ string, code int, msg string) error {
	err := fmt.Errorf("%s error %d: %s", typ, code, snippet([]byte(msg)))
	if retry, after := retryCode(typ, code); retry {
		return &failure{err: err, after: after}
	}
	return permanent(err)
}

// retryCode reports whether a platform's result code means "try later",
// and how long to wait at least. Sources:
//   - DingTalk 130101 "send too fast, exceed 20 times per minute": a bot
//     sends at most 20 messages a minute and past it is throttled for 10
//     minutes (open.dingtalk.com custom robot docs; the errmsg as quoted
//     in github.com/ccfos/nightingale/issues/369). -1 is DingTalk's
//     "系统繁忙" (system busy).
//   - Feishu/Lark 11232 (frequency limited; a custom bot may send 100
//     messages a minute, 5 a second; github.com/openclaw/openclaw/issues/70879)
//     and 9499 (treated as the limit by github.com/kubesphere/notification-manager
//     pull 126, and our bodies are always well-formed JSON).
//   - WeCom 45009 "api freq out of limit" (a group bot sends at most 20
//     messages a minute, 91770) and -1 "系统繁忙: 服务器暂不可用，建议稍候重试"
//     (WeCom's global error codes).
func retryCode(typ string, code int) (bool, time.Duration) {
	switch typ {
	case TypeDingTalk:
		switch code {
		case 130101:
			return true, 10 * time.Minute
		case -1:
			return true, 0
		}
	case TypeFeishu, TypeLark:
		switch code {
		case 11232, 9499:
			return true, time.Second
		}
	case TypeWeCom:
		switch code {
		case 45009:
			return true, time.Minute
		case -1:
			return true, 0
		}
	}
	return false, 0
}

// retryAfter parses a Retry-After value (RFC 9110: delay-seconds or an
// HTTP-date); 0 when absent, invalid or past.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(24*time.Hour/time.Second) {
			n = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func bodyNote(body []byte) string {
	if s := snippet(body); s != "" {
		return ": " + s
	}
	return ""
}

// snippet is at most 200 bytes of a response for an error message, on one
// line: it is shown in logs and the dashboard.
func snippet(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return cutBytes(strings.Join(strings.Fields(s), " "), 200)
}
