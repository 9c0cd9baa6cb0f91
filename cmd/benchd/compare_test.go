package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/pipeline"
	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/store"
)

// compareConfig writes a matrix over a loopback server with the seed's
// titles for one server and two endpoints, and one endpoint the seed does
// not have; /slow answers after the 300ms timeout. extra is added at the
// top level of the YAML.
func compareConfig(t *testing.T, extra string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/slow") {
			select {
			case <-r.Context().Done():
			case <-t.Context().Done():
			}
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "benchd.yml")
	cfg := fmt.Sprintf(`
schedule: "@every 1h"
defaults: {connections: 2, threads: 1, duration: 300ms, warmup: 0s, timeout: 300ms}
targets:
  - {name: gunicorn-gevent, title: WSGI Gunicorn Gevent, url: %s, modes: [sync]}
endpoints:
  - {name: json, title: JSON performance, path: "/myapp/{mode}/json"}
  - {name: brotli, title: Brotli, path: "/myapp/{mode}/brotli"}
  - {name: slow, path: "/myapp/{mode}/slow"}
%s
`, srv.URL, extra)
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestReportCompare runs a real matrix into a real history, then compares
// it with the Markdown that matrix printed (every cell matches, ratio 1),
// with the embedded seed, and with a missing document.
func TestReportCompare(t *testing.T) {
	cfg := compareConfig(t, "")
	dir := t.TempDir()
	var md, stderr bytes.Buffer
	if code := runWith(t.Context(), []string{"matrix", "--config.file", cfg, "--storage.path", dir, "--format", "markdown"}, &md, &stderr); code != 0 {
		t.Fatalf("matrix: exit %d; stderr:\n%s", code, stderr.String())
	}
	mdPath := filepath.Join(t.TempDir(), "results.md")
	if err := os.WriteFile(mdPath, md.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), dir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	runs, err := st.Runs(t.Context(), store.RunQuery{Limit: 1})
	st.Close()
	if err != nil || len(runs) != 1 {
		t.Fatalf("runs %v, %v", runs, err)
	}
	runID := runs[0].ID
	compare := func(t *testing.T, args ...string) (string, string, int) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := runWith(t.Context(), append([]string{"report", "--config.file", cfg, "--storage.path", dir}, args...), &stdout, &stderr)
		return stdout.String(), stderr.String(), code
	}
	decode := func(t *testing.T, out string) report.Comparison {
		t.Helper()
		var c report.Comparison
		if err := json.Unmarshal([]byte(out), &c); err != nil {
			t.Fatalf("%v in:\n%s", err, out)
		}
		return c
	}

	t.Run("its own markdown", func(t *testing.T) {
		out, stderr, code := compare(t, "--compare", mdPath, "--run", runID, "--format", "json")
		if code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, stderr)
		}
		c := decode(t, out)
		if c.RunID != runID || c.Document != mdPath || c.Title != config.DefaultTitle || len(c.Rows) != 3 {
			t.Fatalf("comparison %+v", c)
		}
		for _, r := range c.Rows {
			b, d := r.Benchd, r.Document
			if b == nil || d == nil || (*d.RequestsPerSecond > 0) != (r.RequestsPerSecondRatio != nil) {
				t.Fatalf("%s: one side only: %+v", r.Scenario, r)
			}
			if math.Abs(*b.RequestsPerSecond-*d.RequestsPerSecond) > 0.005 || b.Requests != d.Requests || b.Timeouts != d.Timeouts {
				t.Errorf("%s: benchd %+v, its own markdown %+v", r.Scenario, *b, *d)
			}
			if *b.RequestsPerSecond > 0 && math.Abs(*r.RequestsPerSecondRatio-1) > 1e-3 {
				t.Errorf("%s: ratio %v, want 1", r.Scenario, *r.RequestsPerSecondRatio)
			}
			// matrix --format markdown prints no Latency Distribution.
			if d.P99Seconds != nil {
				t.Errorf("%s: document p99 %v", r.Scenario, *d.P99Seconds)
			}
		}
		slow := c.Rows[2]
		if slow.Scenario != "gunicorn-gevent/sync/slow" || slow.Benchd.Timeouts == 0 || slow.Benchd.Requests != 0 || slow.Benchd.P99Seconds != nil {
			t.Errorf("slow row %+v %+v: want timeouts and no p99", slow, *slow.Benchd)
		}
	})

	t.Run("the seed, newest run", func(t *testing.T) {
		for _, v := range []string{"seed", ""} {
			out, stderr, code := compare(t, "--compare="+v, "--format", "json")
			if code != 0 {
				t.Fatalf("--compare=%q: exit %d; stderr:\n%s", v, code, stderr)
			}
			c := decode(t, out)
			byName := map[string]report.ComparisonRow{}
			for _, r := range c.Rows {
				byName[r.Scenario] = r
			}
			if c.RunID != runID || c.Title != "Django Workers" {
				t.Errorf("run %q title %q", c.RunID, c.Title)
			}
			json := byName["gunicorn-gevent/sync/json"]
			if json.Benchd == nil || json.Document == nil || *json.Document.RequestsPerSecond != 31967.83 || json.Document.Timeouts != 1856 || json.Document.P99Seconds != nil {
				t.Errorf("json row %+v", json)
			}
			if b := byName["gunicorn-gevent/sync/brotli"]; b.Benchd == nil || b.Document == nil || *b.Document.RequestsPerSecond != 424.79 {
				t.Errorf("brotli row %+v", b)
			}
			if s := byName["gunicorn-gevent/sync/slow"]; s.Benchd == nil || s.Document != nil {
				t.Errorf("slow row %+v, want benchd only", s)
			}
			// Other servers of the seed are not in this configuration: their
			// headings stand for the names.
			if q := byName["gunicorn-gevent/sync/Queries returned as JSON"]; q.Benchd != nil || q.Document == nil {
				t.Errorf("json_query row %+v, want document only", q)
			}
			if a := byName["ASGI Hypercorn Uvloop/async/json"]; a.Benchd != nil || a.Document == nil || *a.Document.RequestsPerSecond != 4854.45 {
				t.Errorf("uvloop's JSON performance row %+v, want document only", a)
			}
		}
	})

	t.Run("text and markdown", func(t *testing.T) {
		for _, tc := range []struct{ format, want string }{
			{"text", "gunicorn-gevent/sync/slow"},
			{"markdown", "| gunicorn-gevent/sync/json | "},
		} {
			out, stderr, code := compare(t, "--compare", "seed", "--format", tc.format)
			if code != 0 {
				t.Fatalf("exit %d; stderr:\n%s", code, stderr)
			}
			for _, w := range []string{tc.want, "benchd = run " + runID, "31967.8", "benchd only", "document only", `("Django Workers")`} {
				if !strings.Contains(out, w) {
					t.Errorf("%s lacks %q:\n%s", tc.format, w, out)
				}
			}
		}
	})

	t.Run("bad uses", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.md")
		if err := os.WriteFile(bad, []byte("## s\n```\nRequests/sec: 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			args []string
			code int
			want string
		}{
			{"missing file", []string{"--compare", filepath.Join(dir, "none.md")}, 1, "--compare"},
			{"unclosed fence", []string{"--compare", bad}, 1, "never closed"},
			{"unknown run", []string{"--compare", "seed", "--run", "nope"}, 1, `run "nope" is not in the history under `},
			{"with --summary", []string{"--compare", "seed", "--summary"}, 2, "--compare cannot go with"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, stderr, code := compare(t, tc.args...)
				if code != tc.code || !strings.Contains(stderr, tc.want) {
					t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tc.code, tc.want)
				}
			})
		}
	})
}

