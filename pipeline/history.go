package pipeline

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"
)

// DefaultRetention is how long run history is kept (--storage.retention).
const DefaultRetention = 90 * 24 * time.Hour

// HistoryOptions configure the run history stage of a [Pipeline].
type HistoryOptions struct {
	// Store is the run history. Required.
	Store store.Store
	// Logger logs failed writes and pruning; nil discards.
	Logger *slog.Logger
	// Retention prunes runs older than it after each run; 0 keeps all.
	Retention time.Duration
	// MaxBytes prunes the oldest runs until the history takes at most
	// this many bytes; 0: no bound.
	MaxBytes int64
	// ConfigHash returns the hash stored with each run (the configuration
	// it ran); nil stores none.
	ConfigHash func() string
	// Version and Marker are stored with each run (benchd's version, the
	// --run.marker deploy marker).
	Version, Marker string
	// Metrics counts failed writes and invalid results; nil counts none.
	Metrics HistoryMetrics
}

// historyWriteTimeout bounds one write of the run history.
const historyWriteTimeout = 30 * time.Second

// maxPendingWrites bounds the history writes kept in memory while the
// store fails (a full disk): past it the oldest are dropped, and logged.
const maxPendingWrites = 10000

// History records every run and scenario result in the store, and prunes
// runs older than the retention after each run. Losing history never stops
// measuring: a write that fails because the disk is full
// ([store.ErrDiskFull]) is kept in memory, with every later write behind
// it in order, and retried before the next write, so that once space is
// back the run lands whole with its real outcome. Other failed writes are
// logged and dropped. Every failure is counted and reported by Status.
// It is safe for concurrent use.
type History struct {
	scheduler.NopObserver
	st        store.Store
	log       *slog.Logger
	retention time.Duration
	maxBytes  int64 // --storage.retention.size; 0: no bound
	cfgHash   func() string
	version   string
	marker    string
	metrics   HistoryMetrics // nil: failures not counted (benchd matrix)

	mu      sync.Mutex
	pending []pendingWrite
	runs    map[string]*historyRun // by announced ID, until the run's end is stored
	lastErr error                  // the last failed write; nil once all caught up
	heldErr error                  // the last failure that held a write in memory
	dropped map[string]error       // runs (announced IDs) a write of which was dropped, with its error
	since   time.Time              // when the writes started failing
}

// NewHistory returns the history stage of o.
func NewHistory(o HistoryOptions) *History {
	h := &History{st: o.Store, log: o.Logger, retention: o.Retention, maxBytes: o.MaxBytes,
		cfgHash: o.ConfigHash, version: o.Version, marker: o.Marker, metrics: o.Metrics}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.cfgHash == nil {
		h.cfgHash = func() string { return "" }
	}
	return h
}

// historyRun is a run whose end is not stored yet: what the store should
// hold of it, kept in memory so that the API can show a run whose writes
// are held ([History.Reader]).
type historyRun struct {
	run       store.Run // as announced; Outcome, End and Err once finished, Scenarios so far
	storedID  string    // the ID BeginRun stored it under; "" until it did
	msg       string    // why it failed or was cut short, as the scheduler said
	finished  bool
	writeErr  error // the first failed or held write of the run, for its Err
	startLost bool  // its start could not be stored (and was dropped): its writes are skipped
}

// pendingWrite is a write waiting for the store to take it again.
type pendingWrite struct {
	op, runID string // runID: the announced ID
	do        func(ctx context.Context) error
}

// HistoryMetrics counts what the history could not store and what it
// keeps from the detector; *exporters.Metrics implements it.
type HistoryMetrics interface {
	// StorageWriteFailed counts a failed write of operation op.
	StorageWriteFailed(op string)
	// InvalidResult counts a result left out of the detector for reason.
	InvalidResult(reason string)
}

// StorageStatus is the run history's write health.
type StorageStatus struct {
	LastError     string
	Since         time.Time
	PendingWrites int
	PendingRuns   []string
}

func (h *History) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), historyWriteTimeout)
}

// retriable says whether a failed write is kept for a retry.
func retriable(err error) bool { return errors.Is(err, store.ErrDiskFull) }

// write runs do, after the writes still pending, or queues it behind them;
// h.mu is held.
func (h *History) writeLocked(op string, run *historyRun, do func(ctx context.Context) error) {
	runID := ""
	if run != nil {
		runID = run.run.ID
	}
	h.flushLocked()
	if len(h.pending) > 0 {
		// Held behind the writes that failed: the run's history is late
		// for the same reason, and its Err says so.
		run.failed(h.heldErr)
		h.queueLocked(pendingWrite{op, runID, do})
		return
	}
	ctx, cancel := h.ctx()
	defer cancel()
	if err := do(ctx); err != nil {
		h.failedLocked(op, runID, err)
		if retriable(err) {
			h.queueLocked(pendingWrite{op, runID, do})
		} else {
			h.droppedLocked(runID, err)
		}
	}
}

