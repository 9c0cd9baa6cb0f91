package regress

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"golang.org/x/perf/benchmath"
	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Point is one run's value of one series.
type Point struct {
	// RunID identifies the run in the history.
	RunID string
	// Time is when the run (or the scenario within it) ended.
	Time time.Time
	// Value is the signal's value in its unit: requests per second,
	// seconds, or a ratio from 0 to 1. NaN and ±Inf count as invalid.
	Value float64
	// Valid is false for a run [Validity] rejected: it is kept in the
	// series so indexes match the history, but never tested or used.
	Valid bool
	// Version is the deploy marker of the target at this run, or empty.
	// [Detect] does not use it; it is carried so callers can tie a change
	// point to a deploy.
	Version string
	// Accepted is true when a new baseline segment starts at this run (a
	// human accepted a change, or the scenario's settings changed):
	// nothing before it is used.
	Accepted bool
}

// SeriesKey names one series: a scenario ("target/mode/endpoint") and a signal.
type SeriesKey struct {
	// Scenario is the scenario name, "target/mode/endpoint".
	Scenario string
	// Signal is the watched signal.
	Signal Signal
}

// Method is the test [Detect] uses to compare the newest runs with the baseline.
type Method string

// The tests [Detect] offers.
const (
	// MethodRobustZ compares the mean of the log values of the newest runs
	// with the median of the log baseline, scaled by the larger of the
	// baseline's MAD·1.4826 and standard deviation (floored at
	// Options.MinNoise) and by the standard error of a mean of k and a
	// median of n, against a Student t with n-1 degrees of freedom,
	// one-sided. It reaches the small p-values that an FDR over
	// hundreds of tests needs with few runs.
	MethodRobustZ Method = "robust_z"
	// MethodMannWhitney is the Mann-Whitney U test of
	// golang.org/x/perf/benchmath (two-sided, halved to one side). It assumes
	// nothing about the noise, but with k newest runs and n baseline runs its
	// smallest one-sided p-value is 1/C(n+k, k): 5.6e-4 for k=3, n=20, above
	// the 1.25e-4 that BH at q=0.05 needs for a lone change among 400 tests.
	MethodMannWhitney Method = "mann_whitney"
	// MethodLeastWorse tests the least worse of the newest k log values:
	// the smallest deviation from the baseline median towards the worse
	// side, in units of the same σ as [MethodRobustZ], with p the chance
	// that k normal null values all lie at least that far out, given that
	// the baseline median (variance π/(2n)·σ²) and the noise estimate
	// (χ² of n-1 degrees of freedom) are themselves uncertain. One or two
	// outlying runs cannot make it small, where they can move a mean: real
	// run-to-run noise has heavier tails than the normal
	// (docs/regressions.md, "A/A on real runs").
	MethodLeastWorse Method = "least_worse"
)

// Defaults of [Options]. docs/regressions.md gives the source of each.
const (
	// DefaultConfirm is the number of newest valid runs tested together,
	// each of which must be worse than the baseline median: 3.
	DefaultConfirm = 3
	// DefaultBaselineRuns is the largest number of valid runs in the
	// rolling baseline: 20.
	DefaultBaselineRuns = 20
	// DefaultMinBaseline is the fewest valid baseline runs for a test: 10.
	DefaultMinBaseline = 10
	// DefaultFDR is the Benjamini-Hochberg false discovery rate across all
	// tests of one call: 0.05.
	DefaultFDR = 0.05
	// DefaultAlpha is the per-test level used when the FDR is switched off
	// (Options.FDR < 0): 0.01.
	DefaultAlpha = 0.01
	// DefaultMinNoise is the floor of the baseline's noise estimate on the
	// log scale: 0.01 (1 %), so a flat baseline (all zero errors) does not
	// make every difference infinitely significant.
	DefaultMinNoise = 0.01
	// DefaultMaxHistory is the number of newest valid runs of a segment
	// that the change point pass looks at: 200.
	DefaultMaxHistory = 200
	// DefaultMethod is the test used: [MethodLeastWorse]. On real A/A runs
	// resampled into a matrix of the default's size it raised 1.3 false
	// alarms per 1,000 scenario-runs against 4.5 for [MethodRobustZ],
	// whose p-values were 9 times too small at 1e-4 (docs/regressions.md).
	DefaultMethod = MethodLeastWorse
	// DetectablePower is the probability of detection that
	// [Verdict.DetectableChange] is computed for: 0.95, the power issue 6
	// asks of a step found within Confirm runs.
	DetectablePower = 0.95
)

