package regress

import (
	"cmp"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

// noiseModel is the run-to-run noise of one matrix: a log-normal CV per
// continuous signal and a zero-inflated model for the ratios.
type noiseModel struct {
	name                string
	cvThroughput, cvP50 float64
	cvP99               float64
	ratioBusy, ratioMed float64 // share of runs with errors, and their median ratio
	// cvCPU is the CV of the target's CPU per request; 0 means
	// defaultCVCPU.
	cvCPU float64
	// cvInstructions is the CV of the instructions per request; 0 means
	// the matrix has no instruction lane (the signal has no series).
	cvInstructions float64
}

// defaultCVCPU is the run-to-run CV of the target's CPU seconds per
// request measured with benchd serve on a quiet machine (2.1–3.0 % across
// three cells, issue measurements): the upper end.
const defaultCVCPU = 0.03

// The medians of the simulated scenarios (the Django json endpoint here).
const (
	medThroughput = 2000.0
	medP50        = 0.001
	medP99        = 0.3
	medCPU        = 0.0006 // seconds per request, gunicorn-gevent json
	medInstr      = 1.0e6  // instructions per request, the json view under callgrind
)

// matrix simulates the run history of every scenario × signal.
type matrix struct {
	noise     lognormal
	model     noiseModel
	scenarios []string
	series    map[SeriesKey][]Point
	// steps multiplies the median of a series from run stepAt on.
	steps  map[SeriesKey]float64
	stepAt int
}

func newMatrix(seed uint64, model noiseModel, scenarios int) *matrix {
	m := &matrix{noise: newNoise(seed), model: model, series: map[SeriesKey][]Point{}, steps: map[SeriesKey]float64{}, stepAt: math.MaxInt}
	for i := range scenarios {
		m.scenarios = append(m.scenarios, fmt.Sprintf("target%d/sync/endpoint%02d", i%4, i))
	}
	return m
}

// run appends one valid run to every series.
func (m *matrix) run() {
	for _, sc := range m.scenarios {
		for _, sig := range Signals {
			k := SeriesKey{sc, sig}
			n := len(m.series[k])
			var v float64
			switch sig {
			case SignalThroughput:
				v = m.noise.draw(medThroughput, m.model.cvThroughput)
			case SignalLatencyP50:
				v = m.noise.draw(medP50, m.model.cvP50)
			case SignalLatencyP99:
				v = m.noise.draw(medP99, m.model.cvP99)
			case SignalCPUPerRequest:
				v = m.noise.draw(medCPU, cmp.Or(m.model.cvCPU, defaultCVCPU))
			case SignalInstructionsPerRequest:
				if m.model.cvInstructions == 0 {
					continue // no instruction lane
				}
				v = m.noise.draw(medInstr, m.model.cvInstructions)
			default:
				v = m.noise.ratio(m.model.ratioMed, m.model.ratioBusy)
			}
			if step, ok := m.steps[k]; ok && n >= m.stepAt {
				v *= step
			}
			m.series[k] = append(m.series[k], Point{RunID: strconv.Itoa(n), Value: v, Valid: true})
		}
	}
}

type trialResult struct {
	aaCalls, aaCallsWithAlarm, aaAlarms, aaScenarioRuns  int
	thrSteps, thrFound, p99Steps, p99Found               int
	stepCalls, stepCallsWithFalse, stepFalse, stepAlarms int
	invalidCalls, invalidMismatch                        int
	aaBySignal                                           map[Signal]int
}

const (
	trialScenarios = 80 // the default matrix has 4 targets × 23 endpoint cells ≈ 80 scenarios
	trialHistory   = 30 // valid runs before the trial starts
	aaRunsEach     = 10 // A/A runs per simulated matrix
)

// runTrials runs the A/A, step and invalid-run trials of one noise model:
// aaRuns runs of an unchanged matrix, stepTrials matrices where two
// scenarios' throughput is multiplied by thrStep and two others' p99 by
// p99Step, and aaRuns/2 runs with invalid runs inserted.
func runTrials(model noiseModel, o Options, aaRuns, stepTrials int, thrStep, p99Step float64) trialResult {
	r := trialResult{aaBySignal: map[Signal]int{}}
	// A/A: no change; every Detect call is one run of the whole matrix.
	// Independent matrices, aaRunsEach calls each, so that one lasting
	// false alarm is not counted many times over.
	for i := range aaRuns / aaRunsEach {
		m := newMatrix(uint64(1+i), model, trialScenarios)
		for range trialHistory {
			m.run()
		}
		for range aaRunsEach {
			m.run()
			alarms := 0
			for _, v := range Detect(m.series, o) {
				if v.Regressed {
					alarms++
					r.aaBySignal[v.Signal]++
				}
			}
			r.aaCalls++
			r.aaScenarioRuns += trialScenarios
			r.aaAlarms += alarms
			if alarms > 0 {
				r.aaCallsWithAlarm++
			}
		}
	}
	// Steps: per trial two scenarios' throughput and two others' p99 step
	// from one run on; found if flagged within 3 runs.
	for trial := range stepTrials {
		m := newMatrix(uint64(1000+trial), model, trialScenarios)
		thr := []SeriesKey{{m.scenarios[trial%80], SignalThroughput}, {m.scenarios[(trial+40)%80], SignalThroughput}}
		p99 := []SeriesKey{{m.scenarios[(trial+20)%80], SignalLatencyP99}, {m.scenarios[(trial+60)%80], SignalLatencyP99}}
		for _, k := range thr {
			m.steps[k] = thrStep
		}
		for _, k := range p99 {
			m.steps[k] = p99Step
		}
		m.stepAt = trialHistory
		for range trialHistory {
			m.run()
		}
		found := map[SeriesKey]bool{}
		for range 3 {
			m.run()
			r.stepCalls++
			falseAlarm := false
			for _, v := range Detect(m.series, o) {
				k := SeriesKey{v.Scenario, v.Signal}
				if !v.Regressed {
					continue
				}
				r.stepAlarms++
				if _, stepped := m.steps[k]; stepped {
					found[k] = true
				} else {
					r.stepFalse++
					falseAlarm = true
				}
			}
			if falseAlarm {
				r.stepCallsWithFalse++
			}
		}
		r.thrSteps += len(thr)
		r.p99Steps += len(p99)
		for _, k := range thr {
			if found[k] {
				r.thrFound++
			}
		}
		for _, k := range p99 {
			if found[k] {
				r.p99Found++
			}
		}
	}
	// Invalid runs: the A/A history with a catastrophic invalid run
	// inserted after every fifth run must give the same verdicts as
	// without them.
	clean := newMatrix(7, model, trialScenarios)
	for i := range trialHistory + aaRuns/2 {
		clean.run()
		if i < trialHistory {
			continue
		}
		r.invalidCalls++
		if !sameVerdicts(Detect(clean.series, o), Detect(withInvalid(clean.series, 5), o)) {
			r.invalidMismatch++
		}
	}
	return r
}

// withInvalid returns a copy of series with an invalid point after every
// n-th point, whose value is catastrophic for its signal.
func withInvalid(series map[SeriesKey][]Point, n int) map[SeriesKey][]Point {
	out := make(map[SeriesKey][]Point, len(series))
	for k, pts := range series {
		var cp []Point
		for i, p := range pts {
			cp = append(cp, p)
			if i%n == n-1 {
				bad := Point{RunID: p.RunID + "-invalid", Value: p.Value * 10, Valid: false}
				if Direction(k.Signal) < 0 {
					bad.Value = p.Value / 10
				} else if k.Signal == SignalErrorRatio || k.Signal == SignalTimeoutRatio {
					bad.Value = 0.5
				}
				cp = append(cp, bad)
			}
		}
		out[k] = cp
	}
	return out
}

// sameVerdicts compares what invalid runs must not change.
func sameVerdicts(a, b []Verdict) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Regressed != y.Regressed || x.Tested != y.Tested || x.PValue != y.PValue || x.QValue != y.QValue ||
			x.BaselineMedian != y.BaselineMedian || x.Current != y.Current || x.BaselineN != y.BaselineN {
			return false
		}
	}
	return true
}

