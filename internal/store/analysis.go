package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// AnalysisState returns the saved state of analysis name and the highest
// message id counted into it; ok is false when none was saved.
func (s *Store) AnalysisState(ctx context.Context, name string) (data []byte, appliedID int64, ok bool, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT applied_id, data FROM analysis_state WHERE name = ?`, name).Scan(&appliedID, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, false, nil
	}
	if err != nil {
		return nil, 0, false, fmt.Errorf("store: analysis state %q: %w", name, err)
	}
	return data, appliedID, true, nil
}

// AnalysisApplied returns the highest message id counted into analysis
// name's saved state (0, false when none was saved), without reading the
// state: a separate web process polls it to know when to reload.
func (s *Store) AnalysisApplied(ctx context.Context, name string) (appliedID int64, ok bool, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT applied_id FROM analysis_state WHERE name = ?`, name).Scan(&appliedID)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store: analysis state %q: %w", name, err)
	}
	return appliedID, true, nil
}

// PutAnalysisState saves (replaces) the state of analysis name with the
// highest message id counted into it.
func (s *Store) PutAnalysisState(ctx context.Context, name string, appliedID int64, data []byte) error {
	if data == nil {
		data = []byte{}
	}
	if _, err := s.w.ExecContext(ctx, `INSERT INTO analysis_state (name, applied_id, data) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET applied_id = excluded.applied_id, data = excluded.data`, name, appliedID, data); err != nil {
		return fmt.Errorf("store: save analysis state %q: %w", name, err)
	}
	return nil
}