// DefaultMinEffect returns the default smallest relative change, per signal,
// that can count as a regression: 5 % for throughput, 10 % for latency p50
// and p99, 50 % for the error and timeout ratios (on the scale offset by
// their absolute floor, see [DefaultAbsFloor]), and 3 % for the CPU cost per
// request, whose run-to-run noise on a quiet machine is 1.4–3 % (so that a
// 5 % step passes the gate). The result is a new map.
func DefaultMinEffect() map[Signal]float64 {
	return map[Signal]float64{
		SignalThroughput:    0.05,
		SignalLatencyP50:    0.10,
		SignalLatencyP99:    0.10,
		SignalErrorRatio:    0.50,
		SignalTimeoutRatio:  0.50,
		SignalCPUPerRequest: 0.03,
		// Measured run-to-run noise 0.02–0.3 % (docs/regressions.md):
		// 0.5 % lets a 1 % step pass the gate.
		SignalInstructionsPerRequest: 0.005,
	}
}

// DefaultSignalMinNoise returns the floors of the noise estimate (log
// scale) for signals far quieter than [DefaultMinNoise] allows for: 0.001
// (0.1 %) for instructions per request, whose run-to-run spread measured
// on the reference views is 0.02–0.3 % (docs/regressions.md). Signals
// absent use Options.MinNoise. The result is a new map.
func DefaultSignalMinNoise() map[Signal]float64 {
	return map[Signal]float64{SignalInstructionsPerRequest: 0.001}
}

// DefaultAbsFloor returns the default smallest absolute change, per signal
// in its unit, that can count as a regression: 0.01 (one percentage point)
// for the error and timeout ratios, 1 request/s for throughput, none for
// the latencies. It is also the offset added before taking logs: for the
// ratios so that 0 → 0.1 % is not an infinite relative change; for
// throughput so that a run that completed nothing (a target stalled or
// restarting: 0 requests/s) is log(1) = 0, not a −27.6 outlier that hides
// every change point and inflates the baseline's spread. The live alert
// test found it: two such runs at a target's restart silenced its −98 %
// regression. A rate below about one request per second of the measured
// window is not resolved anyway. The result is a new map.
func DefaultAbsFloor() map[Signal]float64 {
	return map[Signal]float64{
		SignalThroughput:   1,
		SignalErrorRatio:   0.01,
		SignalTimeoutRatio: 0.01,
	}
}

// Options configures [Detect]. The zero value uses the defaults.
type Options struct {
	// MinEffect is the smallest relative change of the newest runs'
	// median against the baseline median, per signal, towards the worse
	// direction (0.05 = 5 %). A signal absent from the map, or a nil map,
	// uses [DefaultMinEffect]; a present 0 means any change.
	MinEffect map[Signal]float64
	// AbsFloor is the smallest absolute change, per signal, in the
	// signal's unit, and the log offset of that signal. Absent signals use
	// [DefaultAbsFloor]; a present 0 means none.
	AbsFloor map[Signal]float64
	// Confirm is k, the number of newest valid runs tested together; each
	// must be worse than the baseline median. 0 means [DefaultConfirm].
	Confirm int
	// BaselineRuns is the largest number of valid runs in the baseline;
	// 0 means [DefaultBaselineRuns].
	BaselineRuns int
	// MinBaseline is the fewest valid baseline runs for a test; 0 means
	// [DefaultMinBaseline]. Raised to 3 if lower.
	MinBaseline int
	// FDR is the Benjamini-Hochberg level across all tests of the call;
	// 0 means [DefaultFDR]; negative switches BH off and tests each
	// series at Alpha.
	FDR float64
	// Alpha is the per-test level when FDR is negative; 0 means [DefaultAlpha].
	Alpha float64
	// MinNoise is the floor of the noise estimate (log scale) of
	// [MethodRobustZ] and [MethodLeastWorse]; 0 means [DefaultMinNoise].
	MinNoise float64
	// SignalMinNoise overrides MinNoise per signal; a signal absent from
	// the map, or a nil map, uses [DefaultSignalMinNoise] and then
	// MinNoise; a present value of 0 or less means MinNoise.
	SignalMinNoise map[Signal]float64
	// Method is the test; "" means [DefaultMethod].
	Method Method
	// MaxHistory is the number of newest valid runs of a segment that the
	// change point pass reads; 0 means [DefaultMaxHistory].
	MaxHistory int
	// ChangePoints configures the change point pass. A zero MinMagnitude
	// means log(1 + the signal's MinEffect).
	ChangePoints CPOptions
}

