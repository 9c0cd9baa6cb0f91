package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/exporters"
	"github.com/benchd/benchd/regress"
	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"
)

// DefaultRetention is how long run history is kept (--storage.retention).
const DefaultRetention = 90 * 24 * time.Hour

// historyWriteTimeout bounds one write of the run history.
const historyWriteTimeout = 30 * time.Second

// maxPendingWrites bounds the history writes kept in memory while the
// store fails (a full disk): past it the oldest are dropped, and logged.
const maxPendingWrites = 10000

// history records every run and scenario result in the store, and prunes
// runs older than the retention after each run. Losing history never stops
// measuring: a write that fails because the disk is full
// ([store.ErrDiskFull]) is kept in memory, with every later write behind
// it in order, and retried before the next write, so that once space is
// back the run lands whole with its real outcome. Other failed writes are
// logged and dropped. Every failure is counted and reported by Status.
// It is safe for concurrent use.
type history struct {
	scheduler.NopObserver
	st        store.Store
	log       *slog.Logger
	retention time.Duration
	maxBytes  int64 // --storage.retention.size; 0: no bound
	cfgHash   func() string
	version   string
	marker    string
	validity  func() regress.ValidityOptions
	metrics   *exporters.Metrics // nil: failures not counted (benchd matrix)

	mu      sync.Mutex
	pending []pendingWrite
	runs    map[string]*historyRun // by announced ID, until the run's end is stored
	lastErr error                  // the last failed write; nil once all caught up
	since   time.Time              // when the writes started failing
}

// historyRun is a run whose end is not stored yet.
type historyRun struct {
	id       string // the ID it is stored under (the announced one unless a retry changed it)
	writeErr error  // the first failed write of the run, for its Err
}

// pendingWrite is a write waiting for the store to take it again.
type pendingWrite struct {
	op, runID string
	do        func(ctx context.Context) error
}

// storageStatus is the run history's write health.
type storageStatus struct {
	LastError     string
	Since         time.Time
	PendingWrites int
	PendingRuns   []string
}

// configHash returns a short hash of cfg's effective content, so that runs
// of different configurations can be told apart.
func configHash(cfg *config.Config) string {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func (h *history) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), historyWriteTimeout)
}

// retriable says whether a failed write is kept for a retry.
func retriable(err error) bool { return errors.Is(err, store.ErrDiskFull) }

// write runs do, after the writes still pending, or queues it behind them;
// h.mu is held.
func (h *history) writeLocked(op, runID string, do func(ctx context.Context) error) {
	h.flushLocked()
	if len(h.pending) > 0 {
		h.queueLocked(pendingWrite{op, runID, do})
		return
	}
	ctx, cancel := h.ctx()
	defer cancel()
	if err := do(ctx); err != nil {
		h.failedLocked(op, runID, err)
		if retriable(err) {
			h.queueLocked(pendingWrite{op, runID, do})
		}
	}
}

func (h *history) queueLocked(w pendingWrite) {
	if len(h.pending) >= maxPendingWrites {
		lost := h.pending[0]
		h.pending = h.pending[1:]
		h.log.Error("history: too many writes pending, oldest dropped", "run_id", lost.runID, "operation", lost.op, "pending", len(h.pending))
	}
	h.pending = append(h.pending, w)
}

// flushLocked retries the pending writes in order until one fails again;
// h.mu is held.
func (h *history) flushLocked() {
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
		}
		h.pending = h.pending[1:]
	}
	if h.lastErr != nil {
		h.log.Info("history: writes caught up", "failing_since", h.since)
		h.lastErr, h.since = nil, time.Time{}
	}
}

