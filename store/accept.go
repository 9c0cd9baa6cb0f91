package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/benchd/benchd/result"
)

// Accept records that a human accepted the current results of a scenario
// as its new baseline (an intended change): the newest run that has a
// result of the scenario becomes the first run of its new baseline
// segment. It returns that run's ID, or an error wrapping ErrNotFound when
// the scenario has no result yet. A run whose segment a settings change
// started keeps that reason; the accept only updates the time.
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

// Accepted returns the IDs of the runs that start a baseline segment of
// scenario: a human accepted it, or its settings changed there.
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

// markSettingsChange records, in tx, that sc starts a new baseline segment
// of its scenario when its settings hash differs from that of the
// scenario's newest earlier result that has one (by start, then run ID):
// its server stack or settings changed (docs/regressions.md). Results
// without a hash (stored before benchd recorded them) neither start a
// segment nor are compared with, so the upgrade that adds the hashes
// splits nothing. The reason names the parts that changed.
func markSettingsChange(ctx context.Context, tx *sql.Tx, sc *Scenario) error {
	if sc.SettingsHash == "" || sc.Start.IsZero() {
		return nil
	}
	start, err := timeArg(sc.Start)
	if err != nil {
		return err
	}
	var prev result.Settings
	var parts sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT settings_hash, json_extract(record, '$.settings_parts') FROM scenarios
		WHERE name = ? AND settings_hash != '' AND (start_unix_nano < ? OR (start_unix_nano = ? AND run_id < ?))
		ORDER BY start_unix_nano DESC, run_id DESC LIMIT 1`, sc.Name, start, start, sc.RunID).Scan(&prev.SettingsHash, &parts)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("previous settings: %w", err)
	}
	if parts.Valid {
		if err := json.Unmarshal([]byte(parts.String), &prev.SettingsParts); err != nil {
			return fmt.Errorf("previous settings: %w", err)
		}
	}
	reason := sc.ChangeReason(prev)
	if reason == "" {
		return nil
	}
	now, err := timeArg(time.Now())
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO accepts (scenario, run_id, accepted_at_unix_nano, reason)
		VALUES (?, ?, ?, ?) ON CONFLICT (scenario, run_id) DO NOTHING`, sc.Name, sc.RunID, now, reason); err != nil {
		return fmt.Errorf("record the settings change: %w", err)
	}
	return nil
}

// ReasonAccepted is the [Baseline.Reason] of a segment a human accepted.
const ReasonAccepted = "accepted"

// Baseline is the start of a baseline segment of a scenario: from run
// RunID on, the regression detector compares the scenario's results only
// with each other, never with older ones. A Baseline is a plain value.
type Baseline struct {
	// Scenario is the scenario's name, "target/mode/endpoint".
	Scenario string `json:"scenario"`
	// RunID is the run that starts the segment; RunStart its start.
	RunID    string    `json:"run_id"`
	RunStart time.Time `json:"run_start"`
	// At is when the segment was recorded: the accept, or the save of
	// the result whose settings changed (UTC).
	At time.Time `json:"at"`
	// Reason is ReasonAccepted for a human's accept, or "settings
	// changed: " and the parts that did (result.Settings.ChangeReason).
	Reason string `json:"reason"`
}

// BaselineQuery selects baseline segments for [Store.Baselines]; an empty
// field matches every value.
type BaselineQuery struct {
	// Scenario, if not empty, selects one scenario's segments.
	Scenario string
	// RunID, if not empty, selects the segments that run starts.
	RunID string
}

// Baselines implements [Store.Baselines].
func (s *SQLite) Baselines(ctx context.Context, q BaselineQuery) ([]Baseline, error) {
	rows, err := s.reader.QueryContext(ctx, `SELECT a.scenario, a.run_id, r.start_unix_nano, a.accepted_at_unix_nano, a.reason
		FROM accepts a JOIN runs r ON r.id = a.run_id
		WHERE (? = '' OR a.scenario = ?) AND (? = '' OR a.run_id = ?)
		ORDER BY r.start_unix_nano, a.run_id, a.scenario`, q.Scenario, q.Scenario, q.RunID, q.RunID)
	if err != nil {
		return nil, fmt.Errorf("store: baselines: %w", err)
	}
	defer rows.Close()
	out := []Baseline{}
	for rows.Next() {
		var b Baseline
		var start, at sql.NullInt64
		if err := rows.Scan(&b.Scenario, &b.RunID, &start, &at, &b.Reason); err != nil {
			return nil, fmt.Errorf("store: baselines: %w", err)
		}
		b.RunStart, b.At = timeOf(start), timeOf(at)
		if b.Reason == "" {
			b.Reason = ReasonAccepted
		}
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: baselines: %w", err)
	}
	return out, nil
}