func (o Options) withDefaults() Options {
	effect, floor, noise := DefaultMinEffect(), DefaultAbsFloor(), DefaultSignalMinNoise()
	maps.Copy(effect, o.MinEffect)
	maps.Copy(floor, o.AbsFloor)
	maps.Copy(noise, o.SignalMinNoise)
	o.MinEffect, o.AbsFloor, o.SignalMinNoise = effect, floor, noise
	if o.Confirm <= 0 {
		o.Confirm = DefaultConfirm
	}
	if o.BaselineRuns <= 0 {
		o.BaselineRuns = DefaultBaselineRuns
	}
	if o.MinBaseline <= 0 {
		o.MinBaseline = DefaultMinBaseline
	}
	o.MinBaseline = max(o.MinBaseline, 3)
	o.BaselineRuns = max(o.BaselineRuns, o.MinBaseline)
	if o.FDR == 0 {
		o.FDR = DefaultFDR
	}
	if o.Alpha == 0 {
		o.Alpha = DefaultAlpha
	}
	if o.MinNoise <= 0 {
		o.MinNoise = DefaultMinNoise
	}
	if o.Method == "" {
		o.Method = DefaultMethod
	}
	if o.MaxHistory <= 0 {
		o.MaxHistory = DefaultMaxHistory
	}
	return o
}

// Verdict is the detector's answer for one series.
type Verdict struct {
	// Scenario and Signal name the series.
	Scenario string
	// Signal is the series' signal.
	Signal Signal
	// Regressed is true when the newest runs are a confirmed regression.
	Regressed bool
	// Tested is true when the series had enough valid runs to be tested;
	// Reason says why not otherwise.
	Tested bool
	// ChangeRatio is Current / BaselineMedian - 1, signed (negative when
	// the value fell). For signals with an absolute floor both sides are
	// offset by it first, so that 0 → 0.02 is 2, not +Inf. 0 when untested.
	ChangeRatio float64
	// PValue is the one-sided p-value of the test (towards the worse
	// direction); 1 when untested.
	PValue float64
	// QValue is the Benjamini-Hochberg adjusted p-value across all series
	// tested in the call (the p-value itself when the FDR is off). A series whose
	// minimum effect or confirmation failed enters the adjustment with
	// p = 1, so its QValue is 1 (or the largest q of the call). 1 when
	// untested.
	QValue float64
	// BaselineMedian is the median of the baseline runs, in the signal's
	// unit; 0 when there is no baseline.
	BaselineMedian float64
	// Current is the median of the newest Confirm valid runs (or the newest
	// valid value when untested), in the signal's unit; NaN when the
	// baseline segment has no valid run.
	Current float64
	// BaselineN is the number of runs in the baseline.
	BaselineN int
	// BaselineStart is the index in the series of the first baseline run;
	// -1 when there is no baseline.
	BaselineStart int
	// DetectableChange is the smallest sustained step, as a change ratio
	// (signed like ChangeRatio, towards the worse direction: -0.3 for
	// throughput is a 30 % drop), that this series' test would confirm
	// with probability [DetectablePower] once Confirm runs have it, given
	// the baseline's noise, the number of series tested in the call (a lone
	// change must pass Benjamini-Hochberg at FDR/m), the minimum effect and
	// the absolute floor. It uses the normal approximation of the test
	// statistic. When no step can be detected (Mann-Whitney with too few
	// runs, or an absolute floor above the baseline) it is +Inf, or -1 (a
	// drop to nothing) for throughput; 0 when untested.
	DetectableChange float64
	// ChangePoint is the change point the verdict refers to: the first
	// change towards the worse direction since the baseline segment began
	// (the baseline ends before it), else the latest change point of the
	// segment; nil when there is none.
	ChangePoint *ChangePoint
	// Reason says, in words, why the series was not tested or not found
	// regressed; empty for a regression.
	Reason string
}

// pending is a tested series waiting for the BH adjustment.
type pending struct {
	verdict  int // index in the result
	p        float64
	effectOK bool
	confirm  bool
	// For DetectableChange: the standard error of the test statistic on
	// the log scale, the baseline size, the smallest log change the
	// effect and floor gates let through, the direction, and the
	// smallest p-value the test can give (0 for the t test).
	se, minLog, dir, minP float64
	n                     int
	// For [MethodLeastWorse]: the noise σ and the number of newest runs.
	sigma float64
	k     int
}

