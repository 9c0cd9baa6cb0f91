//go:build linux && !race

package engine

import "testing"

// TestEventLoopAllocs guards the steady state of the event loop: a
// request on a kept-alive connection allocates nothing, its check
// included.
func TestEventLoopAllocs(t *testing.T) {
	tests := []struct {
		name   string
		expect Expect
	}{
		{"no check", Expect{}},
		{"body check", Expect{Status: []int{200}, BodyContains: "ok", BodyMinBytes: 1, BodyMaxBytes: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newTestLoop(t, tt.expect)
			allocs := testing.AllocsPerRun(1000, func() { l.responses(t, 1) })
			if allocs > 0 {
				t.Errorf("%.2f allocations per request, want 0", allocs)
			}
		})
	}
}
