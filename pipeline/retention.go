package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/alecthomas/units"

	"github.com/benchd/benchd/config"
)

// schedulePeriod returns the shortest gap between the next few ticks of
// cfg's schedule (cron schedules need not be regular).
func schedulePeriod(cfg *config.Config) (time.Duration, error) {
	sched, err := cfg.CronSchedule()
	if err != nil {
		return 0, err
	}
	t := sched.Next(time.Now())
	period := time.Duration(0)
	for range 16 {
		n := sched.Next(t)
		if d := n.Sub(t); d > 0 && (period == 0 || d < period) {
			period = d
		}
		t = n
	}
	return period, nil
}

// CheckRetention refuses a retention (--storage.retention) that is
// negative, or shorter than one period of cfg's schedule (it would delete
// runs, even the one just finished, before the next could be compared with
// them): the error names the flag and the fix. 0 keeps the history
// forever.
func CheckRetention(retention time.Duration, cfg *config.Config) error {
	if retention < 0 {
		return fmt.Errorf("--storage.retention %s is negative: give a duration such as 90d, or 0 to keep the history forever", retention)
	}
	if retention == 0 {
		return nil
	}
	period, err := schedulePeriod(cfg)
	if err != nil {
		return err
	}
	if retention < period {
		return fmt.Errorf("--storage.retention %s is shorter than one period (%s) of the schedule %q: every run would be deleted before the next; give at least %s, or 0 to keep the history forever",
			retention, period, cfg.Schedule, period)
	}
	return nil
}

// ParseSize parses a non-negative size in bytes such as 512MB, 1.5GB or 0
// (github.com/alecthomas/units, units of 1024, as Prometheus'
// --storage.tsdb.retention.size): the retention size of the history. Its
// errors say the fix.
func ParseSize(s string) (int64, error) {
	b, err := units.ParseBase2Bytes(s)
	if err != nil {
		return 0, fmt.Errorf("%w: give a size such as 512MB or 2GB (units of 1024), or 0 for no bound", err)
	}
	if b < 0 {
		return 0, errors.New("size is negative: give a size such as 512MB, or 0 for no bound")
	}
	return int64(b), nil
}
