package engine

import (
	"context"
	"sync"
	"time"
)

// Trace holds hooks [Run] calls at the bounds of the measured interval, for
// a caller that samples something over exactly that interval (the CPU time
// of the target, say). It is carried by the context, as
// net/http/httptrace's ClientTrace is: see [WithTrace]. A nil field is not
// called.
//
// MeasureStart is called once the warm-up has ended, at Result.Start, with
// that instant; MeasureEnd once the measured interval has ended (Plan.Duration
// later, or when ctx is cancelled, at Result.End), before the grace, with that
// instant. A run cancelled during its warm-up calls neither; a run that
// called MeasureStart always calls MeasureEnd. Both are called from one
// goroutine of their own, never from a connection's, and return before Run
// does, so what they write may be read once Run has returned. They should
// return within milliseconds: MeasureEnd is late by as long as MeasureStart
// takes, and Run waits for them.
type Trace struct {
	MeasureStart func(at time.Time)
	MeasureEnd   func(at time.Time)
}

type traceKey struct{}

// WithTrace returns a copy of ctx that makes [Run] call the hooks of t (see
// [Trace]); a nil t returns ctx.
func WithTrace(ctx context.Context, t *Trace) context.Context {
	if t == nil {
		return ctx
	}
	return context.WithValue(ctx, traceKey{}, t)
}

// traceFrom returns the Trace of ctx, nil if none.
func traceFrom(ctx context.Context) *Trace {
	t, _ := ctx.Value(traceKey{}).(*Trace)
	return t
}

// startTrace calls t's hooks at start and end of the measured interval
// [start, end), earlier at stop (ctx cancelled) or done (the workers have
// ended); wait blocks until the hooks have returned.
func startTrace(t *Trace, start, end time.Time, stopped, done <-chan struct{}) (wait func()) {
	if t == nil || (t.MeasureStart == nil && t.MeasureEnd == nil) {
		return func() {}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		at := func(when time.Time) bool {
			timer := time.NewTimer(time.Until(when))
			defer timer.Stop()
			select {
			case <-timer.C:
				return true
			case <-stopped:
			case <-done:
			}
			return false
		}
		if !at(start) {
			return
		}
		if t.MeasureStart != nil {
			t.MeasureStart(time.Now())
		}
		at(end)
		if t.MeasureEnd != nil {
			t.MeasureEnd(time.Now())
		}
	})
	return wg.Wait
}
