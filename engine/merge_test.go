package engine

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestMerge(t *testing.T) {
	srv := startRaw(t, respond(okResponse))
	plan := Plan{URL: "http://" + srv.ln.Addr().String() + "/", Connections: 4, Duration: 300 * time.Millisecond, Timeout: time.Second}
	var rs []*Result
	for range 3 {
		r, err := Run(context.Background(), plan, nil)
		if err != nil {
			t.Fatal(err)
		}
		checkInvariant(t, r)
		rs = append(rs, r)
	}
	m, err := Merge(rs...)
	if err != nil {
		t.Fatal(err)
	}
	checkInvariant(t, m)
	var sent, completed uint64
	var elapsed time.Duration
	var samples int64
	for _, r := range rs {
		sent += r.Sent
		completed += r.Completed()
		elapsed += r.Elapsed
		samples += r.RequestsPerSecondSamples.TotalCount()
	}
	if m.Sent != sent || m.Completed() != completed || m.Elapsed != elapsed {
		t.Errorf("merged Sent %d Completed %d Elapsed %s, want the sums %d %d %s", m.Sent, m.Completed(), m.Elapsed, sent, completed, elapsed)
	}
	if want := float64(completed) / elapsed.Seconds(); m.RequestsPerSecond() != want {
		t.Errorf("RequestsPerSecond = %v, want %v", m.RequestsPerSecond(), want)
	}
	if got := m.RequestsPerSecondSamples.TotalCount(); got != samples {
		t.Errorf("merged Req/Sec samples %d, want %d", got, samples)
	}
	if m.Plan.Duration != 3*plan.Duration || m.Plan.URL != plan.URL {
		t.Errorf("merged plan %s %s, want 3 × %s of %s", m.Plan.Duration, m.Plan.URL, plan.Duration, plan.URL)
	}
	if !m.Start.Equal(rs[0].Start) || !m.End.Equal(rs[2].End) || m.ConnectionsEstablished != 4 {
		t.Errorf("Start %v End %v connections %d, want the first start, the last end, 4", m.Start, m.End, m.ConnectionsEstablished)
	}
	// The inputs are untouched.
	if rs[0].Latency.TotalCount() != int64(rs[0].Completed()) {
		t.Errorf("Merge modified its first input")
	}

	other := *rs[1]
	other.Plan.Connections = 8
	for _, tc := range []struct {
		name string
		in   []*Result
		want string
	}{
		{"none", nil, "engine: merge: no results"},
		{"nil", []*Result{rs[0], nil}, "engine: merge: nil result"},
		{"other plan", []*Result{rs[0], &other}, "engine: merge: result 1 ran another plan"},
	} {
		if _, err := Merge(tc.in...); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: Merge error = %v, want prefix %q", tc.name, err, tc.want)
		}
	}
}

// TestMergeLateAndUnexpected checks that Merge sums the counts of
// unexpected responses, late answers and late starts, and merges the late
// answers' latencies, of real runs with OnTimeout wait.
func TestMergeLateAndUnexpected(t *testing.T) {
	s := startLate(t, false, func(write func([]byte) bool, n int, done <-chan struct{}) bool {
		if n%2 == 1 {
			select {
			case <-time.After(80 * time.Millisecond):
			case <-done:
				return false
			}
		}
		return write(answer(404, "no"))
	})
	plan := Plan{URL: s.url, Connections: 1, Duration: 300 * time.Millisecond, Timeout: 40 * time.Millisecond, Grace: time.Second, OnTimeout: TimeoutWait}
	var rs []*Result
	var unexpected, late, pending uint64
	var lateCount int64
	for range 2 {
		r, err := Run(t.Context(), plan, nil)
		if err != nil {
			t.Fatal(err)
		}
		checkLate(t, r)
		unexpected += r.Unexpected
		late += r.LateResponses
		pending += r.LateResponsesPending
		lateCount += r.LateResponseLatency.TotalCount()
		rs = append(rs, r)
	}
	m, err := Merge(rs...)
	if err != nil {
		t.Fatal(err)
	}
	checkLate(t, m)
	if unexpected == 0 || late == 0 {
		t.Fatalf("runs had %d unexpected and %d late responses, want some of each", unexpected, late)
	}
	if m.Unexpected != unexpected || m.LateResponses != late || m.LateResponsesPending != pending || m.LateResponseLatency.TotalCount() != lateCount {
		t.Errorf("merged unexpected %d, late %d, pending %d, late latencies %d; want the sums %d %d %d %d",
			m.Unexpected, m.LateResponses, m.LateResponsesPending, m.LateResponseLatency.TotalCount(), unexpected, late, pending, lateCount)
	}
}
