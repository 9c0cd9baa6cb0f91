package regress

import (
	"math"
	"testing"
)

func TestTTest(t *testing.T) {
	a := []float64{1, 2, 3, 4, 5, 6}
	shift := func(d float64) []float64 {
		b := make([]float64, len(a))
		for i := range a {
			b[i] = a[i] + d
		}
		return b
	}
	// Equal sizes and variances: df is 2(n-1) = 10 and the
	// standard error sqrt(2·3.5/6); the t table gives the p-values.
	se := math.Sqrt(2 * 3.5 / 6)
	tests := []struct {
		name  string
		a, b  []float64
		wantP float64
		tol   float64
	}{
		{name: "t(10)=2.228 is p=0.05", a: a, b: shift(2.2281 * se), wantP: 0.05, tol: 2e-4},
		{name: "t(10)=3.169 is p=0.01", a: a, b: shift(3.1693 * se), wantP: 0.01, tol: 1e-4},
		{name: "no difference", a: a, b: a, wantP: 1, tol: 1e-12},
		{name: "constant sides that differ", a: []float64{2, 2, 2}, b: []float64{3, 3, 3}, wantP: 0, tol: 0},
		{name: "constant sides that agree", a: []float64{2, 2}, b: []float64{2, 2, 2}, wantP: 1, tol: 0},
		{name: "too short", a: []float64{1}, b: []float64{5, 6}, wantP: 1, tol: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := tTest(tt.a, tt.b)
			if math.Abs(p-tt.wantP) > tt.tol {
				t.Errorf("tTest p = %.6f, want %.6f ± %g", p, tt.wantP, tt.tol)
			}
		})
	}
}

// naiveQ computes the E-Divisive statistic of one split from its definition.
func naiveQ(x []float64, tau int) float64 {
	a, b := x[:tau], x[tau:]
	var cross, left, right float64
	for _, u := range a {
		for _, v := range b {
			cross += math.Abs(u - v)
		}
	}
	for i := range a {
		for j := i + 1; j < len(a); j++ {
			left += math.Abs(a[i] - a[j])
		}
	}
	for i := range b {
		for j := i + 1; j < len(b); j++ {
			right += math.Abs(b[i] - b[j])
		}
	}
	na, nb := float64(len(a)), float64(len(b))
	q := 2*cross/(na*nb) - left/(na*(na-1)/2) - right/(nb*(nb-1)/2)
	return q * na * nb / (na + nb)
}

func TestBestSplitMatchesDefinition(t *testing.T) {
	for seed := range uint64(20) {
		x := noisy(seed, 12+int(seed), 100, 0.2, 5+int(seed%4), 1.5)
		got, ok := bestSplit(x, 3)
		if !ok {
			t.Fatalf("seed %d: no split found", seed)
		}
		want, best := 0, math.Inf(-1)
		for tau := 3; tau <= len(x)-3; tau++ {
			if q := naiveQ(x, tau); q > best {
				want, best = tau, q
			}
		}
		if got != want {
			t.Errorf("seed %d: bestSplit = %d, definition gives %d", seed, got, want)
		}
	}
}

func TestChangePoints(t *testing.T) {
	logs := func(v []float64) []float64 {
		out := make([]float64, len(v))
		for i := range v {
			out[i] = math.Log(v[i])
		}
		return out
	}
	concat := func(parts ...[]float64) []float64 {
		var out []float64
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name string
		x    []float64
		o    CPOptions
		want []int // change point indexes, ±1
	}{
		{name: "too short", x: []float64{1, 2, 3, 4, 5}},
		{name: "constant", x: make([]float64, 40)},
		{name: "noise only", x: logs(noisy(1, 60, 100, 0.05, 60, 1))},
		{name: "one step down", x: logs(noisy(2, 40, 100, 0.05, 25, 0.7)), want: []int{25}},
		{name: "one step up near the end", x: logs(noisy(3, 40, 100, 0.05, 36, 1.5)), want: []int{36}},
		{name: "two steps", x: concat(logs(noisy(4, 25, 100, 0.05, 99, 1)), logs(noisy(9, 35, 130, 0.05, 20, 1.4))), want: []int{25, 45}},
		{name: "one step up", x: logs(noisy(4, 60, 100, 0.05, 20, 1.4)), want: []int{20}},
		{
			name: "step and back, over several windows",
			x:    concat(logs(noisy(5, 30, 100, 0.05, 99, 1)), logs(noisy(6, 30, 70, 0.05, 99, 1)), logs(noisy(7, 40, 100, 0.05, 99, 1))),
			want: []int{30, 60},
		},
		{name: "step below the minimum magnitude", x: logs(noisy(8, 40, 100, 0.01, 20, 1.03)), o: CPOptions{MinMagnitude: math.Log(1.05)}},
		{name: "step above the minimum magnitude", x: logs(noisy(8, 40, 100, 0.01, 20, 1.08)), o: CPOptions{MinMagnitude: math.Log(1.05)}, want: []int{20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ChangePoints(tt.x, tt.o)
			if len(got) != len(tt.want) {
				t.Fatalf("ChangePoints found %+v, want indexes %v", got, tt.want)
			}
			for i, c := range got {
				if d := c.Index - tt.want[i]; d < -1 || d > 1 {
					t.Errorf("change point %d at %d, want %d ± 1", i, c.Index, tt.want[i])
				}
				if c.PValue > DefaultCPMaxPValue {
					t.Errorf("change point %d has p=%g above the level", i, c.PValue)
				}
			}
		})
	}
}

// TestChangePointsFalsePositives counts spurious change points in A/A
// series at the measured noise; each series has 39 candidate positions, so
// a per-test level of 0.001 allows a few per hundred series.
func TestChangePointsFalsePositives(t *testing.T) {
	const series = 200
	var spurious int
	for seed := range uint64(series) {
		x := noisy(1000+seed, 45, 2000, 0.43, 99, 1)
		for i := range x {
			x[i] = math.Log(x[i])
		}
		spurious += len(ChangePoints(x, CPOptions{MinMagnitude: math.Log(1.05)}))
	}
	if spurious > series/10 {
		t.Errorf("%d spurious change points in %d noise series, want at most %d", spurious, series, series/10)
	}
	t.Logf("%d spurious change points in %d A/A series of 45 runs at CV 0.43", spurious, series)
}
