package regress

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// TestLeastWorseSurvivalQuadrature checks the quadrature against a fine
// two-dimensional trapezoid over ±9 standard deviations of δ and of u's
// normal score.
func TestLeastWorseSurvivalQuadrature(t *testing.T) {
	for _, tc := range []struct {
		n, k int
		c    float64
	}{{20, 3, -2}, {20, 3, 0}, {20, 3, 1.5}, {20, 3, 3}, {10, 3, 2.5}, {20, 5, 2}, {20, 1, 3.5}, {40, 10, 1}} {
		s := math.Sqrt(math.Pi / (2 * float64(tc.n)))
		norm := distuv.Normal{Mu: 0, Sigma: s}
		const steps = 600
		lo, hi := -9*s, 9*s
		h := (hi - lo) / steps
		u, uw := make([]float64, steps+1), make([]float64, steps+1)
		for j := range u {
			z := -9 + 18*float64(j)/steps
			u[j], uw[j] = noiseRatio(z, tc.n), 18.0/steps*distuv.UnitNormal.Prob(z)
			if j == 0 || j == steps {
				uw[j] /= 2
			}
		}
		var want float64
		for i := range steps + 1 {
			d := lo + float64(i)*h
			w := h
			if i == 0 || i == steps {
				w /= 2
			}
			var inner float64
			for j, uj := range u {
				inner += uw[j] * math.Pow(0.5*math.Erfc((tc.c*uj+d)/math.Sqrt2), float64(tc.k))
			}
			want += w * norm.Prob(d) * inner
		}
		got := leastWorseSurvival(tc.c, tc.n, tc.k)
		if math.Abs(got-want) > 1e-4*want+1e-12 {
			t.Errorf("g(%g; n=%d, k=%d) = %.10g, trapezoid %.10g", tc.c, tc.n, tc.k, got, want)
		}
	}
}

// TestSurvivalTable checks the table against the quadrature, and that
// its quantile inverts it.
func TestSurvivalTable(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 9))
	for _, nk := range [][2]int{{20, 3}, {10, 3}, {20, 5}, {13, 2}} {
		tab := survivalTable(nk[0], nk[1])
		for range 200 {
			c := -9 + 35*rng.Float64()
			want, got := leastWorseSurvival(c, nk[0], nk[1]), tab.p(c)
			if edge := tab.p(tableMax); c > tableMax && (got > edge || got <= 0 || got < want/10) {
				t.Errorf("g(%g; n=%d, k=%d) beyond the grid: table %g, quadrature %g, at the grid's end %g", c, nk[0], nk[1], got, want, edge)
			}
			if c <= tableMax && math.Abs(got-want) > 1e-3*want {
				t.Errorf("g(%g; n=%d, k=%d): table %g, quadrature %g", c, nk[0], nk[1], got, want)
			}
		}
		for _, p := range []float64{0.95, 0.5, 0.05, 1e-3, 1.25e-4, 1e-6} {
			if got := tab.p(tab.quantile(p)); math.Abs(got-p) > 1e-6*p {
				t.Errorf("p(quantile(%g)) = %g (n=%d, k=%d)", p, got, nk[0], nk[1])
			}
		}
	}
}

// TestLeastWorseCalibrated draws normal baselines and newest runs from
// the same distribution: P(p ≤ α) must not exceed α beyond sampling error
// (the t survival is heavier than the normal's, so it comes out below).
func TestLeastWorseCalibrated(t *testing.T) {
	if testing.Short() {
		t.Skip("200,000 draws")
	}
	rng := rand.New(rand.NewPCG(3, 14))
	const draws = 200000
	levels := []float64{0.05, 0.01, 1e-3}
	below := make([]int, len(levels))
	base, recent := make([]float64, 20), make([]float64, 3)
	for range draws {
		for i := range base {
			base[i] = rng.NormFloat64() * 0.1
		}
		for i := range recent {
			recent[i] = rng.NormFloat64() * 0.1
		}
		p, _ := leastWorse(base, recent, -1, 0.001)
		for i, l := range levels {
			if p <= l {
				below[i]++
			}
		}
	}
	for i, l := range levels {
		f := float64(below[i]) / draws
		// 3 binomial standard errors above the level.
		if limit := l + 3*math.Sqrt(l*(1-l)/draws); f > limit {
			t.Errorf("P(p <= %g) = %.5f, above %.5f", l, f, limit)
		}
		t.Logf("P(p <= %g) = %.5f", l, f)
	}
}

// TestLeastWorseOutliers: one or two far runs among the newest three move
// the mean (and MethodRobustZ's p) but not the least worse run's p.
func TestLeastWorseOutliers(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := make([]float64, 20)
	for i := range base {
		base[i] = math.Log(2000) + 0.05*rng.NormFloat64()
	}
	mb, sigma := noise(base, 0.01)
	for _, tc := range []struct {
		name       string
		recent     []float64 // in σ below the baseline median
		wantLW     bool      // least worse p <= 1e-3
		wantRobust bool      // robust z p <= 1e-3
	}{
		{"one run 12σ down", []float64{12, 0.3, 0.3}, false, true},
		{"two runs 8σ down", []float64{8, 8, 0.2}, false, true},
		{"all three 4σ down", []float64{4, 4.2, 4.5}, true, true},
		{"all three 1σ down", []float64{1, 1, 1}, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			recent := make([]float64, len(tc.recent))
			for i, d := range tc.recent {
				recent[i] = mb - d*sigma
			}
			lw, _ := leastWorse(base, recent, -1, 0.01)
			rz, _ := robustZ(base, recent, -1, 0.01)
			if (lw <= 1e-3) != tc.wantLW || (rz <= 1e-3) != tc.wantRobust {
				t.Errorf("least worse p = %.3g (want <= 1e-3: %v), robust z p = %.3g (want <= 1e-3: %v)", lw, tc.wantLW, rz, tc.wantRobust)
			}
		})
	}
}

// BenchmarkSurvivalTable is the cost of building one table (n = 20, k = 3).
func BenchmarkSurvivalTable(b *testing.B) {
	for b.Loop() {
		tables.Lock()
		clear(tables.m)
		tables.Unlock()
		survivalTable(20, 3)
	}
}
