package alert

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/wsmon/wsmon/internal/message"
)

func TestKeywordMatchPostsWebhook(t *testing.T) {
	got := make(chan Alert, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a Alert
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			t.Error(err)
		}
		got <- a
	}))
	defer srv.Close()
	n := New([]string{"紧急", "URGENT", " "}, srv.URL, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	n.Publish([]message.Message{
		{ID: 1, User: "a", Content: "普通消息 hello"},
		{ID: 2, User: "b", Content: "这是紧急通知"},
		{ID: 3, User: "c", Content: "an urgent one"},
	})
	for _, want := range []struct {
		id int64
		kw string
	}{{2, "紧急"}, {3, "urgent"}} {
		select {
		case a := <-got:
			if a.ID != want.id || a.Keyword != want.kw {
				t.Fatalf("alert %+v, want id %d keyword %q", a, want.id, want.kw)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no webhook call")
		}
	}
	select {
	case a := <-got:
		t.Fatalf("unexpected alert %+v", a)
	case <-time.After(100 * time.Millisecond):
	}
}
