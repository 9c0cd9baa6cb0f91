package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// File names inside the storage directory.
const (
	// DBFile is the name of the database file in the storage directory.
	// SQLite keeps DBFile+"-wal" and DBFile+"-shm" beside it while the
	// database is open.
	DBFile = "benchd.db"
	// LockFile is the name of the file whose advisory lock marks the
	// storage directory as open for writing.
	LockFile = "benchd.lock"
)

// Defaults of [Options].
const (
	// DefaultBusyTimeout is how long a statement waits for a lock held by
	// another connection or process before it fails.
	DefaultBusyTimeout = 5 * time.Second
	// DefaultMaxReaders is the number of connections used for reads.
	DefaultMaxReaders = 4
)

// abortedReason is the Err [Open] gives a run it finds left running: the
// process died under it, or stopped before it could store the run's end
// (a full disk).
const abortedReason = "benchd stopped before the run's end was stored"

// Options configures [Open]. The zero value is ready to use.
type Options struct {
	// Logger receives lifecycle messages (opened, migrated, runs aborted).
	// Nil means discard.
	Logger *slog.Logger
	// BusyTimeout is how long a statement waits for a lock held elsewhere
	// before it fails with SQLITE_BUSY. Zero or negative means
	// DefaultBusyTimeout.
	BusyTimeout time.Duration
	// MaxReaders is the number of connections used for reads. Zero or
	// negative means DefaultMaxReaders.
	MaxReaders int
	// ReadOnly opens an existing database for reading only, without the
	// directory lock, migrations or the abort of runs left running, so it
	// can run beside a daemon that has the directory open (benchd report).
	// The database must exist and be at SchemaVersion. Writes return
	// [ErrReadOnly].
	ReadOnly bool
}

// SQLite is the [Store] in an SQLite database file. It is safe for
// concurrent use; it must not be copied. Writes go through one connection,
// reads through a pool of their own.
type SQLite struct {
	path       string
	busyMillis string // busy_timeout in milliseconds, for the DSNs
	logger     *slog.Logger

	writer *sql.DB // one connection, BEGIN IMMEDIATE; nil when read-only
	reader *sql.DB // query_only connections

	mu     sync.Mutex
	lock   *os.File // holds the directory lock; nil when read-only or closed
	closed bool
}

var _ Store = (*SQLite)(nil)

// Open opens the run history in directory dir, creating dir (but not its
// parent) and dir/benchd.db if needed, migrates the schema to SchemaVersion
// and marks any run a previous process left running as OutcomeAborted, with
// End set to the end of its last saved scenario (or its Start). ctx bounds
// the migrations and the abort; the store outlives it.
//
// Errors name the path: a missing parent, a directory that cannot be
// written, a file that is not a database, a schema newer than this package
// (upgrade benchd), or [ErrInUse] if another process has dir open for
// writing. The caller must Close the store.
func Open(ctx context.Context, dir string, o Options) (*SQLite, error) {
	if dir == "" {
		return nil, errors.New("store: storage path is empty")
	}
	if strings.ContainsRune(dir, '?') {
		// The driver reads everything after '?' as connection options.
		return nil, fmt.Errorf("store: storage path %q must not contain '?'", dir)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	busy := o.BusyTimeout
	if busy <= 0 {
		busy = DefaultBusyTimeout
	}
	readers := o.MaxReaders
	if readers <= 0 {
		readers = DefaultMaxReaders
	}
	s := &SQLite{
		path:   filepath.Join(dir, DBFile),
		logger: logger.With("component", "store"),
	}
	busyMillis := strconv.FormatInt(busy.Milliseconds(), 10)
	s.busyMillis = busyMillis

	if o.ReadOnly {
		if _, err := os.Stat(s.path); err != nil {
			return nil, fmt.Errorf("store: open %s read-only: %w", s.path, err)
		}
	} else {
		if err := makeDir(dir); err != nil {
			return nil, err
		}
		lock, err := lockDir(filepath.Join(dir, LockFile))
		if err != nil {
			return nil, err
		}
		s.lock = lock
		if err := s.openWriter(ctx, busyMillis); err != nil {
			_ = s.Close() // report the open error, not the cleanup's
			return nil, err
		}
	}

	reader, err := sql.Open("sqlite", s.path+"?_busy_timeout="+busyMillis+"&_foreign_keys=on&_query_only=on")
	if err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: open %s: %w", s.path, err)
	}
	reader.SetMaxOpenConns(readers)
	reader.SetMaxIdleConns(readers)
	s.reader = reader
	if o.ReadOnly {
		v, err := schemaVersion(ctx, reader)
		if err != nil {
			_ = s.Close()
			return nil, fmt.Errorf("store: open %s read-only: %w", s.path, s.classify(err))
		}
		if v != SchemaVersion {
			_ = s.Close()
			return nil, fmt.Errorf("store: open %s read-only: schema version %d, want %d (open it once for writing to migrate)", s.path, v, SchemaVersion)
		}
	}
	return s, nil
}

