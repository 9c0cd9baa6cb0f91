package regress

import (
	"math"
	"testing"

	"github.com/benchd/benchd/result"
)

func TestRunValue(t *testing.T) {
	nan := math.NaN()
	rep := func(rps ...float64) []result.Repeat {
		var out []result.Repeat
		for _, v := range rps {
			// p99 is only in the merged latency: NaN per repeat.
			out = append(out, result.Repeat{Measurement: result.Measurement{RequestsPerSecond: v}})
			if v > 0 {
				out[len(out)-1].Latency = &result.Latency{P50: v / 1000, P99: nan}
			}
		}
		return out
	}
	tests := []struct {
		name    string
		s       result.Scenario
		wantRPS float64
		wantP50 float64
		wantP99 float64
	}{
		{"single run", result.Scenario{Measurement: result.Measurement{RequestsPerSecond: 100, Latency: &result.Latency{P50: 0.5, P99: 0.9}}}, 100, 0.5, 0.9},
		{"no response", result.Scenario{}, 0, nan, nan},
		// One collapsed repeat does not move the run.
		{"odd", result.Scenario{Measurement: result.Measurement{RequestsPerSecond: 70}, Repeats: rep(100, 10, 101)}, 100, 0.1, nan},
		{"even", result.Scenario{Repeats: rep(100, 200, 300, 400)}, 250, 0.25, nan},
		// A repeat without responses has no latency: the median is of the others.
		{"repeat without responses", result.Scenario{Repeats: rep(0, 200, 300)}, 200, 0.25, nan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				signal Signal
				want   float64
			}{{SignalThroughput, tt.wantRPS}, {SignalLatencyP50, tt.wantP50}, {SignalLatencyP99, tt.wantP99}} {
				if got := c.signal.RunValue(&tt.s); !(math.Abs(got-c.want) < 1e-12 || math.IsNaN(got) && math.IsNaN(c.want)) {
					t.Errorf("%s = %v, want %v", c.signal, got, c.want)
				}
			}
		})
	}
}

// TestValueInstructionLane: an instruction-lane result gives
// instructions_per_request and its error and timeout ratios; its
// throughput, latencies and CPU are callgrind's speed, NaN. A load result
// has no instructions_per_request.
func TestValueInstructionLane(t *testing.T) {
	m := result.Measurement{RequestsPerSecond: 4.5, ErrorRatio: 0.25, Latency: &result.Latency{P50: 0.2, P99: 2.5},
		CPU:          &result.CPU{Managed: true, TargetSecondsPerRequest: 0.2},
		Instructions: &result.Instructions{Count: 98_000_000, Requests: 100, Processes: 1, PerRequest: 980_000}}
	want := map[Signal]float64{SignalInstructionsPerRequest: 980_000, SignalErrorRatio: 0.25, SignalTimeoutRatio: 0}
	for _, s := range Signals {
		got := s.Value(&m)
		if w, ok := want[s]; ok && got != w || !ok && !math.IsNaN(got) {
			t.Errorf("%s = %v, want %v (NaN when absent)", s, got, want[s])
		}
	}
	m.Instructions = nil
	if got := SignalInstructionsPerRequest.Value(&m); !math.IsNaN(got) {
		t.Errorf("a load result's instructions_per_request = %v, want NaN", got)
	}
	if got := SignalThroughput.Value(&m); got != 4.5 {
		t.Errorf("a load result's throughput = %v, want 4.5", got)
	}
}
