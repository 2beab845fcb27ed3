package notify

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The receivers below check a request the way the platform does: the
// payload shape (unknown fields refused), the signature recomputed from
// the shared secret, the timestamp window. They answer in the platform's
// format, so the sender's response handling is exercised too.

func strictDecode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data")
	}
	return nil
}

func mac(key, data string) []byte {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(data))
	return m.Sum(nil)
}

func within(ts, now, window int64) bool { return ts <= now+window && ts >= now-window }

// webhookReceiver: X-Wsmon-Signature over the raw body, X-Wsmon-Alert-Id,
// the body is the Alert as JSON.
func webhookReceiver(secret string, got chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			http.Error(w, "content type", http.StatusUnsupportedMediaType)
			return
		}
		if secret != "" {
			want := "sha256=" + hex.EncodeToString(mac(secret, string(body)))
			if !hmac.Equal([]byte(r.Header.Get(HeaderSignature)), []byte(want)) {
				http.Error(w, "bad signature", http.StatusUnauthorized)
				return
			}
		}
		var a Alert
		if err := strictDecode(body, &a); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if r.Header.Get(HeaderAlertID) != strconv.FormatInt(a.ID, 10) {
			http.Error(w, "alert id header", http.StatusBadRequest)
			return
		}
		got <- a.Content
		w.WriteHeader(http.StatusNoContent)
	}
}

// slackReceiver: {"text": …}; answers "ok", or 400 invalid_payload.
func slackReceiver(got chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var m struct {
			Text string `json:"text"`
		}
		if err := strictDecode(body, &m); err != nil || m.Text == "" {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		got <- m.Text
		io.WriteString(w, "ok")
	}
}

// dingTalkReceiver: access_token kept, timestamp (ms, within an hour)
// and sign = urlEncode(base64(HmacSHA256(secret, ts+"\n"+secret))) in the
// query; {"msgtype":"text","text":{"content":…}}.
func dingTalkReceiver(secret string, got chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		answer := func(code int, msg string) { fmt.Fprintf(w, `{"errcode":%d,"errmsg":%q}`, code, msg) }
		q := r.URL.Query()
		if q.Get("access_token") != "TOKEN" {
			answer(300001, "token is not exist")
			return
		}
		if secret != "" {
			ts, err := strconv.ParseInt(q.Get("timestamp"), 10, 64)
			want := base64.StdEncoding.EncodeToString(mac(secret, q.Get("timestamp")+"\n"+secret))
			if err != nil || !within(ts, time.Now().UnixMilli(), 3600_000) || q.Get("sign") != want {
				answer(310000, "keywords not in content, timestamp is invalid, sign not match, ip not in whitelist")
				return
			}
		}
		var m struct {
			MsgType string `json:"msgtype"`
			Text    struct {
				Content string `json:"content"`
			} `json:"text"`
		}
		if err := strictDecode(body, &m); err != nil || m.MsgType != "text" || m.Text.Content == "" {
			answer(40035, "缺少参数 json")
			return
		}
		got <- m.Text.Content
		answer(0, "ok")
	}
}

// feishuReceiver: timestamp (seconds, string, within an hour) and sign =
// base64(HmacSHA256(key=ts+"\n"+secret, data="")) in the body;
// {"msg_type":"text","content":{"text":…}}.
func feishuReceiver(secret string, got chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		answer := func(code int, msg string) { fmt.Fprintf(w, `{"code":%d,"data":{},"msg":%q}`, code, msg) }
		var m struct {
			Timestamp string `json:"timestamp"`
			Sign      string `json:"sign"`
			MsgType   string `json:"msg_type"`
			Content   struct {
				Text string `json:"text"`
			} `json:"content"`
		}
		if err := strictDecode(body, &m); err != nil {
			answer(9499, "Bad Request")
			return
		}
		if secret != "" {
			ts, err := strconv.ParseInt(m.Timestamp, 10, 64)
			want := base64.StdEncoding.EncodeToString(mac(m.Timestamp+"\n"+secret, ""))
			if err != nil || !within(ts, time.Now().Unix(), 3600) || m.Sign != want {
				answer(19021, "sign match fail or timestamp is not within one hour from current time")
				return
			}
		}
		if m.MsgType != "text" || m.Content.Text == "" {
			answer(19002, "params error, msg_type need")
			return
		}
		got <- m.Content.Text
		answer(0, "success")
	}
}

// weComReceiver: key in the query; {"msgtype":"text","text":{"content":…}}
// of at most 2048 bytes.
func weComReceiver(got chan<- string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		answer := func(code int, msg string) { fmt.Fprintf(w, `{"errcode":%d,"errmsg":%q}`, code, msg) }
		if r.URL.Query().Get("key") != "KEY" {
			answer(93000, "invalid webhook url")
			return
		}
		var m struct {
			MsgType string `json:"msgtype"`
			Text    struct {
				Content string `json:"content"`
			} `json:"text"`
		}
		if err := strictDecode(body, &m); err != nil || m.MsgType != "text" {
			answer(40008, "invalid message type")
			return
		}
		if len(m.Text.Content) > 2048 {
			answer(44004, "text content exceed max length")
			return
		}
		got <- m.Text.Content
		answer(0, "ok")
	}
}

