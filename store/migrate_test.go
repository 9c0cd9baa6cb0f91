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

func TestMigrateFromVersion1(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	db := writerDB(t, dir)
	if from, to, err := migrate(ctx, db, migrations[:1]); err != nil || from != 0 || to != 1 {
		t.Fatalf("migrate to 1: %d→%d, %v", from, to, err)
	}
	// A run and a scenario as version 1 stored them: every column but the
	// resource use that version 2 added.
	if _, err := db.ExecContext(ctx, `INSERT INTO runs VALUES ('v1', 'schedule', ?, NULL, 'running', 'h', 'v1.0', '')`, base.UnixNano()); err != nil {
		t.Fatal(err)
	}
	sc := makeScenario(t, "v1", 0, 1000)
	args, err := scenarioArgs(sc)
	if err != nil {
		t.Fatal(err)
	}
	cols := strings.Split(scenarioColumns, ",")
	const added = 6 // columns of migrations 2, 3 and 4
	v1Cols := strings.Join(cols[:len(cols)-added], ",")
	if _, err := db.ExecContext(ctx, `INSERT INTO scenarios (`+v1Cols+`) VALUES (?`+strings.Repeat(",?", len(cols)-added-1)+`)`,
		args[:len(args)-added]...); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// A read-only open does not migrate, and says so.
	if _, err := Open(ctx, dir, Options{ReadOnly: true}); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("schema version 1, want %d", SchemaVersion)) {
		t.Errorf("read-only Open of a version 1 database: %v", err)
	}

	s := openStore(t, dir)
	if v := userVersion(t, s.writer); v != SchemaVersion {
		t.Errorf("user_version after Open = %d, want %d", v, SchemaVersion)
	}
	r, err := s.Run(ctx, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != OutcomeAborted || len(r.Scenarios) != 1 {
		t.Fatalf("run from version 1: outcome %q, %d scenarios", r.Outcome, len(r.Scenarios))
	}
	want := sc
	want.TargetCPUSeconds, want.TargetPeakRSSBytes, want.ClientCPUSeconds, want.ClientPeakRSSBytes = 0, 0, 0, 0
	want.RateHistogram, want.Repeats = nil, nil
	if d := diffScenario(r.Scenarios[0], want); d != "" {
		t.Errorf("scenario from version 1: %s", d)
	}
	// The migrated database takes new results with resource use.
	beginRun(t, s, "v2", base.Add(time.Hour))
	saveScenario(ctx, t, s, makeScenario(t, "v2", 0, 10))
	h, err := s.History(ctx, sc.Name, HistoryQuery{})
	if err != nil || len(h) != 2 || h[1].TargetCPUSeconds != sc.TargetCPUSeconds {
		t.Errorf("History across versions: %d results, %v", len(h), err)
	}
	// ... and alerts (version 5).
	if err := s.SaveAlerts(ctx, []Alert{{Received: base, Status: AlertFiring, Name: "BenchdDown"}}); err != nil {
		t.Errorf("SaveAlerts after migrating from version 1: %v", err)
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
