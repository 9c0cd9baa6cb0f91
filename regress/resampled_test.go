package regress

import (
	"encoding/csv"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/gonum/stat/distuv"
)

// measuredRun is one real run of the A/A matrix (bench/aa.sh): every
// scenario's signal values and validity, as the daemon stored them.
type measuredRun struct {
	id   string
	busy bool // a busy-loop process ran during the run
	burn int  // BENCHD_DJANGO_BURN_LOOPS of the target; 0 in A/A runs
	// cells maps a scenario to its record in this run.
	cells map[string]measuredCell
}

// measuredCell is one scenario's stored result in one run.
type measuredCell struct {
	valid   bool // as the daemon stored it
	health  RunHealth
	reasons string             // the stored invalid reasons, space-separated
	values  map[Signal]float64 // NaN where the run has no value
}

// csvSignals are the signal columns of the A/A testdata, in order.
var csvSignals = []Signal{SignalThroughput, SignalLatencyP50, SignalLatencyP99,
	SignalErrorRatio, SignalTimeoutRatio, SignalCPUPerRequest}

// measuredColumns is the number of columns before the signals: run,
// run_id, busy, burn, scenario, valid, reasons, foreign_cpu,
// scheduler_latency_p99.
const measuredColumns = 9

// readMeasuredRuns reads the runs bench/aa.sh extracts from a real
// history: a header, then measuredColumns columns and one per csvSignals
// entry; runs in order.
func readMeasuredRuns(t *testing.T, path string) []measuredRun {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var runs []measuredRun
	for i, row := range rows[1:] {
		if len(row) != measuredColumns+len(csvSignals) {
			t.Fatalf("%s:%d: %d columns, want %d", path, i+2, len(row), measuredColumns+len(csvSignals))
		}
		if len(runs) == 0 || runs[len(runs)-1].id != row[1] {
			burn, err := strconv.Atoi(row[3])
			if err != nil {
				t.Fatalf("%s:%d: burn %q: %v", path, i+2, row[3], err)
			}
			runs = append(runs, measuredRun{id: row[1], busy: row[2] == "1", burn: burn, cells: map[string]measuredCell{}})
		}
		c := measuredCell{valid: row[5] == "1", reasons: row[6], values: map[Signal]float64{},
			health: RunHealth{ForeignCPURatio: num(row[7]),
				SchedulerLatencyP99: time.Duration(num(row[8]) * float64(time.Second))}}
		for j, s := range csvSignals {
			c.values[s] = num(row[measuredColumns+j])
		}
		runs[len(runs)-1].cells[row[4]] = c
	}
	return runs
}

// num parses a CSV number; NaN for an empty or malformed field (a run
// without that value).
func num(s string) float64 {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

// seriesOf returns the detector's series over runs, in order.
func seriesOf(runs []measuredRun) map[SeriesKey][]Point {
	series := map[SeriesKey][]Point{}
	t0 := time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)
	for i, r := range runs {
		for sc, c := range r.cells {
			for _, s := range csvSignals {
				v := c.values[s]
				k := SeriesKey{sc, s}
				series[k] = append(series[k], Point{RunID: strconv.Itoa(i), Time: t0.Add(time.Duration(i) * time.Minute),
					Value: v, Valid: c.valid && !math.IsNaN(v)})
			}
		}
	}
	return series
}

// upper95 is the one-sided 95 % Clopper-Pearson upper bound of a rate of
// k events in n trials.
func upper95(k, n int) float64 {
	if k >= n {
		return 1
	}
	return distuv.Beta{Alpha: float64(k + 1), Beta: float64(n - k)}.Quantile(0.95)
}

// aaValidity is bench/aa.yml's validity limits: the defaults but the
// scheduler latency, raised to 100 ms as in config/default.yml.
var aaValidity = ValidityOptions{MaxSchedulerLatencyP99: 100 * time.Millisecond}