func (h *History) queueLocked(w pendingWrite) {
	if len(h.pending) >= maxPendingWrites {
		lost := h.pending[0]
		h.pending = h.pending[1:]
		h.log.Error("history: too many writes pending, oldest dropped", "run_id", lost.runID, "operation", lost.op, "pending", len(h.pending))
	}
	h.pending = append(h.pending, w)
}

// flushLocked retries the pending writes in order until one fails again;
// h.mu is held.
func (h *History) flushLocked() {
	for len(h.pending) > 0 {
		w := h.pending[0]
		ctx, cancel := h.ctx()
		err := w.do(ctx)
		cancel()
		if err != nil {
			h.failedLocked(w.op, w.runID, err)
			if retriable(err) {
				return
			}
			h.log.Error("history: pending write dropped", "run_id", w.runID, "operation", w.op, "err", err)
			h.droppedLocked(w.runID, err)
		}
		h.pending = h.pending[1:]
	}
	if h.lastErr != nil {
		h.log.Info("history: writes caught up", "failing_since", h.since)
		h.lastErr, h.since = nil, time.Time{}
	}
}

// droppedLocked notes that a write of run runID is lost, for Close.
func (h *History) droppedLocked(runID string, err error) {
	if runID == "" {
		return
	}
	if h.dropped == nil {
		h.dropped = map[string]error{}
	}
	if _, ok := h.dropped[runID]; !ok {
		h.dropped[runID] = err
	}
}

func (h *History) failedLocked(op, runID string, err error) {
	if h.metrics != nil {
		h.metrics.StorageWriteFailed(op)
	}
	if h.lastErr == nil {
		h.since = time.Now()
	}
	h.lastErr = err
	if retriable(err) {
		h.heldErr = err
		h.log.Error("history: write failed, kept in memory and retried before the next write", "operation", op, "run_id", runID, "err", err)
		return
	}
	h.log.Error("history: write failed", "operation", op, "run_id", runID, "err", err)
}

// writeFailure is the note a run's Err gets when a write of its history
// failed.
func writeFailure(err error) string {
	if errors.Is(err, store.ErrDiskFull) {
		return "history write failed: disk full (the run was kept in memory and stored once space was back)"
	}
	return "history write failed: " + err.Error()
}

// heldNote is what the API shows in a run's Err while its writes are held
// in memory (see [History.Reader]).
func heldNote(err error) string {
	if errors.Is(err, store.ErrDiskFull) {
		return "history write failed: disk full (the run is kept in memory and stored once space is back)"
	}
	if err == nil {
		return "history write pending"
	}
	return "history write failed: " + err.Error()
}

// joinErr joins the non-empty texts with "; ".
func joinErr(texts ...string) string {
	return strings.Join(slices.DeleteFunc(texts, func(s string) bool { return s == "" }), "; ")
}

// RecordRun implements [scheduler.Recorder]: it stores the run's start
// and returns the ID the store chose.
func (h *History) RecordRun(info scheduler.RunInfo) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.runs == nil {
		h.runs = map[string]*historyRun{}
	}
	r := &historyRun{run: store.Run{ID: info.ID, Trigger: info.Trigger, Start: info.Start, Outcome: store.OutcomeRunning,
		ConfigHash: h.cfgHash(), Version: h.version, Marker: h.marker}}
	begin := r.run
	first := true
	chosen := ""
	h.writeLocked("begin_run", r, func(ctx context.Context) error {
		id, err := h.st.BeginRun(ctx, begin)
		if first { // the first attempt's choice is the ID announced
			chosen, first = id, false
		}
		switch {
		case err == nil:
			r.storedID = id
			if id != r.run.ID { // only if another writer took the ID meanwhile
				h.log.Warn("history: run stored under another ID than announced", "run_id", r.run.ID, "stored_as", id)
			}
		case !retriable(err):
			// Dropped: no later write of the run may go to the ID it
			// would have had (another run's, if that was the failure).
			r.startLost = true
		}
		r.failed(err)
		return err
	})
	r.run.ID = cmp.Or(chosen, info.ID)
	h.runs[r.run.ID] = r
	return r.run.ID
}

// failed keeps the first failed write of the run.
func (r *historyRun) failed(err error) {
	if r != nil && r.writeErr == nil {
		r.writeErr = err
	}
}

