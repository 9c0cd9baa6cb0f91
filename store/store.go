package store

import (
	"context"
	"errors"
	"time"

	"github.com/benchd/benchd/result"
)

// Run outcomes, as stored in [Run.Outcome].
const (
	// OutcomeRunning is the outcome of a run between [Store.BeginRun] and
	// [Store.FinishRun].
	OutcomeRunning = "running"
	// OutcomeSuccess is the outcome of a run whose scenarios all ran.
	OutcomeSuccess = "success"
	// OutcomeFailed is the outcome of a run that failed (the caller says
	// why in [Run.Err]).
	OutcomeFailed = "failed"
	// OutcomeAborted is the outcome [Open] gives a run that a previous
	// process left running (it crashed or was killed). [Store.FinishRun]
	// also accepts it, for a run cut short by a shutdown.
	OutcomeAborted = "aborted"
)

// ShownOutcome is the word users read for a stored outcome, in the API and
// the reports: "interrupted" for OutcomeAborted (the word benchd uses for
// a run stopped before its end, in its log too), the outcome itself
// otherwise. The column keeps "aborted", which older histories hold.
func ShownOutcome(outcome string) string {
	if outcome == OutcomeAborted {
		return "interrupted"
	}
	return outcome
}

// Defaults of the query limits.
const (
	// DefaultRunsLimit is the number of runs [Store.Runs] returns when
	// [RunQuery.Limit] is zero or negative.
	DefaultRunsLimit = 100
	// DefaultHistoryLimit is the number of results [Store.History] returns
	// when [HistoryQuery.Limit] is zero or negative.
	DefaultHistoryLimit = 100
)

// ErrNotFound is returned, wrapped, when a run asked for by ID does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrNotRunning is returned, wrapped, by [Store.SaveScenario] and
// [Store.FinishRun] when the run exists but is no longer running (finished,
// or aborted by a restart).
var ErrNotRunning = errors.New("store: run is not running")

// ErrReadOnly is returned, wrapped, by every write of a store opened with
// [Options.ReadOnly].
var ErrReadOnly = errors.New("store: opened read-only")

// ErrDiskFull is returned, wrapped, by a write (or [Open]) that failed
// because the file system holding the database is full (SQLITE_FULL,
// ENOSPC, or an I/O error while almost no space is left). The write left
// nothing behind; it may be retried once space is freed.
var ErrDiskFull = errors.New("disk full")

// ErrInUse is returned, wrapped, by [Open] when another process holds the
// storage directory open for writing.
var ErrInUse = errors.New("store: storage directory in use by another process")

// Run is one pass over the matrix (or part of it). Times are returned in
// UTC; a zero time means "not known" (End of a running run). A Run is a plain
// value: it may be copied, and is not safe for concurrent mutation.
type Run struct {
	// ID identifies the run. The caller proposes it to [Store.BeginRun]
	// (the scheduler's run ID), which may add or raise a "-N" suffix to
	// keep it unique and returns the ID stored. Required, at most 200
	// bytes.
	ID string
	// Trigger says what started the run: "schedule", "start", "api",
	// "matrix" or whatever the caller uses. Free text.
	Trigger string
	// Start is when the run began. Required.
	Start time.Time
	// End is when the run ended; zero while it is running.
	End time.Time
	// Outcome is one of OutcomeRunning, OutcomeSuccess, OutcomeFailed and
	// OutcomeAborted.
	Outcome string
	// ConfigHash identifies the configuration the run used (a hash of the
	// config file); free text, may be empty.
	ConfigHash string
	// Version is the benchd version that ran it; may be empty.
	Version string
	// Marker is a free-text deploy marker given to the run (benchd's
	// --run.marker flag or BENCHD_RUN_MARKER), e.g. the target's version,
	// so that a shift in the results can be tied to a deploy; may be empty.
	Marker string
	// Err says why a run failed or was aborted; empty on success.
	Err string
	// Scenarios holds the run's scenario results ordered by Index. Only
	// [Store.Run] fills it; [Store.BeginRun] ignores it.
	Scenarios []Scenario
}

// Scenario is the record of one scenario's result, [result.Scenario]:
// the store keeps it whole. Times come back in UTC.
type Scenario = result.Scenario

// RunQuery selects runs for [Store.Runs].
type RunQuery struct {
	// Limit is the most runs returned; zero or negative means
	// DefaultRunsLimit.
	Limit int
	// Before, if not zero, returns only runs that started strictly before
	// it (a cursor: pass the Start of the last run of the previous page;
	// runs that started at exactly that instant are then skipped, which
	// takes two runs started in the same nanosecond).
	Before time.Time
}

