package pipeline

import (
	"errors"
	"fmt"
	"time"

	"github.com/alecthomas/units"
	"github.com/prometheus/common/model"
)

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

// ParseRetention parses a retention (--storage.retention) as Prometheus
// does its --storage.tsdb.retention.time: a sum of units y (365 days), w,
// d, h, m, s and ms, such as 90d, 2w, 1y or 1y6w; also anything Go's
// time.ParseDuration takes (1.5h, -1h: config.Config.CheckRetention
// refuses a negative one). 0 keeps the history forever. Its errors say the
// fix.
func ParseRetention(s string) (time.Duration, error) {
	if d, err := model.ParseDuration(s); err == nil {
		return time.Duration(d), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New("want a duration such as 90d, 2w, 1y (365d) or 12h, or 0 to keep the history forever")
	}
	return d, nil
}

// FormatRetention writes d in ParseRetention's units (90d, 1y, 2h30m), as
// --storage.retention's default and help show it.
func FormatRetention(d time.Duration) string {
	if d < 0 || d%time.Millisecond != 0 { // below model's resolution
		return d.String()
	}
	return model.Duration(d).String()
}
