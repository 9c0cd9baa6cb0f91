package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/scheduler"
)

// Progress is `benchd matrix`'s observer: it prints a line per run and
// per finished scenario (with the time elapsed and left) on Progress and,
// when Format is "text", each scenario's wrk block on Out as it ends. Its
// exported fields are set before the run; it is used by one run at a time.
type Progress struct {
	scheduler.NopObserver
	// Format is the output format: "text" prints wrk blocks on Out.
	Format string
	// Out receives the wrk blocks, Progress the progress lines.
	Out, Progress io.Writer
	// Unrecorded says the run is not in the history (another benchd holds
	// it): its ID is not reserved there and may be another run's too.
	Unrecorded bool

	start time.Time
	// done counts the scenarios finished so far: with interleaved repeats
	// they do not finish in matrix order (ScenarioResult.Index).
	done int
}

// RunStarted prints the run's ID and size.
func (o *Progress) RunStarted(_ context.Context, info *scheduler.RunInfo) {
	o.start = info.Start
	o.done = 0
	note := ""
	if o.Unrecorded {
		note = " (not recorded)"
	}
	fmt.Fprintf(o.Progress, "run %s%s: %s\n", info.ID, note, report.Plural(len(info.Scenarios), "scenario"))
}

// ScenarioFinished prints the progress line, and in text format the
// scenario's wrk block.
func (o *Progress) ScenarioFinished(_ context.Context, r *scheduler.ScenarioResult) {
	status := "ok"
	switch {
	case errors.Is(r.Err, scheduler.ErrInterrupted):
		status = "interrupted"
	case r.Err != nil:
		status = "FAILED: " + r.Err.Error()
	}
	elapsed := time.Since(o.start).Round(time.Second)
	eta := time.Duration(0)
	o.done++
	if o.done < r.Total {
		eta = (elapsed / time.Duration(o.done) * time.Duration(r.Total-o.done)).Round(time.Second)
	}
	fmt.Fprintf(o.Progress, "[%d/%d] %s %s (elapsed %s, about %s left)\n", o.done, r.Total, r.Scenario.Name, status, elapsed, eta)
	if o.Format != "text" {
		return
	}
	fmt.Fprintf(o.Out, "== %s ==\n", r.Scenario.Name)
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
