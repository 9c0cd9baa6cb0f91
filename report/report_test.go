package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/result"
)

func TestJSONConnectLatency(t *testing.T) {
	// A server that closes every connection: each request dials anew.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Connection", "close")
	}))
	t.Cleanup(srv.Close)
	res, err := engine.Run(t.Context(), engine.Plan{URL: srv.URL, Connections: 2, Duration: 300 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Completed() == 0 || res.TotalErrors() != 0 {
		t.Fatalf("completed %d, errors %v (%q)", res.Completed(), res.Errors, res.ErrorSamples)
	}

	tests := []struct {
		name   string
		result func() *engine.Result
		want   int64 // dials in connect_latency; 0: omitted
	}{
		{"a dial per request", func() *engine.Result { return res }, int64(res.Sent)},
		{"no histogram, as in stored history", func() *engine.Result {
			r := *res
			r.ConnectLatency = nil
			return &r
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteJSON(&b, rec(tt.result())); err != nil {
				t.Fatal(err)
			}
			var got struct {
				ConnectLatency *result.Latency `json:"connect_latency_seconds"`
				Requests       uint64          `json:"requests"`
			}
			if err := json.Unmarshal(b.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Requests != res.Completed() {
				t.Errorf("requests %d, want %d", got.Requests, res.Completed())
			}
			c := got.ConnectLatency
			if tt.want == 0 {
				if c != nil || bytes.Contains(b.Bytes(), []byte("connect_latency_seconds")) {
					t.Errorf("connect_latency %+v, want it omitted", c)
				}
				return
			}
			if c == nil {
				t.Fatalf("no connect_latency in %s", b.String())
			}
			// Loopback handshakes: positive, ordered, far below a second.
			if c.Count != tt.want || c.Mean <= 0 || c.P50 <= 0 || c.P50 > c.P99 || c.P99 > c.Max || c.Max > 1 {
				t.Errorf("connect_latency %+v, want %d dials of 0 to 1 s, p50 ≤ p99 ≤ max", c, tt.want)
			}
		})
	}
}

// TestSummaryLateAndUnexpected runs the engine with on_timeout wait and a
// body check against a server whose every other answer is late and never
// holds the expected text: the JSON has the late answers beside the
// timeouts and the unexpected responses beside the classes.
func TestJSONLateAndUnexpected(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%2 == 0 {
			select {
			case <-time.After(150 * time.Millisecond):
			case <-r.Context().Done():
			}
		}
		_, _ = w.Write([]byte("other text"))
	}))
	t.Cleanup(srv.Close)
	res, err := engine.Run(t.Context(), engine.Plan{URL: srv.URL, Connections: 1, Duration: 500 * time.Millisecond,
		Timeout: 50 * time.Millisecond, Grace: time.Second, OnTimeout: engine.TimeoutWait, Expect: engine.Expect{BodyContains: "Hello"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.LateResponses == 0 || res.Unexpected == 0 || res.Unexpected != res.Completed() {
		t.Fatalf("late %d, unexpected %d of %d; want some late and every response unexpected", res.LateResponses, res.Unexpected, res.Completed())
	}
	var b bytes.Buffer
	if err := WriteJSON(&b, rec(res)); err != nil {
		t.Fatal(err)
	}
	var got result.Scenario
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	if got.Unexpected != res.Unexpected || got.LateResponses != res.LateResponses || got.OnTimeout != "wait" ||
		got.LateResponsesPending != res.LateResponsesPending || got.LateResponseLatency == nil || got.LateResponseLatency.Mean < 0.15 {
		t.Errorf("unexpected %d, late %d (%d pending, %+v); want %d and %d late (%d pending) of at least 150 ms", got.Unexpected,
			got.LateResponses, got.LateResponsesPending, got.LateResponseLatency, res.Unexpected, res.LateResponses, res.LateResponsesPending)
	}
	if want := float64(res.TotalErrors()+res.Unexpected) / float64(res.Sent); got.ErrorRatio != want {
		t.Errorf("error ratio %v, want %v", got.ErrorRatio, want)
	}
	var wrk bytes.Buffer
	if err := WriteWrk(&wrk, rec(res), WrkOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{fmt.Sprintf("  Late responses: %d", res.LateResponses), fmt.Sprintf("  Unexpected responses: %d\n", res.Unexpected)} {
		if !strings.Contains(wrk.String(), line) {
			t.Errorf("wrk report lacks %q:\n%s", line, wrk.String())
		}
	}
}
