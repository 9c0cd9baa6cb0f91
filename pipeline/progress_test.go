package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/scheduler"
)

// TestMatrixProgressCountsFinished: with interleaved repeats scenarios
// finish out of matrix order; the progress line counts those finished
// (before, it printed the finishing scenario's matrix index: [2/2] first,
// then [1/2] with nothing left).
func TestMatrixProgressCountsFinished(t *testing.T) {
	var progress bytes.Buffer
	o := &Progress{Format: "markdown", Progress: &progress}
	o.RunStarted(t.Context(), &scheduler.RunInfo{ID: "r", Start: time.Now()})
	for _, i := range []int{1, 0} {
		o.ScenarioFinished(t.Context(), &scheduler.ScenarioResult{Scenario: config.Scenario{Name: fmt.Sprintf("t/-/e%d", i)}, Index: i, Total: 2})
	}
	lines := strings.Split(strings.TrimSpace(progress.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[1], "[1/2] t/-/e1 ok") || !strings.HasPrefix(lines[2], "[2/2] t/-/e0 ok") {
		t.Errorf("progress:\n%s\nwant [1/2] for e1, then [2/2] for e0", progress.String())
	}
}

// TestInterruptedPrefix: the report package tells an interrupted scenario
// by the prefix of its stored error text, which the scheduler writes.
func TestInterruptedPrefix(t *testing.T) {
	err := fmt.Errorf("%w: %w", scheduler.ErrInterrupted, context.Canceled)
	if !strings.HasPrefix(err.Error(), report.InterruptedPrefix) {
		t.Errorf("%q does not start with report.InterruptedPrefix %q", err, report.InterruptedPrefix)
	}
}