// TestTrials runs the statistical trials of docs/regressions.md and prints
// their table. Run them with
//
//	go test -run TestTrials -v ./regress
//
// (not under -race, where they skip; -short skips them too).
func TestTrials(t *testing.T) {
	skipTrials(t)
	const ratioBusy, ratioMed = 0.15, 0.005 // 3 of 20 measured runs had errors, 0.1 % to 6 %
	// docs/regressions.md: 10 repeats of benchd bench -c 50 -d 3s --warmup 2s
	// against gunicorn+gevent serving /myapp/sync/json, unpinned and pinned.
	measured := noiseModel{name: "measured here", cvThroughput: 0.43, cvP50: 1.32, cvP99: 0.54}
	pinned := noiseModel{name: "measured, pinned with taskset", cvThroughput: 0.25, cvP50: 0.21, cvP99: 0.33}
	rows := []struct {
		model     noiseModel
		o         Options
		variant   string
		wantPower bool
		// noFDRCheck marks a variant known to break the A/A bound, kept
		// in the table to show why the default is what it is.
		noFDRCheck bool
	}{
		{model: noiseModel{name: "CV 2 %", cvThroughput: 0.02, cvP50: 0.02, cvP99: 0.02}, wantPower: true},
		{model: noiseModel{name: "CV 3 %", cvThroughput: 0.03, cvP50: 0.03, cvP99: 0.03}},
		{model: noiseModel{name: "CV 5 %", cvThroughput: 0.05, cvP50: 0.05, cvP99: 0.05}},
		{model: noiseModel{name: "CV 10 %", cvThroughput: 0.10, cvP50: 0.10, cvP99: 0.10}},
		{model: noiseModel{name: "CV 30 % (seed: 2.5x range)", cvThroughput: 0.30, cvP50: 0.30, cvP99: 0.30}},
		{model: measured},
		{model: pinned},
		{model: noiseModel{name: "CV 3 %", cvThroughput: 0.03, cvP50: 0.03, cvP99: 0.03}, o: Options{Confirm: 2}, variant: "Confirm 2", noFDRCheck: true},
		{model: noiseModel{name: "CV 3 %", cvThroughput: 0.03, cvP50: 0.03, cvP99: 0.03}, o: Options{BaselineRuns: 40}, variant: "BaselineRuns 40"},
		{model: noiseModel{name: "CV 2 %", cvThroughput: 0.02, cvP50: 0.02, cvP99: 0.02}, o: Options{Method: MethodMannWhitney}, variant: "Mann-Whitney"},
		{model: noiseModel{name: "CV 2 %", cvThroughput: 0.02, cvP50: 0.02, cvP99: 0.02}, o: Options{Method: MethodRobustZ}, variant: "robust z", wantPower: true},
		{model: noiseModel{name: "CV 3 %", cvThroughput: 0.03, cvP50: 0.03, cvP99: 0.03}, o: Options{Method: MethodRobustZ}, variant: "robust z"},
		{model: noiseModel{name: "CV 5 %", cvThroughput: 0.05, cvP50: 0.05, cvP99: 0.05}, o: Options{Method: MethodRobustZ}, variant: "robust z"},
		{model: measured, o: Options{Method: MethodRobustZ}, variant: "robust z"},
	}
	const aaRuns, stepTrials = 300, 100
	var table strings.Builder
	table.WriteString("| noise | options | A/A runs with an alarm | A/A alarms per 1,000 scenario-runs | −10 % throughput found within 3 runs | +20 % p99 found within 3 runs | step-trial runs with a false alarm | invalid runs changed a verdict | A/A alarms by signal |\n")
	table.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	lines := make([]string, len(rows))
	t.Run("rows", func(t *testing.T) {
		for i, row := range rows {
			model := row.model
			model.ratioBusy, model.ratioMed = ratioBusy, ratioMed
			variant := cmp.Or(row.variant, "defaults")
			t.Run(model.name+"/"+variant, func(t *testing.T) {
				t.Parallel()
				r := runTrials(model, row.o, aaRuns, stepTrials, 0.9, 1.2)
				aaRate := float64(r.aaCallsWithAlarm) / float64(r.aaCalls)
				stepFalseRate := float64(r.stepCallsWithFalse) / float64(r.stepCalls)
				thrRate := float64(r.thrFound) / float64(r.thrSteps)
				p99Rate := float64(r.p99Found) / float64(r.p99Steps)
				var bySignal []string
				for _, sig := range Signals {
					if n := r.aaBySignal[sig]; n > 0 {
						bySignal = append(bySignal, fmt.Sprintf("%s %d", sig, n))
					}
				}
				lines[i] = fmt.Sprintf("| %s | %s | %d / %d (%.1f %%) | %.2f | %d / %d (%.1f %%) | %d / %d (%.1f %%) | %d / %d (%.1f %%) | %d / %d | %s |\n",
					model.name, variant, r.aaCallsWithAlarm, r.aaCalls, 100*aaRate,
					1000*float64(r.aaAlarms)/float64(r.aaScenarioRuns),
					r.thrFound, r.thrSteps, 100*thrRate, r.p99Found, r.p99Steps, 100*p99Rate,
					r.stepCallsWithFalse, r.stepCalls, 100*stepFalseRate, r.invalidMismatch, r.invalidCalls,
					cmp.Or(strings.Join(bySignal, ", "), "none"))
				// Under the complete null, the FDR is the chance that a run
				// has any alarm: at most q, plus sampling error of the runs.
				// The step trials have a true change in 4 of 400 series, so
				// their false alarms are held to the same bound.
				for _, c := range []struct {
					what  string
					rate  float64
					calls int
				}{{"A/A", aaRate, r.aaCalls}, {"step trials", stepFalseRate, r.stepCalls}} {
					limit := DefaultFDR + 3*math.Sqrt(DefaultFDR*(1-DefaultFDR)/float64(c.calls))
					if c.rate > limit && !row.noFDRCheck {
						t.Errorf("%s: %.1f %% of runs raised a false alarm, want at most %.1f %%", c.what, 100*c.rate, 100*limit)
					}
				}
				if r.invalidMismatch != 0 {
					t.Errorf("invalid runs changed the verdicts of %d of %d runs", r.invalidMismatch, r.invalidCalls)
				}
				if row.wantPower && (thrRate < 0.95 || p99Rate < 0.95) {
					t.Errorf("steps found in %.1f %% (throughput) and %.1f %% (p99) of trials, want ≥ 95 %%", 100*thrRate, 100*p99Rate)
				}
			})
		}
	})
	for _, l := range lines {
		table.WriteString(l)
	}
	t.Logf("\n%s", table.String())

	// What the measured noise allows: larger steps, defaults.
	steps := []struct{ thr, p99 float64 }{{0.9, 1.2}, {0.75, 1.5}, {0.5, 2}, {0.33, 3}}
	models := []noiseModel{measured, pinned}
	big := make([]trialResult, len(steps)*len(models))
	t.Run("larger steps", func(t *testing.T) {
		for i := range big {
			st, model := steps[i%len(steps)], models[i/len(steps)]
			model.ratioBusy, model.ratioMed = ratioBusy, ratioMed
			t.Run(fmt.Sprintf("%s/%.2f", model.name, st.thr), func(t *testing.T) {
				t.Parallel()
				big[i] = runTrials(model, Options{}, 0, stepTrials, st.thr, st.p99)
			})
		}
	})
	var b strings.Builder
	b.WriteString("| step | found within 3 runs, measured | found within 3 runs, pinned |\n|---|---|---|\n")
	for i, st := range steps {
		m, p := big[i], big[len(steps)+i]
		fmt.Fprintf(&b, "| throughput ×%.2f (%+.0f %%) | %d / %d (%.1f %%) | %d / %d (%.1f %%) |\n", st.thr, 100*(st.thr-1),
			m.thrFound, m.thrSteps, 100*float64(m.thrFound)/float64(m.thrSteps), p.thrFound, p.thrSteps, 100*float64(p.thrFound)/float64(p.thrSteps))
	}
	for i, st := range steps {
		m, p := big[i], big[len(steps)+i]
		fmt.Fprintf(&b, "| p99 ×%.1f (%+.0f %%) | %d / %d (%.1f %%) | %d / %d (%.1f %%) |\n", st.p99, 100*(st.p99-1),
			m.p99Found, m.p99Steps, 100*float64(m.p99Found)/float64(m.p99Steps), p.p99Found, p.p99Steps, 100*float64(p.p99Found)/float64(p.p99Steps))
	}
	t.Logf("measured noise, larger steps:\n%s", b.String())
}