// Detect tests every series and returns one verdict per series, sorted by
// scenario and then by the order of [Signals] (unknown signals last, by
// name); a series without a single finite value (a signal its scenario
// never measures: CPU per request of a URL target, instructions outside a
// lane) gets none, so that its metrics are absent rather than 0. series
// maps each series to its points, oldest first, invalid ones included; it
// is not modified. The Benjamini-Hochberg adjustment covers
// every series tested in this call, so call it once per run with the whole
// matrix.
func Detect(series map[SeriesKey][]Point, o Options) []Verdict {
	o = o.withDefaults()
	keys := make([]SeriesKey, 0, len(series))
	for k, pts := range series {
		if slices.ContainsFunc(pts, func(p Point) bool { return !math.IsNaN(p.Value) && !math.IsInf(p.Value, 0) }) {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return lessKey(keys[i], keys[j]) })
	out := make([]Verdict, 0, len(keys))
	var tests []pending
	for _, k := range keys {
		v, t, ok := detectOne(k, series[k], o)
		out = append(out, v)
		if ok {
			t.verdict = len(out) - 1
			tests = append(tests, t)
		}
	}
	// A test whose effect or confirmation gate failed cannot become a
	// regression: it enters the adjustment with p = 1. Raising p-values
	// keeps them valid, and it stops the ratio signals, whose p-values are
	// too small under bursty errors (see docs/regressions.md), from
	// loosening the BH threshold for everyone else.
	p := make([]float64, len(tests))
	for i, t := range tests {
		p[i] = t.p
		if !t.effectOK || !t.confirm {
			p[i] = 1
		}
	}
	q := p
	level := o.Alpha
	if o.FDR > 0 {
		q = AdjustBH(p)
		level = o.FDR
	}
	// A lone change among m tests passes BH when p <= FDR/m.
	lone := o.Alpha
	if o.FDR > 0 && len(tests) > 0 {
		lone = o.FDR / float64(len(tests))
	}
	for i, t := range tests {
		v := &out[t.verdict]
		v.DetectableChange = detectable(t, lone)
		v.QValue = q[i]
		switch {
		case !t.effectOK:
			v.Reason = "change below the minimum effect"
		case !t.confirm:
			v.Reason = fmt.Sprintf("not confirmed: not all of the newest %d runs are worse than the baseline median by the absolute floor", o.Confirm)
		case q[i] > level:
			v.Reason = fmt.Sprintf("not significant: q=%.3g > %g", q[i], level)
		default:
			v.Regressed = true
			v.Reason = ""
		}
	}
	return out
}

func lessKey(a, b SeriesKey) bool {
	if a.Scenario != b.Scenario {
		return a.Scenario < b.Scenario
	}
	ia, ib := slices.Index(Signals, a.Signal), slices.Index(Signals, b.Signal)
	if ia < 0 {
		ia = len(Signals)
	}
	if ib < 0 {
		ib = len(Signals)
	}
	return cmp.Or(cmp.Compare(ia, ib), cmp.Compare(a.Signal, b.Signal)) < 0
}

