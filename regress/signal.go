package regress

import (
	"math"

	"github.com/benchd/benchd/result"
)

// Signal names one per-run summary of a scenario that the detector watches.
type Signal string

// The signals of a scenario, with the names used in the metric label `signal`.
const (
	// SignalThroughput is requests per second; lower is worse.
	SignalThroughput Signal = "throughput"
	// SignalLatencyP50 is the median latency in seconds; higher is worse.
	SignalLatencyP50 Signal = "latency_p50"
	// SignalLatencyP99 is the 99th percentile latency in seconds; higher is worse.
	SignalLatencyP99 Signal = "latency_p99"
	// SignalErrorRatio is failed requests over sent requests, 0 to 1; higher is worse.
	SignalErrorRatio Signal = "error_ratio"
	// SignalTimeoutRatio is timed-out requests over sent requests, 0 to 1; higher is worse.
	SignalTimeoutRatio Signal = "timeout_ratio"
	// SignalCPUPerRequest is the managed target's CPU seconds (user +
	// system, its whole process tree) per completed request over the
	// measured interval; higher is worse. Unlike throughput it hardly
	// moves when other work shares the CPUs (docs/regressions.md).
	SignalCPUPerRequest Signal = "cpu_per_request"
	// SignalInstructionsPerRequest is the instructions (callgrind's Ir)
	// the target's workers executed per counted request of an
	// instruction-lane scenario; higher is worse. Other work on the
	// machine does not move it at all (docs/regressions.md).
	SignalInstructionsPerRequest Signal = "instructions_per_request"
)

// Signals lists every known signal, in the order verdicts are sorted by.
// Callers must not modify it.
var Signals = []Signal{SignalThroughput, SignalLatencyP50, SignalLatencyP99, SignalErrorRatio, SignalTimeoutRatio, SignalCPUPerRequest, SignalInstructionsPerRequest}

// Direction returns +1 for a signal where higher is worse (latencies and
// ratios), -1 where lower is worse (throughput) and 0 for an unknown signal,
// which [Detect] does not test.
func Direction(s Signal) int {
	switch s {
	case SignalThroughput:
		return -1
	case SignalLatencyP50, SignalLatencyP99, SignalErrorRatio, SignalTimeoutRatio, SignalCPUPerRequest, SignalInstructionsPerRequest:
		return +1
	default:
		return 0
	}
}

// logOffset is added before taking logs when a signal has no absolute
// floor: it only keeps log(0) finite, far below any real throughput or
// latency.
const logOffset = 1e-12

// transform maps a raw value to the scale the tests work on: log(value +
// offset), where offset is the signal's absolute floor (ratios) or a tiny
// constant. Negative values count as 0.
func transform(v, offset float64) float64 {
	return math.Log(math.Max(v, 0) + offset)
}

// untransform is the inverse of transform.
func untransform(y, offset float64) float64 {
	return math.Max(math.Exp(y)-offset, 0)
}

// Value returns signal s of measurement m: NaN for a latency without
// responses, a CPU cost not measured (an unmanaged target), instructions
// not counted (a load scenario), throughput, latency or CPU of an
// instruction-lane scenario (callgrind's speed, not the server's), or an
// unknown signal.
func (s Signal) Value(m *result.Measurement) float64 {
	if m.Instructions != nil && s != SignalInstructionsPerRequest && s != SignalErrorRatio && s != SignalTimeoutRatio {
		// An instruction lane's speed is callgrind's, which the machine's
		// other work sets: not a signal of the server.
		return math.NaN()
	}
	switch s {
	case SignalThroughput:
		return m.RequestsPerSecond
	case SignalLatencyP50:
		return m.P50()
	case SignalLatencyP99:
		return m.P99()
	case SignalErrorRatio:
		return m.ErrorRatio
	case SignalTimeoutRatio:
		return m.TimeoutRatio
	case SignalCPUPerRequest:
		if m.CPU == nil || m.CPU.TargetSecondsPerRequest <= 0 {
			return math.NaN()
		}
		return m.CPU.TargetSecondsPerRequest
	case SignalInstructionsPerRequest:
		if m.Instructions == nil || m.Instructions.PerRequest <= 0 {
			return math.NaN()
		}
		return m.Instructions.PerRequest
	}
	return math.NaN()
}

// RunValue returns signal s of one stored result: with repeats, the median
// over the repeats that have a value (docs/regressions.md: the median keeps
// one bad repeat from moving the run); else the result's own. NaN when
// there is none.
func (s Signal) RunValue(rec *result.Scenario) float64 {
	if len(rec.Repeats) == 0 {
		return s.Value(&rec.Measurement)
	}
	vs := make([]float64, 0, len(rec.Repeats))
	for i := range rec.Repeats {
		if v := s.Value(&rec.Repeats[i].Measurement); !math.IsNaN(v) {
			vs = append(vs, v)
		}
	}
	return Median(vs)
}

// Point returns the detector's point of signal s for rec: valid when the
// record is valid, did not fail and has a value.
func (s Signal) Point(rec *result.Scenario, accepted bool) Point {
	v := s.RunValue(rec)
	return Point{RunID: rec.RunID, Time: rec.Start, Value: v,
		Valid: rec.Valid && rec.Error == "" && !math.IsNaN(v), Accepted: accepted}
}
