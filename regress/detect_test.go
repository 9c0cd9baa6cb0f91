package regress

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

// series builds points from values with optional per-index edits.
func series(values []float64, edit func(i int, p *Point)) []Point {
	pts := points(values...)
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range pts {
		pts[i].Time = start.Add(time.Duration(i) * time.Hour)
		if edit != nil {
			edit(i, &pts[i])
		}
	}
	return pts
}

func concatValues(parts ...[]float64) []float64 {
	var out []float64
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

func TestDetect(t *testing.T) {
	const cv = 0.02
	tests := []struct {
		name      string
		signal    Signal
		pts       []Point
		o         Options
		regressed bool
		tested    bool
		reason    string  // substring of Reason, when set
		ratio     float64 // expected ChangeRatio ± 0.05, when not 0
		cpAt      int     // expected change point index ± 1, when not 0
	}{
		{name: "flat noise", signal: SignalThroughput, pts: series(noisy(1, 30, 2000, cv, 99, 1), nil), tested: true, reason: "minimum effect"},
		// Instructions per request: run-to-run noise 0.05 % (measured), a
		// +1 % step. Its own noise floor (0.1 %) finds it; under the global
		// 1 % floor three runs 1 % up are 1 σ out each, p ≈ 0.009, which a
		// matrix-wide FDR would not pass (here: at α = 0.001).
		{
			name:      "instructions +1 % at 0.05 % noise",
			signal:    SignalInstructionsPerRequest,
			pts:       series(concatValues(noisy(41, 27, 1e6, 0.0005, 99, 1), noisy(42, 3, 1.01e6, 0.0005, 99, 1)), nil),
			regressed: true, tested: true, ratio: 0.01,
		},
		{
			name:   "instructions +1 % at 0.05 % noise with the 1 % floor",
			signal: SignalInstructionsPerRequest,
			pts:    series(concatValues(noisy(41, 27, 1e6, 0.0005, 99, 1), noisy(42, 3, 1.01e6, 0.0005, 99, 1)), nil),
			o:      Options{SignalMinNoise: map[Signal]float64{SignalInstructionsPerRequest: DefaultMinNoise}, FDR: -1, Alpha: 0.001},
			tested: true, reason: "not significant", ratio: 0.01,
		},
		{
			name:   "instructions +0.3 % is below the minimum effect",
			signal: SignalInstructionsPerRequest,
			pts:    series(concatValues(noisy(41, 27, 1e6, 0.0005, 99, 1), noisy(42, 3, 1.003e6, 0.0005, 99, 1)), nil),
			tested: true, reason: "minimum effect",
		},
		{
			// Three runs at −0.35 σ each (CV 30 %): p above 0.05.
			name:   "10 % down in noisy runs is not significant",
			signal: SignalThroughput,
			pts:    series(concatValues(noisy(24, 27, 2000, 0.3, 99, 1), repeat(Median(noisy(24, 27, 2000, 0.3, 99, 1))*0.90, 3)), nil),
			tested: true, reason: "not significant", ratio: -0.10,
		},
		{
			// Found by the live alert test: while target b restarted slowed,
			// two runs made connections but completed nothing (0 req/s,
			// valid). In log space with a tiny offset they were −27.6
			// outliers: no change point was found, and the baseline became
			// the slowed runs. With throughput's floor as the offset they
			// are log(1) = 0 and the collapse stays found.
			name:      "runs with no completed request at a collapse do not hide it",
			signal:    SignalThroughput,
			pts:       series(concatValues(noisy(34, 14, 800, 0.3, 99, 1), repeat(0, 2), repeat(16, 30)), nil),
			o:         Options{MinEffect: map[Signal]float64{SignalThroughput: 0.5}},
			regressed: true, tested: true,
		},
		{
			// Found by the live alert test: target b warmed up (a change
			// for the better after 6 runs), then collapsed 8 runs later.
			// The improvement's segment is too short for a baseline; the
			// collapse must stay tested, not fall silent after 3 runs.
			name:      "a collapse soon after an improvement stays found",
			signal:    SignalThroughput,
			pts:       series(concatValues(noisy(31, 6, 800, cv, 99, 1), noisy(32, 8, 2000, cv, 99, 1), noisy(33, 20, 16, cv, 99, 1)), nil),
			o:         Options{MinEffect: map[Signal]float64{SignalThroughput: 0.5}},
			regressed: true, tested: true, cpAt: 14,
		},
		{
			// Also from the live test: the slowed target's first runs were
			// slower still (8 then 16 req/s). That partial recovery is a
			// change for the better, but not back to the baseline: it must
			// not become the new baseline and absorb the regression.
			name:      "a partial recovery does not absorb the regression",
			signal:    SignalThroughput,
			pts:       series(concatValues(noisy(34, 20, 2000, cv, 99, 1), noisy(35, 5, 8, cv, 99, 1), noisy(36, 30, 16, cv, 99, 1)), nil),
			o:         Options{MinEffect: map[Signal]float64{SignalThroughput: 0.5}},
			regressed: true, tested: true, cpAt: 20,
		},
		{name: "throughput down 30 %", signal: SignalThroughput, pts: series(noisy(2, 30, 2000, cv, 27, 0.7), nil), regressed: true, tested: true, ratio: -0.3},
		{name: "throughput up 30 % is no regression", signal: SignalThroughput, pts: series(noisy(3, 30, 2000, cv, 27, 1.3), nil), tested: true},
		{name: "p99 up 30 %", signal: SignalLatencyP99, pts: series(noisy(4, 30, 0.3, cv, 27, 1.3), nil), regressed: true, tested: true, ratio: 0.3},
		{name: "p50 down 30 % is no regression", signal: SignalLatencyP50, pts: series(noisy(5, 30, 0.001, cv, 27, 0.7), nil), tested: true},
		{
			name:   "only two of three newest runs worse",
			signal: SignalThroughput,
			pts: series(noisy(6, 30, 2000, cv, 28, 0.7), func(i int, p *Point) {
				if i == 27 {
					p.Value = 2100 // on the better side of the baseline median
				}
			}),
			tested: true, reason: "not confirmed",
		},
		{
			name:   "one outlier run among the newest",
			signal: SignalThroughput,
			pts: series(noisy(7, 30, 2000, cv, 99, 1), func(i int, p *Point) {
				if i == 28 {
					p.Value /= 5
				}
			}),
			tested: true,
		},
		{name: "drop below the minimum effect", signal: SignalThroughput, pts: series(noisy(8, 30, 2000, 0.002, 27, 0.97), nil), tested: true, reason: "minimum effect"},
		{name: "drop below the minimum effect made acceptable", signal: SignalThroughput, pts: series(noisy(8, 30, 2000, 0.002, 27, 0.97), nil), o: Options{MinEffect: map[Signal]float64{SignalThroughput: 0.02}}, regressed: true, tested: true},
		{
			name:   "invalid runs carry the drop",
			signal: SignalThroughput,
			pts: series(noisy(9, 30, 2000, cv, 20, 0.5), func(i int, p *Point) {
				p.Valid = i < 20
			}),
			tested: true,
		},
		{
			name:   "invalid runs interleaved with a drop",
			signal: SignalThroughput,
			pts: series(concatValues(noisy(10, 24, 2000, cv, 99, 1), repeat(100, 6)), func(i int, p *Point) {
				if i >= 24 {
					p.Valid = false
				}
			}),
			tested: true,
		},
		{
			name:   "NaN and Inf count as invalid",
			signal: SignalLatencyP99,
			pts: series(noisy(11, 30, 0.3, cv, 99, 1), func(i int, p *Point) {
				switch i {
				case 27, 28:
					p.Value = math.NaN()
				case 29:
					p.Value = math.Inf(1)
				}
			}),
			tested: true,
		},
		{name: "too few runs", signal: SignalThroughput, pts: series(noisy(12, 12, 2000, cv, 99, 1), nil), reason: "too few valid runs"},
		{
			name:   "accepted change starts a new segment",
			signal: SignalThroughput,
			pts: series(noisy(13, 30, 2000, cv, 15, 0.7), func(i int, p *Point) {
				p.Accepted = i == 15
			}),
			tested: true,
		},
		{
			name:   "accepted change too recent to test",
			signal: SignalThroughput,
			pts: series(noisy(14, 30, 2000, cv, 25, 0.7), func(i int, p *Point) {
				p.Accepted = i == 25
			}),
			reason: "too few valid runs",
		},
		{name: "persistent regression keeps its old baseline", signal: SignalThroughput, pts: series(noisy(15, 70, 2000, cv, 30, 0.7), nil), regressed: true, tested: true, ratio: -0.3, cpAt: 30},
		{name: "persistent regression accepted", signal: SignalThroughput, pts: series(noisy(15, 70, 2000, cv, 30, 0.7), func(i int, p *Point) { p.Accepted = i == 30 }), tested: true},
		{
			name:      "improvement moves the baseline, then a fall back is a regression",
			signal:    SignalThroughput,
			pts:       series(concatValues(noisy(16, 30, 2000, cv, 99, 1), noisy(17, 30, 2600, cv, 99, 1), noisy(18, 3, 2000, cv, 99, 1)), nil),
			regressed: true, tested: true, ratio: -0.23, cpAt: 60,
		},
		{name: "error ratio 0 to 0.5 % is under the floor", signal: SignalErrorRatio, pts: series(concatValues(repeat(0, 27), repeat(0.005, 3)), nil), tested: true, reason: "minimum effect"},
		{name: "error ratio 0 to 5 %", signal: SignalErrorRatio, pts: series(concatValues(repeat(0, 27), repeat(0.05, 3)), nil), regressed: true, tested: true, ratio: 5},
		// (0.065+0.01)/(0.05+0.01) - 1 = 25 % < 50 %, though 1.5 points ≥ the floor.
		{name: "timeout ratio 5 % to 6.5 % is under the relative minimum", signal: SignalTimeoutRatio, pts: series(concatValues(noisy(19, 27, 0.05, cv, 99, 1), repeat(0.065, 3)), nil), tested: true, reason: "minimum effect"},
		{name: "timeout ratio 2 % to 5 %", signal: SignalTimeoutRatio, pts: series(concatValues(noisy(19, 27, 0.02, cv, 99, 1), repeat(0.05, 3)), nil), regressed: true, tested: true},
		{name: "unknown signal", signal: "cpu_seconds", pts: series(noisy(20, 30, 1, cv, 99, 1), nil), reason: "unknown signal"},
		{name: "Mann-Whitney finds a lone large drop", signal: SignalThroughput, pts: series(noisy(21, 30, 2000, cv, 27, 0.7), nil), o: Options{Method: MethodMannWhitney}, regressed: true, tested: true},
		{name: "Mann-Whitney with per-test alpha", signal: SignalThroughput, pts: series(noisy(22, 30, 2000, cv, 27, 0.7), nil), o: Options{Method: MethodMannWhitney, FDR: -1}, regressed: true, tested: true},
		{name: "Mann-Whitney ignores an improvement", signal: SignalThroughput, pts: series(noisy(23, 30, 2000, cv, 27, 1.3), nil), o: Options{Method: MethodMannWhitney}, tested: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := SeriesKey{Scenario: "gunicorn-gevent/sync/json", Signal: tt.signal}
			got := Detect(map[SeriesKey][]Point{key: tt.pts}, tt.o)
			if len(got) != 1 {
				t.Fatalf("Detect returned %d verdicts, want 1", len(got))
			}
			v := got[0]
			if v.Scenario != key.Scenario || v.Signal != key.Signal {
				t.Errorf("verdict for %s/%s, want %s/%s", v.Scenario, v.Signal, key.Scenario, key.Signal)
			}
			if v.Regressed != tt.regressed || v.Tested != tt.tested {
				t.Errorf("Regressed=%v Tested=%v, want %v %v (verdict %+v)", v.Regressed, v.Tested, tt.regressed, tt.tested, v)
			}
			if tt.reason != "" && !strings.Contains(v.Reason, tt.reason) {
				t.Errorf("Reason %q, want it to contain %q", v.Reason, tt.reason)
			}
			if v.Regressed && v.Reason != "" {
				t.Errorf("regressed verdict has Reason %q", v.Reason)
			}
			if tt.ratio != 0 && math.Abs(v.ChangeRatio-tt.ratio) > 0.05*math.Max(1, math.Abs(tt.ratio)) {
				t.Errorf("ChangeRatio = %.3f, want %.3f", v.ChangeRatio, tt.ratio)
			}
			if tt.cpAt != 0 {
				if v.ChangePoint == nil {
					t.Fatalf("no change point, want one at %d", tt.cpAt)
				}
				if d := v.ChangePoint.Index - tt.cpAt; d < -1 || d > 1 {
					t.Errorf("change point at %d, want %d ± 1", v.ChangePoint.Index, tt.cpAt)
				}
				if v.ChangePoint.RunID != tt.pts[v.ChangePoint.Index].RunID || !v.ChangePoint.Time.Equal(tt.pts[v.ChangePoint.Index].Time) {
					t.Errorf("change point run %q at %v does not match point %d", v.ChangePoint.RunID, v.ChangePoint.Time, v.ChangePoint.Index)
				}
			}
			if v.Tested {
				if v.BaselineN < DefaultMinBaseline || v.BaselineN > DefaultBaselineRuns {
					t.Errorf("BaselineN = %d, want %d to %d", v.BaselineN, DefaultMinBaseline, DefaultBaselineRuns)
				}
				if v.QValue < v.PValue {
					t.Errorf("QValue %g below PValue %g", v.QValue, v.PValue)
				}
				for i := v.BaselineStart; i < len(tt.pts); i++ {
					if tt.pts[i].Accepted && i > v.BaselineStart {
						t.Errorf("baseline starts at %d, before the accepted run %d", v.BaselineStart, i)
					}
				}
			} else if v.PValue != 1 || v.QValue != 1 || v.Reason == "" {
				t.Errorf("untested verdict has p=%g q=%g reason %q", v.PValue, v.QValue, v.Reason)
			}
		})
	}
}

