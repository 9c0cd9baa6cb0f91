package report

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/result"
)

// near reports whether got is want within tol, NaN matching NaN.
func near(got, want, tol float64) bool {
	if math.IsNaN(want) {
		return math.IsNaN(got)
	}
	return math.Abs(got-want) <= tol
}

func TestParseWrkMarkdown(t *testing.T) {
	nan := math.NaN()
	type want struct {
		server, endpoint, mode string
		line                   int
		rps, mean, max, p99    float64
		requests, timeouts     uint64
		elapsed, duration      float64
		bytes                  float64
		threads, conns         int
	}
	tests := []struct {
		name  string
		doc   func(t *testing.T) []byte
		title string
		cells int
		check []want // checked cells, by index from the start
	}{
		{"seed", func(*testing.T) []byte { return Seed() }, "Django Workers", 0, []want{
			{"WSGI Gunicorn Gevent", "JSON performance", "Sync", 7, 31967.83, 0.26645, 2.00, nan, 320765, 1856, 10.03, 10, 93.92 * 1024 * 1024, 20, 2000},
			{"WSGI Gunicorn Gevent", "Queries returned as JSON", "Sync", 22, 11767.12, 0.07965, 1.99, nan, 118770, 229, 10.09, 10, 141.36 * 1024 * 1024, 20, 2000},
		}},
		{"latency distribution, prose, extra headings, a non-wrk fence", func(t *testing.T) []byte { return readFile(t, "latency.md") }, "My servers", 2, []want{
			{"uvicorn", "JSON performance", "Async", 12, 76398.50, 812e-6, 15.30e-3, 1.73e-3, 4584000, 0, 60, 60, 1.25 * 1024 * 1024 * 1024, 4, 64},
			{"uvicorn", "Slow", "Sync", 44, 0.40, 2, 2, nan, 4, 5, 10.01, 10, 512, 1, 1},
		}},
		{"empty", func(*testing.T) []byte { return nil }, "", 0, nil},
		{"headings only", func(*testing.T) []byte { return []byte("# A\n## b\n### c\n#### Sync\n") }, "A", 0, nil},
		{"block before any heading", func(*testing.T) []byte { return []byte("```\nRequests/sec: 5.5\n```\n") }, "", 1, []want{
			{"", "", "", 1, 5.5, nan, nan, nan, 0, 0, nan, nan, nan, 0, 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseWrkMarkdown(bytes.NewReader(tt.doc(t)))
			if err != nil {
				t.Fatal(err)
			}
			if d.Title != tt.title {
				t.Errorf("title %q, want %q", d.Title, tt.title)
			}
			if tt.cells > 0 && len(d.Cells) != tt.cells {
				t.Errorf("%d cells, want %d: %+v", len(d.Cells), tt.cells, d.Cells)
			}
			for i, w := range tt.check {
				if i >= len(d.Cells) {
					t.Fatalf("no cell %d", i)
				}
				c := d.Cells[i]
				f := c.Wrk
				if c.Server != w.server || c.Endpoint != w.endpoint || c.Mode != w.mode || c.Line != w.line {
					t.Errorf("cell %d at %q/%q/%q line %d, want %q/%q/%q line %d", i, c.Server, c.Endpoint, c.Mode, c.Line, w.server, w.endpoint, w.mode, w.line)
				}
				if !near(f.RequestsPerSecond, w.rps, 1e-9) || !near(f.LatencyMean, w.mean, 1e-9) || !near(f.LatencyMax, w.max, 1e-9) ||
					!near(f.P99(), w.p99, 1e-12) || f.Requests != w.requests || f.Timeouts != w.timeouts ||
					!near(f.ElapsedSeconds, w.elapsed, 1e-9) || !near(f.DurationSeconds, w.duration, 1e-9) || !near(f.BytesRead, w.bytes, 1e-3) ||
					f.Threads != w.threads || f.Connections != w.conns {
					t.Errorf("cell %d figures %+v (p99 %v), want %+v", i, f, f.P99(), w)
				}
			}
		})
	}
	// The seed has 64 wrk blocks: 4 servers, 9 endpoints, sync and async
	// on the ASGI ones, minus those it did not run.
	d, err := ParseWrkMarkdown(bytes.NewReader(Seed()))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(d.Cells), strings.Count(string(Seed()), "Requests/sec:"); got != want {
		t.Errorf("seed: %d cells, want one per Requests/sec line, %d", got, want)
	}
	lat := d.Cells[0].Wrk
	if lat.Connect != 0 || lat.Read != 0 || lat.Write != 0 {
		t.Errorf("seed cell 0 socket errors %d %d %d, want 0", lat.Connect, lat.Read, lat.Write)
	}
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "compare", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseWrkMarkdownErrors(t *testing.T) {
	tests := []struct {
		file string
		want []string
	}{
		{"unclosed.bad.md", []string{"line 3", "never closed"}},
		{"bad-unit.bad.md", []string{"line 5", "requests", `"1.00x"`}},
		{"bad-rate.bad.md", []string{"line 5", "requests/sec"}},
		{"bad-socket.bad.md", []string{"line 5", "socket errors"}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := ParseWrkMarkdown(bytes.NewReader(readFile(t, tt.file)))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	big := bytes.Repeat([]byte("x"), MaxDocumentBytes+2)
	if _, err := ParseWrkMarkdown(bytes.NewReader(big)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("a document over MaxDocumentBytes: error %v", err)
	}
}

// TestSeedCopy: the embedded seed is config/testdata's, byte for byte.
func TestSeedCopy(t *testing.T) {
	want, err := os.ReadFile("../config/testdata/seed-django-workers-results.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(Seed(), want) {
		t.Error("report/seed-django-workers-results.md differs from config/testdata/seed-django-workers-results.md: copy it again")
	}
}

// roundTripEntries returns entries as a matrix run writes them: results
// from known values and one from a real load of a loopback server.
func roundTripEntries(t *testing.T) []Entry {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	live, err := engine.Run(t.Context(), engine.Plan{URL: srv.URL, Connections: 2, Duration: 300 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return []Entry{
		{Scenario: named(rec(wrkResult(t, "timeouts_and_errors")), "g/sync/json", ""), TargetTitle: "WSGI Gunicorn Gevent", EndpointTitle: "JSON performance"},
		{Scenario: named(rec(wrkResult(t, "all_timeouts")), "g/sync/slow", "target died"), TargetTitle: "WSGI Gunicorn Gevent"},
		{Scenario: named(&result.Scenario{}, "g/sync/dead", "not ready"), TargetTitle: "WSGI Gunicorn Gevent"},
		{Scenario: withRepeats(named(rec(wrkResult(t, "fast_and_clean")), "h/-/json", ""), 1, 2)},
		{Scenario: named(rec(live), "h/-/live", "")},
	}
}

// TestParseWriteMarkdownRoundTrip: what WriteMarkdown writes parses back to
// the same figures, to the precision wrk prints them with.
func TestParseWriteMarkdownRoundTrip(t *testing.T) {
	entries := roundTripEntries(t)
	var b bytes.Buffer
	if err := WriteMarkdown(&b, "Round trip", entries); err != nil {
		t.Fatal(err)
	}
	d, err := ParseWrkMarkdown(&b)
	if err != nil {
		t.Fatal(err)
	}
	var withResult []Entry
	for _, e := range entries {
		if e.Ran() {
			withResult = append(withResult, e)
		}
	}
	if len(d.Cells) != len(withResult) {
		t.Fatalf("%d cells, want %d", len(d.Cells), len(withResult))
	}
	for i, e := range withResult {
		c, r := d.Cells[i], e.Scenario
		mode := ""
		if e.Mode != "-" {
			mode = strings.ToUpper(e.Mode[:1]) + e.Mode[1:]
		}
		if c.Server != or(e.TargetTitle, e.Target) || c.Endpoint != or(e.EndpointTitle, e.Endpoint) || c.Mode != mode {
			t.Errorf("%s: headings %q/%q/%q", e.Name, c.Server, c.Endpoint, c.Mode)
		}
		f := c.Wrk
		h, err := r.LatencyHistogram.Decode()
		if err != nil {
			t.Fatal(err)
		}
		lat := histStats(h)
		for _, chk := range []struct {
			what      string
			got, want string
		}{
			{"requests/sec", formatFloat2(f.RequestsPerSecond), formatFloat2(r.RequestsPerSecond)},
			{"latency avg", formatTimeMicros(f.LatencyMean * 1e6), noneOr(lat.count, lat.mean)},
			{"latency max", formatTimeMicros(f.LatencyMax * 1e6), noneOr(lat.count, lat.max)},
			{"elapsed", formatTimeMicros(f.ElapsedSeconds * 1e6), formatTimeMicros(math.Round(r.ElapsedSeconds * 1e6))},
			{"bytes read", formatBinary(f.BytesRead), formatBinary(float64(r.BytesRead))},
		} {
			if chk.got != chk.want {
				t.Errorf("%s: %s %s, want %s", e.Name, chk.what, chk.got, chk.want)
			}
		}
		if f.Requests != r.Requests || f.Timeouts != r.Errors[engine.KindTimeout] || f.Connect != r.Errors[engine.KindConnect] ||
			f.Read != r.Errors[engine.KindRead]+r.Errors[engine.KindClosed] || f.Non2xx3xx != r.Responses[engine.Class4xx]+r.Responses[engine.Class5xx] ||
			f.Threads != r.Threads || f.Connections != r.Connections || f.URL != r.URL {
			t.Errorf("%s: figures %+v from %+v", e.Name, f, r)
		}
		if !math.IsNaN(f.P99()) {
			t.Errorf("%s: p99 %v without a Latency Distribution", e.Name, f.P99())
		}
	}
}

// TestParseLatencyDistribution: the percentiles WriteWrk prints with
// Latency (wrk --latency) parse back.
func TestParseLatencyDistribution(t *testing.T) {
	for _, name := range []string{"timeouts_and_errors", "fast_and_clean", "all_timeouts"} {
		t.Run(name, func(t *testing.T) {
			r := wrkResult(t, name)
			var b bytes.Buffer
			b.WriteString("## s\n### e\n```\n")
			if err := WriteWrk(&b, rec(r), WrkOptions{Latency: true}); err != nil {
				t.Fatal(err)
			}
			b.WriteString("```\n")
			d, err := ParseWrkMarkdown(&b)
			if err != nil || len(d.Cells) != 1 {
				t.Fatalf("cells %v, error %v", d, err)
			}
			got := d.Cells[0].Wrk.Percentiles
			for _, p := range []float64{50, 75, 90, 99} {
				v, ok := got[p]
				if want := noneOr(r.Latency.TotalCount(), float64(result.Percentile(r.Latency, p))); !ok || formatTimeMicros(v*1e6) != want {
					t.Errorf("p%g: %v (%v), want %s", p, v, ok, want)
				}
			}
			if len(got) != 4 {
				t.Errorf("percentiles %v, want 4", got)
			}
		})
	}
}

func formatFloat2(v float64) string { return fmt.Sprintf("%.2f", v) }

func FuzzParseWrkMarkdown(f *testing.F) {
	f.Add(Seed())
	files, _ := filepath.Glob(filepath.Join("testdata", "compare", "*.md"))
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// What matrix --format markdown writes.
	var md bytes.Buffer
	if err := WriteMarkdown(&md, "Fuzz", []Entry{
		{Scenario: withRepeats(named(rec(wrkResult(f, "timeouts_and_errors")), "g/sync/json", ""), 1, 2)},
		{Scenario: named(rec(wrkResult(f, "all_timeouts")), "g/sync/slow", "died")},
		{Scenario: named(rec(wrkResult(f, "fast_and_clean")), "h/-/json", "")},
	}); err != nil {
		f.Fatal(err)
	}
	f.Add(md.Bytes())
	var wrk bytes.Buffer
	if err := WriteWrk(&wrk, rec(wrkResult(f, "fast_and_clean")), WrkOptions{Latency: true}); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("## s\n### e\n```\n" + wrk.String() + "```\n"))
	for _, s := range []string{"```\n", "# \n##\n###\n####", "```bash\n    Latency a b c d\nRequests/sec: 1e308\n```", "~~~~\n~~~\nRequests/sec: 0\n~~~~"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		d, err := ParseWrkMarkdown(bytes.NewReader(doc))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "report: parse results document: ") {
				t.Errorf("error %q does not say what failed", err)
			}
			return
		}
		for _, c := range d.Cells {
			if r := c.Wrk.RequestsPerSecond; r < 0 || math.IsNaN(r) || math.IsInf(r, 0) {
				t.Errorf("cell at line %d: requests/sec %v", c.Line, r)
			}
			if c.Line < 1 || c.Line > bytes.Count(doc, []byte("\n"))+1 {
				t.Errorf("cell at line %d of a %d-line document", c.Line, bytes.Count(doc, []byte("\n"))+1)
			}
		}
	})
}

// named gives s the scenario name target/mode/endpoint and the error text.
func named(s *result.Scenario, name, errText string) *result.Scenario {
	parts := strings.SplitN(name, "/", 3)
	s.Name, s.Target, s.Mode, s.Endpoint, s.Error = name, parts[0], parts[1], parts[2], errText
	return s
}

// withRepeats gives s repeats of the given requests per second.
func withRepeats(s *result.Scenario, rates ...float64) *result.Scenario {
	for _, r := range rates {
		s.Repeats = append(s.Repeats, result.Repeat{Measurement: result.Measurement{RequestsPerSecond: r}})
	}
	return s
}

// noneOr is the micros v as WriteWrk prints it, parsed back: with no
// completed request (count 0) "-", which parses as NaN.
func noneOr(count int64, v float64) string {
	if count == 0 {
		return formatTimeMicros(math.NaN())
	}
	return formatTimeMicros(v)
}