// detectOne builds the verdict of one series and, when it can be tested,
// its test.
func detectOne(k SeriesKey, pts []Point, o Options) (Verdict, pending, bool) {
	v := Verdict{Scenario: k.Scenario, Signal: k.Signal, PValue: 1, QValue: 1, BaselineStart: -1}
	dir := float64(Direction(k.Signal))
	if dir == 0 {
		v.Reason = fmt.Sprintf("unknown signal %q", k.Signal)
		return v, pending{}, false
	}
	floor := o.AbsFloor[k.Signal]
	offset := floor
	if offset <= 0 {
		offset = logOffset
	}
	// The segment starts at the last accepted run.
	seg := 0
	for i, p := range pts {
		if p.Accepted {
			seg = i
		}
	}
	var idx []int // indexes in pts of the valid points of the segment
	for i := seg; i < len(pts); i++ {
		if p := pts[i]; p.Valid && !math.IsNaN(p.Value) && !math.IsInf(p.Value, 0) {
			idx = append(idx, i)
		}
	}
	v.Current = math.NaN()
	if len(idx) > 0 {
		v.Current = pts[idx[len(idx)-1]].Value
	}
	kc := o.Confirm
	need := o.MinBaseline + kc
	if len(idx) < need {
		v.Reason = fmt.Sprintf("too few valid runs in the baseline segment (since the last accepted change or change of settings): %d, need %d", len(idx), need)
		return v, pending{}, false
	}
	if len(idx) > o.MaxHistory {
		idx = idx[len(idx)-o.MaxHistory:]
	}
	n := len(idx)
	y := make([]float64, n)
	for i, j := range idx {
		y[i] = transform(pts[j].Value, offset)
	}
	cpo := o.ChangePoints
	if cpo.MinMagnitude == 0 {
		cpo.MinMagnitude = math.Log1p(o.MinEffect[k.Signal])
	}
	cps := ChangePoints(y, cpo)
	newStart := n - kc
	// The baseline segment restarts at a change towards the better
	// direction (the last that qualifies), and ends at the first change
	// towards the worse direction after it (or at the newest runs). A
	// change qualifies when
	//   - its level is no worse than the current baseline's (within the
	//     change point magnitude): an improvement becomes the new normal,
	//     but a partial recovery from a regression does not, or it would
	//     absorb the rest of the regression;
	//   - it leaves MinBaseline runs before that end: an improvement
	//     followed too soon by a worse change cannot hold a baseline, and
	//     the worse change must still be tested (rather than never, which
	//     is what a baseline stuck below MinBaseline runs would mean).
	// Both cases were found by the live alert test: a target that warmed
	// up over its first runs, and a slowed one whose first slow runs were
	// slower still.
	worseAfter := func(start int) (int, *ChangePoint) {
		for i := range cps {
			c := &cps[i]
			if c.Index > start && c.Index <= newStart && dir*(c.After-c.Before) > 0 {
				return c.Index, c
			}
		}
		return newStart, nil
	}
	segStart := 0
	if len(cps) > 0 {
		level := cps[0].Before
		for _, c := range cps {
			if dir*(c.After-c.Before) >= 0 || dir*(c.After-level) > cpo.MinMagnitude || newStart-c.Index < o.MinBaseline {
				continue
			}
			if end, _ := worseAfter(c.Index); end-c.Index >= o.MinBaseline {
				segStart, level = c.Index, c.After
			}
		}
	}
	baseEnd, ref := worseAfter(segStart)
	if ref == nil {
		for i := len(cps) - 1; i >= 0; i-- {
			if cps[i].Index >= segStart {
				ref = &cps[i]
				break
			}
		}
	}
	if ref != nil {
		c := *ref
		c.Before, c.After = untransform(c.Before, offset), untransform(c.After, offset)
		c.Index = idx[c.Index]
		c.RunID, c.Time = pts[c.Index].RunID, pts[c.Index].Time
		v.ChangePoint = &c
	}
	baseStart := max(segStart, baseEnd-o.BaselineRuns)
	base, recent := y[baseStart:baseEnd], y[newStart:]
	v.BaselineN = len(base)
	if len(base) > 0 {
		v.BaselineStart = idx[baseStart]
		v.BaselineMedian = untransform(Median(base), offset)
	}
	v.Current = untransform(Median(recent), offset)
	if len(base) < o.MinBaseline {
		v.Reason = fmt.Sprintf("too few baseline runs before the change point: %d, need %d", len(base), o.MinBaseline)
		return v, pending{}, false
	}
	v.Tested = true
	mb := Median(base)
	v.ChangeRatio = math.Exp(Median(recent)-mb) - 1
	// Confirmation: every newest run is worse than the baseline median,
	// and by at least the absolute floor, so that for the ratios a burst
	// of errors in one or two runs does not count.
	t := pending{confirm: true}
	for _, j := range idx[newStart:] {
		raw := pts[j].Value
		if dir*(transform(raw, offset)-mb) <= 0 || dir*(math.Max(raw, 0)-v.BaselineMedian) < floor {
			t.confirm = false
		}
	}
	rawChange := v.Current - v.BaselineMedian
	t.effectOK = dir*v.ChangeRatio >= o.MinEffect[k.Signal] && dir*rawChange >= floor
	minNoise := o.MinNoise
	if n := o.SignalMinNoise[k.Signal]; n > 0 {
		minNoise = n
	}
	t.n, t.dir = len(base), dir
	switch o.Method {
	case MethodLeastWorse:
		t.p, t.sigma = leastWorse(base, recent, dir, minNoise)
		t.k = len(recent)
	case MethodMannWhitney:
		// DetectableChange is the robust z's, unless the U test cannot
		// reach the level at all (minP).
		_, t.se = robustZ(base, recent, dir, minNoise)
		t.p = mannWhitney(base, recent, dir)
		t.minP = 1 / binomial(len(base)+len(recent), len(recent))
	default:
		t.p, t.se = robustZ(base, recent, dir, minNoise)
	}
	// The smallest log change the effect and floor gates accept: the
	// effect gate is on the change ratio, so a drop of e is log(1-e).
	if e := o.MinEffect[k.Signal]; dir > 0 {
		t.minLog = math.Log1p(e)
	} else if e < 1 {
		t.minLog = -math.Log1p(-e)
	} else {
		t.minLog = math.Inf(1)
	}
	if floor > 0 {
		b := v.BaselineMedian + offset
		switch {
		case dir > 0:
			t.minLog = math.Max(t.minLog, math.Log1p(floor/b))
		case floor < b:
			t.minLog = math.Max(t.minLog, -math.Log1p(-floor/b))
		default:
			t.minLog = math.Inf(1)
		}
	}
	v.PValue = t.p
	return v, t, true
}

