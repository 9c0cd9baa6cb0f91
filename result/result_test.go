package result

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/benchd/benchd/engine"
)

// TestMeasureRealRun builds the record of a real engine run on loopback:
// counts add up, microseconds became seconds, the histograms decode to the
// engine's, and the JSON round-trips.
func TestMeasureRealRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		time.Sleep(2 * time.Millisecond)
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	res, err := engine.Run(t.Context(), engine.Plan{URL: srv.URL, Connections: 2, Threads: 1, Duration: 300 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := FromEngine(res)
	if s.Requests == 0 || s.Requests != res.Completed() || s.Sent != s.Requests+s.Errors.Total()+s.InFlight {
		t.Fatalf("counts: sent %d requests %d errors %v in flight %d", s.Sent, s.Requests, s.Errors, s.InFlight)
	}
	if s.URL != srv.URL || s.Connections != 2 || s.DurationSeconds != 0.3 || s.ElapsedSeconds != res.Elapsed.Seconds() {
		t.Errorf("settings: %+v", s)
	}
	if l := s.Latency; l == nil || l.P50 < 0.002 || l.P50 > 1 || l.P50 > l.P99 || l.P99 > l.Max || l.Count != int64(s.Requests) {
		t.Errorf("latency in seconds: %+v", s.Latency)
	}
	h, err := s.LatencyHistogram.Decode()
	if err != nil || h == nil || !h.Equals(res.Latency) {
		t.Errorf("latency histogram does not decode to the engine's: %v", err)
	}
	b, err := json.Marshal(&s)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"responses":{"2xx":`, `"errors":{"connect":0,"read":0,"write":0,"timeout":0,"closed":0}`, `"latency_seconds":{"count":`, `"latency_histogram":"HISTF`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON lacks %s: %s", key, b)
		}
	}
	var back Scenario
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(&back)
	if err != nil || string(again) != string(b) {
		t.Errorf("round trip differs:\n%s\n%s (%v)", again, b, err)
	}
}

func TestCountsJSON(t *testing.T) {
	tests := []struct {
		in      string
		want    Classes
		wantErr string
	}{
		{`{"2xx":5,"5xx":1}`, Classes{5, 0, 0, 1}, ""},
		{`{}`, Classes{}, ""},
		{`{"6xx":1}`, Classes{}, `unknown count "6xx"`},
		{`[1,2]`, Classes{}, "cannot unmarshal"},
		{`{"2xx":-1}`, Classes{}, "cannot unmarshal"},
	}
	for _, tt := range tests {
		var c Classes
		err := json.Unmarshal([]byte(tt.in), &c)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: error %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || c != tt.want {
			t.Errorf("%s: %v, %v; want %v", tt.in, c, err, tt.want)
		}
	}
	var k Kinds
	if err := json.Unmarshal([]byte(`{"timeout":3,"closed":1}`), &k); err != nil || k[engine.KindTimeout] != 3 || k[engine.KindClosed] != 1 {
		t.Errorf("kinds: %v, %v", k, err)
	}
}

func TestHistogram(t *testing.T) {
	if b, err := EncodeHistogram(nil); b != nil || err != nil {
		t.Errorf("EncodeHistogram(nil) = %q, %v", b, err)
	}
	if h, err := Histogram(nil).Decode(); h != nil || err != nil {
		t.Errorf("empty Decode = %v, %v", h, err)
	}
	for _, bad := range []string{"x", "HISTFAAAA", "AAAAAAAAAAAAAAAA"} {
		if _, err := Histogram(bad).Decode(); err == nil {
			t.Errorf("Decode(%q): no error", bad)
		}
	}
	h := hdrhistogram.New(1, 60_000_000, 3)
	for v := range int64(100_000) {
		_ = h.RecordValue(1 + v*37%2_000_000)
	}
	b, err := EncodeHistogram(h)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Decode()
	if err != nil || !got.Equals(h) {
		t.Errorf("round trip: %v", err)
	}
	var back Histogram
	if err := json.Unmarshal([]byte(`"not base64!"`), &back); err == nil {
		t.Error("a JSON string that is not base64 decoded")
	}
	t.Logf("encoded histogram of 100000 latencies: %d bytes", len(b))
}

// FuzzDecodeHistogram feeds Decode bytes as a damaged or hostile record
// could hold them: it returns a histogram or an error, never panics, and
// what it decodes encodes again.
func FuzzDecodeHistogram(f *testing.F) {
	h := hdrhistogram.New(1, 60_000_000, 3)
	_ = h.RecordValue(1234)
	b, err := EncodeHistogram(h)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(b))
	f.Add([]byte("HISTFAAAACB4nJNpmSzMwMDAzQABMDoAAkQAgw=="))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Histogram(b).Decode()
		if err != nil || h == nil {
			return
		}
		if _, err := EncodeHistogram(h); err != nil {
			t.Errorf("re-encode of a decoded histogram: %v", err)
		}
	})
}
