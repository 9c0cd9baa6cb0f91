package scheduler

import (
	"context"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/benchd/benchd/config"
)

// nextTick returns st's next scheduled tick after now. With more than one
// shard, an "@every" schedule ticks at the multiples of its interval since
// the zero time (time.Time.Truncate), so that every shard, started at
// whatever instant, has the same ticks (SegmentStarts begins from the
// tick); robfig/cron counts them from each process's own start. A cron
// spec of five fields fires at the same instants everywhere already.
func nextTick(st *state, now time.Time) time.Time {
	if every, ok := st.schedule.(cron.ConstantDelaySchedule); ok && st.cfg.Shard().Count > 1 && every.Delay > 0 {
		return now.Truncate(every.Delay).Add(every.Delay)
	}
	return st.schedule.Next(now)
}

// SegmentStarts returns, by scenario name, when each split scenario's
// segment (config.Scenario.Segment set) of a run starts, so that every
// shard starts its segment at the same instant: the first at the next
// whole second after the run's scheduled tick due (after start when due
// is zero: a run at start-up or by hand, aligned across shards only when
// they start it within the same second) plus slack, each next one that
// much later again after the one before's estimated duration
// (config.Scenario.EstimatedDuration), rounded up to a whole second. Every
// shard computes the same instants from the same configuration and
// schedule. It returns nil when no scenario is a segment.
func SegmentStarts(scenarios []config.Scenario, due, start time.Time, slack time.Duration) map[string]time.Time {
	var out map[string]time.Time
	base := due
	if base.IsZero() {
		base = start
	}
	at := base.Truncate(time.Second).Add(time.Second + slack)
	for _, sc := range scenarios {
		if sc.Segment == nil {
			continue
		}
		if out == nil {
			out = map[string]time.Time{}
		}
		out[sc.Name] = at
		d := sc.EstimatedDuration()
		if r := d % time.Second; r != 0 {
			d += time.Second - r
		}
		at = at.Add(d + slack)
	}
	return out
}

// waitSegmentStart waits until at, the shared start of sc's segment, or
// until ctx is done; a shard that comes late starts at once and says so.
func (tr *targetRun) waitSegmentStart(ctx context.Context, sc config.Scenario, at time.Time) {
	log := tr.log.With("scenario", sc.Name, "segment", sc.Segment.Index, "segments", sc.Segment.Count)
	wait := time.Until(at)
	if wait <= 0 {
		log.Warn("split scenario starts late: its shared start has passed", "start", at, "late_seconds", -wait.Seconds())
		return
	}
	log.Info("split scenario waits for its shared start", "start", at, "wait_seconds", wait.Seconds())
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
