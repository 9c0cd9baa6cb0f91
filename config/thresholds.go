package config

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Threshold signals: the names of docs/metrics.md and of the regression
// detector (regress.Signals), each with its unit.
const (
	// SignalThroughput is completed requests per second; its threshold is a
	// minimum.
	SignalThroughput = "throughput"
	// SignalLatencyP50 is the median latency in seconds; its threshold is a
	// maximum.
	SignalLatencyP50 = "latency_p50"
	// SignalLatencyP99 is the 99th percentile latency in seconds; its
	// threshold is a maximum.
	SignalLatencyP99 = "latency_p99"
	// SignalErrorRatio is (socket errors + 4xx/5xx) / requests sent, 0 to
	// 1; its threshold is a maximum.
	SignalErrorRatio = "error_ratio"
	// SignalTimeoutRatio is timeouts / requests sent, 0 to 1; its threshold
	// is a maximum.
	SignalTimeoutRatio = "timeout_ratio"
)

// ThresholdSignals are the signals a threshold can be set for, in the
// order reports and metrics list them. The caller must not modify it.
// cpu_per_request and instructions_per_request, regression signals, have
// no threshold (yet): no rule compares them.
var ThresholdSignals = []string{SignalThroughput, SignalLatencyP50, SignalLatencyP99, SignalErrorRatio, SignalTimeoutRatio}

// Bounds of a [Threshold]: which side of it a measured value must stay on.
const (
	// BoundMin is the bound of a throughput threshold: the signal must not
	// fall below it.
	BoundMin = "min"
	// BoundMax is the bound of latency and ratio thresholds: the signal
	// must not rise above it.
	BoundMax = "max"
)

// Threshold is one absolute level a signal of a scenario must keep: a
// minimum of throughput, or a maximum of latency or of a ratio. Outside
// the thresholds a configuration sets, benchd alerts on change only (a
// benchmark at saturation has timeouts by design). Build one with
// [ParseThreshold]; a Threshold is a plain value, safe to copy and to use
// concurrently.
type Threshold struct {
	// Signal is one of [ThresholdSignals].
	Signal string
	// Value is the level in the signal's base unit: requests per second
	// for throughput, seconds for latency, a ratio from 0 to 1 for
	// error_ratio and timeout_ratio.
	Value float64
}

// ParseThreshold parses the threshold of signal written as value, the
// syntax of the thresholds key: for throughput a number of requests per
// second above 0 (such as 1000 or 2.5e3); for latency_p50 and latency_p99
// a duration with a unit above 0 and at most [MaxDuration] (such as
// 250ms); for error_ratio and timeout_ratio a ratio from 0 up to but not
// including 1, as a fraction or a percentage (0.01 or 1%). The error says what is wrong and how to fix
// it, without the YAML path; an unknown signal's names the closest known
// one.
func ParseThreshold(signal, value string) (Threshold, error) {
	if err := checkSignal(signal); err != nil {
		return Threshold{}, err
	}
	value = strings.TrimSpace(value)
	t := Threshold{Signal: signal}
	switch signal {
	case SignalLatencyP50, SignalLatencyP99:
		d, err := time.ParseDuration(value)
		if err != nil {
			return Threshold{}, fmt.Errorf("want a latency with a unit, such as 250ms or 1.5s, got %q", value)
		}
		t.Value = d.Seconds()
	default:
		v, err := strconv.ParseFloat(strings.TrimSuffix(value, "%"), 64)
		if err != nil || signal == SignalThroughput && strings.HasSuffix(value, "%") {
			return Threshold{}, fmt.Errorf("want a number, such as %s, got %q", t.example(), value)
		}
		if strings.HasSuffix(value, "%") {
			v /= 100
		}
		t.Value = v
	}
	if err := t.Validate(); err != nil {
		return Threshold{}, err
	}
	return t, nil
}

// checkSignal returns an error naming the closest known signal when
// signal is not one of [ThresholdSignals].
func checkSignal(signal string) error {
	if slices.Contains(ThresholdSignals, signal) {
		return nil
	}
	if best := closest(signal, ThresholdSignals); best != "" {
		return fmt.Errorf("unknown signal %q (did you mean %q?)", signal, best)
	}
	return fmt.Errorf("unknown signal %q (use one of %s)", signal, strings.Join(ThresholdSignals, ", "))
}

// Validate checks t's signal and range, as [ParseThreshold] does; it is
// the one check of a threshold, also for one built by hand. The error
// says how to fix the value.
func (t Threshold) Validate() error {
	v := t.Value
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%s is not a finite number (write one such as %s)", t, t.example())
	}
	switch t.Signal {
	case SignalThroughput:
		if v <= 0 {
			return fmt.Errorf("%s requests/s: a minimum throughput must be more than 0 (such as %s; leave the threshold out for none)", t, t.example())
		}
	case SignalLatencyP50, SignalLatencyP99:
		if v <= 0 {
			return fmt.Errorf("%s: a maximum latency must be more than 0 (such as %s)", t, t.example())
		}
		if v > MaxDuration.Seconds() {
			return fmt.Errorf("%s is more than %s", t, MaxDuration)
		}
	case SignalErrorRatio, SignalTimeoutRatio:
		if v < 0 || v >= 1 {
			return fmt.Errorf("%s is outside [0, 1): a maximum ratio of the requests sent (such as %s for 1 %%; 0 allows none; leave the threshold out for none)", t, t.example())
		}
	default:
		return fmt.Errorf("unknown signal %q (use one of %s)", t.Signal, strings.Join(ThresholdSignals, ", "))
	}
	return nil
}

