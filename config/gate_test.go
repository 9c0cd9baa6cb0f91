package config

import (
	"math"
	"strings"
	"testing"
)

func TestParseThresholdExpr(t *testing.T) {
	tests := []struct {
		expr    string
		want    Threshold
		wantErr string
	}{
		{"latency_p99<250ms", Threshold{SignalLatencyP99, 0.25}, ""},
		{" throughput > 1000 ", Threshold{SignalThroughput, 1000}, ""},
		{"error_ratio<1%", Threshold{SignalErrorRatio, 0.01}, ""},
		{"timeout_ratio<=0.001", Threshold{SignalTimeoutRatio, 0.001}, ""},
		{"throughput<1000", Threshold{}, `a throughput threshold is a minimum: write throughput>1000`},
		{"latency_p50>1s", Threshold{}, `a latency_p50 threshold is a maximum: write latency_p50<1s`},
		{"latency_p99=250ms", Threshold{}, "want SIGNAL<VALUE or SIGNAL>VALUE"},
		{"latency_p99<", Threshold{}, "want SIGNAL<VALUE or SIGNAL>VALUE"},
		{"<250ms", Threshold{}, "want SIGNAL<VALUE or SIGNAL>VALUE"},
		{"a<b<c", Threshold{}, "want SIGNAL<VALUE or SIGNAL>VALUE"},
		{"latency_p95<250ms", Threshold{}, `did you mean "latency_p99"?`},
		{"latency_p99<250", Threshold{}, "want a latency with a unit"},
		{"error_ratio<100%", Threshold{}, "outside [0, 1)"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := ParseThresholdExpr(tt.expr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseThresholdExpr = %+v, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseThresholdExpr = %+v, %v; want %+v", got, err, tt.want)
			}
			if back, err := ParseThresholdExpr(got.Expr()); err != nil || back != got {
				t.Errorf("ParseThresholdExpr(Expr() = %q) = %+v, %v", got.Expr(), back, err)
			}
		})
	}
}

func TestParseChange(t *testing.T) {
	tests := []struct {
		expr    string
		want    Change
		wantErr string
	}{
		{"throughput<-5%", Change{SignalThroughput, true, -0.05}, ""},
		{"latency_p99>+10%", Change{SignalLatencyP99, false, 0.10}, ""},
		{"error_ratio > 50%", Change{SignalErrorRatio, false, 0.5}, ""},
		{"throughput<-5", Change{}, "want a change in percent"},
		{"throughput<-100%", Change{}, "cannot fall by 100% or more"},
		{"throughput", Change{}, "want SIGNAL<CHANGE% or SIGNAL>CHANGE%"},
		{"throughpt<-5%", Change{}, `did you mean "throughput"?`},
		{"thruput<-5%", Change{}, `unknown signal "thruput" (did you mean "throughput"?)`},
		{"throughput<NaN%", Change{}, "want a change in percent"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, err := ParseChange(tt.expr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseChange = %+v, %v; want an error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got.Signal != tt.want.Signal || got.Below != tt.want.Below || math.Abs(got.Ratio-tt.want.Ratio) > 1e-12 {
				t.Fatalf("ParseChange = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestChangeFailed(t *testing.T) {
	drop := Change{SignalThroughput, true, -0.05}
	rise := Change{SignalLatencyP99, false, 0.10}
	tests := []struct {
		name       string
		c          Change
		a, b       float64
		failed, ok bool
	}{
		{"drop of 10%", drop, 1000, 900, true, true},
		{"drop of 5% exactly", drop, 1000, 950, false, true},
		{"gain", drop, 1000, 1200, false, true},
		{"rise of 20%", rise, 0.1, 0.12, true, true},
		{"fall", rise, 0.1, 0.05, false, true},
		{"nothing before", drop, 0, 900, false, false},
		{"no value after", rise, 0.1, math.NaN(), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, failed, ok := tt.c.Failed(tt.a, tt.b)
			if failed != tt.failed || ok != tt.ok {
				t.Errorf("Failed(%g, %g) = %v, %v; want %v, %v", tt.a, tt.b, failed, ok, tt.failed, tt.ok)
			}
		})
	}
}

// FuzzParseThresholdExpr checks that the expression parsers never panic
// and that what they accept reads back the same.
// Run it with: go test -fuzz=FuzzParseThresholdExpr ./config.
func FuzzParseThresholdExpr(f *testing.F) {
	for _, s := range []string{"latency_p99<250ms", "throughput>1000", "error_ratio<1%", "throughput<-5%", "x<<y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		if th, err := ParseThresholdExpr(expr); err == nil {
			if back, err := ParseThresholdExpr(th.Expr()); err != nil || back != th {
				t.Errorf("ParseThresholdExpr(%q) = %+v; Expr %q reads back as %+v, %v", expr, th, th.Expr(), back, err)
			}
		}
		if c, err := ParseChange(expr); err == nil {
			if back, err := ParseChange(c.String()); err != nil || back.Signal != c.Signal || back.Below != c.Below {
				t.Errorf("ParseChange(%q) = %+v; String %q reads back as %+v, %v", expr, c, c.String(), back, err)
			}
		}
	})
}

// TestChangeString: a change reads back as written, without the float
// noise of percent → ratio → percent (-0.0001% is -9.999999999999999e-05
// in full).
func TestChangeString(t *testing.T) {
	for _, expr := range []string{"throughput>-0.0001%", "throughput<-5%", "latency_p99>+10%", "error_ratio>+0%"} {
		c, err := ParseChange(expr)
		if err != nil {
			t.Fatalf("ParseChange(%q): %v", expr, err)
		}
		if got := c.String(); got != expr {
			t.Errorf("ParseChange(%q).String() = %q", expr, got)
		}
	}
}
