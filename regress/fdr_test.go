package regress

import (
	"math"
	"testing"
)

func TestAdjustBH(t *testing.T) {
	tests := []struct {
		name string
		p    []float64
		want []float64
	}{
		{name: "empty", p: nil, want: []float64{}},
		{name: "single", p: []float64{0.03}, want: []float64{0.03}},
		// p·m/rank: 0.005·4/1, 0.01·4/2, 0.03·4/3, 0.04·4/4.
		{name: "unsorted input", p: []float64{0.01, 0.04, 0.03, 0.005}, want: []float64{0.02, 0.04, 0.04, 0.02}},
		// 0.01·3/1 = 0.03 and 0.02·3/2 = 0.03: the step-up minimum.
		{name: "monotone step-up", p: []float64{0.02, 0.01, 0.5}, want: []float64{0.03, 0.03, 0.5}},
		{name: "capped at one", p: []float64{0.9, 0.8}, want: []float64{0.9, 0.9}},
		{name: "NaN counts as one", p: []float64{math.NaN(), 0.01}, want: []float64{1, 0.02}},
		{name: "ties", p: []float64{0.02, 0.02, 0.02}, want: []float64{0.02, 0.02, 0.02}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]float64(nil), tt.p...)
			got := AdjustBH(tt.p)
			if len(got) != len(tt.want) {
				t.Fatalf("AdjustBH(%v) has %d values, want %d", tt.p, len(got), len(tt.want))
			}
			for i := range got {
				if math.Abs(got[i]-tt.want[i]) > 1e-12 {
					t.Errorf("AdjustBH(%v)[%d] = %v, want %v", tt.p, i, got[i], tt.want[i])
				}
			}
			for i := range in {
				if !(in[i] == tt.p[i] || math.IsNaN(in[i]) && math.IsNaN(tt.p[i])) {
					t.Errorf("AdjustBH modified its input at %d", i)
				}
			}
		})
	}
}
