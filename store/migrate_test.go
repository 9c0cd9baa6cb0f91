package store

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/result"
)

// writerDB opens dir's database as the store's writer does, without
// migrating it.
func writerDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, DBFile)+"?_txlock=immediate&_busy_timeout=5000&_foreign_keys=on&_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func userVersion(t *testing.T, db *sql.DB) int {
	t.Helper()
	v, err := schemaVersion(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSchemaVersionMatchesMigrations(t *testing.T) {
	if SchemaVersion != len(migrations) {
		t.Fatalf("SchemaVersion = %d, but there are %d migrations", SchemaVersion, len(migrations))
	}
}

func TestMigrateFromEmpty(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	if v := userVersion(t, s.writer); v != SchemaVersion {
		t.Errorf("user_version = %d, want %d", v, SchemaVersion)
	}
	var names []string
	rows, err := s.reader.QueryContext(t.Context(), `SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := "accepts,alerts,alerts_by_received,runs,runs_by_start,scenarios,scenarios_by_name_start"
	if got := strings.Join(names, ","); got != want {
		t.Errorf("schema objects %s, want %s", got, want)
	}
	var mode string
	if err := s.writer.QueryRowContext(t.Context(), "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v, want wal", mode, err)
	}
	var sync, fk int
	if err := s.writer.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Errorf("synchronous = %d, %v, want 2 (FULL)", sync, err)
	}
	if err := s.reader.QueryRowContext(t.Context(), "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Errorf("foreign_keys = %d, %v, want 1", fk, err)
	}
}

// TestMigrateToRecords stores two scenarios as schema version 4 kept
// them (one of version 1's columns only, one with every column and
// repeats) and checks that Open turns each into the record it stands for.
func TestMigrateToRecords(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	db := writerDB(t, dir)
	if from, to, err := migrate(ctx, db, migrations[:4]); err != nil || from != 0 || to != 4 {
		t.Fatalf("migrate to 4: %d→%d, %v", from, to, err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO runs VALUES ('v4', 'schedule', ?, NULL, 'running', 'h', 'v1.0', '', '')`, base.UnixNano()); err != nil {
		t.Fatal(err)
	}
	hist, err := result.EncodeHistogram(testHistogram(7, 1000))
	if err != nil {
		t.Fatal(err)
	}
	const v1Cols = `run_id, idx, name, target, mode, endpoint, start_unix_nano, end_unix_nano, error, valid,
		url, connections, threads, duration_seconds, timeout_seconds,
		sent, requests, responses_2xx, responses_3xx, responses_4xx, responses_5xx,
		errors_connect, errors_read, errors_write, errors_timeout, errors_closed,
		in_flight, bytes_read, connections_established, requests_per_second, error_ratio, timeout_ratio,
		latency_mean_seconds, latency_stdev_seconds, latency_max_seconds,
		latency_p50_seconds, latency_p75_seconds, latency_p90_seconds, latency_p99_seconds, latency_p999_seconds, latency_p9999_seconds,
		histogram`
	start, end := base.UnixNano(), base.Add(12*time.Second).UnixNano()
	row := []any{"v4", 0, "t/sync/json", "t", "sync", "json", start, end, "", 1,
		"http://127.0.0.1:8000/json", 100, 2, 10.004, 2.0,
		1010, 1000, 990, 1, 7, 2, 3, 1, 0, 5, 1, 1, 123456, 100, 99.96, 0.0188, 0.00495,
		0.012, 0.004, 1.9, 0.01, 0.014, 0.02, 0.09, 0.5, 1.2, hist}
	if _, err := db.ExecContext(ctx, `INSERT INTO scenarios (`+v1Cols+`) VALUES (?`+strings.Repeat(",?", len(row)-1)+`)`, row...); err != nil {
		t.Fatal(err)
	}
	// The second: failed before its load (NULL latencies, no histogram),
	// with the columns of versions 2 to 4.
	if _, err := db.ExecContext(ctx, `INSERT INTO scenarios (`+v1Cols+`,
			target_cpu_seconds, target_peak_rss_bytes, client_cpu_seconds, client_peak_rss_bytes, rate_histogram, repeats)
		VALUES ('v4', 1, 't/async/json', 't', 'async', 'json', NULL, NULL, 'target did not start', 0,
			'http://127.0.0.1:8000/ajson', 100, 2, NULL, 2.0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
			0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
			1.5, 4096, 0.25, 8192, ?,
			'[{"requests_per_second":5.5,"latency_p50_seconds":0.002,"latency_p99_seconds":0.02,"error_ratio":0.1,"timeout_ratio":0},
			  {"requests_per_second":0,"latency_p50_seconds":null,"latency_p99_seconds":null,"error_ratio":1,"timeout_ratio":1}]')`, hist); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// A read-only open does not migrate, and says so.
	if _, err := Open(ctx, dir, Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema version 4, want %d", SchemaVersion)) {
		t.Errorf("read-only Open of a version 4 database: %v", err)
	}
	s := openStore(t, dir)
	if v := userVersion(t, s.writer); v != SchemaVersion {
		t.Errorf("user_version after Open = %d, want %d", v, SchemaVersion)
	}
	r, err := s.Run(ctx, "v4")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Scenarios) != 2 {
		t.Fatalf("run from version 4: %d scenarios", len(r.Scenarios))
	}
	want := []Scenario{{
		RunID: "v4", Name: "t/sync/json", Target: "t", Mode: "sync", Endpoint: "json",
		Start: base, End: base.Add(12 * time.Second), Valid: true,
		URL: "http://127.0.0.1:8000/json", Connections: 100, Threads: 2, DurationSeconds: 10, TimeoutSeconds: 2, OnTimeout: "reconnect",
		Measurement: result.Measurement{
			ElapsedSeconds: 10.004, Sent: 1010, Requests: 1000, Unexpected: 9,
			Responses: result.Classes{990, 1, 7, 2}, Errors: result.Kinds{3, 1, 0, 5, 1},
			InFlight: 1, BytesRead: 123456, ConnectionsEstablished: 100,
			RequestsPerSecond: 99.96, TransferBytesPerSecond: 123456 / 10.004, ErrorRatio: 0.0188, TimeoutRatio: 0.00495,
			Latency: &result.Latency{Count: 1000, Mean: 0.012, Stdev: 0.004, Max: 1.9,
				P50: 0.01, P75: 0.014, P90: 0.02, P99: 0.09, P999: 0.5, P9999: 1.2},
			LatencyHistogram: hist,
		},
	}, {
		RunID: "v4", Index: 1, Name: "t/async/json", Target: "t", Mode: "async", Endpoint: "json",
		Error: "target did not start", URL: "http://127.0.0.1:8000/ajson", Connections: 100, Threads: 2, TimeoutSeconds: 2, OnTimeout: "reconnect",
		Measurement: result.Measurement{RateHistogram: hist},
		Repeats: []result.Repeat{
			{Measurement: result.Measurement{RequestsPerSecond: 5.5, ErrorRatio: 0.1, Latency: &result.Latency{P50: 0.002, P99: 0.02}}},
			{Measurement: result.Measurement{ErrorRatio: 1, TimeoutRatio: 1}},
		},
		Usage: result.Usage{TargetCPUSeconds: 1.5, TargetPeakRSSBytes: 4096, ClientCPUSeconds: 0.25, ClientPeakRSSBytes: 8192},
	}}
	for i := range want {
		if d := diffScenario(r.Scenarios[i], want[i]); d != "" {
			t.Errorf("scenario %d from version 4: %s", i, d)
		}
	}
	// The migrated database takes new records.
	beginRun(t, s, "v5", base.Add(time.Hour))
	saveScenario(ctx, t, s, makeScenario(t, "v5", 0, 10))
	h, err := s.History(ctx, "target-0/sync/json", HistoryQuery{})
	if err != nil || len(h) != 1 {
		t.Errorf("History after the migration: %d results, %v", len(h), err)
	}
	// ... and alerts (version 6).
	if err := s.SaveAlerts(ctx, []Alert{{Received: base, Status: AlertFiring, Name: "BenchdDown"}}); err != nil {
		t.Errorf("SaveAlerts after migrating from version 4: %v", err)
	}
}