// skipTrials skips the statistical trials under -short and -race.
func skipTrials(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("statistical trials are long; run without -short")
	}
	if raceEnabled {
		t.Skip("statistical trials run without -race: go test -run TestTrials -v ./regress")
	}
}

// TestTrialsDetectable checks that Verdict.DetectableChange means what it
// says: a throughput step of exactly the size the detector reported for
// the series (from the runs before the step) is found within Confirm runs
// in about DetectablePower of the trials (92 % measured: the figure is a
// little optimistic, see docs/regressions.md), and a step of half that
// size (on the log scale) far less often. Like TestTrials it runs without
// -race. The test is scale-free on logs, so the CVs differ only where the
// minimum effect binds (CV 3 %).
func TestTrialsDetectable(t *testing.T) {
	skipTrials(t)
	const trials = 200
	for _, cv := range []float64{0.03, 0.30} {
		t.Run(fmt.Sprintf("CV %.0f %%", 100*cv), func(t *testing.T) {
			t.Parallel()
			model := noiseModel{cvThroughput: cv, cvP50: cv, cvP99: cv, ratioBusy: 0.15, ratioMed: 0.005}
			var full, half, fulls, halves, untested int
			var sum float64
			for trial := range 2 * trials {
				m := newMatrix(uint64(5000+trial), model, trialScenarios)
				k := SeriesKey{m.scenarios[trial%trialScenarios], SignalThroughput}
				for range trialHistory {
					m.run()
				}
				var d float64
				for _, v := range Detect(m.series, Options{}) {
					if v.Scenario == k.Scenario && v.Signal == k.Signal {
						d = v.DetectableChange
					}
				}
				if d == 0 {
					// Untested: a change point left too few baseline
					// runs. Not a trial.
					untested++
					continue
				}
				if !(d < 0 && d > -1) {
					t.Fatalf("trial %d: DetectableChange = %v, want in (-1, 0)", trial, d)
				}
				step := 1 + d
				if trial%2 == 1 {
					step = math.Sqrt(1 + d) // half the log step
				} else {
					sum += d
				}
				m.steps[k], m.stepAt = step, trialHistory
				found := false
				for range DefaultConfirm {
					m.run()
					for _, v := range Detect(m.series, Options{}) {
						if v.Regressed && v.Scenario == k.Scenario && v.Signal == k.Signal {
							found = true
						}
					}
				}
				if trial%2 == 0 {
					fulls++
					if found {
						full++
					}
				} else {
					halves++
					if found {
						half++
					}
				}
			}
			fullRate, halfRate := float64(full)/float64(fulls), float64(half)/float64(halves)
			t.Logf("CV %.0f %%: mean detectable throughput change %.1f %%; found within %d runs: %d / %d (%.1f %%) at that step, %d / %d (%.1f %%) at half of it; %d untested",
				100*cv, 100*sum/float64(fulls), DefaultConfirm, full, fulls, 100*fullRate, half, halves, 100*halfRate, untested)
			if fulls < trials*9/10 {
				t.Errorf("only %d of %d trials could be tested", fulls, trials)
			}
			// 200 trials at p = 0.95: standard error 1.5 points.
			if fullRate < 0.88 {
				t.Errorf("a step of the reported detectable size was found in %.1f %% of trials, want about %.0f %%", 100*fullRate, 100*DetectablePower)
			}
			if halfRate > 0.6 {
				t.Errorf("a step of half the detectable size was found in %.1f %% of trials, want far fewer", 100*halfRate)
			}
		})
	}
}