func TestPlatformPayloads(t *testing.T) {
	a := testAlert()
	tests := []struct {
		name    string
		cfg     Config // URL is the path and query on the test server
		handler func(chan<- string) http.HandlerFunc
		check   func(t *testing.T, text string)
	}{
		{"webhook", Config{Type: TypeWebhook, URL: "/hook"},
			func(c chan<- string) http.HandlerFunc { return webhookReceiver("", c) },
			func(t *testing.T, text string) {
				if text != a.Content {
					t.Errorf("content %q, want %q", text, a.Content)
				}
			}},
		{"webhook signed", Config{Type: TypeWebhook, URL: "/hook", Secret: "s3cret"},
			func(c chan<- string) http.HandlerFunc { return webhookReceiver("s3cret", c) },
			func(t *testing.T, text string) {
				if text != a.Content {
					t.Errorf("content %q, want %q", text, a.Content)
				}
			}},
		{"slack", Config{Type: TypeSlack, URL: "/services/T0/B0/XYZ"}, slackReceiver,
			func(t *testing.T, text string) {
				for _, bad := range []string{"<!channel>", "<@U123>", "<at "} {
					if strings.Contains(text, bad) {
						t.Errorf("text keeps markup %q: %q", bad, text)
					}
				}
				for _, want := range []string{"&lt;!channel&gt;", "&amp; done", "[wsmon] urgent: keyword \"紧急\" from mallory in #lobby", "{{.Rule}}"} {
					if !strings.Contains(text, want) {
						t.Errorf("text lacks %q: %q", want, text)
					}
				}
			}},
		{"dingtalk", Config{Type: TypeDingTalk, URL: "/robot/send?access_token=TOKEN"},
			func(c chan<- string) http.HandlerFunc { return dingTalkReceiver("", c) },
			func(t *testing.T, text string) {
				if !strings.Contains(text, a.Detail) || !strings.Contains(text, "紧急 \"quoted\"") {
					t.Errorf("text %q", text)
				}
			}},
		{"dingtalk signed", Config{Type: TypeDingTalk, URL: "/robot/send?access_token=TOKEN", Secret: "SECabc+/="},
			func(c chan<- string) http.HandlerFunc { return dingTalkReceiver("SECabc+/=", c) },
			func(t *testing.T, text string) {
				if !strings.Contains(text, a.Detail) {
					t.Errorf("text %q", text)
				}
			}},
		{"feishu signed", Config{Type: TypeFeishu, URL: "/open-apis/bot/v2/hook/abc", Secret: "fs-secret"},
			func(c chan<- string) http.HandlerFunc { return feishuReceiver("fs-secret", c) },
			func(t *testing.T, text string) {
				if strings.Contains(text, "<at ") || !strings.Contains(text, "＜at user_id=\"all\">") {
					t.Errorf("mention not neutralised: %q", text)
				}
			}},
		{"lark unsigned", Config{Type: TypeLark, URL: "/open-apis/bot/v2/hook/abc"},
			func(c chan<- string) http.HandlerFunc { return feishuReceiver("", c) },
			func(t *testing.T, text string) {
				if !strings.Contains(text, a.Detail) {
					t.Errorf("text %q", text)
				}
			}},
		{"wecom", Config{Type: TypeWeCom, URL: "/cgi-bin/webhook/send?key=KEY"}, weComReceiver,
			func(t *testing.T, text string) {
				if strings.Contains(text, "<@U123>") || !strings.Contains(text, "＜@U123>") {
					t.Errorf("mention not neutralised: %q", text)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := make(chan string, 1)
			srv := httptest.NewServer(tt.handler(got))
			defer srv.Close()
			cfg := tt.cfg
			cfg.Name = "sink"
			cfg.URL = srv.URL + cfg.URL
			d := startDispatcher(t, []Config{cfg}, Options{MaxAttempts: 1})
			d.Send(a, []string{"sink"})
			st := waitStats(t, d, "sink", func(s SinkStats) bool { return s.Sent+s.Failed > 0 })
			if st.Sent != 1 {
				t.Fatalf("not delivered: %+v", st)
			}
			tt.check(t, <-got)
		})
	}
}

// A wrong secret is refused by the platform, which the sender reports as
// a permanent failure with the platform's code.
func TestPlatformSignatureMismatch(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		handler http.HandlerFunc
		want    string
	}{
		{"webhook", Config{Type: TypeWebhook, URL: "/hook", Secret: "wrong"}, webhookReceiver("right", make(chan string, 1)), "HTTP 401"},
		{"dingtalk", Config{Type: TypeDingTalk, URL: "/robot/send?access_token=TOKEN", Secret: "wrong"}, dingTalkReceiver("right", make(chan string, 1)), "dingtalk error 310000"},
		{"feishu", Config{Type: TypeFeishu, URL: "/hook", Secret: "wrong"}, feishuReceiver("right", make(chan string, 1)), "feishu error 19021"},
		{"wecom key", Config{Type: TypeWeCom, URL: "/send?key=OTHER"}, weComReceiver(make(chan string, 1)), "wecom error 93000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			cfg := tt.cfg
			cfg.Name = "sink"
			cfg.URL = srv.URL + cfg.URL
			d := startDispatcher(t, []Config{cfg}, Options{MaxAttempts: 5})
			d.Send(testAlert(), []string{"sink"})
			st := waitStats(t, d, "sink", func(s SinkStats) bool { return s.Failed > 0 })
			if st.Retried != 0 || st.Sent != 0 || !strings.Contains(st.LastError, tt.want) {
				t.Errorf("stats %+v, want one failure without retry naming %q", st, tt.want)
			}
		})
	}
}