// detectable is [Verdict.DetectableChange] of test t when a lone change
// needs a p-value of at most level: the log step d at which the statistic
// (d/se on average) exceeds the critical t with probability
// [DetectablePower], raised to the gates' minimum. This is the usual
// approximation of a t test's power, t(1-level) + t(power) standard errors.
func detectable(t pending, level float64) float64 {
	if t.minP > level {
		return math.Expm1(t.dir * math.Inf(1))
	}
	if t.k > 0 {
		return math.Expm1(t.dir * math.Max(leastWorseDetectable(t.sigma, level, t.n, t.k), t.minLog))
	}
	// Both quantiles from Student's t: σ is estimated from the n
	// baseline runs, which widens the statistic's spread around d/se too
	// (with the normal quantile for the power, trials found 92 %).
	tn := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(t.n - 1)}
	d := (tn.Quantile(1-level) + tn.Quantile(DetectablePower)) * t.se
	d = math.Max(d, t.minLog)
	return math.Expm1(t.dir * d)
}

// binomial is the binomial coefficient C(n, k) as a float64.
func binomial(n, k int) float64 {
	c := 1.0
	for i := 1; i <= k; i++ {
		c = c * float64(n-k+i) / float64(i)
	}
	return c
}

// robustZ is the one-sided p-value of the newest log values being worse
// (towards dir) than the log baseline, and the standard error it scaled
// the difference by.
func robustZ(base, recent []float64, dir, minNoise float64) (p, se float64) {
	mb, sigma := noise(base, minNoise)
	var mean float64
	for _, r := range recent {
		mean += r
	}
	mean /= float64(len(recent))
	// Standard error of a mean of k values minus a median of n values
	// (asymptotic variance of a normal median: π/2 · σ²/n).
	n, k := float64(len(base)), float64(len(recent))
	se = sigma * math.Sqrt(1/k+math.Pi/(2*n))
	t := dir * (mean - mb) / se
	return distuv.StudentsT{Mu: 0, Sigma: 1, Nu: n - 1}.Survival(t), se
}

// noise returns the median of the log baseline and its noise σ: the
// larger of 1.4826·MAD and the standard deviation, floored at minNoise.
func noise(base []float64, minNoise float64) (median, sigma float64) {
	mb := Median(base)
	dev := make([]float64, len(base))
	for i, b := range base {
		dev[i] = math.Abs(b - mb)
	}
	// The larger of the MAD and the standard deviation errs towards
	// silence: the MAD alone is 0 for a baseline of mostly zero error
	// ratios with a few bursts, and for 20 normal runs it is a noisier
	// estimate of σ than the standard deviation (it comes out low more
	// often, and a low σ is a false alarm).
	return mb, math.Max(math.Max(1.4826*Median(dev), stat.StdDev(base, nil)), minNoise)
}

// mannWhitney is the one-sided Mann-Whitney U p-value of recent being worse
// (towards dir) than base, from benchmath's two-sided test.
func mannWhitney(base, recent []float64, dir float64) float64 {
	th := benchmath.DefaultThresholds
	// NewSample sorts in place: give it copies.
	c := benchmath.AssumeNothing.Compare(
		benchmath.NewSample(slices.Clone(base), &th),
		benchmath.NewSample(slices.Clone(recent), &th))
	p := c.P / 2
	if dir*(Median(recent)-Median(base)) <= 0 {
		return 1 - p
	}
	return p
}

// Median returns the median of x (the mean of the two middle values for an
// even length) without modifying x; NaN for an empty x.
func Median(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	s := slices.Clone(x)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}