// makeDir creates dir unless it exists as a directory; it does not create
// missing parents, so a mistyped --storage.path fails instead of growing a
// new tree somewhere unexpected.
func makeDir(dir string) error {
	err := os.Mkdir(dir, 0o750)
	if err == nil {
		return nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("store: create storage directory %s: %w", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("store: storage directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("store: storage path %s is not a directory", dir)
	}
	return nil
}

// openWriter opens the write connection, checks that the file is a usable
// database in WAL mode, migrates it and aborts runs left running.
func (s *SQLite) openWriter(ctx context.Context, busyMillis string) error {
	// synchronous=FULL: in WAL mode NORMAL may lose the last commits on a
	// power cut (not on a process crash); one fsync per scenario result is
	// cheap next to a load test that takes seconds.
	w, err := sql.Open("sqlite", s.path+"?_txlock=immediate&_busy_timeout="+busyMillis+
		"&_foreign_keys=on&_journal_mode=WAL&_synchronous=FULL")
	if err != nil {
		return fmt.Errorf("store: open %s: %w", s.path, s.classify(err))
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s.writer = w

	var mode string
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("store: open %s: %w", s.path, s.classify(err))
	}
	if !strings.EqualFold(mode, "wal") {
		s.logger.Warn("database not in wal mode", "path", s.path, "journal_mode", mode)
	}
	from, to, err := migrate(ctx, w, migrations)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", s.path, s.classify(err))
	}
	if from != to {
		s.logger.Info("schema migrated", "path", s.path, "from_version", from, "to_version", to)
	}
	res, err := w.ExecContext(ctx, `UPDATE runs SET
			outcome = 'aborted',
			error = CASE WHEN error = '' THEN ? ELSE error END,
			end_unix_nano = COALESCE((SELECT MAX(end_unix_nano) FROM scenarios WHERE run_id = runs.id), start_unix_nano)
		WHERE outcome = 'running'`, abortedReason)
	if err != nil {
		return fmt.Errorf("store: open %s: abort interrupted runs: %w", s.path, s.classify(err))
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		s.logger.Warn("interrupted runs marked aborted", "path", s.path, "runs", n)
	}
	s.logger.Info("store opened", "path", s.path, "schema_version", to)
	return nil
}

// Path returns the path of the database file.
func (s *SQLite) Path() string { return s.path }

// Close closes the database connections and releases the directory lock.
// It waits for statements in progress. Closing twice is not an error.
func (s *SQLite) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	if s.reader != nil {
		errs = append(errs, s.reader.Close())
	}
	if s.writer != nil {
		errs = append(errs, s.writer.Close())
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close())
		s.lock = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("store: close %s: %w", s.path, err)
	}
	return nil
}

