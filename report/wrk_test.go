package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/result"
)

// update rewrites the golden files of this package's tests instead of
// comparing with them: go test ./exporters -update.
var update = flag.Bool("update", false, "rewrite testdata golden files")

// record adds n values v to h.
func record(t testing.TB, h *hdrhistogram.Histogram, v, n int64) {
	t.Helper()
	if err := h.RecordValues(v, n); err != nil {
		t.Fatal(err)
	}
}

// wrkResult builds a result from known values, as the engine would fill it.
func wrkResult(t testing.TB, name string) *engine.Result {
	t.Helper()
	lat := hdrhistogram.New(1, 4_000_000, 3)
	rate := hdrhistogram.New(1, 100_000_000, 3)
	r := &engine.Result{
		Plan: engine.Plan{
			URL: "http://localhost:8000/myapp/sync/json", Threads: 20, Connections: 2000,
			Duration: 10 * time.Second, Timeout: 2 * time.Second,
		},
		Latency:                  lat,
		RequestsPerSecondSamples: rate,
	}
	switch name {
	case "timeouts_and_errors":
		// 1000 responses: most fast, a tail up to 1.9 s.
		record(t, lat, 50_000, 600)
		record(t, lat, 200_000, 300)
		record(t, lat, 800_000, 90)
		record(t, lat, 1_900_000, 10)
		record(t, rate, 900, 150)
		record(t, rate, 1_500, 40)
		record(t, rate, 12_920, 10)
		r.Responses[engine.Class2xx] = 990
		r.Responses[engine.Class4xx] = 4
		r.Responses[engine.Class5xx] = 6
		r.Errors[engine.KindTimeout] = 1856
		r.Errors[engine.KindRead] = 2
		r.Errors[engine.KindClosed] = 3
		r.InFlight = 4
		r.Elapsed = 10*time.Second + 30*time.Millisecond
		r.BytesRead = 98_480_000
	case "all_timeouts":
		// Nothing answered in time: wrk prints zeros and -nan, benchd "-".
		r.Plan.URL = "http://localhost:8000/myapp/sync/gateway_3s"
		r.Plan.Duration = 15 * time.Second
		record(t, rate, 0, 150)
		r.Errors[engine.KindTimeout] = 8653
		r.Elapsed = 15*time.Second + 100*time.Millisecond
	case "late_responses":
		// gateway_3s with on_timeout wait: every request timed out, most
		// answers came late, the last ones were still pending at the end.
		r.Plan.URL = "http://localhost:8000/myapp/sync/gateway_3s"
		r.Plan.Duration = 15 * time.Second
		r.Plan.OnTimeout = engine.TimeoutWait
		record(t, rate, 0, 150)
		r.Errors[engine.KindTimeout] = 8653
		r.LateResponses, r.LateResponsesPending = 6653, 2000
		// The late answers took 3 s, a few 3.2 s (microseconds).
		r.LateResponseLatency = hdrhistogram.New(1, 60_000_000, 3)
		record(t, r.LateResponseLatency, 3_000_000, 6_600)
		record(t, r.LateResponseLatency, 3_200_000, 53)
		r.Elapsed = 15*time.Second + 100*time.Millisecond
	case "unexpected":
		// A body check failed on some 200s: unexpected beside 5xx.
		r.Plan.URL = "http://127.0.0.1:8080/"
		r.Plan.Threads, r.Plan.Connections, r.Plan.Duration = 2, 10, 5*time.Second
		r.Plan.Expect = engine.Expect{BodyContains: "Hello"}
		record(t, lat, 250, 1_000)
		record(t, rate, 200, 100)
		r.Responses[engine.Class2xx] = 990
		r.Responses[engine.Class5xx] = 10
		r.Unexpected = 25
		r.Elapsed = 5 * time.Second
		r.BytesRead = 1_000 * 140
	case "fast_and_clean":
		r.Plan.URL = "http://127.0.0.1:8080/"
		r.Plan.Threads, r.Plan.Connections, r.Plan.Duration = 2, 10, 5*time.Second
		record(t, lat, 250, 40_000)
		record(t, lat, 600, 9_000)
		record(t, lat, 1_400, 1_000)
		record(t, rate, 5_000, 80)
		record(t, rate, 4_200, 20)
		r.Responses[engine.Class2xx] = 50_000
		r.Elapsed = 5 * time.Second
		r.BytesRead = 50_000 * 140
	default:
		t.Fatalf("no result named %q", name)
	}
	r.Sent = r.Completed() + r.TotalErrors() + r.InFlight
	return r
}

