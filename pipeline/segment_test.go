package pipeline

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/exporters"
	"github.com/benchd/benchd/regress"
	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"
)

// segmentConfig is one scenario, t/-/e, at the given connections.
func segmentConfig(t *testing.T, dir string, connections int) *config.Config {
	t.Helper()
	cfg, err := config.Parse(fmt.Appendf(nil, `
run_on_start: false
targets: [{name: t, url: "http://127.0.0.1:1"}]
endpoints:
  - {name: e, path: /e, connections: %d, duration: 1s, warmup: 0s}
  - {name: other, path: /other, duration: 1s, warmup: 0s}
# The engine below is a stand-in: benchd's own scheduling latency under
# -race is not what this test is about.
regression: {max_scheduler_latency: 1m}
`, connections), dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// rateEngine answers a plan of /e with a result of about *rate requests
// per second, others with 1000 (±1 %, seeded), the latency the inverse.
type rateEngine struct {
	rate *float64
	rng  *rand.Rand
}

func (e rateEngine) Run(_ context.Context, p engine.Plan) (*engine.Result, error) {
	rps := 1000.0
	if strings.HasSuffix(p.URL, "/e") {
		rps = *e.rate
	}
	rps *= 1 + 0.01*(2*e.rng.Float64()-1)
	lat := hdrhistogram.New(1, 10_000_000, 3)
	for range 100 {
		_ = lat.RecordValue(int64(1e6 / rps * float64(p.Connections) * (0.95 + 0.1*e.rng.Float64())))
	}
	r := &engine.Result{Plan: p, Elapsed: time.Second, Sent: uint64(rps), ConnectionsEstablished: p.Connections, Latency: lat}
	r.Responses[engine.Class2xx] = uint64(rps)
	return r, nil
}

// TestSettingsChangeStartsSegment runs the scheduler, the run history in a
// SQLite file and the detector: 15 runs at 1000 requests/s, then the
// scenario's connections change and it runs 30 % slower. With the
// settings change, no signal alarms, the history holds the segment's
// start with its reason, the new runs become the baseline, and a further
// 30 % drop within the new segment is found. Without a change of
// settings, the same drop alarms (the control).
func TestSettingsChangeStartsSegment(t *testing.T) {
	for _, tc := range []struct {
		name        string
		connections int // of the runs after the drop
	}{
		{"settings changed", 20},
		{"same settings", 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			dir := t.TempDir()
			st, err := store.Open(ctx, dir, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Close() })
			cfg := segmentConfig(t, dir, 10)
			current := func() *config.Config { return cfg }
			det := NewDetector(DetectorOptions{Store: st, Regressions: exporters.NewRegressions(), Config: current})
			if _, err := det.Load(ctx); err != nil {
				t.Fatal(err)
			}
			pipe := New(Options{Tracer: exporters.NewRunTracer(noop.NewTracerProvider()),
				History: NewHistory(HistoryOptions{Store: st}), Detector: det})
			rate := 1000.0
			sched, err := scheduler.New(cfg, scheduler.Options{Engine: rateEngine{&rate, rand.New(rand.NewPCG(1, 2))},
				Observer: pipe, Recorder: pipe, SettleTimeout: -1, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			run := func() (throughput regress.Verdict, regressed []string, runID string) {
				t.Helper()
				rep, err := sched.RunOnce(ctx, "test", nil)
				if err != nil {
					t.Fatal(err)
				}
				for _, v := range det.Detect() {
					if v.Regressed {
						regressed = append(regressed, v.Scenario+" "+string(v.Signal))
					}
					if v.Scenario == "t/-/e" && v.Signal == regress.SignalThroughput {
						throughput = v
					}
				}
				return throughput, regressed, rep.ID
			}
			for range 15 {
				if _, reg, _ := run(); len(reg) > 0 {
					t.Fatalf("regressions in the first segment: %v", reg)
				}
			}

			cfg = segmentConfig(t, dir, tc.connections)
			if err := sched.ApplyConfig(cfg); err != nil {
				t.Fatal(err)
			}
			rate = 700
			var first string
			var alarmed []string
			for i := range 13 {
				v, reg, id := run()
				if i == 0 {
					first = id
				}
				alarmed = append(alarmed, reg...)
				if i == 12 && tc.connections != 10 && (!v.Tested || v.BaselineMedian > 750 || v.BaselineMedian < 650) {
					t.Errorf("after 13 runs of the new segment: %+v, want a test against a baseline near 700 requests/s", v)
				}
			}
			segs, err := st.Baselines(ctx, store.BaselineQuery{Scenario: "t/-/e"})
			if err != nil {
				t.Fatal(err)
			}
			if tc.connections == 10 {
				if len(alarmed) == 0 || !strings.Contains(alarmed[0], "t/-/e") {
					t.Errorf("the same drop without a settings change: regressions %v, want t/-/e's", alarmed)
				}
				if len(segs) != 0 {
					t.Errorf("segments without a settings change: %+v", segs)
				}
				return
			}
			if len(alarmed) > 0 {
				t.Errorf("regressions after the settings change: %v, want none", alarmed)
			}
			if len(segs) != 1 || segs[0].RunID != first || segs[0].Reason != "settings changed: connections" {
				t.Errorf("segments %+v, want one at %s: settings changed: connections", segs, first)
			}
			if other, _ := st.Baselines(ctx, store.BaselineQuery{Scenario: "t/-/other"}); len(other) != 0 {
				t.Errorf("the unchanged scenario got segments: %+v", other)
			}

			// A detector started afresh reads the segment from the history.
			det2 := NewDetector(DetectorOptions{Store: st, Config: current})
			vs, err := det2.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				if v.Regressed {
					t.Errorf("a reloaded detector alarms: %+v", v)
				}
			}

			// A further 30 % drop inside the new segment is found.
			rate = 490
			var v regress.Verdict
			for range 3 {
				v, _, _ = run()
			}
			if !v.Regressed || v.ChangeRatio > -0.25 || v.ChangeRatio < -0.35 {
				t.Errorf("after a further 30 %% drop: %+v, want a throughput regression of about -30 %%", v)
			}
		})
	}
}