func (h *history) failedLocked(op, runID string, err error) {
	if h.metrics != nil {
		h.metrics.StorageWriteFailed(op)
	}
	if h.lastErr == nil {
		h.since = time.Now()
	}
	h.lastErr = err
	if retriable(err) {
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

// RecordRun implements [scheduler.Recorder]: it stores the run's start
// and returns the ID the store chose.
func (h *history) RecordRun(info scheduler.RunInfo) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.runs == nil {
		h.runs = map[string]*historyRun{}
	}
	r := &historyRun{}
	run := store.Run{ID: info.ID, Trigger: info.Trigger, Start: info.Start,
		ConfigHash: h.cfgHash(), Version: h.version, Marker: h.marker}
	h.writeLocked("begin_run", info.ID, func(ctx context.Context) error {
		id, err := h.st.BeginRun(ctx, run)
		switch {
		case r.id == "": // the first attempt: its choice is the ID announced
			r.id = id
		case err == nil && id != r.id: // only if another writer took the ID meanwhile
			h.log.Warn("history: run stored under another ID than announced", "run_id", r.id, "stored_as", id)
			r.id = id
		}
		r.failed(err)
		return err
	})
	announced := cmp.Or(r.id, info.ID)
	r.id = announced
	h.runs[announced] = r
	return announced
}

// failed keeps the first failed write of the run.
func (r *historyRun) failed(err error) {
	if r != nil && r.writeErr == nil {
		r.writeErr = err
	}
}

func (h *history) ScenarioFinished(r *scheduler.ScenarioResult) {
	o := h.validity()
	sc := storedScenario(r, o)
	if _, invalid := valid(r, o); len(invalid) > 0 && r.Err == nil {
		// Said once, here: the result is kept and shown, but the detector
		// will not use it, and nothing else would tell.
		h.log.Warn("result left out of the regression detector's baselines and tests", "run_id", r.RunID,
			"scenario", r.Scenario.Name, "reasons", invalid, "sched_latency_p99_seconds", r.SchedLatencyP99.Seconds(),
			"foreign_cpu_ratio", r.MaxForeignCPURatio())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	run := h.runs[r.RunID]
	h.writeLocked("save_scenario", r.RunID, func(ctx context.Context) error {
		if run != nil {
			sc.RunID = run.id
		}
		err := h.st.SaveScenario(ctx, sc)
		run.failed(err)
		return err
	})
}

func (h *history) RunFinished(r *scheduler.RunReport) {
	outcome, msg := r.Outcome(), ""
	if r.Err != nil {
		outcome, msg = store.OutcomeAborted, r.Err.Error()
		if errors.Is(r.Err, context.Canceled) {
			msg = "benchd stopped before the run finished"
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	run := h.runs[r.ID]
	h.writeLocked("finish_run", r.ID, func(ctx context.Context) error {
		id, text := r.ID, msg
		if run != nil {
			id = run.id
			if run.writeErr != nil {
				text = strings.Join(slices.DeleteFunc([]string{msg, writeFailure(run.writeErr)}, func(s string) bool { return s == "" }), "; ")
			}
		}
		err := h.st.FinishRun(ctx, id, r.End, outcome, text)
		if err == nil {
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
func (h *history) Status() storageStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := storageStatus{Since: h.since, PendingWrites: len(h.pending)}
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

// historyRetryInterval is how often an idle daemon retries pending writes.
const historyRetryInterval = time.Minute

// retry retries the pending writes, if any.
func (h *history) retry() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.pending) > 0 {
		h.flushLocked()
	}
}

// retryEvery calls retry every interval until ctx is done, so that the
// history catches up once space is back even before the next run.
func (h *history) retryEvery(ctx context.Context, interval time.Duration) {
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
// naming the runs whose history is lost if some still fail. The store
// stays open.
func (h *history) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.flushLocked()
	if len(h.pending) == 0 {
		return nil
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

// valid says whether a scenario result may enter the regression
// detector's baselines and tests (docs/regressions.md): its target ran
// and lived, open-loop requests went out on time, benchd itself was not
// starved of CPU, and no repeat shared the CPUs with too much other work. A result that failed (r.Err) is never valid; the reasons
// are those of [regress.Validity] (none for a failed result that is not
// invalid on its own: its error says why).
func valid(r *scheduler.ScenarioResult, o regress.ValidityOptions) (bool, []regress.InvalidReason) {
	h := regress.RunHealth{
		TargetFailed:        r.Result == nil || !r.Up(),
		TargetDied:          r.Result != nil && r.Err != nil,
		SchedulerLatencyP99: r.SchedLatencyP99,
		ForeignCPURatio:     r.MaxForeignCPURatio(),
	}
	if res := r.Result; res != nil && res.Plan.Rate > 0 {
		intended := int64(res.Plan.Rate * res.Elapsed.Seconds())
		h.IntendedRequests = intended
		h.LateRequests = int64(res.Late)
		h.DroppedRequests = max(0, intended-int64(res.Sent))
	}
	ok, reasons := regress.Validity(h, o)
	return ok && r.Err == nil, reasons
}

// storedScenario converts a scenario result to its history record.
func storedScenario(r *scheduler.ScenarioResult, o regress.ValidityOptions) store.Scenario {
	ok, _ := valid(r, o)
	sc := r.Scenario
	s := store.Scenario{
		RunID: r.RunID, Name: sc.Name, Target: sc.Target, Mode: sc.Mode, Endpoint: sc.Endpoint,
		Index: r.Index, Start: r.Start, End: r.End, URL: sc.URL,
		Connections: sc.Load.Connections, Threads: sc.Load.Threads,
		DurationSeconds: sc.Load.Duration.Seconds(), TimeoutSeconds: sc.Load.Timeout.Seconds(),
		Valid:              ok,
		TargetCPUSeconds:   r.Target.CPUSeconds,
		TargetPeakRSSBytes: r.Target.RSSBytes,
		ClientCPUSeconds:   r.Self.CPUSeconds,
		ClientPeakRSSBytes: r.Self.RSSBytes,
	}
	if r.Err != nil {
		s.Error = r.Err.Error()
	}
	res := r.Result
	if res == nil {
		return s
	}
	s.Connections, s.Threads = res.Plan.Connections, res.Plan.Threads
	s.DurationSeconds = res.Elapsed.Seconds()
	s.Sent, s.Requests = res.Sent, res.Completed()
	s.Responses = res.Responses // same layout; assignment fails to compile if not
	s.Errors = res.Errors
	s.InFlight, s.BytesRead = res.InFlight, res.BytesRead
	s.ConnectionsEstablished = res.ConnectionsEstablished
	s.RequestsPerSecond, s.ErrorRatio, s.TimeoutRatio = res.RequestsPerSecond(), res.ErrorRatio(), res.TimeoutRatio()
	if h := res.Latency; h != nil && h.TotalCount() > 0 {
		q := func(p float64) float64 { return float64(h.ValueAtQuantile(p)) / 1e6 }
		s.LatencyMean, s.LatencyStdev, s.LatencyMax = h.Mean()/1e6, h.StdDev()/1e6, float64(h.Max())/1e6
		s.P50, s.P75, s.P90, s.P99, s.P999, s.P9999 = q(50), q(75), q(90), q(99), q(99.9), q(99.99)
		if b, err := store.EncodeHistogram(h); err == nil {
			s.Histogram = b
		}
	}
	if h := res.RequestsPerSecondSamples; h != nil && h.TotalCount() > 0 {
		if b, err := store.EncodeHistogram(h); err == nil {
			s.RateHistogram = b
		}
	}
	for _, rr := range r.Repeats {
		rep := store.Repeat{
			RequestsPerSecond: rr.RequestsPerSecond(), ErrorRatio: rr.ErrorRatio(), TimeoutRatio: rr.TimeoutRatio(),
			P50: math.NaN(), P99: math.NaN(),
		}
		if h := rr.Latency; h != nil && h.TotalCount() > 0 {
			rep.P50, rep.P99 = float64(h.ValueAtQuantile(50))/1e6, float64(h.ValueAtQuantile(99))/1e6
		}
		s.Repeats = append(s.Repeats, rep)
	}
	return s
}

// interrupted tells whether a stored scenario's error text says it was cut
// short by its run's stop (the scheduler's [scheduler.ErrInterrupted]).
func interrupted(errText string) bool {
	return strings.HasPrefix(errText, scheduler.ErrInterrupted.Error()+": ")
}
