package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Accept records that a human accepted the current results of a scenario
// as its new baseline (an intended change): the newest run that has a
// result of the scenario becomes the first run of its new baseline
// segment. It returns that run's ID, or an error wrapping ErrNotFound when
// the scenario has no result yet.
func (s *SQLite) Accept(ctx context.Context, scenario string, at time.Time) (string, error) {
	if s.writer == nil {
		return "", fmt.Errorf("store: accept %s: %w", scenario, ErrReadOnly)
	}
	var runID string
	err := s.writer.QueryRowContext(ctx, `SELECT run_id FROM scenarios WHERE name = ?
		ORDER BY start_unix_nano DESC, run_id DESC LIMIT 1`, scenario).Scan(&runID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("store: accept %s: no result of that scenario: %w", scenario, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("store: accept %s: %w", scenario, err)
	}
	ts, err := timeArg(at)
	if err != nil {
		return "", fmt.Errorf("store: accept %s: %w", scenario, err)
	}
	if _, err := s.writer.ExecContext(ctx, `INSERT INTO accepts (scenario, run_id, accepted_at_unix_nano)
		VALUES (?, ?, ?) ON CONFLICT (scenario, run_id) DO UPDATE SET accepted_at_unix_nano = excluded.accepted_at_unix_nano`,
		scenario, runID, ts); err != nil {
		return "", fmt.Errorf("store: accept %s: %w", scenario, err)
	}
	return runID, nil
}

// Accepted returns the IDs of the runs at which a human accepted a new
// baseline of scenario.
func (s *SQLite) Accepted(ctx context.Context, scenario string) (map[string]bool, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT run_id FROM accepts WHERE scenario = ?`, scenario)
	if err != nil {
		return nil, fmt.Errorf("store: accepted %s: %w", scenario, err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: accepted %s: %w", scenario, err)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: accepted %s: %w", scenario, err)
	}
	return out, nil
}
