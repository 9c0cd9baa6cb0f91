package ui

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"
)

// histOptions describe a history built by buildHistory.
type histOptions struct {
	Targets, Endpoints int // the matrix: target t0… × endpoint e0…, no modes
	Runs               int
	// Regressed is the scenario whose throughput drops by 30 % and whose
	// latency rises by 40 % from run RegressFrom on; "" for none.
	Regressed   string
	RegressFrom int
	// InvalidEvery makes every n-th run of every scenario invalid
	// (contended); 0 for none.
	InvalidEvery int
	// MarkerAt is the run from which runs carry the deploy marker "v2";
	// 0 for none.
	MarkerAt int
	// Samples is the number of latencies in each histogram.
	Samples int
}

var histStart = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// testConfig returns the configuration of o's matrix: scenarios
// tI/-/eJ, all unmanaged.
func testConfig(t testing.TB, o histOptions) *config.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString("title: UI test matrix\ntargets:\n")
	for i := range o.Targets {
		fmt.Fprintf(&b, "  - {name: t%d, url: \"http://127.0.0.1:1\"}\n", i)
	}
	b.WriteString("endpoints:\n")
	for j := range o.Endpoints {
		fmt.Fprintf(&b, "  - {name: e%d, path: /e%d}\n", j, j)
	}
	cfg, err := config.Parse([]byte(b.String()), t.TempDir())
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// buildHistory writes o's history into a new SQLite store under dir
// through the store API, one run per hour, and returns the store open.
func buildHistory(t testing.TB, dir string, o histOptions) *store.SQLite {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	if o.Samples == 0 {
		o.Samples = 500
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for r := range o.Runs {
		start := histStart.Add(time.Duration(r) * time.Hour)
		marker := ""
		if o.MarkerAt > 0 && r >= o.MarkerAt {
			marker = "v2"
		}
		id, err := st.BeginRun(ctx, store.Run{ID: start.Format("20060102T150405Z"), Trigger: "schedule", Start: start,
			Marker: marker, Version: "test"})
		if err != nil {
			t.Fatalf("begin run %d: %v", r, err)
		}
		idx := 0
		for i := range o.Targets {
			for j := range o.Endpoints {
				name := fmt.Sprintf("t%d/-/e%d", i, j)
				factor := 1.0
				if name == o.Regressed && r >= o.RegressFrom {
					factor = 1.4
				}
				invalid := o.InvalidEvery > 0 && r%o.InvalidEvery == o.InvalidEvery-1
				s := record(t, rng, id, name, idx, start.Add(time.Duration(idx)*12*time.Second), 1000*float64(1+i+j), factor, invalid, o.Samples)
				if err := st.SaveScenario(ctx, s); err != nil {
					t.Fatalf("save %s of run %d: %v", name, r, err)
				}
				idx++
			}
		}
		if err := st.FinishRun(ctx, id, start.Add(time.Duration(idx)*12*time.Second), store.OutcomeSuccess, ""); err != nil {
			t.Fatalf("finish run %d: %v", r, err)
		}
	}
	return st
}

// record returns a scenario result of about rps requests per second
// (divided by factor) with a latency histogram of n samples (multiplied
// by factor), noise about 1 %.
func record(t testing.TB, rng *rand.Rand, runID, name string, idx int, start time.Time, rps, factor float64, invalid bool, n int) result.Scenario {
	t.Helper()
	target, mode, endpoint := split(name)
	lat := hdrhistogram.New(1, 60_000_000, 3)
	medianMicros := 2e6 / rps * 50
	for range n {
		v := medianMicros * factor * math.Exp(rng.NormFloat64()*0.35)
		_ = lat.RecordValue(int64(math.Max(v, 1)))
	}
	rate := hdrhistogram.New(1, 10_000_000, 3)
	achieved := rps / factor * (1 + rng.NormFloat64()*0.01)
	for range 100 {
		_ = rate.RecordValue(int64(achieved/2*(1+rng.NormFloat64()*0.05)) + 1)
	}
	latEnc, err := result.EncodeHistogram(lat)
	if err != nil {
		t.Fatal(err)
	}
	rateEnc, err := result.EncodeHistogram(rate)
	if err != nil {
		t.Fatal(err)
	}
	q := func(p float64) float64 { return float64(lat.ValueAtQuantile(p)) / 1e6 }
	requests := uint64(achieved * 10)
	timeouts := uint64(rng.IntN(3))
	s := result.Scenario{RunID: runID, Name: name, Target: target, Mode: mode, Endpoint: endpoint, Index: idx,
		Start: start, End: start.Add(12 * time.Second), Valid: !invalid,
		URL: "http://127.0.0.1:1/" + endpoint, Method: "GET", Connections: 100, Threads: 2,
		DurationSeconds: 10, TimeoutSeconds: 2, OnTimeout: "reconnect",
		Measurement: result.Measurement{MeasuredStart: start.Add(2 * time.Second), MeasuredEnd: start.Add(12 * time.Second),
			ElapsedSeconds: 10, Sent: requests + timeouts, Requests: requests, Responses: result.Classes{requests},
			Errors: result.Kinds{0, 0, 0, timeouts, 0}, BytesRead: requests * 120, ConnectionsEstablished: 100,
			RequestsPerSecond: achieved, TransferBytesPerSecond: achieved * 120,
			ErrorRatio: float64(timeouts) / float64(requests+timeouts), TimeoutRatio: float64(timeouts) / float64(requests+timeouts),
			Latency: &result.Latency{Count: lat.TotalCount(), Mean: lat.Mean() / 1e6, Stdev: lat.StdDev() / 1e6, Max: float64(lat.Max()) / 1e6,
				P50: q(50), P75: q(75), P90: q(90), P99: q(99), P999: q(99.9), P9999: q(99.99)},
			LatencyHistogram: latEnc, RateHistogram: rateEnc},
	}
	if invalid {
		s.InvalidReasons = []string{"foreign_cpu"}
	}
	return s
}

// progressOf starts a run of scs on obs, runs its first done scenarios
// (a repeat started, then finished with a record of record's) and starts
// the first repeat of the next.
func progressOf(t testing.TB, obs scheduler.Observer, scs []config.Scenario, done int) {
	t.Helper()
	info := &scheduler.RunInfo{ID: "20261203T000000Z", Start: time.Now().Add(-time.Minute), Scenarios: scs}
	obs.RunStarted(t.Context(), info)
	rng := rand.New(rand.NewPCG(3, 4))
	start := func(i int) {
		obs.ScenarioStarted(t.Context(), &scheduler.ScenarioStart{RunID: info.ID, Scenario: scs[i], Index: i, Total: len(scs),
			Repeat: 1, Repeats: 1, Start: info.Start.Add(time.Duration(i) * 20 * time.Second)})
	}
	for i := range done {
		start(i)
		rec := record(t, rng, info.ID, scs[i].Name, i, info.Start, 1000, 1, i == 1, 100)
		obs.ScenarioFinished(t.Context(), &scheduler.ScenarioResult{RunID: info.ID, Scenario: scs[i], Index: i, Total: len(scs),
			End: info.Start.Add(time.Duration(i+1) * 20 * time.Second), Record: &rec})
	}
	if done < len(scs) {
		start(done)
	}
}
