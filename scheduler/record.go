package scheduler

import (
	"cmp"
	"errors"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/regress"
	"github.com/benchd/benchd/result"
)

// ValidityOptions returns the limits of a valid result from cfg's
// regression section (docs/regressions.md).
func ValidityOptions(cfg *config.Config) regress.ValidityOptions {
	return regress.ValidityOptions{
		MaxLateRatio:           cfg.Regression.MaxLateRatio,
		MaxSchedulerLatencyP99: cfg.Regression.MaxSchedulerLatency,
		MaxForeignCPURatio:     cfg.Regression.MaxForeignCPU,
	}
}

// health is what the validity rules read of r. A scenario cut short by
// its run's stop (ErrInterrupted) says nothing of its target: its error
// says interrupted, and no target_failed or target_died is added to it.
func (r *ScenarioResult) health() regress.RunHealth {
	stopped := errors.Is(r.Err, ErrInterrupted)
	h := regress.RunHealth{
		TargetFailed:        !stopped && (r.Result == nil || !r.Up()),
		TargetDied:          !stopped && r.Result != nil && r.Err != nil,
		SchedulerLatencyP99: r.SchedLatencyP99,
		ForeignCPURatio:     r.MaxForeignCPURatio(),
	}
	if res := r.Result; res != nil && res.Plan.Rate > 0 {
		intended := int64(res.Plan.Rate * res.Elapsed.Seconds())
		h.IntendedRequests = intended
		h.LateRequests = int64(res.StartedLate)
		h.DroppedRequests = max(0, intended-int64(res.Sent))
	}
	return h
}

// BuildRecord builds the result record of r, the one every consumer reads: the
// scenario's identity and settings, the merged measurement and each
// repeat's, resource use, and whether the regression detector may use it
// under o. A failed result is never valid; its reasons are those of
// [regress.Validity] (none when it is not invalid on its own: its error
// says why).
func (r *ScenarioResult) BuildRecord(o regress.ValidityOptions) *result.Scenario {
	sc := r.Scenario
	rec := result.FromEngine(r.Result)
	rec.RunID, rec.Name, rec.Target, rec.Mode, rec.Endpoint = r.RunID, sc.Name, sc.Target, sc.Mode, sc.Endpoint
	rec.Index, rec.Start, rec.End = r.Index, r.Start.UTC(), r.End.UTC()
	rec.Settings = r.Settings
	if sg := sc.Segment; sg != nil {
		rec.Segment = &result.Segment{Index: sg.Index, Count: sg.Count}
	}
	if r.Result == nil {
		rec.URL, rec.Method = sc.URL, sc.Load.Method
		rec.Connections, rec.Threads = sc.Load.Connections, sc.Load.Threads
		rec.DurationSeconds = sc.Load.Duration.Seconds() * float64(max(sc.Load.Repeats, 1))
		rec.TimeoutSeconds = sc.Load.Timeout.Seconds()
		rec.OnTimeout = cmp.Or(string(sc.Load.OnTimeout), string(engine.TimeoutReconnect))
	}
	if r.Err != nil {
		rec.Error = r.Err.Error()
	}
	ok, reasons := regress.Validity(r.health(), o)
	rec.Valid = ok && r.Err == nil
	for _, why := range reasons {
		rec.InvalidReasons = append(rec.InvalidReasons, string(why))
	}
	rec.Usage = result.Usage{
		TargetCPUSeconds: r.Target.CPUSeconds, TargetPeakRSSBytes: r.Target.RSSBytes,
		ClientCPUSeconds: r.Self.CPUSeconds, ClientPeakRSSBytes: r.Self.RSSBytes,
	}
	rec.SchedulerLatencyP99Seconds = r.SchedLatencyP99.Seconds()
	for i, rr := range r.Repeats {
		rep := result.Repeat{Measurement: result.Measure(rr, false)}
		if i < len(r.RepeatUsage) {
			rep.CPU = r.RepeatUsage[i].cpu()
		}
		if i < len(r.RepeatInstructions) {
			rep.Instructions = r.RepeatInstructions[i].record()
		}
		rec.Repeats = append(rec.Repeats, rep)
	}
	rec.CPU = totalCPU(r.RepeatUsage)
	if len(r.RepeatInstructions) > 0 {
		var t InstructionCount
		for _, c := range r.RepeatInstructions {
			t.Instructions += c.Instructions
			t.Requests += c.Requests
			t.Processes = max(t.Processes, c.Processes)
		}
		rec.Instructions = t.record()
	}
	return &rec
}

// record is c as the record's instruction figures.
func (c InstructionCount) record() *result.Instructions {
	return &result.Instructions{Count: c.Instructions, Requests: c.Requests, Processes: c.Processes, PerRequest: c.PerRequest()}
}

// cpu is u as the record's CPU figures.
func (u RepeatUsage) cpu() *result.CPU {
	return &result.CPU{Managed: u.Managed, TargetSeconds: u.TargetCPUSeconds, ClientSeconds: u.SelfCPUSeconds,
		ServicesSeconds: u.ServicesCPUSeconds, CPUs: u.CPUs, BusySeconds: u.BusyCPUSeconds,
		StealSeconds: u.StealCPUSeconds, IRQSeconds: u.IRQCPUSeconds, ForeignSeconds: u.ForeignCPUSeconds(),
		ForeignRatio: u.ForeignCPURatio(), StealRatio: u.StealRatio(), TargetSecondsPerRequest: u.CPUSecondsPerRequest()}
}

// totalCPU sums the repeats' windows into one: times add up, ratios are of
// the summed capacity; nil without a window.
func totalCPU(us []RepeatUsage) *result.CPU {
	if len(us) == 0 {
		return nil
	}
	t := &result.CPU{Managed: true}
	var capacity float64
	var requests uint64
	for _, u := range us {
		t.Managed = t.Managed && u.Managed
		t.TargetSeconds += u.TargetCPUSeconds
		t.ClientSeconds += u.SelfCPUSeconds
		t.ServicesSeconds += u.ServicesCPUSeconds
		t.CPUs = max(t.CPUs, u.CPUs)
		t.BusySeconds += u.BusyCPUSeconds
		t.StealSeconds += u.StealCPUSeconds
		t.IRQSeconds += u.IRQCPUSeconds
		t.ForeignSeconds += u.ForeignCPUSeconds()
		capacity += u.capacity()
		requests += u.Requests
	}
	if capacity > 0 {
		t.ForeignRatio = min(1, t.ForeignSeconds/capacity)
		t.StealRatio = min(1, t.StealSeconds/capacity)
	}
	if requests > 0 && t.Managed {
		t.TargetSecondsPerRequest = t.TargetSeconds / float64(requests)
	}
	return t
}