// example is a value of t's signal, for messages.
func (t Threshold) example() string {
	switch t.Signal {
	case SignalThroughput:
		return "1000"
	case SignalLatencyP50, SignalLatencyP99:
		return "250ms"
	}
	return "0.01"
}

// Bound returns [BoundMin] for throughput and [BoundMax] for the other
// signals.
func (t Threshold) Bound() string {
	if t.Signal == SignalThroughput {
		return BoundMin
	}
	return BoundMax
}

// Breached reports whether a measured value v of t's signal, in its base
// unit, is on the wrong side of t: below a minimum, above a maximum (equal
// is not a breach). NaN (nothing measured) never breaches.
func (t Threshold) Breached(v float64) bool {
	if math.IsNaN(v) {
		return false
	}
	if t.Bound() == BoundMin {
		return v < t.Value
	}
	return v > t.Value
}

// String returns the value in the syntax [ParseThreshold] reads: a
// duration for latency (such as 250ms), a plain number otherwise.
func (t Threshold) String() string {
	if (t.Signal == SignalLatencyP50 || t.Signal == SignalLatencyP99) && !math.IsNaN(t.Value) && math.Abs(t.Value) < MaxDuration.Seconds()*2 {
		return time.Duration(math.Round(t.Value * 1e9)).String()
	}
	return strconv.FormatFloat(t.Value, 'g', -1, 64)
}

// Thresholds are the thresholds of one layer of settings, or of a
// scenario, by signal. In YAML a mapping of signal to value, in the syntax
// of [ParseThreshold]:
//
//	thresholds: {throughput: 1000, latency_p99: 250ms, timeout_ratio: 0.01}
//
// A layer's thresholds replace those of the same signals of the layers it
// inherits from, signal by signal. Nil or empty means none.
type Thresholds map[string]Threshold

// Sorted returns the thresholds in the order of [ThresholdSignals].
func (ts Thresholds) Sorted() []Threshold {
	out := make([]Threshold, 0, len(ts))
	for _, s := range ThresholdSignals {
		if t, ok := ts[s]; ok {
			out = append(out, t)
		}
	}
	for _, s := range slices.Sorted(maps.Keys(ts)) { // built by hand with an unknown signal
		if !slices.Contains(ThresholdSignals, s) {
			out = append(out, ts[s])
		}
	}
	return out
}

// UnmarshalYAML decodes a mapping of signal to threshold, parsing each
// with [ParseThreshold]; every problem is reported at its line.
func (ts *Thresholds) UnmarshalYAML(n *yaml.Node) error {
	var problems []string
	bad := func(at *yaml.Node, err error) {
		problems = append(problems, fmt.Sprintf("line %d: column %d: %v", at.Line, at.Column, err))
	}
	n = resolveAlias(n)
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			*ts = nil
			return nil
		}
		bad(n, fmt.Errorf("want a mapping of signals to thresholds, such as {latency_p99: 250ms, timeout_ratio: 0.01}, got %s", describeNode(n)))
		return &yaml.TypeError{Errors: problems}
	}
	out := Thresholds{}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolveAlias(n.Content[i]), resolveAlias(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			bad(k, fmt.Errorf("want a signal name, got a %s", kindName(k)))
			continue
		}
		if first, ok := seen[k.Value]; ok {
			bad(k, fmt.Errorf("key %q is given twice, first at line %d (keep one)", k.Value, first))
			continue
		}
		seen[k.Value] = k.Line
		if v.Kind != yaml.ScalarNode {
			bad(v, fmt.Errorf("want the threshold of %s as one value, got a %s", k.Value, kindName(v)))
			continue
		}
		t, err := ParseThreshold(k.Value, v.Value)
		if err != nil {
			// At the value: a block mapping's first key shares its line
			// and column with the mapping, which would take the path.
			bad(v, err)
			continue
		}
		out[k.Value] = t
	}
	if problems != nil {
		return &yaml.TypeError{Errors: problems}
	}
	*ts = out
	return nil
}

// MarshalYAML encodes the thresholds as [Thresholds.UnmarshalYAML] reads
// them.
func (ts Thresholds) MarshalYAML() (any, error) {
	out := make(map[string]string, len(ts))
	for s, t := range ts {
		out[s] = t.String()
	}
	return out, nil
}

// checkThresholds checks the thresholds of one layer of settings (those
// decoded from YAML are checked already; these may be built by hand).
func checkThresholds(k *checker, path string, ts Thresholds) {
	for _, s := range slices.Sorted(maps.Keys(ts)) {
		t := ts[s]
		p := childPath(path, s)
		if t.Signal != s {
			k.add(p, "holds a threshold of signal %q (the key and the signal must be the same)", t.Signal)
			continue
		}
		if err := t.Validate(); err != nil {
			k.add(p, "%w", err)
		}
	}
}

// mergeThresholds returns base with the thresholds of next replacing those
// of the same signals; it modifies neither.
func mergeThresholds(base, next Thresholds) Thresholds {
	if len(next) == 0 {
		return base
	}
	out := make(Thresholds, len(base)+len(next))
	maps.Copy(out, base)
	maps.Copy(out, next)
	return out
}