// TestTrialsCPUStep measures how often a step of the target's CPU per
// request (a code slowdown) is confirmed within Confirm runs, against the
// CV of that signal: the quiet 1.5 %, and the 3 % measured with benchd
// serve (issue measurements). It asserts only what the statistics promise
// (a +15 % step at CV 1.5 % is far above the detectable change) and logs
// the rest for docs/regressions.md.
func TestTrialsCPUStep(t *testing.T) {
	skipTrials(t)
	const trials = 100
	for _, cv := range []float64{0.015, 0.03} {
		for _, step := range []float64{1.05, 1.10, 1.15} {
			t.Run(fmt.Sprintf("CV %.1f %% step %+.0f %%", 100*cv, 100*(step-1)), func(t *testing.T) {
				t.Parallel()
				model := noiseModel{cvThroughput: 0.03, cvP50: 0.03, cvP99: 0.03, ratioBusy: 0.15, ratioMed: 0.005, cvCPU: cv}
				found := 0
				for trial := range trials {
					m := newMatrix(uint64(9000+trial), model, trialScenarios)
					k := SeriesKey{m.scenarios[trial%trialScenarios], SignalCPUPerRequest}
					for range trialHistory {
						m.run()
					}
					m.steps[k], m.stepAt = step, trialHistory
					hit := false
					for range DefaultConfirm {
						m.run()
						for _, v := range Detect(m.series, Options{}) {
							if v.Regressed && v.Scenario == k.Scenario && v.Signal == k.Signal {
								hit = true
							}
						}
					}
					if hit {
						found++
					}
				}
				t.Logf("cpu_per_request CV %.1f %%, step %+.0f %%: found within %d runs in %d / %d trials", 100*cv, 100*(step-1), DefaultConfirm, found, trials)
				if cv == 0.015 && step == 1.15 && found < trials*95/100 {
					t.Errorf("a +15 %% step at CV 1.5 %% was found in %d / %d trials, want at least 95 %%", found, trials)
				}
			})
		}
	}
}