func TestWriteWrk(t *testing.T) {
	tests := []struct {
		name   string
		result string
		opts   WrkOptions
	}{
		{"timeouts_and_errors", "timeouts_and_errors", WrkOptions{}},
		{"timeouts_and_errors_latency", "timeouts_and_errors", WrkOptions{Latency: true}},
		{"all_timeouts", "all_timeouts", WrkOptions{}},
		{"fast_and_clean_latency", "fast_and_clean", WrkOptions{Latency: true}},
		{"late_responses", "late_responses", WrkOptions{}},
		{"unexpected", "unexpected", WrkOptions{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteWrk(&b, rec(wrkResult(t, tt.result)), tt.opts); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", "TestWriteWrk_"+tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != string(want) {
				t.Errorf("WriteWrk output differs from %s:\ngot:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

// TestWrkLines checks the number layout against lines of real wrk 4.1
// output (shared/seed/django-workers-results.md), from the statistics wrk
// printed there.
func TestWrkLines(t *testing.T) {
	tests := []struct {
		row    string
		stats  stats
		format func(float64) string
		want   string
	}{
		{"Latency", stats{mean: 266_450, stdev: 430_370, max: 2_000_000, within: 82.98}, formatTimeMicros,
			"    Latency   266.45ms  430.37ms   2.00s    82.98%\n"},
		{"Req/Sec", stats{mean: 1_730, stdev: 940, max: 12_920, within: 79.29}, formatMetric,
			"    Req/Sec     1.73k     0.94k   12.92k    79.29%\n"},
		{"Req/Sec", stats{mean: 900, stdev: 717.69, max: 7_550, within: 78.45}, formatMetric,
			"    Req/Sec     0.90k   717.69     7.55k    78.45%\n"},
		{"Latency", stats{mean: 1_020_000, stdev: 46_420, max: 1_250_000, within: 94.61}, formatTimeMicros,
			"    Latency     1.02s    46.42ms   1.25s    94.61%\n"},
		{"Latency", stats{within: math.NaN()}, formatTimeMicros,
			"    Latency     0.00us    0.00us   0.00us    -nan%\n"},
		{"Req/Sec", stats{mean: 5.52, stdev: 6.68, max: 50, within: 93.96}, formatMetric,
			"    Req/Sec     5.52      6.68    50.00     93.96%\n"},
		{"Latency", stats{mean: 204_280, stdev: 10_310, max: 334_700, within: 94.22}, formatTimeMicros,
			"    Latency   204.28ms   10.31ms 334.70ms   94.22%\n"},
		{"Latency", stats{mean: 1_750_000, stdev: 0, max: 1_750_000, within: 100}, formatTimeMicros,
			"    Latency     1.75s     0.00us   1.75s   100.00%\n"},
	}
	for _, tt := range tests {
		if got := statsLine(tt.row, tt.stats, tt.format); got != tt.want {
			t.Errorf("statsLine = %q, want %q", got, tt.want)
		}
	}
}

func TestWrkUnits(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{formatTimeMicros(10_030_000), "10.03s"},
		{formatTimeMicros(635.91), "635.91us"},
		{formatTimeMicros(0), "0.00us"},
		{formatTimeMicros(849.99), "849.99us"},
		{formatTimeMicros(850), "0.85ms"},
		{formatTimeMicros(90_000_000), "1.50m"},
		{formatBinary(9.36 * 1024 * 1024), "9.36M"},
		{formatBinary(482.13 * 1024), "482.13K"},
		{formatBinary(93.92 * 1024 * 1024), "93.92M"},
		{formatBinary(5 << 50), "5120.00T"},
		{formatMetric(860), "0.86k"},
		{formatMetric(717.69), "717.69"},
		{formatUnits(10, timeSeconds, 0), "10s"},
		{formatUnits(60, timeSeconds, 0), "1m"},
		{units(1020, formatTimeMicros, 10), "    1.02ms"},
		{units(635.91, formatTimeMicros, 10), "  635.91us"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func TestWriteWrkErrors(t *testing.T) {
	if err := WriteWrk(&bytes.Buffer{}, nil, WrkOptions{}); err == nil {
		t.Error("no error for a nil result")
	}
	w := failingWriter{}
	if err := WriteWrk(w, rec(wrkResult(t, "fast_and_clean")), WrkOptions{}); err == nil || !errors.Is(err, errWrite) {
		t.Errorf("err %v, want the writer's error wrapped", err)
	}
}

var errWrite = errors.New("disk full")

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

// TestWriteWrkSlowerThanRun runs the engine against a handler slower than
// the whole run (10 s for a 1 s run, a 5 s timeout and a 1 s grace): the
// report must say the requests were still in flight, not show a run of
// "0 requests" and nothing else.
func TestWriteWrkSlowerThanRun(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(10 * time.Second):
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: srv.Close waits for handlers

	const conns = 2
	began := time.Now()
	res, err := engine.Run(t.Context(), engine.Plan{
		URL: srv.URL + "/slow", Connections: conns, Threads: 1,
		Duration: time.Second, Timeout: 5 * time.Second, Grace: time.Second,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("Run took %s, want about 2s (duration and grace)", took)
	}
	if res.Sent != conns || res.InFlight != conns || res.Completed() != 0 || res.TotalErrors() != 0 {
		t.Fatalf("sent %d, in flight %d, completed %d, errors %v; want %d in flight",
			res.Sent, res.InFlight, res.Completed(), res.Errors, conns)
	}
	var b bytes.Buffer
	if err := WriteWrk(&b, rec(res), WrkOptions{}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Running 1s test @ " + srv.URL + "/slow\n",
		"  0 requests in 1.00s, 0.00B read\n  In flight at end: 2\nRequests/sec:      0.00\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Socket errors") {
		t.Errorf("report shows errors for requests in flight:\n%s", out)
	}
}

// TestWriteWrkRepeats writes the merged result of three real repeats.
func TestWriteWrkRepeats(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	plan := engine.Plan{URL: srv.URL + "/", Connections: 2, Threads: 1, Duration: time.Second, Timeout: time.Second}
	var rs []*engine.Result
	var rates []float64
	for range 3 {
		r, err := engine.Run(t.Context(), plan, nil)
		if err != nil {
			t.Fatal(err)
		}
		rs, rates = append(rs, r), append(rates, r.RequestsPerSecond())
	}
	m, err := engine.Merge(rs...)
	if err != nil {
		t.Fatal(err)
	}
	merged := rec(m)
	for _, r := range rs {
		merged.Repeats = append(merged.Repeats, result.Repeat{Measurement: result.Measure(r, false)})
	}
	var b bytes.Buffer
	if err := WriteWrk(&b, merged, WrkOptions{}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	want := fmt.Sprintf("  3 repeats, Requests/sec each: %.2f, %.2f, %.2f", rates[0], rates[1], rates[2])
	if len(lines) < 3 || lines[0] != "Running 3s test @ "+srv.URL+"/" || lines[2] != want {
		t.Errorf("report starts\n%s\nwant \"Running 3s test\", the connections line, then %q", strings.Join(lines[:min(3, len(lines))], "\n"), want)
	}
	// One repeat: no such line.
	b.Reset()
	if err := WriteWrk(&b, rec(rs[0]), WrkOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "repeats") {
		t.Errorf("a single run shows a repeats line:\n%s", b.String())
	}
}

// rec is the record of an engine result, as the scheduler and bench build it.
func rec(r *engine.Result) *result.Scenario {
	s := result.FromEngine(r)
	return &s
}

// TestWriteWrkCPU: the CPU line shows a managed target's CPU per request
// and the foreign share, an invalid result says why, and an unmanaged
// target has no CPU line.
func TestWriteWrkCPU(t *testing.T) {
	for _, tt := range []struct {
		cpu  *result.CPU
		want string
	}{
		{&result.CPU{Managed: true, TargetSecondsPerRequest: 0.000583, ForeignRatio: 0.123}, "  CPU: target 583.00us per request, foreign 12%\n"},
		{&result.CPU{Managed: true, ForeignRatio: 0.5}, "  CPU: foreign 50%\n"},
	} {
		s := rec(wrkResult(t, "fast_and_clean"))
		s.CPU = tt.cpu
		s.InvalidReasons = []string{"foreign_cpu"}
		var b bytes.Buffer
		if err := WriteWrk(&b, s, WrkOptions{}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tt.want) || !strings.Contains(b.String(), "  Left out of the regression detector: foreign_cpu\n") {
			t.Errorf("report lacks %q or the invalid line:\n%s", tt.want, b.String())
		}
	}
	// An unmanaged target: its own CPU is in the foreign figure, not shown.
	s := rec(wrkResult(t, "fast_and_clean"))
	s.CPU = &result.CPU{ForeignRatio: 0.53}
	var b bytes.Buffer
	if err := WriteWrk(&b, s, WrkOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "CPU:") {
		t.Errorf("unmanaged target's CPU line:\n%s", b.String())
	}
}

// TestWriteWrkInstructions: an instruction-lane scenario shows its
// instructions per request; a load scenario has no such line.
func TestWriteWrkInstructions(t *testing.T) {
	s := rec(wrkResult(t, "fast_and_clean"))
	s.Instructions = &result.Instructions{Count: 232_400_000, Requests: 200, Processes: 1, PerRequest: 1_162_000}
	var b bytes.Buffer
	if err := WriteWrk(&b, s, WrkOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "  Instructions: 1162000 per request (callgrind, 200 requests, 1 processes)\n"; !strings.Contains(b.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, b.String())
	}
	if want := fmt.Sprintf("Running %d-request callgrind test @ ", s.Sent); !strings.HasPrefix(b.String(), want) {
		t.Errorf("report does not start with %q:\n%s", want, b.String())
	}
	b.Reset()
	if err := WriteWrk(&b, rec(wrkResult(t, "fast_and_clean")), WrkOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Instructions:") {
		t.Errorf("a load scenario shows an instructions line:\n%s", b.String())
	}
}

// TestWriteWrkOpenLoop: an open-loop run says the rate it aimed at, the
// rate it achieved, what started late or was not sent, and from when its
// latency counts; a closed-loop run has no such lines.
func TestWriteWrkOpenLoop(t *testing.T) {
	s := rec(wrkResult(t, "fast_and_clean"))
	s.OpenLoop = &result.OpenLoop{TargetRequestsPerSecond: 200000, AchievedRequestsPerSecond: 13227, StartedLate: 26452, NotSent: 373546,
		UncorrectedLatency: &result.Latency{Count: 10, P50: 117e-6, P99: 721e-6}}
	var b bytes.Buffer
	if err := WriteWrk(&b, s, WrkOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  Rate: target 200000.00/s, achieved 13227.00/s; 26452 started late, 373546 not sent\n",
		"  Latency counts from each request's intended send time (corrected for coordinated omission); from its actual send: p50 117.00us, p99 721.00us\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := WriteWrk(&b, rec(wrkResult(t, "fast_and_clean")), WrkOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "Rate:") {
		t.Errorf("a closed-loop run shows a rate line:\n%s", b.String())
	}
}

// TestWrkPercentilesMatchJSON: the Latency Distribution of the text block
// and the JSON record print the same p50 and p99 for a real run. The
// handler's 140–218 ms fall in HDR buckets 64 µs wide, so a bucket's
// middle and its top (HdrHistogram's ValueAtQuantile) print differently.
func TestWrkPercentilesMatchJSON(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := 140*time.Millisecond + time.Duration(n.Add(1)%40)*2*time.Millisecond
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	res, err := engine.Run(t.Context(), engine.Plan{URL: srv.URL + "/", Connections: 4, Threads: 1,
		Duration: time.Second, Timeout: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Completed() < 10 {
		t.Fatalf("%d requests completed, want at least 10", res.Completed())
	}
	s := rec(res)
	var text, js bytes.Buffer
	if err := WriteWrk(&text, s, WrkOptions{Latency: true}); err != nil {
		t.Fatal(err)
	}
	if err := WriteJSON(&js, s); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Latency map[string]float64 `json:"latency_seconds"`
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		key  string
		line string
	}{{"p50", "     50%"}, {"p99", "     99%"}} {
		v, ok := got.Latency[p.key]
		if !ok {
			t.Fatalf("JSON has no latency_seconds.%s:\n%s", p.key, js.String())
		}
		want := p.line + units(v*1e6, formatTimeMicros, 10) + "\n"
		if !strings.Contains(text.String(), want) {
			t.Errorf("text block lacks %q (JSON %s %v s):\n%s", want, p.key, v, text.String())
		}
	}
}

// TestWriteWrkNoRequestInTime runs the engine against a server slower than
// the timeout once the warm-up is over: the warm-up's requests are
// answered after it ended, within their timeout, and every measured
// request times out. The Req/Sec row counts what Requests/sec counts, so
// it reads 0 too, not the warm-up's answers.
func TestWriteWrkNoRequestInTime(t *testing.T) {
	const conns = 2
	release := make(chan struct{})
	var seen, answered atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wait := 5 * time.Second // the measured requests: past the 600ms timeout
		if seen.Add(1) <= conns {
			wait = 450 * time.Millisecond // the warm-up's: after its 200ms, in time
		}
		select {
		case <-time.After(wait):
		case <-r.Context().Done():
			return
		case <-release:
			return
		}
		answered.Add(1)
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: srv.Close waits for handlers
	res, err := engine.Run(t.Context(), engine.Plan{URL: srv.URL + "/", Connections: conns, Threads: 1,
		Warmup: 200 * time.Millisecond, Duration: time.Second, Timeout: 600 * time.Millisecond, Grace: 200 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Completed() != 0 || res.Errors[engine.KindTimeout] == 0 || answered.Load() == 0 {
		t.Fatalf("completed %d, timeouts %d, warm-up answers %d: want none in time, timeouts, and warm-up answers",
			res.Completed(), res.Errors[engine.KindTimeout], answered.Load())
	}
	var b bytes.Buffer
	if err := WriteWrk(&b, rec(res), WrkOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "    Req/Sec     0.00      0.00     0.00    100.00%\n"; !strings.Contains(b.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, b.String())
	}
	if !strings.Contains(b.String(), "  0 requests in ") || !strings.Contains(b.String(), "Requests/sec:      0.00\n") {
		t.Errorf("report does not read 0 requests:\n%s", b.String())
	}
}

// TestWriteWrkSegment: a shard's segment of a split scenario is counted
// from 1 in the text ("Segment 3 of 3"), beside its 0-based shard index.
func TestWriteWrkSegment(t *testing.T) {
	s := rec(wrkResult(t, "fast_and_clean"))
	s.Segment = &result.Segment{Index: 2, Count: 3}
	var b bytes.Buffer
	if err := WriteWrk(&b, s, WrkOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := "  Segment 3 of 3 of a split scenario (shard 2's share of its connections and rate)\n"; !strings.Contains(b.String(), want) {
		t.Errorf("report lacks %q:\n%s", want, b.String())
	}
}
