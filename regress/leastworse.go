package regress

import (
	"math"
	"sync"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/stat/distuv"
)

// hermiteNodes is the number of Gauss-Hermite nodes per dimension of
// [leastWorseSurvival]: over the baseline median's error δ and over the
// normal score z of the noise estimate's ratio u to the true σ. 24 × 24
// nodes match a fine trapezoid to 1e-4 relative
// (TestLeastWorseSurvivalQuadrature).
const hermiteNodes = 24

// hermiteX and hermiteW are gonum's Gauss-Hermite locations and weights
// for ∫ f(x) e^(-x²) dx, computed once.
var hermiteX, hermiteW = func() ([]float64, []float64) {
	x, w := make([]float64, hermiteNodes), make([]float64, hermiteNodes)
	quad.Hermite{}.FixedLocations(x, w, math.Inf(-1), math.Inf(1))
	return x, w
}()

// noiseRatio is u at normal score z for a baseline of n runs: the ratio of
// the standard deviation of n normal values to σ at probability Φ(z) (u²
// is χ² with n−1 degrees of freedom over n−1).
func noiseRatio(z float64, n int) float64 {
	// Φ(z) rounds to 1 beyond z ≈ 8.3; the outermost nodes' weights are
	// below 1e-18, so a quantile just under 1 is as good as the exact one.
	p := math.Min(distuv.UnitNormal.CDF(z), 1-1e-15)
	return math.Sqrt(distuv.ChiSquared{K: float64(n - 1)}.Quantile(p) / float64(n-1))
}

// noiseRatios returns [noiseRatio] at each Gauss-Hermite node (z = √2·x).
func noiseRatios(n int) []float64 {
	u := make([]float64, hermiteNodes)
	for i, x := range hermiteX {
		u[i] = noiseRatio(math.Sqrt2*x, n)
	}
	return u
}

// leastWorseSurvival is g(c) = P(every one of k newest values lies at
// least c estimated noise units beyond the baseline median) under the
// null, for normal log noise: newest values μ + σε (ε standard normal),
// the baseline median μ + σδ (δ normal of variance π/(2n), the asymptotic
// variance of a median of n normal values), the noise estimate σu (u as
// [noiseRatio]; the estimate used is at least the standard deviation, so
// this errs towards silence). All k share δ and u, so
// g(c) = E_{δ,u}[Φ̄(c·u + δ)^k]. Decreasing in c; 1 at −∞, 0 at +∞.
func leastWorseSurvival(c float64, n, k int) float64 {
	return survival(c, n, k, noiseRatios(n))
}

// survival is [leastWorseSurvival] with u, [noiseRatios](n), given.
func survival(c float64, n, k int, u []float64) float64 {
	s := math.Sqrt(math.Pi / (2 * float64(n)))
	var sum float64
	for i, x := range hermiteX {
		d := math.Sqrt2 * s * x
		for j, w := range hermiteW {
			sum += hermiteW[i] * w * math.Pow(0.5*math.Erfc((c*u[j]+d)/math.Sqrt2), float64(k))
		}
	}
	return sum / math.Pi
}

// leastWorse is the one-sided p-value of [MethodLeastWorse]: the newest
// log values' smallest deviation from the baseline median towards dir, in
// units of the baseline noise σ (as [robustZ] estimates it), through
// [leastWorseSurvival] (tabulated). It returns p and σ. A single outlying
// run cannot make p small: every newest run has to be far out.
func leastWorse(base, recent []float64, dir, minNoise float64) (p, sigma float64) {
	mb, sigma := noise(base, minNoise)
	least := math.Inf(1)
	for _, r := range recent {
		least = math.Min(least, dir*(r-mb))
	}
	return survivalTable(len(base), len(recent)).p(least / sigma), sigma
}

// The grid of [survivalTable]: c from tableMin in steps of tableStep.
const (
	tableMin  = -8.0
	tableMax  = 24.0
	tableStep = 0.02
)

// table is log [leastWorseSurvival](c, n, k) on the grid, for one (n, k);
// n is the baseline size.
type table struct {
	logG []float64
	n    int
}

// p returns g(c) by linear interpolation of log g on the grid: g(tableMin)
// below it; above it (p < 1e-12, far below any level BH uses), g falls as
// c^-(n-1), the tail of a noise estimate near 0 (u^(n-1)): an order of
// magnitude only. Relative error below 1e-3 on the grid (TestSurvivalTable).
func (t table) p(c float64) float64 {
	if math.IsNaN(c) {
		return 1
	}
	x := (c - tableMin) / tableStep
	last := len(t.logG) - 1
	switch {
	case x <= 0:
		return math.Exp(t.logG[0])
	case x >= float64(last):
		return math.Exp(t.logG[last] - float64(t.n-1)*math.Log(c/tableMax))
	}
	i := int(x)
	f := x - float64(i)
	return math.Exp(t.logG[i]*(1-f) + t.logG[i+1]*f)
}

// quantile returns c with p(c) = p, for p in (0, 1), by bisection on the table.
func (t table) quantile(p float64) float64 {
	lo, hi := tableMin-1, tableMax*4
	for range 200 {
		mid := (lo + hi) / 2
		if t.p(mid) > p {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo < 1e-9 {
			break
		}
	}
	return (lo + hi) / 2
}

type tableKey struct{ n, k int }

// tables holds the survival tables per (n, k), bounded: Detect asks for
// the same few baseline sizes and k over and over.
var tables = struct {
	sync.Mutex
	m map[tableKey]table
}{m: map[tableKey]table{}}

// survivalTable returns (building it once: about 70 ms here,
// BenchmarkSurvivalTable) the table of
// [leastWorseSurvival] for n baseline and k newest runs.
func survivalTable(n, k int) table {
	key := tableKey{n, k}
	tables.Lock()
	defer tables.Unlock()
	if t, ok := tables.m[key]; ok {
		return t
	}
	steps := int(math.Round((tableMax - tableMin) / tableStep))
	t := table{logG: make([]float64, steps+1), n: n}
	u := noiseRatios(n)
	for i := range t.logG {
		t.logG[i] = math.Log(survival(tableMin+float64(i)*tableStep, n, k, u))
	}
	if len(tables.m) >= 256 {
		clear(tables.m)
	}
	tables.m[key] = t
	return t
}

// leastWorseDetectable is the log step d at which [MethodLeastWorse] gives
// p ≤ level with probability [DetectablePower]: with every newest value
// shifted by d, the test passes when the smallest deviation exceeds
// σ·g⁻¹(level), which happens with probability g((σ·g⁻¹(level) − d)/σ);
// so d = σ·(g⁻¹(level) − g⁻¹(power)).
func leastWorseDetectable(sigma, level float64, n, k int) float64 {
	t := survivalTable(n, k)
	return sigma * (t.quantile(level) - t.quantile(DetectablePower))
}