// TestDetectMatrix checks what belongs to the whole call: the order of the
// verdicts and the Benjamini-Hochberg adjustment across series.
func TestDetectMatrix(t *testing.T) {
	in := map[SeriesKey][]Point{}
	scenarios := []string{"b/sync/json", "a/async/json", "a/sync/json"}
	for i, s := range scenarios {
		for j, sig := range Signals {
			step := 1.0
			if s == "a/sync/json" && sig == SignalLatencyP99 {
				step = 1.5
			}
			med := 1.0
			if sig == SignalErrorRatio || sig == SignalTimeoutRatio {
				med = 0.001
			}
			in[SeriesKey{s, sig}] = series(noisy(uint64(100+10*i+j), 30, med, 0.02, 27, step), nil)
		}
	}
	in[SeriesKey{"a/sync/json", "zz_custom"}] = series(noisy(7, 30, 1, 0.02, 99, 1), nil)
	tests := []struct {
		name string
		o    Options
	}{
		{name: "BH"},
		{name: "per-test alpha", o: Options{FDR: -1, Alpha: 0.01}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Detect(in, tt.o)
			if len(got) != len(in) {
				t.Fatalf("%d verdicts, want %d", len(got), len(in))
			}
			wantOrder := []SeriesKey{}
			for _, s := range []string{"a/async/json", "a/sync/json", "b/sync/json"} {
				for _, sig := range Signals {
					wantOrder = append(wantOrder, SeriesKey{s, sig})
				}
				if s == "a/sync/json" {
					wantOrder = append(wantOrder, SeriesKey{s, "zz_custom"})
				}
			}
			var p []float64
			for i, v := range got {
				if v.Tested && v.Reason != "" && !strings.HasPrefix(v.Reason, "not significant") {
					// Failed gates enter the adjustment at p = 1.
					if v.QValue != 1 && tt.o.FDR >= 0 {
						t.Errorf("%s/%s: gate failed (%s) but QValue %g", v.Scenario, v.Signal, v.Reason, v.QValue)
					}
				}
				if (SeriesKey{v.Scenario, v.Signal}) != wantOrder[i] {
					t.Errorf("verdict %d is %s/%s, want %v", i, v.Scenario, v.Signal, wantOrder[i])
				}
				wantRegressed := v.Scenario == "a/sync/json" && v.Signal == SignalLatencyP99
				if v.Regressed != wantRegressed {
					t.Errorf("%s/%s: Regressed=%v, want %v (%s)", v.Scenario, v.Signal, v.Regressed, wantRegressed, v.Reason)
				}
				if v.Tested {
					pv := v.PValue
					if v.Reason != "" && !strings.HasPrefix(v.Reason, "not significant") {
						pv = 1
					}
					p = append(p, pv)
				}
			}
			q := AdjustBH(p)
			k := 0
			for _, v := range got {
				if !v.Tested {
					continue
				}
				want := q[k]
				if tt.o.FDR < 0 {
					want = p[k]
				}
				if v.QValue != want {
					t.Errorf("%s/%s: QValue %g, want %g", v.Scenario, v.Signal, v.QValue, want)
				}
				k++
			}
			if want := len(scenarios) * len(Signals); k != want {
				t.Errorf("%d series tested, want %d", k, want)
			}
		})
	}
}

