package pipeline

import (
	"math"
	"strings"
	"testing"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/result"
)

func mustThresholds(t *testing.T, exprs ...string) config.Thresholds {
	t.Helper()
	ts := config.Thresholds{}
	for _, e := range exprs {
		th, err := config.ParseThresholdExpr(e)
		if err != nil {
			t.Fatal(err)
		}
		ts[th.Signal] = th
	}
	return ts
}

func TestBreaches(t *testing.T) {
	measured := result.Scenario{Name: "t/-/a", Measurement: result.Measurement{RequestsPerSecond: 900, ErrorRatio: 0.02,
		Latency: &result.Latency{P50: 0.01, P99: 0.3}}}
	nothing := result.Scenario{Name: "t/-/b", Measurement: result.Measurement{ErrorRatio: 1}}
	repeats := result.Scenario{Name: "t/-/c", Repeats: []result.Repeat{
		{Measurement: result.Measurement{RequestsPerSecond: 2000}},
		{Measurement: result.Measurement{RequestsPerSecond: 10}}, // one bad repeat: the median holds
		{Measurement: result.Measurement{RequestsPerSecond: 1500}},
	}}
	segment := measured
	segment.Segment = &result.Segment{Index: 1, Count: 3}
	tests := []struct {
		name string
		rec  result.Scenario
		ts   config.Thresholds
		want []string
	}{
		{"all held", measured, mustThresholds(t, "throughput>500", "latency_p99<1s", "error_ratio<5%"), nil},
		{"each breach, in signal order", measured, mustThresholds(t, "error_ratio<1%", "latency_p99<250ms", "throughput>1000", "latency_p50<1s"),
			[]string{"t/-/a: throughput>1000: got 900.00 requests/s", "t/-/a: latency_p99<250ms: got 300ms", "t/-/a: error_ratio<0.01: got 2%"}},
		{"equal holds", measured, mustThresholds(t, "throughput>900", "latency_p99<300ms"), nil},
		{"no latency fails a latency threshold", nothing, mustThresholds(t, "latency_p99<1s"),
			[]string{"t/-/b: latency_p99<1s: got no value (no request completed)"}},
		{"median of the repeats", repeats, mustThresholds(t, "throughput>1000"), nil},
		{"none", measured, nil, nil},
		// A third of a split scenario: its throughput is summed over the
		// shards, not held here; its latency is.
		{"segment", segment, mustThresholds(t, "throughput>1000", "latency_p99<250ms"),
			[]string{"t/-/a: latency_p99<250ms: got 300ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, b := range Breaches(&tt.rec, tt.ts) {
				got = append(got, b.String())
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("Breaches =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestChangeFailures(t *testing.T) {
	rec := func(name string, rps, p99 float64) result.Scenario {
		m := result.Measurement{RequestsPerSecond: rps}
		if !math.IsNaN(p99) {
			m.Latency = &result.Latency{P99: p99}
		}
		return result.Scenario{Name: name, Measurement: m}
	}
	a := []result.Scenario{rec("x", 1000, 0.1), rec("y", 1000, 0.1), rec("gone", 1000, 0.1), rec("z", 0, math.NaN())}
	b := []result.Scenario{rec("x", 900, 0.1), rec("y", 990, 0.2), rec("new", 1, 9), rec("z", 100, 0.1)}
	drop, err := config.ParseChange("throughput<-5%")
	if err != nil {
		t.Fatal(err)
	}
	rise, err := config.ParseChange("latency_p99>+50%")
	if err != nil {
		t.Fatal(err)
	}
	fails, compared := ChangeFailures(a, b, []config.Change{drop, rise})
	var got []string
	for _, f := range fails {
		got = append(got, f.String())
	}
	want := []string{"x: throughput<-5%: -10.0% (1000.00 requests/s → 900.00 requests/s)", "y: latency_p99>+50%: +100.0% (100ms → 200ms)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ChangeFailures =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// x and y twice each; z from 0 and from no latency is not checked.
	if compared != 4 {
		t.Errorf("compared = %d, want 4", compared)
	}
}

// TestChangeFailuresSettings: a scenario whose settings hash differs
// between the runs is not gated (a changed setting is not a regression);
// one without a hash on a side is, as before benchd recorded them.
func TestChangeFailuresSettings(t *testing.T) {
	ten := result.NewSettings(map[string]string{"connections": "10"})
	fifty := result.NewSettings(map[string]string{"connections": "50"})
	rec := func(name string, rps float64, s result.Settings) result.Scenario {
		return result.Scenario{Name: name, Settings: s, Measurement: result.Measurement{RequestsPerSecond: rps}}
	}
	a := []result.Scenario{rec("same", 1000, ten), rec("changed", 1000, ten), rec("old", 1000, result.Settings{})}
	b := []result.Scenario{rec("same", 500, ten), rec("changed", 500, fifty), rec("old", 500, ten)}
	drop, err := config.ParseChange("throughput<-5%")
	if err != nil {
		t.Fatal(err)
	}
	fails, compared := ChangeFailures(a, b, []config.Change{drop})
	var got []string
	for _, f := range fails {
		got = append(got, f.Scenario)
	}
	if strings.Join(got, ",") != "same,old" || compared != 2 {
		t.Errorf("ChangeFailures failed %v of %d checks, want same,old of 2", got, compared)
	}
}

// TestChangeFailuresInterrupted: a scenario its run's stop cut short (in
// A or in B) holds part of a duration and is not gated; a failed one is.
func TestChangeFailuresInterrupted(t *testing.T) {
	rec := func(name string, rps float64, errText string) result.Scenario {
		return result.Scenario{Name: name, Error: errText, Measurement: result.Measurement{RequestsPerSecond: rps}}
	}
	cut := result.InterruptedPrefix + "context canceled"
	a := []result.Scenario{rec("whole", 1000, ""), rec("cut-b", 1000, ""), rec("cut-a", 500, cut), rec("died", 1000, "")}
	b := []result.Scenario{rec("whole", 500, ""), rec("cut-b", 400, cut), rec("cut-a", 100, ""), rec("died", 300, "target died")}
	drop, err := config.ParseChange("throughput<-5%")
	if err != nil {
		t.Fatal(err)
	}
	fails, compared := ChangeFailures(a, b, []config.Change{drop})
	var got []string
	for _, f := range fails {
		got = append(got, f.Scenario)
	}
	if strings.Join(got, ",") != "whole,died" || compared != 2 {
		t.Errorf("ChangeFailures failed %v of %d checks, want whole,died of 2", got, compared)
	}
}

// TestChangeFailuresLane: an instruction lane's throughput and latency are
// callgrind's speed, not the server's: --fail-on never gates them, even
// when they halve (with repeats too); its error ratio is gated, and a load
// scenario beside it is.
func TestChangeFailuresLane(t *testing.T) {
	lane := func(name string, rps, p99 float64) result.Scenario {
		in := &result.Instructions{Count: 116_000_000, Requests: 100, Processes: 1, PerRequest: 1_160_000}
		m := result.Measurement{RequestsPerSecond: rps, Latency: &result.Latency{P50: p99 / 2, P99: p99}, ErrorRatio: rps / 1e5, Instructions: in}
		rep := result.Repeat{Measurement: m}
		rep.Latency = nil
		return result.Scenario{Name: name, Measurement: m, Repeats: []result.Repeat{rep, rep}}
	}
	load := result.Scenario{Name: "load", Measurement: result.Measurement{RequestsPerSecond: 1000, Latency: &result.Latency{P99: 0.1}}}
	slower := load
	slower.RequestsPerSecond, slower.Latency = 500, &result.Latency{P99: 0.2}
	a := []result.Scenario{lane("lane", 40, 0.05), load}
	b := []result.Scenario{lane("lane", 20, 0.1), slower}
	var cs []config.Change
	for _, expr := range []string{"throughput<-5%", "latency_p50>+5%", "latency_p99>+5%", "error_ratio<-5%"} {
		c, err := config.ParseChange(expr)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	fails, compared := ChangeFailures(a, b, cs)
	var got []string
	for _, f := range fails {
		got = append(got, f.Scenario+": "+f.Change.Signal)
	}
	// The lane: error_ratio only (it halved with its speed); the load
	// scenario: throughput and p99 (its p50 and error ratio have no value
	// or are 0).
	want := "lane: error_ratio,load: throughput,load: latency_p99"
	if strings.Join(got, ",") != want || compared != 3 {
		t.Errorf("ChangeFailures failed %q of %d checks, want %q of 3", got, compared, want)
	}
}