// TestReportTitlesOfEmbeddedRun: without --config.file, a Markdown report
// or --compare of a run of the embedded default matrix says nothing of
// titles (they are that run's); of a run of another configuration it says
// they are the embedded matrix's. A run's config_hash is what loadConfig
// prepares, so the two hashes are compared first.
func TestReportTitlesOfEmbeddedRun(t *testing.T) {
	dir := t.TempDir()
	cfg, err := loadConfig(t.Context(), &flags{storagePath: dir}, slog.New(slog.DiscardHandler), false)
	if err != nil {
		t.Fatal(err)
	}
	embedded := pipeline.ConfigHash(cfg)
	if got := embeddedConfigHash(dir); got != embedded || got == "" {
		t.Fatalf("embeddedConfigHash = %q, want the hash of the matrix loadConfig prepares, %q", got, embedded)
	}
	st, err := store.Open(t.Context(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	for i, hash := range []string{embedded, "0123456789abcdef"} {
		id := fmt.Sprintf("20261202T01000%dZ", i)
		if _, err := st.BeginRun(t.Context(), store.Run{ID: id, Trigger: "matrix", Start: start, ConfigHash: hash}); err != nil {
			t.Fatal(err)
		}
		rec := store.Scenario{RunID: id, Name: "gunicorn-gevent/sync/json", Target: "gunicorn-gevent", Mode: "sync", Endpoint: "json", Start: start,
			Measurement: result.Measurement{RequestsPerSecond: 3000, Requests: 30000, ConnectionsEstablished: 2, Sent: 30000}}
		if err := st.SaveScenario(t.Context(), rec); err != nil {
			t.Fatal(err)
		}
		if err := st.FinishRun(t.Context(), id, start.Add(time.Minute), store.OutcomeSuccess, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	const note = "benchd: titles from the embedded default matrix; give the run's --config.file for its own\n"
	for _, tc := range []struct {
		run, want string
	}{{"20261202T010000Z", ""}, {"20261202T010001Z", note}} {
		for _, args := range [][]string{{"--compare", "seed"}, {"--format", "markdown"}} {
			var stdout, stderr bytes.Buffer
			if code := runWith(t.Context(), append([]string{"report", "--storage.path", dir, "--run", tc.run}, args...), &stdout, &stderr); code != 0 {
				t.Fatalf("report %v: exit %d; stderr:\n%s", args, code, stderr.String())
			}
			if stderr.String() != tc.want {
				t.Errorf("report --run %s %v: stderr %q, want %q", tc.run, args, stderr.String(), tc.want)
			}
		}
	}
}

// TestReportCompareLateResponses: --compare shows, for a scenario run with
// on_timeout wait, the late answers per second (wrk counts them as
// requests), and leaves the column blank for one run with reconnect.
func TestReportCompareLateResponses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/late") {
			select { // after the 200ms timeout, within the grace
			case <-time.After(300 * time.Millisecond):
			case <-r.Context().Done():
				return
			}
		}
		_, _ = w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	cfg := filepath.Join(t.TempDir(), "benchd.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
defaults: {connections: 2, threads: 1, duration: 1s, warmup: 0s, timeout: 200ms}
targets: [{name: t, url: %s}]
endpoints:
  - {name: json, path: /json}
  - {name: late, path: /late, on_timeout: wait}
`, srv.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := runWith(t.Context(), []string{"matrix", "--config.file", cfg, "--storage.path", dir, "--format", "json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("matrix: exit %d; stderr:\n%s", code, stderr.String())
	}
	compare := func(format string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := runWith(t.Context(), []string{"report", "--config.file", cfg, "--storage.path", dir, "--compare", "seed", "--format", format}, &stdout, &stderr); code != 0 {
			t.Fatalf("report --compare --format %s: exit %d; stderr:\n%s", format, code, stderr.String())
		}
		return stdout.String()
	}
	var c struct {
		Rows []struct {
			Scenario string `json:"scenario"`
			Benchd   *struct {
				LateResponses          *uint64  `json:"late_responses"`
				LateResponsesPerSecond *float64 `json:"late_responses_per_second"`
			} `json:"benchd"`
		} `json:"rows"`
	}
	if out := compare("json"); json.Unmarshal([]byte(out), &c) != nil {
		t.Fatalf("not JSON:\n%s", out)
	}
	late := map[string]string{}
	for _, r := range c.Rows {
		if r.Benchd == nil {
			continue
		}
		switch b := r.Benchd; {
		case b.LateResponses == nil && b.LateResponsesPerSecond == nil:
			late[r.Scenario] = "none"
		case b.LateResponses != nil && b.LateResponsesPerSecond != nil && *b.LateResponses > 0 && *b.LateResponsesPerSecond > 0:
			late[r.Scenario] = "counted"
		default:
			late[r.Scenario] = fmt.Sprintf("%v, %v", b.LateResponses, b.LateResponsesPerSecond)
		}
	}
	if want := map[string]string{"t/-/json": "none", "t/-/late": "counted"}; fmt.Sprint(late) != fmt.Sprint(want) {
		t.Errorf("late responses by scenario %v, want %v", late, want)
	}
	// In the Markdown table: the 9th column, blank for reconnect.
	md := compare("markdown")
	if !strings.Contains(md, " | timeouts document | late/s benchd | note |") {
		t.Errorf("no late/s benchd column:\n%s", md)
	}
	for _, tc := range []struct{ row, blank string }{{"| t/-/json |", "blank"}, {"| t/-/late |", "a rate"}} {
		cells := strings.Split(strings.TrimSuffix(strings.TrimPrefix(lineWith(md, tc.row), "| "), " |"), " | ")
		if len(cells) != 10 || (cells[8] == "") != (tc.blank == "blank") || tc.blank != "blank" && cells[8] == "0.0" {
			t.Errorf("%s: cells %q, want the late/s cell %s", tc.row, cells, tc.blank)
		}
	}
}
