package regress

import "time"

// Defaults of [ValidityOptions].
const (
	// DefaultMaxLateRatio is the share of an open-loop scenario's intended
	// requests that may be sent late or dropped before the run is invalid:
	// 1 %, as issue 6 sets it. Past it the client, not the target, set the pace.
	DefaultMaxLateRatio = 0.01
	// DefaultMaxSchedulerLatencyP99 is the p99 of benchd's own Go scheduler
	// latency (runtime/metrics "/sched/latencies:seconds") during a scenario
	// above which the run is invalid: 10 ms, as issue 6 sets it. Past it the
	// load generator itself was starved and its timings are not the target's.
	DefaultMaxSchedulerLatencyP99 = 10 * time.Millisecond
	// DefaultMaxForeignCPURatio is the share of the CPUs benchd and the
	// target run on that other work may take during a repeat before the
	// run is invalid: 0.25. Measured on the shared 2-core machine (gevent
	// json, 2000 connections): 0.06 to 0.31 in 8 of 9 repeats with other
	// engineers' tests running (0.01 to 0.04 of it the interrupt time of
	// the load's own loopback traffic), 0.38 to 0.70 in 6 repeats with one
	// busy-loop process more (docs/regressions.md).
	DefaultMaxForeignCPURatio = 0.25
)

// InvalidReason says why a run is invalid. The set is bounded, so it may be
// used as a metric label value.
type InvalidReason string

// The reasons [Validity] reports.
const (
	// ReasonTargetFailed means the managed target failed to start or to become ready.
	ReasonTargetFailed InvalidReason = "target_failed"
	// ReasonTargetDied means the managed target exited during the scenario.
	ReasonTargetDied InvalidReason = "target_died"
	// ReasonOpenLoopLate means late plus dropped open-loop requests exceeded the limit.
	ReasonOpenLoopLate InvalidReason = "open_loop_late"
	// ReasonSchedulerLatency means benchd's scheduler latency p99 exceeded the limit.
	ReasonSchedulerLatency InvalidReason = "scheduler_latency"
	// ReasonForeignCPU means other work on the machine took more of the
	// CPUs than the limit during a repeat.
	ReasonForeignCPU InvalidReason = "foreign_cpu"
)

// RunHealth holds what [Validity] needs to know about one scenario of a run.
// The zero value is a healthy closed-loop run with no scheduler measurement.
// Client CPU is deliberately absent: on a 2-core machine a busy client is
// normal in closed loop and alone is no reason to discard a run.
type RunHealth struct {
	// TargetFailed is true when the managed target failed to start or to
	// become ready, so no load (or load against nothing) was applied.
	TargetFailed bool
	// TargetDied is true when the managed target exited during the scenario.
	TargetDied bool
	// IntendedRequests is the number of requests the open-loop schedule
	// intended to send; 0 means closed loop, where lateness does not apply.
	IntendedRequests int64
	// LateRequests is the number of open-loop requests sent later than
	// their intended time, as the engine counts them.
	LateRequests int64
	// DroppedRequests is the number of open-loop requests never sent.
	DroppedRequests int64
	// SchedulerLatencyP99 is the p99 of benchd's Go scheduler latency
	// during the scenario; 0 means not measured.
	SchedulerLatencyP99 time.Duration
	// ForeignCPURatio is the largest foreign CPU ratio of the scenario's
	// repeats, 0 to 1: the share of the CPUs that work other than benchd,
	// the target and its services took; 0 means none or not measured.
	ForeignCPURatio float64
}

// ValidityOptions holds the limits of [Validity]. The zero value uses the
// defaults; a negative value disables that check.
type ValidityOptions struct {
	// MaxLateRatio is the largest (late + dropped) / intended share of a
	// valid open-loop run, 0 to 1; 0 means [DefaultMaxLateRatio].
	MaxLateRatio float64
	// MaxSchedulerLatencyP99 is the largest scheduler latency p99 of a
	// valid run; 0 means [DefaultMaxSchedulerLatencyP99].
	MaxSchedulerLatencyP99 time.Duration
	// MaxForeignCPURatio is the largest foreign CPU ratio of a valid run,
	// 0 to 1; 0 means [DefaultMaxForeignCPURatio].
	MaxForeignCPURatio float64
}

// Validity decides whether a scenario's run may be used by the detector. It
// returns true and no reasons for a valid run, or false and every reason
// that applies, in the order of the [InvalidReason] constants. An invalid run
// is kept in the history and shown, but [Detect] leaves it out of baselines,
// tests and change points.
func Validity(h RunHealth, o ValidityOptions) (bool, []InvalidReason) {
	maxLate := o.MaxLateRatio
	if maxLate == 0 {
		maxLate = DefaultMaxLateRatio
	}
	maxSched := o.MaxSchedulerLatencyP99
	if maxSched == 0 {
		maxSched = DefaultMaxSchedulerLatencyP99
	}
	maxForeign := o.MaxForeignCPURatio
	if maxForeign == 0 {
		maxForeign = DefaultMaxForeignCPURatio
	}
	var reasons []InvalidReason
	if h.TargetFailed {
		reasons = append(reasons, ReasonTargetFailed)
	}
	if h.TargetDied {
		reasons = append(reasons, ReasonTargetDied)
	}
	if maxLate >= 0 && h.IntendedRequests > 0 {
		late := float64(max(h.LateRequests, 0) + max(h.DroppedRequests, 0))
		if late/float64(h.IntendedRequests) > maxLate {
			reasons = append(reasons, ReasonOpenLoopLate)
		}
	}
	if maxSched >= 0 && h.SchedulerLatencyP99 > maxSched {
		reasons = append(reasons, ReasonSchedulerLatency)
	}
	if maxForeign >= 0 && h.ForeignCPURatio > maxForeign {
		reasons = append(reasons, ReasonForeignCPU)
	}
	return len(reasons) == 0, reasons
}
