package regress

import (
	"slices"
	"testing"
	"time"
)

func TestValidity(t *testing.T) {
	tests := []struct {
		name  string
		h     RunHealth
		o     ValidityOptions
		valid bool
		want  []InvalidReason
	}{
		{name: "healthy closed loop", h: RunHealth{}, valid: true},
		{name: "busy scheduler at the limit", h: RunHealth{SchedulerLatencyP99: 10 * time.Millisecond}, valid: true},
		{name: "scheduler over the limit", h: RunHealth{SchedulerLatencyP99: 11 * time.Millisecond}, want: []InvalidReason{ReasonSchedulerLatency}},
		{name: "scheduler check disabled", h: RunHealth{SchedulerLatencyP99: time.Second}, o: ValidityOptions{MaxSchedulerLatencyP99: -1}, valid: true},
		{name: "scheduler limit raised", h: RunHealth{SchedulerLatencyP99: 15 * time.Millisecond}, o: ValidityOptions{MaxSchedulerLatencyP99: 20 * time.Millisecond}, valid: true},
		{name: "target failed", h: RunHealth{TargetFailed: true}, want: []InvalidReason{ReasonTargetFailed}},
		{name: "target died", h: RunHealth{TargetDied: true}, want: []InvalidReason{ReasonTargetDied}},
		{name: "open loop 1 % late is fine", h: RunHealth{IntendedRequests: 10000, LateRequests: 60, DroppedRequests: 40}, valid: true},
		{name: "open loop late plus dropped over 1 %", h: RunHealth{IntendedRequests: 10000, LateRequests: 60, DroppedRequests: 41}, want: []InvalidReason{ReasonOpenLoopLate}},
		{name: "open loop limit raised", h: RunHealth{IntendedRequests: 100, LateRequests: 4}, o: ValidityOptions{MaxLateRatio: 0.05}, valid: true},
		{name: "closed loop ignores late counts", h: RunHealth{LateRequests: 500}, valid: true},
		{name: "foreign CPU at the limit", h: RunHealth{ForeignCPURatio: 0.25}, valid: true},
		{name: "foreign CPU over the limit", h: RunHealth{ForeignCPURatio: 0.26}, want: []InvalidReason{ReasonForeignCPU}},
		{name: "foreign CPU limit raised", h: RunHealth{ForeignCPURatio: 0.4}, o: ValidityOptions{MaxForeignCPURatio: 0.5}, valid: true},
		{name: "foreign CPU check disabled", h: RunHealth{ForeignCPURatio: 1}, o: ValidityOptions{MaxForeignCPURatio: -1}, valid: true},
		{
			name: "every reason at once",
			h:    RunHealth{TargetFailed: true, TargetDied: true, IntendedRequests: 10, DroppedRequests: 10, SchedulerLatencyP99: time.Second, ForeignCPURatio: 0.9},
			want: []InvalidReason{ReasonTargetFailed, ReasonTargetDied, ReasonOpenLoopLate, ReasonSchedulerLatency, ReasonForeignCPU},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			valid, reasons := Validity(tt.h, tt.o)
			if valid != tt.valid || !slices.Equal(reasons, tt.want) {
				t.Errorf("Validity(%+v, %+v) = %v, %v; want %v, %v", tt.h, tt.o, valid, reasons, tt.valid, tt.want)
			}
		})
	}
}

func TestDirection(t *testing.T) {
	tests := []struct {
		s    Signal
		want int
	}{
		{SignalThroughput, -1},
		{SignalLatencyP50, 1},
		{SignalLatencyP99, 1},
		{SignalErrorRatio, 1},
		{SignalTimeoutRatio, 1},
		{"cpu_seconds", 0},
	}
	for _, tt := range tests {
		t.Run(string(tt.s), func(t *testing.T) {
			if got := Direction(tt.s); got != tt.want {
				t.Errorf("Direction(%q) = %d, want %d", tt.s, got, tt.want)
			}
		})
	}
}
