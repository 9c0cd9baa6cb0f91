package regress

import (
	"math"
	"sort"
)

// AdjustBH returns the Benjamini-Hochberg adjusted p-values (q-values) of p,
// in the same order: rejecting every test with q ≤ level controls the false
// discovery rate at level for independent or positively dependent tests
// (Benjamini and Hochberg, 1995). A NaN p-value counts as 1. The result is a
// new slice; p is not modified. An empty p gives an empty result.
func AdjustBH(p []float64) []float64 {
	m := len(p)
	q := make([]float64, m)
	if m == 0 {
		return q
	}
	order := make([]int, m)
	for i := range order {
		order[i] = i
	}
	val := func(i int) float64 {
		if math.IsNaN(p[i]) {
			return 1
		}
		return math.Min(math.Max(p[i], 0), 1)
	}
	sort.SliceStable(order, func(a, b int) bool { return val(order[a]) < val(order[b]) })
	// Walk from the largest p down, keeping the running minimum of
	// p(i)·m/i so that q-values are monotone in p.
	running := 1.0
	for rank := m; rank >= 1; rank-- {
		i := order[rank-1]
		running = math.Min(running, val(i)*float64(m)/float64(rank))
		q[i] = running
	}
	return q
}
