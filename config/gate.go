package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseThresholdExpr parses a threshold written as one expression, the
// syntax of `benchd bench --threshold` (and of k6's thresholds): a signal
// of [ThresholdSignals], the bound's operator, and a value in the syntax
// of [ParseThreshold]:
//
//	throughput>1000
//	latency_p99<250ms
//	error_ratio<0.01   (or error_ratio<1%)
//
// The operator says which side the measured value must stay on and must
// be the signal's bound ([Threshold.Bound]): > for throughput (a minimum),
// < for the others (a maximum). The error says how to fix the expression.
func ParseThresholdExpr(expr string) (Threshold, error) {
	signal, op, value, ok := splitExpr(expr)
	if !ok {
		return Threshold{}, fmt.Errorf("%q: want SIGNAL<VALUE or SIGNAL>VALUE (<= and >= read as < and >), such as latency_p99<250ms or throughput>1000", expr)
	}
	t, err := ParseThreshold(signal, value)
	if err != nil {
		return Threshold{}, err
	}
	want := "<"
	if t.Bound() == BoundMin {
		want = ">"
	}
	if op != want {
		return Threshold{}, fmt.Errorf("%q: a %s threshold is a %s: write %s%s%s", expr, signal, map[string]string{BoundMin: "minimum", BoundMax: "maximum"}[t.Bound()], signal, want, value)
	}
	return t, nil
}

// Change is a relative change of a signal between two runs that fails a
// comparison, as `benchd report --diff A --diff B --fail-on` reads it:
// the change from A's value a to B's value b is (b − a) / a, and the
// comparison fails when it is below Ratio (Below true) or above it. A
// Change is a plain value, safe to copy and to use concurrently.
type Change struct {
	// Signal is one of [ThresholdSignals].
	Signal string
	// Below is true for the operator <: fail when the change is below
	// Ratio; false for >: fail when it is above.
	Below bool
	// Ratio is the change as a fraction: -0.05 for -5%.
	Ratio float64
}

// ParseChange parses a failing change, SIGNAL<CHANGE% or SIGNAL>CHANGE%,
// where CHANGE is a signed percentage of the first run's value:
//
//	throughput<-5%     fail when throughput fell by more than 5 %
//	latency_p99>+10%   fail when p99 rose by more than 10 %
//	error_ratio>50%    fail when the error ratio rose by more than half
//
// Unlike a threshold, the expression names the failing side, for any
// signal. The error says how to fix the expression.
func ParseChange(expr string) (Change, error) {
	signal, op, value, ok := splitExpr(expr)
	if !ok {
		return Change{}, fmt.Errorf("%q: want SIGNAL<CHANGE%% or SIGNAL>CHANGE%%, such as throughput<-5%% or latency_p99>+10%%", expr)
	}
	if err := checkSignal(signal); err != nil {
		return Change{}, err
	}
	num, isPercent := strings.CutSuffix(value, "%")
	v, err := strconv.ParseFloat(num, 64)
	if !isPercent || err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return Change{}, fmt.Errorf("%q: want a change in percent of the first run's value, such as %s%s-5%%, got %q", expr, signal, op, value)
	}
	if v <= -100 {
		return Change{}, fmt.Errorf("%q: a value cannot fall by %s%% or more (it stops at -100%%)", expr, strconv.FormatFloat(-v, 'g', -1, 64))
	}
	return Change{Signal: signal, Below: op == "<", Ratio: v / 100}, nil
}

// Failed reports whether the change from a to b fails c; ok is false
// when the change is undefined (a or b NaN, or a is 0), which never fails.
func (c Change) Failed(a, b float64) (rel float64, failed, ok bool) {
	if math.IsNaN(a) || math.IsNaN(b) || a == 0 {
		return math.NaN(), false, false
	}
	rel = (b - a) / a
	if c.Below {
		return rel, rel < c.Ratio, true
	}
	return rel, rel > c.Ratio, true
}

// String returns c in the syntax [ParseChange] reads.
func (c Change) String() string {
	op := ">"
	if c.Below {
		op = "<"
	}
	// Six significant digits: -0.0001% read as a ratio and back is
	// -9.999999999999999e-05 in full.
	pct := strconv.FormatFloat(c.Ratio*100, 'g', 6, 64)
	if c.Ratio >= 0 {
		pct = "+" + pct
	}
	return c.Signal + op + pct + "%"
}

// Expr returns t as an expression [ParseThresholdExpr] reads.
func (t Threshold) Expr() string {
	if t.Bound() == BoundMin {
		return t.Signal + ">" + t.String()
	}
	return t.Signal + "<" + t.String()
}

// splitExpr splits SIGNAL<VALUE or SIGNAL>VALUE, trimming spaces.
func splitExpr(expr string) (signal, op, value string, ok bool) {
	i := strings.IndexAny(expr, "<>")
	if i < 0 {
		return "", "", "", false
	}
	signal, op, value = strings.TrimSpace(expr[:i]), expr[i:i+1], strings.TrimSpace(expr[i+1:])
	value = strings.TrimPrefix(value, "=") // <= reads as <: equal never breaches
	if signal == "" || value == "" || strings.ContainsAny(value, "<>") {
		return "", "", "", false
	}
	return signal, op, value, true
}
