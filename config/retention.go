package config

import (
	"fmt"
	"time"
)

// CheckRetention checks a retention of the run history (the
// --storage.retention of `benchd serve` and `benchd matrix`: runs older
// than it are deleted after each run; 0 keeps them forever) against c's
// schedule. It refuses a negative retention, and one shorter than the
// shortest gap between two activations of the schedule (from a fixed
// instant, as [Config.Warnings] measures it): every run would be deleted
// before the next could be compared with it. It is the one rule for
// `benchd config check`, `benchd matrix` and `benchd serve` (at start and
// at each reload). A retention too short is a [*FieldError] at schedule,
// whose message names the flag and the fix; a negative one is an error
// without a path. It returns nil when the schedule does not compile or
// never fires, which [Config.Validate] reports.
func (c *Config) CheckRetention(retention time.Duration) error {
	if retention < 0 {
		return fmt.Errorf("--storage.retention %s is negative: give a duration such as 90d, or 0 to keep the history forever", retention)
	}
	if retention == 0 {
		return nil
	}
	if s, err := c.CronSchedule(); err == nil {
		if period := minGap(s); period > 0 && retention < period {
			return &FieldError{Path: "schedule", Err: fmt.Errorf("--storage.retention %s is shorter than one period (%s) of the schedule %q: every run would be deleted before the next; give at least %s, or 0 to keep the history forever",
				retention, period, c.Schedule, period)}
		}
	}
	return nil
}
