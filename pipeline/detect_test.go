package pipeline

import (
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/exporters"
	"github.com/benchd/benchd/regress"
	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"
)

// detectorConfig is a configuration of one scenario, t/-/e.
func detectorConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(`
schedule: "@hourly"
targets: [{name: t, url: "http://127.0.0.1:1"}]
endpoints: [{name: e, path: /e}]
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// finished is the scheduler's report of scenario t/-/e of run id at start
// with rps requests per second and a p50 of p50 seconds.
func finished(id string, i int, start time.Time, rps, p50 float64) *scheduler.ScenarioResult {
	rec := &result.Scenario{RunID: id, Name: "t/-/e", Target: "t", Mode: "-", Endpoint: "e", Start: start, End: start.Add(time.Second),
		Valid: true, Measurement: result.Measurement{ConnectionsEstablished: 10, Sent: uint64(rps), Requests: uint64(rps),
			RequestsPerSecond: rps, Latency: &result.Latency{P50: p50, P99: 2 * p50}}}
	return &scheduler.ScenarioResult{RunID: id, Index: i, Scenario: config.Scenario{Name: rec.Name}, Record: rec}
}

// TestDetectorTakesResultsAsTheyPass: the detector loads what the history
// holds once (and hands it to Loaded), then sees each run's results
// through the pipeline without reading the store again (the store is
// closed before the drop), and finds a sustained drop.
func TestDetectorTakesResultsAsTheyPass(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(t.Context(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	// A stored baseline of 15 runs around 1000 requests/s.
	for i := range 15 {
		id := fmt.Sprintf("r%02d", i)
		start := base.Add(time.Duration(i) * time.Hour)
		if _, err := st.BeginRun(t.Context(), store.Run{ID: id, Trigger: "test", Start: start}); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveScenario(t.Context(), *finished(id, 0, start, 1000+float64(i%3), 0.01).Record); err != nil {
			t.Fatal(err)
		}
		if err := st.FinishRun(t.Context(), id, start.Add(time.Minute), store.OutcomeSuccess, ""); err != nil {
			t.Fatal(err)
		}
	}
	cfg := detectorConfig(t)
	regs := exporters.NewRegressions()
	loaded := map[string][]string{} // run IDs by scenario, as Loaded was given them
	det := NewDetector(DetectorOptions{Store: st, Regressions: regs, Config: func() *config.Config { return cfg },
		Loaded: func(name string, hist []result.Scenario) {
			for _, r := range hist {
				loaded[name] = append(loaded[name], r.RunID)
			}
		}})
	vs, err := det.Load(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if ids := loaded["t/-/e"]; len(loaded) != 1 || len(ids) != 15 || ids[0] != "r00" || ids[14] != "r14" {
		t.Errorf("Loaded was given %v, want t/-/e's 15 runs r00 to r14, oldest first", loaded)
	}
	if v := verdict(vs, regress.SignalThroughput); v == nil || v.Regressed || !v.Tested {
		t.Fatalf("after Load: %+v, want a tested, quiet throughput verdict", v)
	}
	// A URL target's results measure no CPU and no instructions: those
	// signals get no verdict, so their metric series are absent, not 0.
	for _, sig := range []regress.Signal{regress.SignalCPUPerRequest, regress.SignalInstructionsPerRequest} {
		if v := verdict(vs, sig); v != nil {
			t.Errorf("after Load: a %s verdict %+v for results that never measured it", sig, v)
		}
	}
	// Runs pass through the pipeline only: no store behind them.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	pipe := New(Options{Tracer: exporters.NewRunTracer(noop.NewTracerProvider()), Detector: det})
	for i := range 3 {
		start := base.Add(time.Duration(15+i) * time.Hour)
		pipe.ScenarioFinished(t.Context(), finished(fmt.Sprintf("r%02d", 15+i), 0, start, 700, 0.01))
		pipe.RunFinished(t.Context(), &scheduler.RunReport{})
	}
	v := verdict(det.Detect(), regress.SignalThroughput)
	if v == nil || !v.Regressed || v.ChangeRatio > -0.25 {
		t.Fatalf("after three runs at -30 %%: %+v, want a throughput regression", v)
	}
	if p := verdict(det.Detect(), regress.SignalLatencyP50); p == nil || p.Regressed {
		t.Errorf("p50 unchanged but %+v", p)
	}
}

func verdict(vs []regress.Verdict, s regress.Signal) *regress.Verdict {
	for i := range vs {
		if vs[i].Signal == s {
			return &vs[i]
		}
	}
	return nil
}
