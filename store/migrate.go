package store

import (
	"context"
	"database/sql"
	"fmt"
)

// A migration moves the schema from version (its index) to version+1. The
// list is append-only: a migration that has shipped is never edited, since
// databases in the field already ran it.
type migration struct {
	// name says what the migration does; it appears in errors and logs.
	name string
	// statements run in order inside one transaction.
	statements []string
}

// Times are INTEGER unix nanoseconds in UTC (NULL = zero time): exact for
// Go's time.Time, ordered and indexable as plain integers, and free of the
// time zone and format ambiguity of text. Floats that may be NaN are nullable
// REAL, because SQLite stores a NaN as NULL.
var migrations = []migration{
	{
		name: "runs and scenarios",
		statements: []string{
			`CREATE TABLE runs (
				id              TEXT PRIMARY KEY,
				trigger         TEXT NOT NULL,
				start_unix_nano INTEGER NOT NULL,
				end_unix_nano   INTEGER,
				outcome         TEXT NOT NULL CHECK (outcome IN ('running', 'success', 'failed', 'aborted')),
				config_hash     TEXT NOT NULL,
				version         TEXT NOT NULL,
				error           TEXT NOT NULL
			) STRICT`,
			`CREATE INDEX runs_by_start ON runs (start_unix_nano)`,
			`CREATE TABLE scenarios (
				run_id                  TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
				idx                     INTEGER NOT NULL CHECK (idx >= 0),
				name                    TEXT NOT NULL,
				target                  TEXT NOT NULL,
				mode                    TEXT NOT NULL,
				endpoint                TEXT NOT NULL,
				start_unix_nano         INTEGER,
				end_unix_nano           INTEGER,
				error                   TEXT NOT NULL,
				valid                   INTEGER NOT NULL CHECK (valid IN (0, 1)),
				url                     TEXT NOT NULL,
				connections             INTEGER NOT NULL,
				threads                 INTEGER NOT NULL,
				duration_seconds        REAL,
				timeout_seconds         REAL,
				sent                    INTEGER NOT NULL,
				requests                INTEGER NOT NULL,
				responses_2xx           INTEGER NOT NULL,
				responses_3xx           INTEGER NOT NULL,
				responses_4xx           INTEGER NOT NULL,
				responses_5xx           INTEGER NOT NULL,
				errors_connect          INTEGER NOT NULL,
				errors_read             INTEGER NOT NULL,
				errors_write            INTEGER NOT NULL,
				errors_timeout          INTEGER NOT NULL,
				errors_closed           INTEGER NOT NULL,
				in_flight               INTEGER NOT NULL,
				bytes_read              INTEGER NOT NULL,
				connections_established INTEGER NOT NULL,
				requests_per_second     REAL,
				error_ratio             REAL,
				timeout_ratio           REAL,
				latency_mean_seconds    REAL,
				latency_stdev_seconds   REAL,
				latency_max_seconds     REAL,
				latency_p50_seconds     REAL,
				latency_p75_seconds     REAL,
				latency_p90_seconds     REAL,
				latency_p99_seconds     REAL,
				latency_p999_seconds    REAL,
				latency_p9999_seconds   REAL,
				histogram               BLOB,
				PRIMARY KEY (run_id, idx)
			) STRICT`,
		},
	},
	{
		// Version 2: resource use per scenario, and the index History
		// reads by. Results stored by version 1 read back 0 (not measured).
		name: "resource use and scenario history index",
		statements: []string{
			`ALTER TABLE scenarios ADD COLUMN target_cpu_seconds REAL NOT NULL DEFAULT 0`,
			`ALTER TABLE scenarios ADD COLUMN target_peak_rss_bytes INTEGER NOT NULL DEFAULT 0`,
			`ALTER TABLE scenarios ADD COLUMN client_cpu_seconds REAL NOT NULL DEFAULT 0`,
			`ALTER TABLE scenarios ADD COLUMN client_peak_rss_bytes INTEGER NOT NULL DEFAULT 0`,
			`CREATE INDEX scenarios_by_name_start ON scenarios (name, start_unix_nano)`,
		},
	},
	{
		// Version 3: the deploy marker of a run (what version of the
		// target it measured), the per-thread rate samples of a scenario
		// (wrk's Req/Sec statistics), and baselines accepted by a human:
		// from the accepted run on, the regression detector starts a new
		// baseline.
		name: "run markers, rate samples and accepted baselines",
		statements: []string{
			`ALTER TABLE runs ADD COLUMN marker TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE scenarios ADD COLUMN rate_histogram BLOB`,
			`CREATE TABLE accepts (
				scenario              TEXT NOT NULL,
				run_id                TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
				accepted_at_unix_nano INTEGER NOT NULL,
				PRIMARY KEY (scenario, run_id)
			) STRICT`,
		},
	},
	{
		// Version 4: per-repeat summaries of a scenario that ran more
		// than once per run, as a JSON array (NULL for a single run).
		name: "scenario repeats",
		statements: []string{
			`ALTER TABLE scenarios ADD COLUMN repeats TEXT`,
		},
	},

	{
		// Version 5: one record per scenario (docs/storage.md). The
		// columns queried stay; everything else is the JSON of
		// result.Scenario in record, built here from the old columns:
		// duration_seconds held the measured time (now elapsed_seconds;
		// the configured one, which old rows lack, is it rounded to the
		// second, as the stored report printed it), the histograms'
		// base64 text moves into the JSON, and each repeat's p50 and p99
		// become its latency summary. Older benchd had no expect (the
		// default's unexpected responses are the 4xx and 5xx ones) and
		// no on_timeout wait.
		name: "one result record per scenario",
		statements: []string{
			`CREATE TABLE scenario_records (
				run_id          TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
				idx             INTEGER NOT NULL CHECK (idx >= 0),
				name            TEXT NOT NULL,
				target          TEXT NOT NULL,
				mode            TEXT NOT NULL,
				endpoint        TEXT NOT NULL,
				start_unix_nano INTEGER,
				end_unix_nano   INTEGER,
				error           TEXT NOT NULL,
				valid           INTEGER NOT NULL CHECK (valid IN (0, 1)),
				record_version  INTEGER NOT NULL,
				record          TEXT NOT NULL CHECK (json_valid(record)),
				PRIMARY KEY (run_id, idx)
			) STRICT`,
			`INSERT INTO scenario_records
			SELECT run_id, idx, name, target, mode, endpoint, start_unix_nano, end_unix_nano, error, valid, 1,
				json_object(
					'url', url, 'method', '', 'connections', connections, 'threads', threads,
					'duration_seconds', round(COALESCE(duration_seconds, 0)), 'timeout_seconds', COALESCE(timeout_seconds, 0),
					'elapsed_seconds', COALESCE(duration_seconds, 0),
					'sent', sent, 'requests', requests,
					'responses', json_object('2xx', responses_2xx, '3xx', responses_3xx, '4xx', responses_4xx, '5xx', responses_5xx),
					'errors', json_object('connect', errors_connect, 'read', errors_read, 'write', errors_write,
						'timeout', errors_timeout, 'closed', errors_closed),
					'in_flight', in_flight, 'bytes_read', bytes_read, 'connections_established', connections_established,
					'unexpected', responses_4xx + responses_5xx, 'late_responses', 0, 'late_responses_pending', 0,
					'on_timeout', 'reconnect',
					'requests_per_second', COALESCE(requests_per_second, 0),
					'transfer_bytes_per_second', CASE WHEN duration_seconds > 0 THEN bytes_read / duration_seconds ELSE 0 END,
					'error_ratio', COALESCE(error_ratio, 0), 'timeout_ratio', COALESCE(timeout_ratio, 0),
					'latency_seconds', json(CASE WHEN requests > 0 AND latency_p50_seconds IS NOT NULL THEN json_object(
						'count', requests, 'mean', COALESCE(latency_mean_seconds, 0), 'stdev', COALESCE(latency_stdev_seconds, 0),
						'max', COALESCE(latency_max_seconds, 0), 'p50', latency_p50_seconds, 'p75', COALESCE(latency_p75_seconds, 0),
						'p90', COALESCE(latency_p90_seconds, 0), 'p99', COALESCE(latency_p99_seconds, 0),
						'p99.9', COALESCE(latency_p999_seconds, 0), 'p99.99', COALESCE(latency_p9999_seconds, 0)) END),
					'latency_histogram', COALESCE(CAST(histogram AS TEXT), ''),
					'requests_per_second_histogram', COALESCE(CAST(rate_histogram AS TEXT), ''),
					'repeats', CASE WHEN repeats IS NOT NULL THEN json((SELECT json_group_array(json_object(
						'requests_per_second', COALESCE(json_extract(r.value, '$.requests_per_second'), 0),
						'error_ratio', COALESCE(json_extract(r.value, '$.error_ratio'), 0),
						'timeout_ratio', COALESCE(json_extract(r.value, '$.timeout_ratio'), 0),
						'latency_seconds', json(CASE WHEN json_extract(r.value, '$.latency_p50_seconds') IS NOT NULL THEN json_object(
							'p50', json_extract(r.value, '$.latency_p50_seconds'),
							'p99', COALESCE(json_extract(r.value, '$.latency_p99_seconds'), 0)) END)))
						FROM json_each(repeats) AS r)) END,
					'target_cpu_seconds', target_cpu_seconds, 'target_peak_rss_bytes', target_peak_rss_bytes,
					'client_cpu_seconds', client_cpu_seconds, 'client_peak_rss_bytes', client_peak_rss_bytes)
			FROM scenarios`,
			`DROP TABLE scenarios`,
			`ALTER TABLE scenario_records RENAME TO scenarios`,
			`CREATE INDEX scenarios_by_name_start ON scenarios (name, start_unix_nano)`,
		},
	},
	{
		// Version 6: the alerts Alertmanager sent benchd's webhook, one
		// row per alert of a notification; labels and annotations as
		// JSON objects.
		name: "alert notifications",
		statements: []string{
			`CREATE TABLE alerts (
				id                 INTEGER PRIMARY KEY,
				received_unix_nano INTEGER NOT NULL,
				receiver           TEXT NOT NULL,
				group_key          TEXT NOT NULL,
				status             TEXT NOT NULL CHECK (status IN ('firing', 'resolved')),
				alertname          TEXT NOT NULL,
				labels             TEXT NOT NULL,
				annotations        TEXT NOT NULL,
				starts_unix_nano   INTEGER,
				ends_unix_nano     INTEGER,
				fingerprint        TEXT NOT NULL,
				generator_url      TEXT NOT NULL
			) STRICT`,
			`CREATE INDEX alerts_by_received ON alerts (received_unix_nano)`,
		},
	},
	{
		// Version 7: the settings hash of a scenario's result (queried:
		// a result whose hash differs from the scenario's previous one
		// starts a new baseline segment), and why a segment starts: ''
		// for a human's accept (every older row), "settings changed: …"
		// for one recorded by SaveScenario. Older results keep an empty
		// hash, which starts no segment.
		name: "settings hashes and baseline reasons",
		statements: []string{
			`ALTER TABLE scenarios ADD COLUMN settings_hash TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE accepts ADD COLUMN reason TEXT NOT NULL DEFAULT ''`,
		},
	},
}

