package engine

import (
	"context"
	"testing"
	"time"
)

// newLoopWorker returns a worker with an open connection to a server that
// answers every request with okResponse, inside a run that lasts an hour.
func newLoopWorker(ctx context.Context, tb testing.TB) *worker {
	tb.Helper()
	return newLoopWorkerExpect(ctx, tb, Expect{})
}

// newSteadyRunner returns the runner of a run with one connection to a
// server that answers every request with okResponse, measuring from now
// for an hour (no warm-up), with the plan's Expect set to e.
func newSteadyRunner(tb testing.TB, e Expect) *runner {
	tb.Helper()
	srv := startRaw(tb, respond(okResponse))
	tg, err := compile(Plan{URL: srv.url, Connections: 1, Timeout: 5 * time.Second, Expect: e})
	if err != nil {
		tb.Fatal(err)
	}
	r := newRunner(tg)
	r.start = time.Now()
	r.warmEnd = r.start
	r.measureEnd = r.start.Add(time.Hour)
	r.graceEnd = r.measureEnd.Add(tg.plan.Grace)
	return r
}

// newLoopWorkerExpect is newLoopWorker with the plan's Expect set to e.
func newLoopWorkerExpect(ctx context.Context, tb testing.TB, e Expect) *worker {
	tb.Helper()
	r := newSteadyRunner(tb, e)
	w := newWorker(r, r.shards[0], 0)
	tb.Cleanup(w.closeConn)
	// The first request dials; the loop measures the kept-alive ones.
	w.request1(ctx, tb)
	return w
}

// request1 runs one measured request and fails tb unless it got a 2xx.
func (w *worker) request1(ctx context.Context, tb testing.TB) {
	w.sh.sent.Add(1)
	o := w.do(ctx, time.Now())
	w.record(true, &o)
	if o.status != statusResponse || o.class != Class2xx || o.unexpected {
		tb.Fatalf("request failed: %+v", o)
	}
}

// BenchmarkRequestLoop measures one request/response on a kept-alive
// loopback connection: the worker's whole path (deadline, write, read,
// classify, record into the shard), against a server that does not
// allocate.
func BenchmarkRequestLoop(b *testing.B) {
	ctx := b.Context()
	w := newLoopWorker(ctx, b)
	b.ReportAllocs()
	for b.Loop() {
		w.request1(ctx, b)
	}
}

// BenchmarkRequestLoopBodyCheck is BenchmarkRequestLoop with a body check
// (status set, substring, size range) on every response.
func BenchmarkRequestLoopBodyCheck(b *testing.B) {
	ctx := b.Context()
	w := newLoopWorkerExpect(ctx, b, Expect{Status: []int{200}, BodyContains: "ok", BodyMinBytes: 1, BodyMaxBytes: 10})
	b.ReportAllocs()
	for b.Loop() {
		w.request1(ctx, b)
	}
}