func TestMigrateFailureRollsBack(t *testing.T) {
	dir := t.TempDir()
	db := writerDB(t, dir)
	list := []migration{
		migrations[0],
		{name: "broken", statements: []string{
			`CREATE TABLE half_done (x INTEGER)`,
			`INSERT INTO no_such_table VALUES (1)`,
		}},
	}
	from, to, err := migrate(t.Context(), db, list)
	if err == nil || !strings.Contains(err.Error(), "migration 2 (broken)") || !strings.Contains(err.Error(), "no_such_table") {
		t.Fatalf("migrate: %v, want an error naming migration 2 (broken)", err)
	}
	if from != 0 || to != 1 {
		t.Errorf("migrate went %d→%d, want 0→1", from, to)
	}
	if v := userVersion(t, db); v != 1 {
		t.Errorf("user_version = %d after the failed migration, want 1", v)
	}
	var n int
	if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM sqlite_schema WHERE name = 'half_done'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("the failed migration left table half_done behind (%d, %v)", n, err)
	}
	// Running the list again retries the failed step only.
	if _, _, err := migrate(t.Context(), db, migrations); err != nil {
		t.Fatalf("migrate after the failure: %v", err)
	}
	if v := userVersion(t, db); v != SchemaVersion {
		t.Errorf("user_version = %d, want %d", v, SchemaVersion)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	db := writerDB(t, dir)
	if _, err := db.ExecContext(t.Context(), `PRAGMA user_version = 99`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), dir, Options{})
	if err == nil {
		_ = s.Close()
		t.Fatal("Open of a version 99 database: no error")
	}
	path := filepath.Join(dir, DBFile)
	if !strings.Contains(err.Error(), "schema version 99 is newer") || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not explain the version or name %s", err, path)
	}
	// The refused open released the directory.
	if _, err := Open(t.Context(), dir, Options{}); err == nil || errors.Is(err, ErrInUse) {
		t.Errorf("second Open: %v, want the version error again", err)
	}
}

