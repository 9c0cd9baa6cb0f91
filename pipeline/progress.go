package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/benchd/benchd/exporters"
	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/scheduler"
)

// Progress is the run's progress: `benchd matrix` prints a line per run
// and per finished scenario (with the time elapsed and left) on Progress
// and, when Format is "text", each scenario's wrk block on Out as it
// ends; `benchd serve` logs the same lines on Logger and exports them on
// Metrics; [Progress.Status] answers /api/v1/status and the results UI's now
// page (the scenario repeat in progress among them). Its exported fields
// are set before the first run and not changed after; it follows one run
// at a time, and Status is safe to call concurrently with it.
type Progress struct {
	scheduler.NopObserver
	// Format is the output format: "text" prints wrk blocks on Out.
	Format string
	// Out receives the wrk blocks, Progress the progress lines; nil
	// prints none.
	Out, Progress io.Writer
	// Logger, when set, logs each progress line (the daemon's).
	Logger *slog.Logger
	// Metrics, when set, receives the progress gauges.
	Metrics *exporters.Metrics
	// Unrecorded says the run is not in the history (another benchd holds
	// it): its ID is not reserved there and may be another run's too.
	Unrecorded bool

	mu    sync.Mutex
	state RunStatus
}

// RunStatus is a snapshot of a run's progress. A plain value.
type RunStatus struct {
	// Running is true while the run is in progress; after it ends the
	// snapshot keeps the last run's figures.
	Running bool
	// RunID and Trigger are the run's (scheduler.RunInfo).
	RunID, Trigger string
	// Start is when the run began; End when it ended (zero while it
	// runs), with Outcome (scheduler.RunReport.Outcome: success, failed
	// or interrupted; "" while it runs).
	Start, End time.Time
	Outcome    string
	// Target is the target whose scenarios run now: a managed target from
	// its start, another from its first repeat; "" before.
	Target string
	// Current is the scenario whose repeat runs now; zero between two
	// scenarios (a target starting or settling) and after the run.
	Current CurrentScenario
	// Done counts the scenarios finished, failed or not, of Planned:
	// with interleaved repeats they do not finish in matrix order.
	Done, Planned int
	// Last is the name of the last scenario finished and LastStatus its
	// status: ok, interrupted, no requests completed, or FAILED: reason.
	Last, LastStatus string
	// Elapsed is the time from Start to the last scenario's end, and
	// Remaining the estimate of the time left then: the mean time per
	// finished scenario times the scenarios left (0 when done or before
	// the first scenario ends).
	Elapsed, Remaining time.Duration
}

// CurrentScenario is a scenario's repeat in progress
// (scheduler.ScenarioStart). A plain value; Name "" means none.
type CurrentScenario struct {
	// Name is the scenario's, target/mode/endpoint.
	Name string
	// Repeat is the repeat running, 1 to Repeats.
	Repeat, Repeats int
	// Start is when the repeat began.
	Start time.Time
}

// ETA returns the time the run is expected to end, Start + Elapsed +
// Remaining; zero when the run is not running or has no estimate yet.
func (s RunStatus) ETA() time.Time {
	if !s.Running || s.Remaining <= 0 {
		return time.Time{}
	}
	return s.Start.Add(s.Elapsed + s.Remaining)
}

// Status returns the progress of the run in progress, or of the last run;
// ok is false before the first run.
func (o *Progress) Status() (st RunStatus, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.state, o.state.RunID != ""
}

// RunStarted prints the run's ID and size.
func (o *Progress) RunStarted(_ context.Context, info *scheduler.RunInfo) {
	o.update(func(st *RunStatus) {
		*st = RunStatus{Running: true, RunID: info.ID, Trigger: info.Trigger, Start: info.Start, Planned: len(info.Scenarios)}
	})
	note := ""
	if o.Unrecorded {
		note = " (not recorded)"
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "run %s%s: %s\n", info.ID, note, report.Plural(len(info.Scenarios), "scenario"))
	}
}

// TargetStarting records the managed target whose scenarios run next.
func (o *Progress) TargetStarting(_ context.Context, target string) {
	o.update(func(st *RunStatus) { st.Target = target })
}

// ScenarioStarted records the scenario's repeat as the current one.
func (o *Progress) ScenarioStarted(_ context.Context, s *scheduler.ScenarioStart) {
	o.update(func(st *RunStatus) {
		st.Target = s.Scenario.Target
		st.Current = CurrentScenario{Name: s.Scenario.Name, Repeat: s.Repeat, Repeats: s.Repeats, Start: s.Start}
	})
}

// RunFinished records the run's end.
func (o *Progress) RunFinished(_ context.Context, r *scheduler.RunReport) {
	o.update(func(st *RunStatus) {
		st.Running, st.Remaining, st.Current = false, 0, CurrentScenario{}
		st.End, st.Outcome = r.End, r.Outcome()
	})
}

// update changes the state under the lock and exports it.
func (o *Progress) update(f func(*RunStatus)) RunStatus {
	o.mu.Lock()
	f(&o.state)
	st := o.state
	o.mu.Unlock()
	if o.Metrics != nil {
		o.Metrics.SetRunProgress(exporters.RunProgress{Running: st.Running, Done: st.Done, Planned: st.Planned, Remaining: st.Remaining})
	}
	return st
}

// ScenarioFinished prints (or logs) the progress line, and in text format
// the scenario's wrk block.
func (o *Progress) ScenarioFinished(_ context.Context, r *scheduler.ScenarioResult) {
	status := "ok"
	switch {
	case errors.Is(r.Err, scheduler.ErrInterrupted):
		status = "interrupted"
	case r.Err != nil:
		status = "FAILED: " + r.Err.Error()
	case r.Record != nil && r.Record.Requests == 0:
		status = "no request completed"
	}
	st := o.update(func(st *RunStatus) {
		st.Done++
		st.Planned = max(st.Planned, r.Total)
		st.Last, st.LastStatus = r.Scenario.Name, status
		if st.Current.Name == r.Scenario.Name {
			st.Current = CurrentScenario{}
		}
		st.Target = r.Scenario.Target
		st.Elapsed = time.Since(st.Start).Round(time.Second)
		st.Remaining = 0
		if st.Done < st.Planned {
			st.Remaining = (st.Elapsed / time.Duration(st.Done) * time.Duration(st.Planned-st.Done)).Round(time.Second)
		}
	})
	if o.Logger != nil {
		o.Logger.Info("run progress", "run_id", st.RunID, "progress", fmt.Sprintf("%d/%d", st.Done, st.Planned),
			"scenario", st.Last, "status", status, "elapsed", st.Elapsed.String(), "left", "about "+st.Remaining.String())
	}
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "[%d/%d] %s %s (elapsed %s, about %s left)\n", st.Done, st.Planned, r.Scenario.Name, status, st.Elapsed, st.Remaining)
	}
	if o.Format != "text" || o.Out == nil {
		return
	}
	fmt.Fprintln(o.Out, report.BlockHeading(r.Record))
	if r.Record.Ran() {
		_ = report.WriteWrk(o.Out, r.Record, report.WrkOptions{})
	}
	switch {
	case errors.Is(r.Err, scheduler.ErrInterrupted):
		fmt.Fprintln(o.Out, "Interrupted")
	case r.Err != nil:
		fmt.Fprintf(o.Out, "Failed: %v\n", r.Err)
	}
	fmt.Fprintln(o.Out)
}
