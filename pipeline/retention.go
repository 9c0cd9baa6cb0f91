package main

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

// checkRetention refuses a --storage.retention that is negative, or
// shorter than one period of cfg's schedule (it would delete runs, even
// the one just finished, before the next could be compared with them).
// 0 keeps the history forever.
func checkRetention(retention time.Duration, cfg *config.Config) error {
	if retention < 0 {
		return usageError{fmt.Errorf("--storage.retention %s is negative: give a duration such as 90d, or 0 to keep the history forever", retention)}
	}
	if retention == 0 {
		return nil
	}
	period, err := schedulePeriod(cfg)
	if err != nil {
		return err
	}
	if retention < period {
		return usageError{fmt.Errorf("--storage.retention %s is shorter than one period (%s) of the schedule %q: every run would be deleted before the next; give at least %s, or 0 to keep the history forever",
			retention, period, cfg.Schedule, period)}
	}
	return nil
}

// sizeFlag is a kingpin value of a size in bytes, parsed by
// github.com/alecthomas/units (as Prometheus' --storage.tsdb.retention.size:
// 512MB, 1GB, units of 1024), whose errors name the flag and the fix.
type sizeFlag struct {
	name string
	v    *int64
}

func (f sizeFlag) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return fmt.Errorf("--%s %q: %w", f.name, s, err)
	}
	*f.v = n
	return nil
}

func (f sizeFlag) String() string { return units.Base2Bytes(*f.v).String() }

// parseSize parses a non-negative size such as 512MB, 1.5GB or 0.
func parseSize(s string) (int64, error) {
	b, err := units.ParseBase2Bytes(s)
	if err != nil {
		return 0, fmt.Errorf("%w: give a size such as 512MB or 2GB (units of 1024), or 0 for no bound", err)
	}
	if b < 0 {
		return 0, errors.New("size is negative: give a size such as 512MB, or 0 for no bound")
	}
	return int64(b), nil
}