// ScenarioFinished stores r's record (after the writes still pending).
func (h *History) ScenarioFinished(_ context.Context, r *scheduler.ScenarioResult) {
	sc := *r.Record
	if len(sc.InvalidReasons) > 0 && r.Err == nil {
		// Said once, here: the result is kept and shown, but the detector
		// will not use it, and nothing else would tell.
		h.log.Warn("result left out of the regression detector's baselines and tests", "run_id", r.RunID,
			"scenario", sc.Name, "reasons", sc.InvalidReasons, "sched_latency_p99_seconds", sc.SchedulerLatencyP99Seconds,
			"max_repeat_foreign_cpu_ratio", r.MaxForeignCPURatio())
		if h.metrics != nil {
			for _, reason := range sc.InvalidReasons {
				h.metrics.InvalidResult(reason)
			}
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	run := h.runs[r.RunID]
	if run != nil {
		run.run.Scenarios = append(run.run.Scenarios, sc)
	}
	h.writeLocked("save_scenario", run, func(ctx context.Context) error {
		if run != nil {
			if run.storedID == "" {
				return nil // its start is lost: said when it was dropped
			}
			sc.RunID = run.storedID
		}
		err := h.st.SaveScenario(ctx, sc)
		run.failed(err)
		return err
	})
}

// RunFinished stores the run's end and outcome, then prunes by retention
// and size unless writes are pending. A run stopped from outside is
// stored aborted, with the signal that stopped it when ctx's cause is a
// [SignalCause].
func (h *History) RunFinished(ctx context.Context, r *scheduler.RunReport) {
	outcome, msg := r.Outcome(), ""
	if r.Err != nil {
		outcome, msg = store.OutcomeAborted, stopText(ctx, r.Err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	run := h.runs[r.ID]
	if run != nil {
		run.finished, run.msg = true, msg
		run.run.End, run.run.Outcome = r.End, outcome
	}
	h.writeLocked("finish_run", run, func(ctx context.Context) error {
		id, text := r.ID, msg
		if run != nil {
			if run.storedID == "" {
				delete(h.runs, r.ID)
				h.log.Error("history: run not stored, its start could not be written", "run_id", r.ID, "err", run.writeErr)
				return nil
			}
			id = run.storedID
			if run.writeErr != nil {
				text = joinErr(msg, writeFailure(run.writeErr))
			}
		}
		err := h.st.FinishRun(ctx, id, r.End, outcome, text)
		if !retriable(err) { // stored, or never will be
			delete(h.runs, r.ID)
		}
		run.failed(err)
		return err
	})
	if h.retention > 0 && len(h.pending) == 0 {
		ctx, cancel := h.ctx()
		defer cancel()
		n, err := h.st.Prune(ctx, time.Now().Add(-h.retention))
		if err != nil {
			h.failedLocked("prune", "", err)
		} else if n > 0 {
			h.log.Info("history: pruned old runs", "runs", n, "retention", h.retention)
		}
	}
	if h.maxBytes > 0 && len(h.pending) == 0 {
		ctx, cancel := h.ctx()
		defer cancel()
		n, err := h.st.PruneToSize(ctx, h.maxBytes)
		if err != nil {
			h.failedLocked("prune", "", err)
		} else if n > 0 {
			h.log.Info("history: pruned oldest runs to size", "runs", n, "max_bytes", h.maxBytes)
		}
	}
}

// Status reports the history's write health: the last failed write (nil
// once every write has been stored), since when writes fail, and what is
// still kept in memory.
func (h *History) Status() StorageStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := StorageStatus{Since: h.since, PendingWrites: len(h.pending)}
	if h.lastErr != nil {
		st.LastError = h.lastErr.Error()
	}
	for _, w := range h.pending {
		if !slices.Contains(st.PendingRuns, w.runID) && w.runID != "" {
			st.PendingRuns = append(st.PendingRuns, w.runID)
		}
	}
	return st
}

// HistoryRetryInterval is how often an idle daemon retries pending writes.
const HistoryRetryInterval = time.Minute

// retry retries the pending writes, if any.
func (h *History) retry() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.pending) > 0 {
		h.flushLocked()
	}
}

// RetryEvery calls retry every interval until ctx is done, so that the
// history catches up once space is back even before the next run.
func (h *History) RetryEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.retry()
		}
	}
}

// Close retries the pending writes one last time and returns an error
// naming the runs whose history is lost if some still fail, or if a write
// of some run was dropped earlier (an error other than a full disk: the
// run is not stored whole, already logged). The store stays open.
func (h *History) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.flushLocked()
	if len(h.pending) == 0 {
		if len(h.dropped) == 0 {
			return nil
		}
		runs := slices.Sorted(maps.Keys(h.dropped))
		return fmt.Errorf("history write failed: runs %s not stored whole: %w", strings.Join(runs, ", "), h.dropped[runs[0]])
	}
	var runs []string
	for _, w := range h.pending {
		if !slices.Contains(runs, w.runID) {
			runs = append(runs, w.runID)
		}
	}
	err := fmt.Errorf("history write failed: %d writes of runs %s lost: %w", len(h.pending), strings.Join(runs, ", "), h.lastErr)
	h.log.Error("history: writes lost as benchd stops", "writes", len(h.pending), "runs", runs, "err", h.lastErr)
	return err
}
