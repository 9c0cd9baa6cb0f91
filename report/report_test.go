package report

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