// TestTrialsInstructionsStep: how often a +1 % and +2 % step of the
// instructions per request is confirmed within Confirm runs, with every
// scenario of the simulated matrix in an instruction lane (so that BH
// spreads its level over the most tests), at the CVs measured for the lane
// (docs/regressions.md: 0.01–0.08 % over 5 runs of the reference views)
// and at a pessimistic 0.3 %. It asserts that +2 % at the measured noise is
// found in at least 95 % of trials, and logs the rest for the docs.
func TestTrialsInstructionsStep(t *testing.T) {
	skipTrials(t)
	const trials = 100
	for _, cv := range []float64{0.0008, 0.003} {
		for _, step := range []float64{1.01, 1.02} {
			t.Run(fmt.Sprintf("CV %.2f %% step %+.0f %%", 100*cv, 100*(step-1)), func(t *testing.T) {
				t.Parallel()
				model := noiseModel{cvThroughput: 0.03, cvP50: 0.03, cvP99: 0.03, ratioBusy: 0.15, ratioMed: 0.005, cvInstructions: cv}
				found, falseAlarms := 0, 0
				for trial := range trials {
					m := newMatrix(uint64(7000+trial), model, trialScenarios)
					k := SeriesKey{m.scenarios[trial%trialScenarios], SignalInstructionsPerRequest}
					for range trialHistory {
						m.run()
					}
					m.steps[k], m.stepAt = step, trialHistory
					hit := false
					for range DefaultConfirm {
						m.run()
						for _, v := range Detect(m.series, Options{}) {
							switch {
							case v.Regressed && v.Scenario == k.Scenario && v.Signal == k.Signal:
								hit = true
							case v.Regressed && v.Signal == SignalInstructionsPerRequest:
								falseAlarms++
							}
						}
					}
					if hit {
						found++
					}
				}
				t.Logf("instructions_per_request CV %.2f %%, step %+.0f %%: found within %d runs in %d / %d trials; %d false instruction alarms", 100*cv, 100*(step-1), DefaultConfirm, found, trials, falseAlarms)
				if cv < 0.001 && step == 1.02 && found < trials*95/100 {
					t.Errorf("a +2 %% step at CV %.2f %% was found in %d / %d trials, want at least 95 %%", 100*cv, found, trials)
				}
			})
		}
	}
}
