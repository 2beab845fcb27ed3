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
)

func TestDeliverPostsWebhook(t *testing.T) {
	got := make(chan Alert, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a Alert
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			t.Error(err)
		}
		got <- a
	}))
	defer srv.Close()
	n := New(srv.URL, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Run(ctx)
	n.Deliver(Alert{Rule: "notification_keywords", Detail: `keyword "紧急" from b`, AlertID: 9, ID: 2, User: "b", Content: "这是紧急通知"})
	select {
	case a := <-got:
		if a.AlertID != 9 || a.ID != 2 || a.Rule != "notification_keywords" || a.Content != "这是紧急通知" {
			t.Fatalf("alert %+v", a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no webhook call")
	}
}
