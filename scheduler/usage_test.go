package scheduler

import (
	"math"
	"testing"
	"time"
)

func TestRepeatUsageRatios(t *testing.T) {
	start := time.Unix(1000, 0)
	tests := []struct {
		name                 string
		u                    RepeatUsage
		foreign, steal, perR float64
	}{
		{
			name: "one busy loop on two CPUs",
			u: RepeatUsage{Start: start, End: start.Add(10 * time.Second), CPUs: 2, Requests: 1000,
				BusyCPUSeconds: 19, SelfCPUSeconds: 4, TargetCPUSeconds: 5, ServicesCPUSeconds: 1, StealCPUSeconds: 0.2},
			foreign: 9.0 / 20, steal: 0.01, perR: 0.005,
		},
		{
			name: "counters read apart: clamped at 0",
			u: RepeatUsage{Start: start, End: start.Add(time.Second), CPUs: 1,
				BusyCPUSeconds: 0.5, SelfCPUSeconds: 0.3, TargetCPUSeconds: 0.3},
		},
		{
			name: "not measured: no CPUs",
			u:    RepeatUsage{Start: start, End: start.Add(time.Second), BusyCPUSeconds: 3},
		},
		{
			name: "no requests: no CPU per request",
			u:    RepeatUsage{Start: start, End: start.Add(time.Second), CPUs: 1, TargetCPUSeconds: 0.5, BusyCPUSeconds: 0.5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			near := func(what string, got, want float64) {
				if math.Abs(got-want) > 1e-9 {
					t.Errorf("%s = %g, want %g", what, got, want)
				}
			}
			near("ForeignCPURatio", tt.u.ForeignCPURatio(), tt.foreign)
			near("StealRatio", tt.u.StealRatio(), tt.steal)
			near("CPUSecondsPerRequest", tt.u.CPUSecondsPerRequest(), tt.perR)
		})
	}
	managed := func(u RepeatUsage) RepeatUsage { u.Managed = true; return u }
	r := &ScenarioResult{RepeatUsage: []RepeatUsage{managed(tests[0].u), managed(tests[1].u)}}
	if got := r.MaxForeignCPURatio(); got != tests[0].foreign {
		t.Errorf("MaxForeignCPURatio = %g, want %g", got, tests[0].foreign)
	}
	// An unmanaged target's own CPU is in the foreign figure: not judged.
	if got := (&ScenarioResult{RepeatUsage: []RepeatUsage{tests[0].u}}).MaxForeignCPURatio(); got != 0 {
		t.Errorf("MaxForeignCPURatio of an unmanaged target = %g, want 0", got)
	}
	if got := r.CPUSecondsPerRequest(); math.Abs(got-5.3/1000) > 1e-12 {
		t.Errorf("CPUSecondsPerRequest = %g, want the repeats' CPU over their requests, %g", got, 5.3/1000)
	}
}
