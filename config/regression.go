package config

import (
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// regressionSignals are the signal names of regression.min_effect, as the
// regress package names them.
var regressionSignals = append(slices.Clone(ThresholdSignals), "cpu_per_request", "instructions_per_request")

// Regression configures benchd's regression detector (docs/regressions.md).
// Zero values take the detector's defaults, which its package documents
// with their sources; a negative validity limit switches that check off.
type Regression struct {
	// MaxSchedulerLatency is the largest p99 of benchd's own Go scheduler
	// latency during a scenario for its result to count as valid: above
	// it the load generator was starved of CPU and its timings are
	// suspect. 0 means the detector's default (10 ms); negative disables
	// the check.
	MaxSchedulerLatency time.Duration `yaml:"max_scheduler_latency,omitempty"`
	// MaxForeignCPU is the largest foreign CPU ratio of any repeat of a
	// scenario, 0 to 1, for its result to count as valid: the share of
	// the CPUs benchd and the target run on that other work (neither
	// benchd, the target's processes nor the services) used during the
	// measured interval, steal included (0.5 on two CPUs is one busy
	// process). Only managed targets are judged: an unmanaged target's own
	// CPU cannot be told from other work. 0 means the detector's default
	// (0.25); negative disables the check.
	MaxForeignCPU float64 `yaml:"max_foreign_cpu,omitempty"`
	// MaxLateRatio is the largest share of open-loop requests sent late or
	// never, 0 to 1, for a result to count as valid. 0 means the
	// detector's default (0.01); negative disables the check.
	MaxLateRatio float64 `yaml:"max_late_ratio,omitempty"`
	// Confirm is how many consecutive newest runs must all be worse than
	// the baseline before a regression is reported. 0 means the default.
	Confirm int `yaml:"confirm,omitempty"`
	// BaselineRuns is how many recent valid runs form the rolling
	// baseline. 0 means the default.
	BaselineRuns int `yaml:"baseline_runs,omitempty"`
	// MinEffect is the smallest relative change, per signal, that can count
	// as a regression (0.05 = 5 %); signals are throughput, latency_p50,
	// latency_p99, error_ratio, timeout_ratio, cpu_per_request and
	// instructions_per_request. Unset signals keep the
	// detector's defaults. On a noisy machine, raise them to what the
	// noise allows (docs/regressions.md has the measured table).
	MinEffect map[string]float64 `yaml:"min_effect,omitempty"`
	// FDR is the false discovery rate (Benjamini–Hochberg q) across all
	// scenario × signal tests of a detection, between 0 and 1. 0 means the
	// default.
	FDR float64 `yaml:"fdr,omitempty"`
}

func (c *Config) checkRegression(k *checker) {
	r := &c.Regression
	if r.MaxForeignCPU > 1 || math.IsNaN(r.MaxForeignCPU) {
		k.add("regression.max_foreign_cpu", "%g is not a share of 0 to 1 (the CPUs' capacity other work may use, such as 0.25)", r.MaxForeignCPU)
	}
	if r.MaxLateRatio > 1 {
		k.add("regression.max_late_ratio", "%g is above 1 (a share of the intended requests, such as 0.01)", r.MaxLateRatio)
	}
	if r.Confirm < 0 {
		k.add("regression.confirm", "%d is negative (a number of runs, such as 3)", r.Confirm)
	}
	if r.BaselineRuns < 0 {
		k.add("regression.baseline_runs", "%d is negative (a number of runs, such as 20)", r.BaselineRuns)
	}
	if r.Confirm > 0 && r.BaselineRuns > 0 && r.BaselineRuns < r.Confirm {
		k.add("regression.baseline_runs", "%d is smaller than regression.confirm %d (the baseline needs at least as many runs as the confirmation)", r.BaselineRuns, r.Confirm)
	}
	for _, name := range slices.Sorted(maps.Keys(r.MinEffect)) {
		v := r.MinEffect[name]
		if !slices.Contains(regressionSignals, name) {
			k.add("regression.min_effect."+name, "unknown signal (use one of %s)", strings.Join(regressionSignals, ", "))
		} else if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			k.add("regression.min_effect."+name, "%g: want a relative change of zero or more, such as 0.05 for 5 %%", v)
		}
	}
	if r.FDR < 0 || r.FDR >= 1 {
		k.add("regression.fdr", "%g is outside [0, 1) (a rate such as 0.05)", r.FDR)
	}
}