// TestTrialsResampled replays the noise of real A/A runs (issue 14 item
// 7(a), docs/regressions.md "A/A on real runs"): the reference target
// under gunicorn-gevent, 6 cells, with a busy-loop process during a random
// third of the runs. It checks that today's validity rule, applied to the
// foreign CPU and scheduler latency measured in each run, keeps every busy
// run out (and agrees with what the daemon stored); then that the real
// sequence, run by run as the daemon saw it, raises no alarm; then it
// builds trial matrices from whole real runs drawn with replacement (all
// cells of a run together, so what a run's cells share stays together,
// busy runs at their measured share) and counts alarms per scenario-run,
// with their 95 % upper bound.
func TestTrialsResampled(t *testing.T) {
	skipTrials(t)
	var runs []measuredRun
	for _, r := range readMeasuredRuns(t, "testdata/aa-gevent.csv") {
		if r.burn == 0 {
			runs = append(runs, r)
		}
	}
	busyRuns, busy, busyInvalid, quiet, quietInvalid := 0, 0, 0, 0, 0
	for i := range runs {
		r := &runs[i]
		if r.busy {
			busyRuns++
		}
		for sc, c := range r.cells {
			ok, reasons := Validity(c.health, aaValidity)
			if ok != c.valid {
				t.Errorf("run %s %s: the rule says valid=%v %v, the daemon stored valid=%v %q", r.id, sc, ok, reasons, c.valid, c.reasons)
			}
			switch {
			case r.busy:
				busy++
				if !ok {
					busyInvalid++
				}
			default:
				quiet++
				if !ok {
					quietInvalid++
				}
			}
		}
	}
	t.Logf("real A/A runs: %d, %d with the busy loop; scenario-runs invalid: busy %d / %d, quiet %d / %d",
		len(runs), busyRuns, busyInvalid, busy, quietInvalid, quiet)
	if len(runs) < 30 || busyRuns < len(runs)/4 {
		t.Fatalf("%d runs, %d busy: want at least 30, a quarter or more busy", len(runs), busyRuns)
	}
	if busyInvalid != busy {
		t.Errorf("%d of %d scenario-runs with the busy loop were valid: a CPU hog must never enter a baseline", busy-busyInvalid, busy)
	}
	o := Options{}
	realAlarms := 0
	for n := range len(runs) {
		for _, v := range Detect(seriesOf(runs[:n+1]), o) {
			if v.Regressed {
				realAlarms++
				t.Logf("real run %d (%s): alarm %s %s change %+.1f%% q %.2g", n+1, runs[n].id, v.Scenario, v.Signal, 100*v.ChangeRatio, v.QValue)
			}
		}
	}
	if realAlarms > 0 {
		t.Errorf("the real A/A sequence raised %d alarms, want none", realAlarms)
	}
	for _, v := range Detect(seriesOf(runs), o) {
		if v.Tested && (v.Signal == SignalThroughput || v.Signal == SignalCPUPerRequest || v.Signal == SignalLatencyP99) {
			t.Logf("after the A/A runs: %s %s detectable change %+.1f%% (baseline %d runs)", v.Scenario, v.Signal, 100*v.DetectableChange, v.BaselineN)
		}
	}

	// Three ways of resampling, each for the default test and for
	// MethodRobustZ (the default until these trials). With replacement,
	// one block: the first measurement's design, where a history can hold
	// one real run several times. Permuted, one block: each real run once
	// per matrix, in a random order (exchangeable, as an A/A is). Permuted,
	// 14 independent blocks: 84 scenarios, the default matrix's size, whose
	// BH threshold for a lone change (about 1e-4) is where a test's tail
	// matters. The guard is on the last design, the one the default matrix
	// lives in.
	for _, tc := range []struct {
		name             string
		o                Options
		matrices, blocks int
		permute          bool
		guard            float64 // most alarms per scenario-run; 0: none
		guardWith        float64 // most scenario-runs with an alarm, per scenario-run; 0: none
	}{
		{"with replacement, defaults", Options{}, 300, 1, false, 0, 0},
		{"with replacement, robust z", Options{Method: MethodRobustZ}, 300, 1, false, 0, 0},
		{"permuted, defaults", Options{}, 300, 1, true, 0, 0},
		{"permuted, robust z", Options{Method: MethodRobustZ}, 300, 1, true, 0, 0},
		// Measured 1.34 alarms per 1,000 (95 % upper bound 1.44), robust
		// z 4.46; 0.78 scenario-runs with an alarm per 1,000 (upper bound
		// over matrices 0.90); the goal is 1 (docs/regressions.md,
		// "A/A on real runs").
		{"84 scenarios permuted, defaults", Options{}, 400, 14, true, 0.002, 0.001},
		{"84 scenarios permuted, robust z", Options{Method: MethodRobustZ}, 40, 14, true, 0, 0},
	} {
		r := resample(runs, tc.o, tc.matrices, tc.blocks, tc.permute)
		rate := float64(r.alarms) / float64(r.scenarioRuns)
		t.Logf("resampled, %s: %d scenario-runs, %d alarms (%.2f per 1,000; 95 %% upper bound %.2f per 1,000), %d scenario-runs with an alarm (%.2f per 1,000; 95 %% upper bound over matrices %.2f), %d of %d runs with an alarm; by signal: %s; raw p of the %d tests: %s",
			tc.name, r.scenarioRuns, r.alarms, 1000*rate, 1000*upper95(r.alarms, r.scenarioRuns), r.withAlarm,
			1000*float64(r.withAlarm)/float64(r.scenarioRuns), 1000*r.clusterUpper95(), r.runsWithAlarm, r.runs,
			countsBySignal(r.bySignal), r.tests, calibration(r.pBelow, r.tests))
		if r.scenarioRuns < 3000 {
			t.Errorf("%s: %d scenario-runs, want at least 3,000", tc.name, r.scenarioRuns)
		}
		if tc.guard > 0 && rate > tc.guard {
			t.Errorf("%s: false alarms %.2f per 1,000 scenario-runs, guard %.1f (measured 1.34)", tc.name, 1000*rate, 1000*tc.guard)
		}
		if with := float64(r.withAlarm) / float64(r.scenarioRuns); tc.guardWith > 0 && with > tc.guardWith {
			t.Errorf("%s: %.2f scenario-runs with a false alarm per 1,000, guard %.1f (measured 0.78, the goal)", tc.name, 1000*with, 1000*tc.guardWith)
		}
	}
}

