package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"math"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/regress"
	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"
)

// DefaultRetention is how long run history is kept (--storage.retention).
const DefaultRetention = 90 * 24 * time.Hour

// historyWriteTimeout bounds one write of the run history.
const historyWriteTimeout = 30 * time.Second

// history records every run and scenario result in the store, and prunes
// runs older than the retention after each run. A failed write is logged
// and the run goes on: losing history never stops measuring.
type history struct {
	st        store.Store
	log       *slog.Logger
	retention time.Duration
	cfgHash   func() string
	version   string
	marker    string
	validity  func() regress.ValidityOptions
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

func (h *history) RunStarted(info *scheduler.RunInfo) {
	ctx, cancel := h.ctx()
	defer cancel()
	err := h.st.BeginRun(ctx, store.Run{ID: info.ID, Trigger: info.Trigger, Start: info.Start,
		ConfigHash: h.cfgHash(), Version: h.version, Marker: h.marker})
	if err != nil {
		h.log.Error("history: record run start", "run_id", info.ID, "err", err)
	}
}

func (h *history) TargetStarting(string)      {}
func (h *history) TargetFailed(string, error) {}
func (h *history) TargetChanged(string, bool) {}
func (h *history) RunSkipped(time.Time)       {}
func (h *history) NextRun(time.Time)          {}

func (h *history) ScenarioFinished(r *scheduler.ScenarioResult) {
	ctx, cancel := h.ctx()
	defer cancel()
	if err := h.st.SaveScenario(ctx, storedScenario(r, h.validity())); err != nil {
		h.log.Error("history: save scenario", "run_id", r.RunID, "scenario", r.Scenario.Name, "err", err)
	}
}

func (h *history) RunFinished(r *scheduler.RunReport) {
	ctx, cancel := h.ctx()
	defer cancel()
	outcome, msg := r.Outcome(), ""
	if r.Err != nil {
		outcome, msg = store.OutcomeAborted, r.Err.Error()
		if errors.Is(r.Err, context.Canceled) {
			msg = "benchd stopped before the run finished"
		}
	}
	if err := h.st.FinishRun(ctx, r.ID, r.End, outcome, msg); err != nil {
		h.log.Error("history: record run end", "run_id", r.ID, "err", err)
	}
	if h.retention > 0 {
		n, err := h.st.Prune(ctx, time.Now().Add(-h.retention))
		if err != nil {
			h.log.Error("history: prune", "err", err)
		} else if n > 0 {
			h.log.Info("history: pruned old runs", "runs", n, "retention", h.retention)
		}
	}
}

// valid says whether a scenario result may enter the regression
// detector's baselines and tests (docs/regressions.md): its target ran
// and lived, open-loop requests went out on time, and benchd itself was not
// starved of CPU.
func valid(r *scheduler.ScenarioResult, o regress.ValidityOptions) bool {
	h := regress.RunHealth{
		TargetFailed:        r.Result == nil || !r.Up(),
		TargetDied:          r.Result != nil && r.Err != nil,
		SchedulerLatencyP99: r.SchedLatencyP99,
	}
	if res := r.Result; res != nil && res.Plan.Rate > 0 {
		intended := int64(res.Plan.Rate * res.Elapsed.Seconds())
		h.IntendedRequests = intended
		h.LateRequests = int64(res.Late)
		h.DroppedRequests = max(0, intended-int64(res.Sent))
	}
	ok, _ := regress.Validity(h, o)
	return ok && r.Err == nil
}

// storedScenario converts a scenario result to its history record.
func storedScenario(r *scheduler.ScenarioResult, o regress.ValidityOptions) store.Scenario {
	sc := r.Scenario
	s := store.Scenario{
		RunID: r.RunID, Name: sc.Name, Target: sc.Target, Mode: sc.Mode, Endpoint: sc.Endpoint,
		Index: r.Index, Start: r.Start, End: r.End, URL: sc.URL,
		Connections: sc.Load.Connections, Threads: sc.Load.Threads,
		DurationSeconds: sc.Load.Duration.Seconds(), TimeoutSeconds: sc.Load.Timeout.Seconds(),
		Valid:              valid(r, o),
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