// HistoryQuery selects scenario results for [Store.History].
type HistoryQuery struct {
	// Limit is the most results returned (the newest ones); zero or
	// negative means DefaultHistoryLimit.
	Limit int
	// Since, if not zero, returns only results whose Start is at or after
	// it.
	Since time.Time
	// Before, if not zero, returns only results whose Start is strictly
	// before it (a cursor for paging back: pass the Start of the oldest
	// result of the previous page).
	Before time.Time
	// NoHistograms, when true, leaves the histograms out of the results
	// (LatencyHistogram, RateHistogram and ConnectLatencyHistogram, also
	// those of Repeats): a reader of the figures alone (the detector, the
	// results UI's summaries) skips most of the decoding.
	NoHistograms bool
}

// Store is benchd's run history. Implementations are safe for concurrent
// use. Every method that takes a context stops waiting when it is cancelled
// and returns its error, wrapped; a write whose context is cancelled is
// rolled back whole. Errors are wrapped with %w and prefixed "store: ";
// branch on them with [errors.Is].
type Store interface {
	// BeginRun records r as running and returns the ID it is stored
	// under: r.ID if no run has it, else r.ID's base (r.ID without a
	// trailing "-N") with the suffix "-N", N one more than the highest
	// suffix stored for that base, chosen in the insert's transaction. So
	// IDs stay unique across processes and restarts, and a run that found
	// its ID taken sorts after every stored run of that base. A suffix is
	// 1 to 999999999; when the next would pass that, the smallest free
	// suffix is taken instead (IDs never overflow or collide; runs still
	// sort by Start). r.ID and r.Start are
	// required; its End, Outcome, Err and Scenarios are ignored. On an
	// error the ID is the one the run would have had ("" if not chosen).
	BeginRun(ctx context.Context, r Run) (string, error)
	// SaveScenario stores one scenario result in its own transaction: after
	// it returns nil the result survives a crash, and a failed call leaves
	// nothing behind. In the same transaction it records a baseline
	// segment starting at s when s's settings hash differs from that of
	// the scenario's previous result with one ([Baseline]). The run must exist ([ErrNotFound]) and be running
	// ([ErrNotRunning]); an Index already used in the run is an error.
	SaveScenario(ctx context.Context, s Scenario) error
	// FinishRun marks a running run as ended at end with outcome
	// (OutcomeSuccess, OutcomeFailed or OutcomeAborted) and err (why it
	// failed, may be empty). It returns [ErrNotFound] or [ErrNotRunning].
	FinishRun(ctx context.Context, id string, end time.Time, outcome, err string) error
	// Run returns the run with the given ID and its scenarios, ordered by
	// Index, or [ErrNotFound]. The caller owns the result.
	Run(ctx context.Context, id string) (*Run, error)
	// Runs returns runs newest first (by Start), without their scenarios;
	// an empty, non-nil slice if none match.
	Runs(ctx context.Context, q RunQuery) ([]Run, error)
	// History returns the newest results of the scenario called
	// scenarioName across all runs (whatever their outcome), oldest first
	// (by Start), histograms included; an empty, non-nil slice, not an
	// error, if there is none.
	History(ctx context.Context, scenarioName string, q HistoryQuery) ([]Scenario, error)
	// Prune deletes the runs that started before olderThan, with their
	// scenarios, and the alerts received before it, and returns how many
	// runs it deleted. Running runs are kept.
	Prune(ctx context.Context, olderThan time.Time) (int, error)
	// PruneToSize deletes the oldest finished runs, with their scenarios,
	// until the pages the history uses (the database less its free
	// pages) take at most maxBytes, and returns how many runs it deleted.
	// Running runs and the newest finished run are kept, so the history
	// may stay above maxBytes. maxBytes <= 0 deletes nothing.
	PruneToSize(ctx context.Context, maxBytes int64) (int, error)
	// Accept records that a human accepted the current results of scenario
	// as its new baseline, and returns the ID of the run that starts it,
	// or an error wrapping [ErrNotFound] when the scenario has no result.
	Accept(ctx context.Context, scenario string, at time.Time) (string, error)
	// Accepted returns the IDs of the runs that start a baseline segment
	// of scenario: accepted by a human, or where its settings changed
	// (SaveScenario records those).
	Accepted(ctx context.Context, scenario string) (map[string]bool, error)
	// Baselines returns the starts of the baseline segments q selects,
	// oldest run first; an empty, non-nil slice if none match.
	Baselines(ctx context.Context, q BaselineQuery) ([]Baseline, error)
	// SaveAlerts stores the alerts of one Alertmanager notification in one
	// transaction: all of them or, on an error, none. Each needs a
	// Received time and a Status of AlertFiring or AlertResolved.
	SaveAlerts(ctx context.Context, alerts []Alert) error
	// Alerts returns the alerts that match q, newest first (by Received,
	// then ID); an empty, non-nil slice if none match.
	Alerts(ctx context.Context, q AlertQuery) ([]Alert, error)
	// Close releases the store. Calls after Close return errors.
	Close() error
}