func TestDetectableChange(t *testing.T) {
	one := func(k SeriesKey, pts []Point) map[SeriesKey][]Point { return map[SeriesKey][]Point{k: pts} }
	thr := SeriesKey{"t/sync/e", SignalThroughput}
	p99 := SeriesKey{"t/sync/e", SignalLatencyP99}
	errs := SeriesKey{"t/sync/e", SignalErrorRatio}
	// many returns series with 399 companions of the same noise, so that
	// the lone change must pass BH at FDR/400.
	many := func(k SeriesKey, pts []Point, cv float64) map[SeriesKey][]Point {
		m := one(k, pts)
		for i := range 399 {
			m[SeriesKey{fmt.Sprintf("u/sync/e%03d", i), SignalLatencyP99}] = series(noisy(uint64(100+i), 23, 0.3, cv, 99, 1), nil)
		}
		return m
	}
	tests := []struct {
		name   string
		series map[SeriesKey][]Point
		k      SeriesKey
		o      Options
		want   float64 // exact, when wantLo == wantHi == 0
		lo, hi float64 // range otherwise
	}{
		// A flat baseline's noise is floored at MinNoise (1 %): the
		// minimum effect is the limit.
		{name: "flat throughput: the minimum effect", series: one(thr, series(repeat(2000, 23), nil)), k: thr, want: -0.05},
		{name: "flat p99: the minimum effect", series: one(p99, series(repeat(0.3, 23), nil)), k: p99, want: 0.10},
		// Ratios: 0 → 0.01 (the floor) is +100 % on the offset scale.
		{name: "no errors: the absolute floor", series: one(errs, series(repeat(0, 23), nil)), k: errs, want: 1},
		{name: "untested", series: one(thr, series(repeat(2000, 5), nil)), k: thr, want: 0},
		// σ = 0.3, se = 0.64 σ, (t(0.95; 19) + z(0.95)) · se ≈ 0.65 → −48 %.
		{name: "CV 30 %, alone", series: one(thr, series(noisy(7, 23, 2000, 0.3, 99, 1), nil)), k: thr, lo: -0.62, hi: -0.35},
		// At FDR/400 the critical t is ≈ 4.5: ≈ 3.9 σ.
		{name: "CV 3 %, 400 tests", series: many(p99, series(noisy(8, 23, 0.3, 0.03, 99, 1), nil), 0.03), k: p99, lo: 0.08, hi: 0.16},
		{name: "CV 30 %, 400 tests", series: many(p99, series(noisy(8, 23, 0.3, 0.3, 99, 1), nil), 0.3), k: p99, lo: 1.5, hi: 4},
		// Mann-Whitney's smallest p with 20 + 3 runs is 1/1771 > 0.05/400.
		{name: "Mann-Whitney, 400 tests", series: many(p99, series(noisy(8, 23, 0.3, 0.03, 99, 1), nil), 0.03), k: p99, o: Options{Method: MethodMannWhitney}, want: math.Inf(1)},
		{name: "Mann-Whitney, 400 tests, throughput", series: many(thr, series(noisy(8, 23, 2000, 0.03, 99, 1), nil), 0.03), k: thr, o: Options{Method: MethodMannWhitney}, want: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got float64
			found := false
			for _, v := range Detect(tt.series, tt.o) {
				if v.Scenario == tt.k.Scenario && v.Signal == tt.k.Signal {
					got, found = v.DetectableChange, true
				}
			}
			if !found {
				t.Fatal("no verdict for the series")
			}
			if tt.lo == 0 && tt.hi == 0 {
				if math.Abs(got-tt.want) > 1e-9 && got != tt.want {
					t.Errorf("DetectableChange = %v, want %v", got, tt.want)
				}
				return
			}
			if got < tt.lo || got > tt.hi {
				t.Errorf("DetectableChange = %v, want in [%v, %v]", got, tt.lo, tt.hi)
			}
		})
	}
}

// TestDetectSkipsUnmeasured: a series without a finite value (a signal
// its scenario never measures) gets no verdict; one of invalid but
// measured runs does.
func TestDetectSkipsUnmeasured(t *testing.T) {
	nan := []Point{{Value: math.NaN(), Valid: true}, {Value: math.NaN(), Valid: true}}
	invalid := []Point{{Value: 1000}, {Value: 990}}
	vs := Detect(map[SeriesKey][]Point{
		{Scenario: "t/-/e", Signal: SignalCPUPerRequest}: nan,
		{Scenario: "t/-/e", Signal: SignalThroughput}:    invalid,
	}, Options{})
	if len(vs) != 1 || vs[0].Signal != SignalThroughput || vs[0].Tested {
		t.Errorf("verdicts %+v, want one untested throughput verdict", vs)
	}
}
