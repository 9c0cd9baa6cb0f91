package config

import (
	"math"
	"strings"
	"testing"
)

func TestParseThreshold(t *testing.T) {
	tests := []struct {
		signal, value string
		want          float64
		bound         string
		wantErr       string
	}{
		{"throughput", "1000", 1000, BoundMin, ""},
		{"throughput", " 2.5e3 ", 2500, BoundMin, ""},
		{"latency_p50", "250ms", 0.25, BoundMax, ""},
		{"latency_p99", "1.5s", 1.5, BoundMax, ""},
		{"error_ratio", "0", 0, BoundMax, ""},
		{"timeout_ratio", "0.01", 0.01, BoundMax, ""},
		{"throughput", "0", 0, "", "a minimum throughput must be more than 0"},
		{"throughput", "-5", 0, "", "a minimum throughput must be more than 0"},
		{"throughput", "5%", 0, "", `want a number, such as 1000, got "5%"`},
		{"throughput", "NaN", 0, "", "is not a finite number"},
		{"throughput", "+Inf", 0, "", "is not a finite number"},
		{"latency_p99", "250", 0, "", `want a latency with a unit, such as 250ms or 1.5s, got "250"`},
		{"latency_p99", "0s", 0, "", "a maximum latency must be more than 0"},
		{"latency_p99", "25h", 0, "", "is more than 24h0m0s"},
		{"error_ratio", "1", 0, "", "1 is outside [0, 1)"},
		{"error_ratio", "-0.1", 0, "", "-0.1 is outside [0, 1)"},
		{"timeout_ratio", "1%", 0.01, BoundMax, ""},
		{"error_ratio", "100%", 0, "", "1 is outside [0, 1)"},
		{"timeout_ratio", "one", 0, "", `want a number, such as 0.01, got "one"`},
		{"latency_p95", "1s", 0, "", `unknown signal "latency_p95" (did you mean "latency_p99"?)`},
		// An abbreviation, 3 edits from a long name.
		{"thruput", "1000", 0, "", `unknown signal "thruput" (did you mean "throughput"?)`},
		{"cpu", "1", 0, "", `unknown signal "cpu" (use one of throughput, latency_p50, latency_p99, error_ratio, timeout_ratio)`},
	}
	for _, tt := range tests {
		t.Run(tt.signal+"="+tt.value, func(t *testing.T) {
			th, err := ParseThreshold(tt.signal, tt.value)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseThreshold = %+v, %v; want an error with %q", th, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if th.Signal != tt.signal || th.Value != tt.want || th.Bound() != tt.bound {
				t.Errorf("ParseThreshold = %+v bound %s, want %s %g bound %s", th, th.Bound(), tt.signal, tt.want, tt.bound)
			}
			back, err := ParseThreshold(th.Signal, th.String())
			if err != nil || back != th {
				t.Errorf("ParseThreshold(String() = %q) = %+v, %v; want %+v", th.String(), back, err, th)
			}
		})
	}
}

func TestThresholdBreached(t *testing.T) {
	tests := []struct {
		th   Threshold
		v    float64
		want bool
	}{
		{Threshold{SignalThroughput, 100}, 99.9, true},
		{Threshold{SignalThroughput, 100}, 100, false},
		{Threshold{SignalThroughput, 100}, math.NaN(), false},
		{Threshold{SignalLatencyP99, 0.25}, 0.26, true},
		{Threshold{SignalLatencyP99, 0.25}, 0.25, false},
		{Threshold{SignalTimeoutRatio, 0}, 0.0001, true},
		{Threshold{SignalTimeoutRatio, 0}, 0, false},
		{Threshold{SignalErrorRatio, 0.05}, math.NaN(), false},
	}
	for _, tt := range tests {
		if got := tt.th.Breached(tt.v); got != tt.want {
			t.Errorf("%+v.Breached(%g) = %v, want %v", tt.th, tt.v, got, tt.want)
		}
	}
}

// TestValidateThresholds checks thresholds built by hand go through the
// same check as parsed ones, at their path.
func TestValidateThresholds(t *testing.T) {
	c, err := Load("testdata/minimal.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	c.Defaults.Thresholds = Thresholds{
		"latency_p99": {Signal: "latency_p99", Value: -1},
		"throughput":  {Signal: "error_ratio", Value: 0.1},
	}
	err = c.Validate()
	for _, want := range []string{
		"defaults.thresholds.latency_p99: -1s: a maximum latency must be more than 0",
		`defaults.thresholds.throughput: holds a threshold of signal "error_ratio"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want %q", err, want)
		}
	}
}

// FuzzParseThreshold checks that ParseThreshold never panics, that what it
// accepts is valid and survives String, and that its errors say something.
// Run it with: go test -fuzz=FuzzParseThreshold ./config.
func FuzzParseThreshold(f *testing.F) {
	for _, s := range []string{"1000", "250ms", "0.01", "1%", "1e400", "-0", "0x10", "1h1m1.5s", "NaN", ""} {
		for _, sig := range ThresholdSignals {
			f.Add(sig, s)
		}
	}
	f.Add("latncy_p99", "1s")
	f.Fuzz(func(t *testing.T, signal, value string) {
		th, err := ParseThreshold(signal, value)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if err := th.Validate(); err != nil {
			t.Fatalf("accepted %q=%q as %+v, which Validate rejects: %v", signal, value, th, err)
		}
		back, err := ParseThreshold(th.Signal, th.String())
		if err != nil {
			t.Fatalf("String() = %q does not parse again: %v", th.String(), err)
		}
		// A duration keeps nanoseconds: the value is the same to 1 ns.
		if math.Abs(back.Value-th.Value) > 1e-9*math.Max(1, math.Abs(th.Value)) {
			t.Fatalf("round trip %+v -> %q -> %+v", th, th.String(), back)
		}
	})
}