func TestOpenErrors(t *testing.T) {
	tmp := t.TempDir()
	file := filepath.Join(tmp, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(tmp, "garbage")
	if err := os.Mkdir(garbage, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(garbage, DBFile), []byte(strings.Repeat("not a database ", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dir     string
		o       Options
		wantIs  error
		wantMsg []string
	}{
		{"missing parent", filepath.Join(tmp, "missing", "data"), Options{}, fs.ErrNotExist,
			[]string{"create storage directory", filepath.Join(tmp, "missing", "data")}},
		{"path is a file", file, Options{}, nil, []string{file, "is not a directory"}},
		{"parent is a file", filepath.Join(file, "data"), Options{}, nil, []string{filepath.Join(file, "data"), "not a directory"}},
		{"not a database", garbage, Options{}, nil, []string{filepath.Join(garbage, DBFile), "not a database"}},
		{"read-only without a database", filepath.Join(tmp, "nodb"), Options{ReadOnly: true}, fs.ErrNotExist,
			[]string{filepath.Join(tmp, "nodb", DBFile)}},
		{"empty path", "", Options{}, nil, []string{"storage path is empty"}},
		{"question mark", filepath.Join(tmp, "a?b"), Options{}, nil, []string{"must not contain '?'"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.Context(), tc.dir, tc.o)
			if err == nil {
				_ = s.Close()
				t.Fatal("no error")
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("error %q is not %q", err, tc.wantIs)
			}
			if !strings.HasPrefix(err.Error(), "store: ") {
				t.Errorf("error %q lacks the prefix", err)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not contain %q", err, m)
				}
			}
			t.Logf("error: %v", err)
		})
	}
}
