package store

import (
	"context"
	"testing"
	"time"
)

func TestAlertsStoreAndReplay(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testOptions(t, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.UnixMilli(1_700_000_000_000)
	as := []Alert{
		{Rule: "kw", RuleType: "keyword", Target: "t", User: "alice", Content: "紧急", MessageID: 7, Detail: `keyword "紧急"`, At: at},
		{Rule: "down", RuleType: "connection", Target: "t", Detail: "t gave up", At: at.Add(time.Second)},
	}
	if err := s.InsertAlerts(ctx, as); err != nil {
		t.Fatal(err)
	}
	if as[0].ID == 0 || as[1].ID == 0 {
		t.Fatalf("ids %d %d", as[0].ID, as[1].ID)
	}
	// A replay of the same message's alert is skipped; a second
	// connection alert is a new one.
	again := []Alert{{Rule: "kw", RuleType: "keyword", Target: "t", MessageID: 7, Detail: "x", At: at}, {Rule: "down", RuleType: "connection", Target: "t", Detail: "again", At: at.Add(time.Minute)}}
	if err := s.InsertAlerts(ctx, again); err != nil {
		t.Fatal(err)
	}
	if again[0].ID != 0 || again[1].ID == 0 {
		t.Fatalf("replay ids %d %d", again[0].ID, again[1].ID)
	}
	list, err := s.ListAlerts(ctx, AlertQuery{})
	if err != nil || len(list) != 3 || list[0].Detail != "again" || list[2].Content != "紧急" || list[2].MessageID != 7 {
		t.Fatalf("list %+v %v", list, err)
	}
	if l, _ := s.ListAlerts(ctx, AlertQuery{Rule: "kw"}); len(l) != 1 {
		t.Fatalf("by rule: %+v", l)
	}
	for _, o := range []string{"slack: sent", "ops: failed: HTTP 500"} {
		if err := s.AddAlertDelivery(ctx, as[0].ID, o); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.AckAlerts(ctx, []int64{as[0].ID}, 0); n != 1 || err != nil {
		t.Fatalf("ack %d %v", n, err)
	}
	if n, _ := s.UnackedAlerts(ctx); n != 2 {
		t.Fatalf("unacked %d", n)
	}
	if l, _ := s.ListAlerts(ctx, AlertQuery{Unacked: true}); len(l) != 2 {
		t.Fatalf("unacked list %+v", l)
	}
	if n, _ := s.AckAlerts(ctx, nil, again[1].ID); n != 2 {
		t.Fatalf("ack all: %d", n)
	}
	l, _ := s.ListAlerts(ctx, AlertQuery{Rule: "kw"})
	if l[0].Delivery != "slack: sent; ops: failed: HTTP 500" || l[0].AckedAt.IsZero() {
		t.Fatalf("%+v", l[0])
	}
}