// BeginRun implements [Store.BeginRun].
func (s *SQLite) BeginRun(ctx context.Context, r Run) (_ string, err error) {
	if s.writer == nil {
		return "", fmt.Errorf("store: begin run %q: %w", r.ID, ErrReadOnly)
	}
	if err := checkID(r.ID); err != nil {
		return "", fmt.Errorf("store: begin run: %w", err)
	}
	if r.Start.IsZero() {
		return "", fmt.Errorf("store: begin run %q: start time is zero", r.ID)
	}
	start, err := timeArg(r.Start)
	if err != nil {
		return "", fmt.Errorf("store: begin run %q: start: %w", r.ID, err)
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("store: begin run %q: %w", r.ID, s.classify(err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error that made us roll back is the one to report
		}
	}()
	id, err := freeID(ctx, tx, r.ID)
	if err != nil {
		return "", fmt.Errorf("store: begin run %q: choose id: %w", r.ID, s.classify(err))
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO runs
		(id, trigger, start_unix_nano, end_unix_nano, outcome, config_hash, version, error, marker)
		VALUES (?, ?, ?, NULL, 'running', ?, ?, '', ?)`,
		id, r.Trigger, start, r.ConfigHash, r.Version, r.Marker); err != nil {
		return id, fmt.Errorf("store: begin run %q: %w", id, s.classify(err))
	}
	if err := tx.Commit(); err != nil {
		return id, fmt.Errorf("store: begin run %q: commit: %w", id, s.classify(err))
	}
	return id, nil
}

// maxSuffix is the largest "-N" suffix [SQLite.BeginRun] gives or reads
// as one: nine digits, far from any integer's overflow. A stored ID with a
// larger number (a hand-made row) is not read as a suffix of its base.
const maxSuffix = 999_999_999

// splitID splits a run ID into its base and its "-N" suffix (0 if none):
// N is 1 to maxSuffix, written without leading zeros.
func splitID(id string) (base string, n int) {
	i := strings.LastIndexByte(id, '-')
	if i <= 0 || i == len(id)-1 {
		return id, 0
	}
	u, err := strconv.ParseUint(id[i+1:], 10, 32)
	if err != nil || u == 0 || u > maxSuffix || strconv.FormatUint(u, 10) != id[i+1:] {
		return id, 0
	}
	return id[:i], int(u)
}

// freeID returns want if no run has it, else want's base with a suffix one
// more than the highest stored for that base (the base alone counts as 0),
// so that the new run sorts after every run of that base; when that would
// pass maxSuffix, the smallest free suffix instead. Either way the ID is
// free: the caller inserts it in the same (immediate) transaction.
func freeID(ctx context.Context, tx *sql.Tx, want string) (string, error) {
	base, _ := splitID(want)
	// LIKE would treat '_' and '%' in the base as wildcards; compare the
	// prefix exactly instead.
	rows, err := tx.QueryContext(ctx, `SELECT id FROM runs WHERE id = ? OR substr(id, 1, ?) = ?`,
		base, len(base)+1, base+"-")
	if err != nil {
		return "", err
	}
	defer rows.Close()
	highest, taken := -1, false
	used := map[int]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", err
		}
		taken = taken || id == want
		if b, k := splitID(id); b == base {
			highest = max(highest, k)
			used[k] = true
		}
	}
	if err := rows.Err(); err != nil {
		return "", err
	}
	if !taken {
		return want, nil
	}
	n := highest + 1
	if n > maxSuffix {
		n = 1
		for used[n] { // ends: used holds fewer than maxSuffix numbers
			n++
		}
	}
	if n > maxSuffix {
		return "", fmt.Errorf("run id %q: every suffix up to %d is taken", base, maxSuffix)
	}
	id := base + "-" + strconv.Itoa(n)
	if err := checkID(id); err != nil {
		return "", err
	}
	return id, nil
}

// SaveScenario implements [Store.SaveScenario].
func (s *SQLite) SaveScenario(ctx context.Context, sc Scenario) (err error) {
	if s.writer == nil {
		return fmt.Errorf("store: save scenario %q of run %q: %w", sc.Name, sc.RunID, ErrReadOnly)
	}
	if sc.Name == "" {
		return fmt.Errorf("store: save scenario of run %q: name is empty", sc.RunID)
	}
	args, err := scenarioArgs(sc)
	if err != nil {
		return fmt.Errorf("store: save scenario %q of run %q: %w", sc.Name, sc.RunID, err)
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: save scenario %q of run %q: %w", sc.Name, sc.RunID, s.classify(err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error that made us roll back is the one to report
		}
	}()
	if err := checkRunning(ctx, tx, sc.RunID); err != nil {
		return fmt.Errorf("store: save scenario %q of run %q: %w", sc.Name, sc.RunID, s.classify(err))
	}
	if _, err := tx.ExecContext(ctx, insertScenario, args...); err != nil {
		return fmt.Errorf("store: save scenario %q of run %q: %w", sc.Name, sc.RunID, s.classify(err))
	}
	if err := markSettingsChange(ctx, tx, &sc); err != nil {
		return fmt.Errorf("store: save scenario %q of run %q: %w", sc.Name, sc.RunID, s.classify(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: save scenario %q of run %q: commit: %w", sc.Name, sc.RunID, s.classify(err))
	}
	return nil
}

// FinishRun implements [Store.FinishRun].
func (s *SQLite) FinishRun(ctx context.Context, id string, end time.Time, outcome, errText string) (err error) {
	if s.writer == nil {
		return fmt.Errorf("store: finish run %q: %w", id, ErrReadOnly)
	}
	switch outcome {
	case OutcomeSuccess, OutcomeFailed, OutcomeAborted:
	default:
		return fmt.Errorf("store: finish run %q: outcome %q is not %s, %s or %s", id, outcome, OutcomeSuccess, OutcomeFailed, OutcomeAborted)
	}
	if end.IsZero() {
		return fmt.Errorf("store: finish run %q: end time is zero", id)
	}
	endArg, err := timeArg(end)
	if err != nil {
		return fmt.Errorf("store: finish run %q: end: %w", id, err)
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: finish run %q: %w", id, s.classify(err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error that made us roll back is the one to report
		}
	}()
	if err := checkRunning(ctx, tx, id); err != nil {
		return fmt.Errorf("store: finish run %q: %w", id, s.classify(err))
	}
	if _, err := tx.ExecContext(ctx, `UPDATE runs SET end_unix_nano = ?, outcome = ?, error = ? WHERE id = ?`,
		endArg, outcome, errText, id); err != nil {
		return fmt.Errorf("store: finish run %q: %w", id, s.classify(err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: finish run %q: commit: %w", id, s.classify(err))
	}
	return nil
}

// checkRunning returns nil if run id exists and is running, else
// ErrNotFound or ErrNotRunning (with the outcome).
func checkRunning(ctx context.Context, tx *sql.Tx, id string) error {
	var outcome string
	err := tx.QueryRowContext(ctx, `SELECT outcome FROM runs WHERE id = ?`, id).Scan(&outcome)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("run %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return err
	}
	if outcome != OutcomeRunning {
		return fmt.Errorf("%w (it is %s)", ErrNotRunning, outcome)
	}
	return nil
}

// Run implements [Store.Run]. The run and its scenarios are read in one
// transaction, so they are consistent with each other.
func (s *SQLite) Run(ctx context.Context, id string) (_ *Run, err error) {
	tx, err := s.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("store: read run %q: %w", id, s.classify(err))
	}
	defer func() {
		if rerr := tx.Rollback(); err == nil && rerr != nil && !errors.Is(rerr, sql.ErrTxDone) {
			err = fmt.Errorf("store: read run %q: %w", id, s.classify(rerr))
		}
	}()
	r, err := scanRun(tx.QueryRowContext(ctx, `SELECT `+runColumns+` FROM runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: run %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: read run %q: %w", id, s.classify(err))
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+scenarioColumns+` FROM scenarios WHERE run_id = ? ORDER BY idx`, id)
	if err != nil {
		return nil, fmt.Errorf("store: read scenarios of run %q: %w", id, s.classify(err))
	}
	r.Scenarios, err = scanScenarios(rows, false)
	if err != nil {
		return nil, fmt.Errorf("store: read scenarios of run %q: %w", id, s.classify(err))
	}
	return &r, nil
}

// Runs implements [Store.Runs]. Runs with the same Start are ordered by ID,
// descending.
func (s *SQLite) Runs(ctx context.Context, q RunQuery) ([]Run, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultRunsLimit
	}
	before := int64(math.MaxInt64)
	if !q.Before.IsZero() {
		b, err := timeArg(q.Before)
		if err != nil {
			return nil, fmt.Errorf("store: list runs: before: %w", err)
		}
		before = b.(int64)
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT `+runColumns+` FROM runs
		WHERE start_unix_nano < ? ORDER BY start_unix_nano DESC, id DESC LIMIT ?`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list runs: %w", s.classify(err))
	}
	defer rows.Close()
	runs := []Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("store: list runs: %w", s.classify(err))
		}
		runs = append(runs, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list runs: %w", s.classify(err))
	}
	return runs, nil
}

// History implements [Store.History]. A result without a Start is placed,
// and filtered by Since, at the Start of its run.
func (s *SQLite) History(ctx context.Context, scenarioName string, q HistoryQuery) ([]Scenario, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	since := int64(math.MinInt64)
	if !q.Since.IsZero() {
		b, err := timeArg(q.Since)
		if err != nil {
			return nil, fmt.Errorf("store: history of %q: since: %w", scenarioName, err)
		}
		since = b.(int64)
	}
	before := int64(math.MaxInt64)
	if !q.Before.IsZero() {
		b, err := timeArg(q.Before)
		if err != nil {
			return nil, fmt.Errorf("store: history of %q: before: %w", scenarioName, err)
		}
		before = b.(int64)
	}
	// The inner query picks the newest `limit`; the outer one puts them
	// oldest first. run_id and idx break ties so the order is total.
	rows, err := s.reader.QueryContext(ctx, `SELECT `+scenarioColumns+` FROM (
			SELECT s.*, COALESCE(s.start_unix_nano, r.start_unix_nano) AS at
			FROM scenarios s JOIN runs r ON r.id = s.run_id
			WHERE s.name = ? AND COALESCE(s.start_unix_nano, r.start_unix_nano) >= ?
				AND COALESCE(s.start_unix_nano, r.start_unix_nano) < ?
			ORDER BY at DESC, s.run_id DESC, s.idx DESC
			LIMIT ?)
		ORDER BY at, run_id, idx`, scenarioName, since, before, limit)
	if err != nil {
		return nil, fmt.Errorf("store: history of %q: %w", scenarioName, s.classify(err))
	}
	out, err := scanScenarios(rows, q.NoHistograms)
	if err != nil {
		return nil, fmt.Errorf("store: history of %q: %w", scenarioName, s.classify(err))
	}
	return out, nil
}

// Prune implements [Store.Prune]. The space freed is reused by later writes;
// the file does not shrink (VACUUM does that, see docs/storage.md).
func (s *SQLite) Prune(ctx context.Context, olderThan time.Time) (int, error) {
	if s.writer == nil {
		return 0, fmt.Errorf("store: prune: %w", ErrReadOnly)
	}
	if olderThan.IsZero() {
		return 0, nil
	}
	t, err := timeArg(olderThan)
	if err != nil {
		return 0, fmt.Errorf("store: prune: %w", err)
	}
	res, err := s.writer.ExecContext(ctx, `DELETE FROM runs WHERE start_unix_nano < ? AND outcome != 'running'`, t)
	if err != nil {
		return 0, fmt.Errorf("store: prune runs before %s: %w", olderThan.UTC().Format(time.RFC3339), s.classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: prune: %w", err)
	}
	if _, err := s.writer.ExecContext(ctx, `DELETE FROM alerts WHERE received_unix_nano < ?`, t); err != nil {
		return int(n), fmt.Errorf("store: prune alerts before %s: %w", olderThan.UTC().Format(time.RFC3339), s.classify(err))
	}
	if n > 0 {
		s.logger.Info("runs pruned", "runs", n, "older_than", olderThan.UTC())
	}
	return int(n), nil
}

// maxPruneSteps bounds the deletions of one PruneToSize.
const maxPruneSteps = 100_000

// PruneToSize implements [Store.PruneToSize]. It deletes one run per
// transaction, oldest first, measuring the size after each.
func (s *SQLite) PruneToSize(ctx context.Context, maxBytes int64) (int, error) {
	if s.writer == nil {
		return 0, fmt.Errorf("store: prune to size: %w", ErrReadOnly)
	}
	if maxBytes <= 0 {
		return 0, nil
	}
	deleted := 0
	for range maxPruneSteps {
		used, err := s.usedBytes(ctx)
		if err != nil {
			return deleted, fmt.Errorf("store: prune to %d bytes: size: %w", maxBytes, s.classify(err))
		}
		if used <= maxBytes {
			break
		}
		res, err := s.writer.ExecContext(ctx, `DELETE FROM runs WHERE id = (
				SELECT id FROM runs WHERE outcome != 'running'
				AND id != (SELECT id FROM runs WHERE outcome != 'running' ORDER BY start_unix_nano DESC, id DESC LIMIT 1)
				ORDER BY start_unix_nano, id LIMIT 1)`)
		if err != nil {
			return deleted, fmt.Errorf("store: prune to %d bytes: %w", maxBytes, s.classify(err))
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			break // nothing left to delete
		}
		deleted++
	}
	if deleted > 0 {
		s.logger.Info("runs pruned to size", "runs", deleted, "max_bytes", maxBytes)
	}
	return deleted, nil
}

// usedBytes returns the bytes of the database's pages in use.
func (s *SQLite) usedBytes(ctx context.Context) (int64, error) {
	var pages, free, size int64
	for _, q := range []struct {
		pragma string
		v      *int64
	}{{"page_count", &pages}, {"freelist_count", &free}, {"page_size", &size}} {
		if err := s.writer.QueryRowContext(ctx, "PRAGMA "+q.pragma).Scan(q.v); err != nil {
			return 0, err
		}
	}
	return (pages - free) * size, nil
}

// Backup writes a consistent copy of the database to the new file dst
// (SQLite's VACUUM INTO): a snapshot as of the moment it starts, compacted,
// in rollback-journal mode, that [Open] can use as DBFile of another
// directory. It reads through its own connection, so saves and reads go on
// meanwhile. dst must not exist; its directory must. ctx cancels the copy
// (a partial dst may then be left behind; remove it). It works on a
// read-only store too.
func (s *SQLite) Backup(ctx context.Context, dst string) error {
	if dst == "" {
		return errors.New("store: backup: destination path is empty")
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("store: backup to %s: %w", dst, fs.ErrExist)
	}
	// The readers are query_only, which forbids VACUUM INTO even though it
	// leaves the source untouched: use a connection of its own.
	db, err := sql.Open("sqlite", s.path+"?_busy_timeout="+s.busyMillis)
	if err != nil {
		return fmt.Errorf("store: backup %s: %w", s.path, err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("store: backup %s to %s: %w", s.path, dst, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("store: backup %s: %w", s.path, err)
	}
	return nil
}

// checkID rejects IDs that are empty or unreasonably long.
func checkID(id string) error {
	if id == "" {
		return errors.New("run id is empty")
	}
	if len(id) > 200 {
		return fmt.Errorf("run id %.20q... is longer than 200 bytes", id)
	}
	return nil
}

// minTime and maxTime bound the times UnixNano can represent.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// timeArg turns t into a column value: nil for the zero time, else its unix
// nanoseconds. Times that do not fit (before 1678 or after 2262) are errors.
func timeArg(t time.Time) (any, error) {
	if t.IsZero() {
		return nil, nil
	}
	if t.Before(minTime) || t.After(maxTime) {
		return nil, fmt.Errorf("time %s out of range", t.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

// timeOf is the inverse of timeArg.
func timeOf(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

const runColumns = `id, trigger, start_unix_nano, end_unix_nano, outcome, config_hash, version, error, marker`

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

func scanRun(row rowScanner) (Run, error) {
	var (
		r          Run
		start, end sql.NullInt64
	)
	if err := row.Scan(&r.ID, &r.Trigger, &start, &end, &r.Outcome, &r.ConfigHash, &r.Version, &r.Err, &r.Marker); err != nil {
		return Run{}, err
	}
	r.Start, r.End = timeOf(start), timeOf(end)
	return r, nil
}

// scenarioColumns lists the scenario columns in the order of scenarioArgs
// and scanScenario: the ones queried, then the record (docs/storage.md).
const scenarioColumns = `run_id, idx, name, target, mode, endpoint, start_unix_nano, end_unix_nano, error, valid,
	settings_hash, record_version, record`

// RecordVersion is the version of the record JSON a scenario row holds
// (its record_version column): the JSON of [result.Scenario] without the
// fields kept in columns (run, index, name and its parts, start and end,
// error, valid, settings hash). A newer version than this benchd knows is an error.
const RecordVersion = 1

// insertScenario has one placeholder per column of scenarioColumns.
var insertScenario = `INSERT INTO scenarios (` + scenarioColumns + `) VALUES (?` +
	strings.Repeat(", ?", strings.Count(scenarioColumns, ",")) + `)`

func scenarioArgs(s Scenario) ([]any, error) {
	if s.Index < 0 {
		return nil, fmt.Errorf("index %d is negative", s.Index)
	}
	start, err := timeArg(s.Start)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	end, err := timeArg(s.End)
	if err != nil {
		return nil, fmt.Errorf("end: %w", err)
	}
	valid := 0
	if s.Valid {
		valid = 1
	}
	rec := s
	rec.RunID, rec.Index, rec.Name, rec.Target, rec.Mode, rec.Endpoint = "", 0, "", "", "", ""
	rec.Start, rec.End, rec.Error, rec.Valid = time.Time{}, time.Time{}, "", false
	rec.SettingsHash = ""
	if f := nonFinite(reflect.ValueOf(rec), ""); f != "" {
		return nil, fmt.Errorf("record: %s: JSON holds finite numbers only", f)
	}
	b, err := json.Marshal(&rec)
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	return []any{s.RunID, s.Index, s.Name, s.Target, s.Mode, s.Endpoint, start, end, s.Error, valid,
		s.SettingsHash, RecordVersion, string(b)}, nil
}

// scanScenarios reads every row of rows and closes it; noHist leaves the
// histograms out.
func scanScenarios(rows *sql.Rows, noHist bool) ([]Scenario, error) {
	defer rows.Close()
	out := []Scenario{}
	for rows.Next() {
		sc, err := scanScenario(rows, noHist)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func scanScenario(row rowScanner, noHist bool) (Scenario, error) {
	var (
		s          Scenario
		start, end sql.NullInt64
		valid      int
		version    int
		record     string
	)
	var runID, name, target, mode, endpoint, errText, settingsHash string
	var idx int
	if err := row.Scan(&runID, &idx, &name, &target, &mode, &endpoint, &start, &end, &errText, &valid,
		&settingsHash, &version, &record); err != nil {
		return Scenario{}, err
	}
	if version > RecordVersion {
		return Scenario{}, fmt.Errorf("scenario %s of run %s: record version %d is newer than this benchd reads (%d): upgrade benchd", name, runID, version, RecordVersion)
	}
	var err error
	if noHist {
		err = unmarshalFigures([]byte(record), &s)
	} else {
		err = json.Unmarshal([]byte(record), &s)
	}
	if err != nil {
		return Scenario{}, fmt.Errorf("scenario %s of run %s: record: %w", name, runID, err)
	}
	s.RunID, s.Index, s.Name, s.Target, s.Mode, s.Endpoint = runID, idx, name, target, mode, endpoint
	s.Start, s.End, s.Error, s.Valid = timeOf(start), timeOf(end), errText, valid != 0
	s.SettingsHash = settingsHash
	return s, nil
}

// nonFinite returns the JSON path and value of the first NaN or infinite
// float in v (a record), or "".
func nonFinite(v reflect.Value, path string) string {
	switch v.Kind() {
	case reflect.Float64:
		if f := v.Float(); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Sprintf("%s is %v", path, f)
		}
	case reflect.Pointer:
		if !v.IsNil() {
			return nonFinite(v.Elem(), path)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Struct {
			for i := range v.Len() {
				if f := nonFinite(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); f != "" {
					return f
				}
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			p := path
			if name, _, _ := strings.Cut(sf.Tag.Get("json"), ","); name != "" && !sf.Anonymous {
				p = strings.TrimPrefix(path+"."+name, ".")
			}
			if f := nonFinite(v.Field(i), p); f != "" {
				return f
			}
		}
	}
	return ""
}
