package main

import (
	"math"
	"testing"

	"github.com/benchd/benchd/store"
)

func TestRunValue(t *testing.T) {
	nan := math.NaN()
	rep := func(rps ...float64) []store.Repeat {
		var out []store.Repeat
		for _, v := range rps {
			out = append(out, store.Repeat{RequestsPerSecond: v, P50: v / 1000, P99: nan})
		}
		return out
	}
	tests := []struct {
		name    string
		s       store.Scenario
		wantRPS float64
		wantP50 float64
		wantP99 float64
	}{
		{"single run", store.Scenario{RequestsPerSecond: 100, P50: 0.5, P99: 0.9}, 100, 0.5, 0.9},
		// One collapsed repeat does not move the run.
		{"odd", store.Scenario{RequestsPerSecond: 70, Repeats: rep(100, 10, 101)}, 100, 0.1, nan},
		{"even", store.Scenario{Repeats: rep(100, 200, 300, 400)}, 250, 0.25, nan},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range []struct {
				signal string
				got    float64
				want   float64
			}{
				{"throughput", runValue(&tt.s, signals[0].value, signals[0].repeat), tt.wantRPS},
				{"p50", runValue(&tt.s, signals[1].value, signals[1].repeat), tt.wantP50},
				{"p99", runValue(&tt.s, signals[2].value, signals[2].repeat), tt.wantP99},
			} {
				if !(math.Abs(c.got-c.want) < 1e-12 || math.IsNaN(c.got) && math.IsNaN(c.want)) {
					t.Errorf("%s = %v, want %v", c.signal, c.got, c.want)
				}
			}
		})
	}
}
