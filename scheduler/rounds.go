package scheduler

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime/metrics"
	"time"

	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/internal/proc"
)

// scenarioRun is one scenario's state while its target's rounds run.
type scenarioRun struct {
	res     *ScenarioResult
	repeats int              // how many repeats it wants (at least 1)
	rs      []*engine.Result // the repeats run so far
	sched   schedAccum
	done    bool // no repeat left to run: last one run, failed, or stopped
}

// runRepeat runs one repeat of sr's scenario: the load, the CPU sampled
// over its measured interval, its resource use and scheduler latency
// added to the scenario's. A repeat that fails (the engine's error, or the
// target exited) ends the scenario: the rest of its repeats are not run.
func (s *Scheduler) runRepeat(ctx context.Context, target *proc.Process, services []*proc.Process, sr *scenarioRun) {
	res := sr.res
	sampler := startSampler(target, s.opts.UsageInterval)
	before := readSchedLatencies()
	window := newCPUWindow(target, services)
	r, err := s.opts.Engine.Run(engine.WithTrace(ctx, window.trace()), EnginePlan(res.Scenario))
	sr.sched.add(before, readSchedLatencies())
	t, me := sampler.stop()
	res.Target.CPUSeconds += t.CPUSeconds
	res.Target.RSSBytes = max(res.Target.RSSBytes, t.RSSBytes)
	res.Self.CPUSeconds += me.CPUSeconds
	res.Self.RSSBytes = max(res.Self.RSSBytes, me.RSSBytes)
	res.SchedLatencyP99 = sr.sched.p99()
	if r != nil {
		sr.rs = append(sr.rs, r)
		u := window.usage(r.Completed())
		res.RepeatUsage = append(res.RepeatUsage, u)
		s.log.Debug("repeat finished", "run_id", res.RunID, "scenario", res.Scenario.Name, "repeat", len(sr.rs),
			"requests_per_second", r.RequestsPerSecond(), "foreign_cpu_ratio", u.ForeignCPURatio(),
			"steal_ratio", u.StealRatio(), "target_cpu_seconds_per_request", u.CPUSecondsPerRequest(),
			"target_cpu_seconds", u.TargetCPUSeconds, "self_cpu_seconds", u.SelfCPUSeconds,
			"services_cpu_seconds", u.ServicesCPUSeconds, "busy_cpu_seconds", u.BusyCPUSeconds,
			"irq_cpu_seconds", u.IRQCPUSeconds, "cpus", u.CPUs)
	}
	switch {
	case err != nil:
		res.Err = fmt.Errorf("scheduler: scenario %s: %w", res.Scenario.Name, err)
	case target != nil:
		select {
		case <-target.Exited():
			res.Err = target.ExitErr() // "scheduler: target X: exited (...)"
		default:
		}
	}
	sr.done = res.Err != nil || len(sr.rs) >= sr.repeats
}

// merge sets the scenario's Result from its repeats: the one result of a
// single repeat, else their [engine.Merge] with Repeats set.
func (sr *scenarioRun) merge() {
	res := sr.res
	switch {
	case len(sr.rs) == 1 && sr.repeats == 1:
		res.Result = sr.rs[0]
	case len(sr.rs) > 0:
		res.Repeats = sr.rs
		m, err := engine.Merge(sr.rs...)
		if err != nil {
			res.Err = errors.Join(res.Err, fmt.Errorf("scheduler: scenario %s: %w", res.Scenario.Name, err))
			break
		}
		res.Result = m
	}
}

// roundOrder draws the order of each round of one target's scenarios.
type roundOrder struct {
	rng     *rand.Rand
	shuffle bool
}

// newRoundOrder returns the order of target's rounds in a run with seed:
// shuffled per round when there is more than one round, the matrix order
// otherwise. The same seed, target and scenarios give the same order.
func newRoundOrder(seed uint64, target string, rounds int) *roundOrder {
	h := fnv.New64a()
	_, _ = h.Write([]byte(target))
	return &roundOrder{rng: rand.New(rand.NewPCG(seed, h.Sum64())), shuffle: rounds > 1}
}

// next returns the indices in runs of the scenarios round visits: those
// not done that want more than round repeats, in this round's order.
func (o *roundOrder) next(runs []*scenarioRun, round int) []int {
	var ks []int
	for k, sr := range runs {
		if !sr.done && sr.repeats > round {
			ks = append(ks, k)
		}
	}
	if o.shuffle {
		o.rng.Shuffle(len(ks), func(i, j int) { ks[i], ks[j] = ks[j], ks[i] })
	}
	return ks
}

// schedAccum adds up the Go scheduler latencies recorded between pairs of
// snapshots (the repeats of a scenario).
type schedAccum struct {
	buckets []float64
	counts  []uint64
}

// add adds the latencies recorded between before and after; snapshots
// that are missing or of another layout are ignored.
func (a *schedAccum) add(before, after *metrics.Float64Histogram) {
	if before == nil || after == nil || len(before.Counts) != len(after.Counts) {
		return
	}
	if a.counts == nil {
		a.buckets = after.Buckets
		a.counts = make([]uint64, len(after.Counts))
	}
	if len(a.counts) != len(after.Counts) {
		return
	}
	for i := range after.Counts {
		a.counts[i] += after.Counts[i] - before.Counts[i]
	}
}

// p99 returns the 99th percentile of the latencies added, as the upper
// bound of its bucket; 0 when none.
func (a *schedAccum) p99() time.Duration {
	var total uint64
	for _, n := range a.counts {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(0.99 * float64(total)))
	var seen uint64
	for i, n := range a.counts {
		seen += n
		if seen >= rank {
			upper := a.buckets[i+1]
			if math.IsInf(upper, 1) {
				upper = a.buckets[i]
			}
			return time.Duration(upper * float64(time.Second))
		}
	}
	return 0
}
