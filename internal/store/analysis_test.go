package store

import (
	"bytes"
	"context"
	"testing"
	"time"
)

func TestAnalysisState(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, testOptions(t, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, ok, err := s.AnalysisState(ctx, "terms"); ok || err != nil {
		t.Fatalf("empty: ok %v err %v", ok, err)
	}
	if err := s.PutAnalysisState(ctx, "terms", 7, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAnalysisState(ctx, "terms", 9, []byte{4}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAnalysisState(ctx, "sentiment", 3, nil); err != nil {
		t.Fatal(err)
	}
	d, id, ok, err := s.AnalysisState(ctx, "terms")
	if err != nil || !ok || id != 9 || !bytes.Equal(d, []byte{4}) {
		t.Fatalf("terms: %v %d %v %v", d, id, ok, err)
	}
	if id, ok, err := s.AnalysisApplied(ctx, "sentiment"); err != nil || !ok || id != 3 {
		t.Fatalf("sentiment applied: %d %v %v", id, ok, err)
	}
}
