package regress

import (
	"math"
	"math/rand/v2"
)

// lognormal draws run values around median with the given coefficient of
// variation (standard deviation over mean): median·exp(σZ), σ² = ln(1+cv²).
type lognormal struct {
	rng *rand.Rand
}

func newNoise(seed uint64) lognormal {
	return lognormal{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func sigmaOf(cv float64) float64 { return math.Sqrt(math.Log1p(cv * cv)) }

func (l lognormal) draw(median, cv float64) float64 {
	return median * math.Exp(sigmaOf(cv)*l.rng.NormFloat64())
}

// ratio draws an error or timeout ratio: 0 in most runs, and in a share
// `busy` of them a log-normal around median with log-sd 1, capped at 1.
// It mimics the measured runs (0 in 16 of 20, 0.1 % to 6 % in the others).
func (l lognormal) ratio(median, busy float64) float64 {
	if l.rng.Float64() >= busy {
		return 0
	}
	return math.Min(median*math.Exp(l.rng.NormFloat64()), 1)
}

// points turns values into valid points with run IDs r0, r1, ...
func points(values ...float64) []Point {
	pts := make([]Point, len(values))
	for i, v := range values {
		pts[i] = Point{RunID: runID(i), Value: v, Valid: true}
	}
	return pts
}

func runID(i int) string {
	return "r" + string(rune('0'+i/100)) + string(rune('0'+i/10%10)) + string(rune('0'+i%10))
}

// noisy returns n values around median with the given CV, multiplied by
// step from index at on (step 1 = no change).
func noisy(seed uint64, n int, median, cv float64, at int, step float64) []float64 {
	l := newNoise(seed)
	v := make([]float64, n)
	for i := range v {
		m := median
		if i >= at {
			m *= step
		}
		v[i] = l.draw(m, cv)
	}
	return v
}