// resampled is what [resample] counts.
type resampled struct {
	scenarioRuns, alarms, withAlarm int // scenario-runs tested, regressed verdicts, scenario-runs with one
	// perMatrix is withAlarm of each matrix, for [clusterUpper95].
	perMatrix           []int
	runs, runsWithAlarm int // Detect calls, and those with any alarm
	bySignal            map[Signal]int
	// tests is the number of tested verdicts; pBelow[i] of them had a raw
	// p-value at most calibrationLevels[i], gates or not.
	tests  int
	pBelow []int
}

// calibrationLevels are the levels at which [resampled.pBelow] counts raw p-values.
var calibrationLevels = []float64{1e-2, 1e-3, 1e-4}

// calibration formats pBelow of tests as "P(p ≤ level) = x (x/level)"
// per level: a valid test has every ratio at most about 1 (an A/A).
func calibration(pBelow []int, tests int) string {
	var parts []string
	for i, l := range calibrationLevels {
		f := float64(pBelow[i]) / float64(tests)
		parts = append(parts, fmt.Sprintf("P(p<=%g) = %.2g (%.2gx)", l, f, f/l))
	}
	return strings.Join(parts, ", ")
}

// resample runs the resampled A/A trials over runs with options o:
// matrices of 30 runs of history and 10 tested runs, each run made of
// blocks real runs drawn with replacement, one per block (a block is the
// measured cells, renamed "cell#b"; what a real run's cells share stays
// together within a block, blocks are independent); it returns what they
// counted. One block is the measured matrix; 14 blocks make 84 scenarios,
// the size of the default matrix, whose BH threshold for a lone change is
// about 1e-4 rather than 1.4e-3.
//
// With permute, each block's runs are instead a random order of the real
// runs, each once (history = all but the tested ones): no run is drawn
// twice, so a baseline is never a handful of real runs repeated.
func resample(runs []measuredRun, o Options, matrices, blocks int, permute bool) resampled {
	history, tested := 30, 10 // runs before the tested ones, as in TestTrials
	if permute {
		history = len(runs) - tested
	}
	rng := rand.New(rand.NewPCG(14, 7))
	r := resampled{bySignal: map[Signal]int{}, pBelow: make([]int, len(calibrationLevels))}
	var order [][]int // per block, the runs' order of this matrix
	draw := func(i int) measuredRun {
		if blocks == 1 && !permute {
			return runs[rng.IntN(len(runs))]
		}
		m := measuredRun{cells: map[string]measuredCell{}}
		for b := range blocks {
			j := rng.IntN(len(runs))
			if permute {
				j = order[b][i]
			}
			for sc, c := range runs[j].cells {
				m.cells[sc+"#"+strconv.Itoa(b)] = c
			}
		}
		return m
	}
	for range matrices {
		r.perMatrix = append(r.perMatrix, 0)
		order = order[:0]
		if permute {
			for range blocks {
				order = append(order, rng.Perm(len(runs)))
			}
		}
		var drawn []measuredRun
		for i := range history {
			drawn = append(drawn, draw(i))
		}
		for i := range tested {
			drawn = append(drawn, draw(history+i))
			hit := map[string]bool{}
			for _, v := range Detect(seriesOf(drawn), o) {
				if v.Tested {
					r.tests++
					for i, l := range calibrationLevels {
						if v.PValue <= l {
							r.pBelow[i]++
						}
					}
				}
				if v.Regressed {
					r.alarms++
					r.bySignal[v.Signal]++
					hit[v.Scenario] = true
				}
			}
			r.runs++
			if len(hit) > 0 {
				r.runsWithAlarm++
			}
			r.scenarioRuns += len(drawn[len(drawn)-1].cells)
			r.withAlarm += len(hit)
			r.perMatrix[len(r.perMatrix)-1] += len(hit)
		}
	}
	return r
}

// clusterUpper95 is the 95th percentile, over 2,000 bootstrap resamples
// of whole matrices, of the share of scenario-runs with an alarm. A
// matrix's alarms are not independent (its blocks replay the same real
// runs, and a change point lasts several tested runs), so the binomial
// bound of [upper95] is too narrow; resampling whole matrices (a cluster
// bootstrap) keeps what a matrix's alarms share.
func (r resampled) clusterUpper95() float64 {
	m := len(r.perMatrix)
	if m == 0 {
		return math.NaN()
	}
	perRun := float64(r.scenarioRuns) / float64(m)
	rng := rand.New(rand.NewPCG(14, 95))
	rates := make([]float64, 2000)
	for b := range rates {
		k := 0
		for range m {
			k += r.perMatrix[rng.IntN(m)]
		}
		rates[b] = float64(k) / (perRun * float64(m))
	}
	sort.Float64s(rates)
	return rates[int(0.95*float64(len(rates)))]
}

// countsBySignal formats per-signal counts in the order of Signals.
func countsBySignal(n map[Signal]int) string {
	var parts []string
	for _, s := range Signals {
		if n[s] > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", s, n[s]))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
