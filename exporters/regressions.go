package exporters

import (
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/benchd/benchd/regress"
)

// Regressions is a prometheus.Collector of the regression detector's last
// verdicts, one series per scenario and signal (labels target, endpoint,
// mode, signal). [Regressions.Set] replaces them all after each detection.
// It is safe for concurrent use.
type Regressions struct {
	mu       sync.Mutex
	verdicts []regress.Verdict

	detected, change, pValue, qValue *prometheus.Desc
	detectable                       *prometheus.Desc
	median, runs, changepoint        *prometheus.Desc
}

// NewRegressions returns an empty collector.
func NewRegressions() *Regressions {
	labels := []string{"target", "endpoint", "mode", "signal"}
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, labels, nil) }
	return &Regressions{
		detected:    d("benchd_regression_detected", "1 when the detector confirmed a regression of the signal in the newest runs of the scenario (docs/regressions.md), else 0."),
		change:      d("benchd_regression_change_ratio", "Relative change of the signal's newest runs against their baseline median: 0.1 is +10 %, -0.1 is -10 %."),
		pValue:      d("benchd_regression_p_value", "One-sided p-value of the detector's test of the newest runs against the baseline (1 when untested)."),
		qValue:      d("benchd_regression_q_value", "The p-value adjusted by Benjamini-Hochberg across every scenario and signal of the detection (1 when untested)."),
		detectable:  d("benchd_regression_detectable_change_ratio", "Smallest sustained step of the signal, as a change ratio towards its worse direction, that the detector would confirm with 95 % probability given the baseline's noise and the number of tests (docs/regressions.md); 0 when untested; +Inf, or -1 for throughput, when no step can be."),
		median:      d("benchd_baseline_median", "Median of the signal over the baseline runs, in the signal's unit: requests per second, seconds of latency, or a ratio."),
		runs:        d("benchd_baseline_runs", "Valid runs in the signal's baseline."),
		changepoint: d("benchd_changepoint_last_timestamp_seconds", "Unix time of the run at which the signal's last change point (E-Divisive means) began."),
	}
}

// Set replaces the exported verdicts; it does not keep vs's change points
// beyond their times.
func (c *Regressions) Set(vs []regress.Verdict) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.verdicts = append(c.verdicts[:0], vs...)
}

// Describe implements prometheus.Collector.
func (c *Regressions) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.detected, c.change, c.pValue, c.qValue, c.detectable, c.median, c.runs, c.changepoint} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Regressions) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range c.verdicts {
		parts := strings.SplitN(v.Scenario, "/", 3)
		if len(parts) != 3 {
			continue
		}
		lv := []string{parts[0], parts[2], parts[1], string(v.Signal)}
		g := func(d *prometheus.Desc, x float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, x, lv...)
		}
		detected := 0.0
		if v.Regressed {
			detected = 1
		}
		g(c.detected, detected)
		g(c.change, v.ChangeRatio)
		g(c.pValue, v.PValue)
		g(c.qValue, v.QValue)
		g(c.detectable, v.DetectableChange)
		g(c.median, v.BaselineMedian)
		g(c.runs, float64(v.BaselineN))
		if cp := v.ChangePoint; cp != nil && !cp.Time.IsZero() {
			g(c.changepoint, float64(cp.Time.UnixNano())/1e9)
		}
	}
}