// SchemaVersion is the schema version this package writes and reads
// (SQLite's user_version of benchd.db). [Open] migrates older databases up to
// it and refuses newer ones.
const SchemaVersion = 7

// schemaVersion returns the user_version of db.
func schemaVersion(ctx context.Context, q interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
},
) (int, error) {
	var v int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// migrate applies the migrations of list that db has not run yet, each in
// its own transaction together with the new user_version, so a failure leaves
// the database at the last version that completed. db must be the writer
// pool (transactions begin immediate). It returns the version before and
// after. Its errors have no "store: " prefix; the caller adds it with the
// path.
func migrate(ctx context.Context, db *sql.DB, list []migration) (from, to int, err error) {
	from, err = schemaVersion(ctx, db)
	if err != nil {
		return 0, 0, err
	}
	if from > len(list) {
		return from, from, fmt.Errorf("database schema version %d is newer than this benchd supports (%d): upgrade benchd", from, len(list))
	}
	to = from
	for v := from; v < len(list); v++ {
		if err := applyMigration(ctx, db, v, list[v]); err != nil {
			return from, to, err
		}
		to = v + 1
	}
	return from, to, nil
}

// applyMigration runs m, which moves the schema from version v to v+1, in one
// transaction; it checks the version again inside the transaction so that a
// concurrent migrator cannot apply m twice.
func applyMigration(ctx context.Context, db *sql.DB, v int, m migration) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %d (%s): begin: %w", v+1, m.name, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error that made us roll back is the one to report
		}
	}()
	cur, err := schemaVersion(ctx, tx)
	if err != nil {
		return err
	}
	if cur != v {
		return fmt.Errorf("migration %d (%s): schema version changed to %d meanwhile", v+1, m.name, cur)
	}
	for _, stmt := range m.statements {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("migration %d (%s): %w", v+1, m.name, err)
		}
	}
	// PRAGMA takes no bound parameters; v+1 is an int we computed.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
		return fmt.Errorf("migration %d (%s): set version: %w", v+1, m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %d (%s): commit: %w", v+1, m.name, err)
	}
	return nil
}
