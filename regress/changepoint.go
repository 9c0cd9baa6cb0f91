package regress

import (
	"math"
	"sort"
	"time"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Defaults of [CPOptions].
const (
	// DefaultCPWindow is the length of the sliding window, in runs, that
	// E-Divisive splits: 30 runs, about a month of daily runs or a day and
	// a bit of hourly ones. Windows keep an old, large shift from masking a
	// recent, small one, and keep the cost O(n·window) rather than O(n²).
	DefaultCPWindow = 30
	// DefaultCPMinSize is the fewest runs on either side of a change
	// point: 3, the confirmation length of [DefaultConfirm].
	DefaultCPMinSize = 3
	// DefaultCPMaxPValue is the t-test p-value a change point must
	// reach: 0.001. Change points start baseline segments, so a spurious
	// one costs baseline runs; a strict level keeps them rare.
	DefaultCPMaxPValue = 0.001
)

// CPOptions configures [ChangePoints]. The zero value uses the defaults.
type CPOptions struct {
	// Window is the window length in values; 0 means [DefaultCPWindow].
	// Values below 2·MinSize are raised to it.
	Window int
	// MinSize is the fewest values on either side of a change point;
	// 0 means [DefaultCPMinSize]; values below 2 are raised to 2.
	MinSize int
	// MaxPValue is the largest two-sided Student's t-test p-value of a change
	// point, between the values from the previous change point to it and
	// from it to the next; 0 means [DefaultCPMaxPValue].
	MaxPValue float64
	// MinMagnitude is the smallest absolute difference of the means on the
	// two sides, in the unit of the values; 0 means no minimum. [Detect]
	// passes log values and, when this is 0, uses log(1 + the signal's
	// minimum effect).
	MinMagnitude float64
}

func (o CPOptions) withDefaults() CPOptions {
	if o.MinSize == 0 {
		o.MinSize = DefaultCPMinSize
	}
	o.MinSize = max(o.MinSize, 2)
	if o.Window == 0 {
		o.Window = DefaultCPWindow
	}
	o.Window = max(o.Window, 2*o.MinSize)
	if o.MaxPValue == 0 {
		o.MaxPValue = DefaultCPMaxPValue
	}
	return o
}

// ChangePoint is a place where a series shifted: the first run of the new
// level.
type ChangePoint struct {
	// Index is the index, in the values given to [ChangePoints], of the
	// first value after the shift. [Detect] sets it to the index in the
	// series it was given (invalid points included).
	Index int
	// RunID and Time identify the run at Index; [ChangePoints] leaves them
	// empty, [Detect] fills them in.
	RunID string
	// Time is the time of the run at Index; zero from [ChangePoints].
	Time time.Time
	// Before and After are the means of the values from the previous change
	// point (or the start) up to Index, and from Index up to the next change
	// point (or the end). [Detect] converts them back to the signal's unit
	// (geometric means, as it works on logs).
	Before, After float64
	// PValue is the two-sided Student's t-test p-value of the values before
	// Index against those after it (each up to the neighbouring change point).
	PValue float64
}

// ChangePoints finds the places where the mean of values shifted, oldest
// first. It runs E-Divisive means (Matteson and James, 2014, with α = 1:
// the split that maximises the energy distance between the two sides) by
// binary segmentation inside windows of o.Window values that overlap by
// half, tests each split with Student's t-test instead of E-Divisive's
// permutation test (as Hunter does: deterministic and much cheaper), then
// merges the candidates of all windows and removes, weakest first, those
// that fail o.MaxPValue or o.MinMagnitude against their neighbours. NaN
// values are not allowed: filter them out first. values is not modified.
func ChangePoints(values []float64, o CPOptions) []ChangePoint {
	o = o.withDefaults()
	n := len(values)
	if n < 2*o.MinSize {
		return nil
	}
	var cand []int
	for start := 0; ; start += o.Window / 2 {
		end := min(start+o.Window, n)
		start = max(end-o.Window, 0)
		cand = segment(values, start, end, o, cand)
		if end == n {
			break
		}
	}
	sort.Ints(cand)
	cand = dedupe(values, cand, o)
	return prune(values, cand, o)
}

// segment appends to cand the change points found in values[lo:hi] by
// recursive binary segmentation.
func segment(values []float64, lo, hi int, o CPOptions, cand []int) []int {
	tau, ok := bestSplit(values[lo:hi], o.MinSize)
	if !ok {
		return cand
	}
	tau += lo
	if p, mag := tTest(values[lo:tau], values[tau:hi]); p > o.MaxPValue || mag < o.MinMagnitude {
		return cand
	}
	cand = append(cand, tau)
	cand = segment(values, lo, tau, o, cand)
	return segment(values, tau, hi, o, cand)
}

// bestSplit returns the split τ of x (minSize ≤ τ ≤ len(x)-minSize) that
// maximises the E-Divisive statistic
//
//	Q(τ) = τ(n-τ)/n · (2/(τ(n-τ)) Σ|a-b| − 1/C(τ,2) Σ|a-a'| − 1/C(n-τ,2) Σ|b-b'|)
//
// over a in x[:τ] and b in x[τ:], in O(n²). It returns false when x is
// too short or constant.
func bestSplit(x []float64, minSize int) (int, bool) {
	n := len(x)
	if n < 2*minSize {
		return 0, false
	}
	// cross = Σ_{i<τ≤j} |xi-xj|, left = Σ_{i<k<τ}, right = Σ_{τ≤j<k}.
	// Moving τ one step moves x[τ] from the right side to the left side.
	var right float64
	rowRight := make([]float64, n) // Σ_{j>i} |xi-xj|
	rowLeft := make([]float64, n)  // Σ_{j<i} |xi-xj|
	for i := range n {
		for j := i + 1; j < n; j++ {
			d := math.Abs(x[i] - x[j])
			rowRight[i] += d
			rowLeft[j] += d
			right += d
		}
	}
	left, cross := 0.0, 0.0
	best, bestTau := math.Inf(-1), 0
	for tau := 1; tau < n; tau++ {
		k := tau - 1 // x[k] moves from right to left
		right -= rowRight[k]
		cross += rowRight[k] - rowLeft[k]
		left += rowLeft[k]
		if tau < minSize || n-tau < minSize {
			continue
		}
		a, b := float64(tau), float64(n-tau)
		q := 2 * cross / (a * b)
		if tau > 1 {
			q -= left / (a * (a - 1) / 2)
		}
		if n-tau > 1 {
			q -= right / (b * (b - 1) / 2)
		}
		q *= a * b / float64(n)
		if q > best {
			best, bestTau = q, tau
		}
	}
	if bestTau == 0 || best <= 0 {
		return 0, false
	}
	return bestTau, true
}

// tTest returns the two-sided p-value of Student's two-sample t-test (pooled
// variance) of a against b, and the absolute difference of their means.
// The pooled variance, rather than Welch's, keeps a side of three runs whose
// values happen to agree from looking infinitely precise; on log values the
// two sides of a shift have about the same variance anyway.
func tTest(a, b []float64) (p, magnitude float64) {
	ma, va := stat.MeanVariance(a, nil)
	mb, vb := stat.MeanVariance(b, nil)
	magnitude = math.Abs(mb - ma)
	na, nb := float64(len(a)), float64(len(b))
	if len(a) < 2 || len(b) < 2 {
		return 1, magnitude
	}
	df := na + nb - 2
	pooled := ((na-1)*va + (nb-1)*vb) / df
	se := math.Sqrt(pooled * (1/na + 1/nb))
	if se == 0 {
		if magnitude == 0 {
			return 1, 0
		}
		return 0, magnitude
	}
	return 2 * distuv.StudentsT{Mu: 0, Sigma: 1, Nu: df}.Survival(magnitude/se), magnitude
}

// dedupe keeps, of candidates closer than o.MinSize to each other (found by
// overlapping windows), the one with the smaller p-value against its
// immediate surroundings. cand must be sorted.
func dedupe(values []float64, cand []int, o CPOptions) []int {
	var out []int
	for _, c := range cand {
		if len(out) > 0 && c-out[len(out)-1] < o.MinSize {
			last := out[len(out)-1]
			if c == last {
				continue
			}
			lo := max(last-o.Window/2, 0)
			hi := min(c+o.Window/2, len(values))
			pl, _ := tTest(values[lo:last], values[last:hi])
			pc, _ := tTest(values[lo:c], values[c:hi])
			if pc < pl {
				out[len(out)-1] = c
			}
			continue
		}
		out = append(out, c)
	}
	return out
}

// prune tests every candidate against the values between its neighbours and
// removes the weakest failing one until all pass, then returns the change
// points with their statistics.
func prune(values []float64, cand []int, o CPOptions) []ChangePoint {
	for {
		weakest, weakestP := -1, -1.0
		cps := make([]ChangePoint, len(cand))
		for i, c := range cand {
			lo, hi := 0, len(values)
			if i > 0 {
				lo = cand[i-1]
			}
			if i+1 < len(cand) {
				hi = cand[i+1]
			}
			a, b := values[lo:c], values[c:hi]
			p, mag := tTest(a, b)
			cps[i] = ChangePoint{Index: c, Before: stat.Mean(a, nil), After: stat.Mean(b, nil), PValue: p}
			fails := p > o.MaxPValue || mag < o.MinMagnitude || len(a) < o.MinSize || len(b) < o.MinSize
			// Rank failing candidates by p-value, and magnitude failures
			// (which may have tiny p-values) before all of them.
			score := p
			if mag < o.MinMagnitude {
				score = 2
			}
			if fails && score > weakestP {
				weakest, weakestP = i, score
			}
		}
		if weakest < 0 {
			if len(cps) == 0 {
				return nil
			}
			return cps
		}
		cand = append(cand[:weakest:weakest], cand[weakest+1:]...)
	}
}
