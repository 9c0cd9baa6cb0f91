//go:build !race

package engine

import (
	"testing"
)

// TestRequestLoopAllocs guards the steady state of the request loop: a
// request on a kept-alive connection allocates nothing.
func TestRequestLoopAllocs(t *testing.T) {
	ctx := t.Context()
	w := newLoopWorker(ctx, t)
	allocs := testing.AllocsPerRun(1000, func() { w.request1(ctx, t) })
	if allocs > 0 {
		t.Errorf("%.2f allocations per request, want 0", allocs)
	}
}

// TestRequestLoopAllocsBodyCheck is TestRequestLoopAllocs with every
// response checked (status set, substring, size range): the checks
// allocate nothing per response either.
func TestRequestLoopAllocsBodyCheck(t *testing.T) {
	ctx := t.Context()
	w := newLoopWorkerExpect(ctx, t, Expect{Status: []int{200}, BodyContains: "ok", BodyMinBytes: 1, BodyMaxBytes: 10})
	allocs := testing.AllocsPerRun(1000, func() { w.request1(ctx, t) })
	if allocs > 0 {
		t.Errorf("%.2f allocations per request, want 0", allocs)
	}
}
