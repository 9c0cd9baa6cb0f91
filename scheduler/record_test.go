package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/engine"
)

// TestRecordInvalidReasons: a scenario cut short by its run's stop is
// interrupted, not target_died or target_failed (its target was stopped,
// it did not die); a target that died or never came up keeps its reason.
func TestRecordInvalidReasons(t *testing.T) {
	sc := config.Scenario{Name: "t/-/a", Target: "t", Mode: "-", Endpoint: "a", URL: "http://127.0.0.1:1/a"}
	loaded := func() *engine.Result {
		return &engine.Result{Plan: engine.Plan{URL: sc.URL, Connections: 2, Threads: 1}, ConnectionsEstablished: 2, Sent: 10}
	}
	stopped := fmt.Errorf("%w: %w", ErrInterrupted, fmt.Errorf("engine: run stopped early: %w", context.Canceled))
	died := errors.New("target t exited during the scenario: exit status 1")
	tests := []struct {
		name string
		res  *engine.Result
		err  error
		want []string
	}{
		{"interrupted during the load", loaded(), stopped, nil},
		{"interrupted before the load", nil, stopped, nil},
		{"target died", loaded(), died, []string{"target_died"}},
		{"target did not start", nil, errors.New("target t: not ready"), []string{"target_failed"}},
		{"ran", loaded(), nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &ScenarioResult{RunID: "r", Scenario: sc, Result: tt.res, Err: tt.err}
			rec := r.BuildRecord(ValidityOptions(&config.Config{}))
			if !slices.Equal(rec.InvalidReasons, tt.want) {
				t.Errorf("invalid_reasons %q, want %q", rec.InvalidReasons, tt.want)
			}
			if want := tt.err == nil; rec.Valid != want {
				t.Errorf("valid %v, want %v (error %q)", rec.Valid, want, rec.Error)
			}
		})
	}
}
