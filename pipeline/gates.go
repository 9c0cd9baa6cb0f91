package pipeline

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/regress"
	"github.com/benchd/benchd/result"
)

// Breach is one threshold a scenario's result is on the wrong side of:
// what fails a CI gate (`benchd bench --threshold`, `benchd matrix` with
// the configuration's thresholds).
type Breach struct {
	// Scenario is the result's name, target/mode/endpoint; "" for
	// `benchd bench`.
	Scenario string
	// Threshold is the level breached.
	Threshold config.Threshold
	// Value is the measured value in the signal's base unit.
	Value float64
}

// String names the threshold and the value, as `latency_p99<250ms: got
// 312ms`, prefixed with the scenario when there is one.
func (b Breach) String() string {
	s := fmt.Sprintf("%s: got %s", b.Threshold.Expr(), formatSignal(b.Threshold.Signal, b.Value))
	if b.Scenario != "" {
		s = b.Scenario + ": " + s
	}
	return s
}

// Breaches returns the thresholds of ts that rec breaches, in the order
// of [config.ThresholdSignals]. A signal without a value (a latency with
// no completed request) breaches a maximum of latency only when nothing
// completed at all: a gate must not pass a server that answered nothing.
// A shard's segment of a split scenario (rec.Segment set) is held to no
// throughput threshold: that is the whole scenario's, the sum of the
// segments over the shards (BenchdLowThroughput, docs/scale-out.md).
func Breaches(rec *result.Scenario, ts config.Thresholds) []Breach {
	var out []Breach
	for _, t := range ts.Sorted() {
		if rec.Segment != nil && t.Signal == config.SignalThroughput {
			continue
		}
		v := regress.Signal(t.Signal).RunValue(rec)
		if math.IsNaN(v) && t.Bound() == config.BoundMax && t.Signal != config.SignalErrorRatio && t.Signal != config.SignalTimeoutRatio {
			out = append(out, Breach{Scenario: rec.Name, Threshold: t, Value: v})
			continue
		}
		if t.Breached(v) {
			out = append(out, Breach{Scenario: rec.Name, Threshold: t, Value: v})
		}
	}
	return out
}

// formatSignal prints v in the unit of signal's thresholds: a duration
// for latency, a percentage for ratios, requests/s for throughput; "no
// value" for NaN.
func formatSignal(signal string, v float64) string {
	switch {
	case math.IsNaN(v):
		return "no value (no request completed)"
	case signal == config.SignalLatencyP50 || signal == config.SignalLatencyP99:
		return time.Duration(math.Round(v * 1e9)).Round(time.Microsecond).String()
	case signal == config.SignalThroughput:
		return strconv.FormatFloat(v, 'f', 2, 64) + " requests/s"
	}
	return strconv.FormatFloat(v*100, 'g', 4, 64) + "%"
}

// ChangeFailure is one scenario whose signal changed between two runs by
// more than a [config.Change] allows: what fails
// `benchd report --diff A --diff B --fail-on`.
type ChangeFailure struct {
	// Scenario is the name both runs have, target/mode/endpoint.
	Scenario string
	// Change is the failing change.
	Change config.Change
	// A and B are the signal's values in the two runs, in its base unit;
	// Ratio is (B − A) / A.
	A, B, Ratio float64
}

// String names the change and the values, as `gunicorn/sync/json:
// throughput<-5%: -12.3% (1000.00 requests/s → 877.00 requests/s)`.
func (f ChangeFailure) String() string {
	return fmt.Sprintf("%s: %s: %+.1f%% (%s → %s)", f.Scenario, f.Change, f.Ratio*100,
		formatSignal(f.Change.Signal, f.A), formatSignal(f.Change.Signal, f.B))
}

// ChangeFailures compares the scenarios that both a and b have, by name,
// with every change of cs, and returns those that fail, scenario by
// scenario in b's order. A scenario whose change is undefined (no value in
// either run, or 0 in a), or whose settings differ between the runs
// (result.Settings.Changed: a changed setting is not a regression), or that
// either run's stop cut short (result.Scenario.Interrupted: part of a
// duration), never fails: compared counts the checks made.
func ChangeFailures(a, b []result.Scenario, cs []config.Change) (failures []ChangeFailure, compared int) {
	byName := make(map[string]*result.Scenario, len(a))
	for i := range a {
		byName[a[i].Name] = &a[i]
	}
	for i := range b {
		sa := byName[b[i].Name]
		if sa == nil || sa.Interrupted() || b[i].Interrupted() || len(b[i].Changed(sa.Settings)) > 0 {
			continue
		}
		for _, c := range cs {
			s := regress.Signal(c.Signal)
			va, vb := s.RunValue(sa), s.RunValue(&b[i])
			rel, failed, ok := c.Failed(va, vb)
			if !ok {
				continue
			}
			compared++
			if failed {
				failures = append(failures, ChangeFailure{Scenario: b[i].Name, Change: c, A: va, B: vb, Ratio: rel})
			}
		}
	}
	return failures, compared
}
