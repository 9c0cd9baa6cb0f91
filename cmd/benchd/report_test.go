package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/store"
)

// twoRuns runs the compare matrix (json, brotli and an all-timeouts slow
// endpoint on a loopback server) twice into one history and returns its
// directory, the config and the two run IDs, oldest first.
func twoRuns(t *testing.T) (dir, cfg string, ids []string) {
	t.Helper()
	cfg = compareConfig(t, "")
	dir = t.TempDir()
	for i := range 2 {
		var stdout, stderr bytes.Buffer
		if code := runWith(t.Context(), []string{"matrix", "--config.file", cfg, "--storage.path", dir, "--format", "json"}, &stdout, &stderr); code != 0 {
			t.Fatalf("matrix %d: exit %d; stderr:\n%s", i, code, stderr.String())
		}
	}
	st, err := store.Open(t.Context(), dir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs(t.Context(), store.RunQuery{})
	if err != nil || len(runs) != 2 {
		t.Fatalf("runs %v, %v", runs, err)
	}
	return dir, cfg, []string{runs[1].ID, runs[0].ID}
}

// TestReportNoCompletedRequests: a scenario without a completed request
// has no latency; --diff prints "-" for its p99, as --summary does.
func TestReportNoCompletedRequests(t *testing.T) {
	dir, cfg, ids := twoRuns(t)
	var stdout, stderr bytes.Buffer
	if code := runWith(t.Context(), []string{"report", "--config.file", cfg, "--storage.path", dir,
		"--diff", ids[0], "--diff", ids[1]}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	var slow []string
	for l := range strings.Lines(stdout.String()) {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "gunicorn-gevent/sync/slow" {
			slow = f
		}
	}
	// scenario, req/s A, req/s B, ratio, p99 A, p99 B, ratio, timeouts A,
	// B, settings: the same configuration twice has the same settings.
	if len(slow) != 10 || slow[4] != "-" || slow[5] != "-" || slow[6] != "-" || slow[7] == "0" || slow[8] == "0" || slow[9] != "same" {
		t.Errorf("slow row %q, want p99 - - - and timeouts; output:\n%s", slow, stdout.String())
	}
	if want := "\n3 of 3 scenarios match by name with the same settings\n"; !strings.Contains(stdout.String(), want) ||
		strings.Contains(stdout.String(), "different configurations") {
		t.Errorf("output lacks %q or says different configurations:\n%s", want, stdout.String())
	}
}

// TestReportSummaryScope: --summary says above the table when the newest
// run covers only part of the configuration (a matrix --only), and
// nothing when it covers all of it.
func TestReportSummaryScope(t *testing.T) {
	dir, cfg, ids := twoRuns(t)
	summary := func() string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := runWith(t.Context(), []string{"report", "--config.file", cfg, "--storage.path", dir, "--summary"}, &stdout, &stderr); code != 0 {
			t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
		}
		return stdout.String()
	}
	if got, want := summary(), "run "+ids[1]+" ("; !strings.HasPrefix(got, want) {
		t.Errorf("whole run: summary starts %.60q, want %q", got, want)
	}
	var stdout, stderr bytes.Buffer
	if code := runWith(t.Context(), []string{"matrix", "--only", "/json$", "--config.file", cfg, "--storage.path", dir, "--format", "json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("matrix --only: exit %d; stderr:\n%s", code, stderr.String())
	}
	got := summary()
	if first, _, _ := strings.Cut(got, "\n"); !strings.HasSuffix(first, ": 1 of 3 scenarios of the configuration") || !strings.HasPrefix(first, "run ") {
		t.Errorf("part of the matrix: summary:\n%s\nwant a first line run ID: 1 of 3 scenarios of the configuration", got)
	}
}

// TestReportSummaryJSON: --summary --format json is JSON, with the cells
// of the table.
func TestReportSummaryJSON(t *testing.T) {
	dir, cfg, ids := twoRuns(t)
	var stdout, stderr bytes.Buffer
	if code := runWith(t.Context(), []string{"report", "--config.file", cfg, "--storage.path", dir,
		"--summary", "--format", "json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	var got report.SummaryTable
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v in:\n%s", err, stdout.String())
	}
	if got.RunID != ids[1] || len(got.Targets) != 1 || got.Targets[0] != "gunicorn-gevent" || len(got.Rows) != 3 {
		t.Fatalf("summary %+v", got)
	}
	for _, r := range got.Rows {
		c := r.Cells["gunicorn-gevent"]
		if r.Mode != "sync" || c == nil {
			t.Fatalf("row %+v", r)
		}
		switch r.Endpoint {
		case "slow":
			if c.P99Seconds != nil || c.Timeouts == 0 || c.Errors < c.Timeouts {
				t.Errorf("slow cell %+v: want no p99, timeouts counted as errors", *c)
			}
		default:
			if c.RequestsPerSecond == nil || *c.RequestsPerSecond <= 0 || c.P99Seconds == nil || *c.P99Seconds <= 0 || c.Error != "" {
				t.Errorf("%s cell %+v", r.Endpoint, *c)
			}
		}
	}
}

// TestMarkdownTitle: the "# " heading of a Markdown report is the
// configuration's title, of a live run (matrix) and of a stored one
// (report).
func TestMarkdownTitle(t *testing.T) {
	for _, tc := range []struct {
		name, extra, want string
	}{
		{"set", "title: My servers", "# My servers\n"},
		{"unset", "", "# " + config.DefaultTitle + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, dir := compareConfig(t, tc.extra), t.TempDir()
			for _, args := range [][]string{
				{"matrix", "--only", "/json$", "--format", "markdown"},
				{"report", "--format", "markdown"},
			} {
				var stdout, stderr bytes.Buffer
				if code := runWith(t.Context(), append(args, "--config.file", cfg, "--storage.path", dir), &stdout, &stderr); code != 0 {
					t.Fatalf("%s: exit %d; stderr:\n%s", args[0], code, stderr.String())
				}
				if !strings.HasPrefix(stdout.String(), tc.want) {
					t.Errorf("%s: report starts %.40q, want %q", args[0], stdout.String(), tc.want)
				}
				if strings.Contains(stderr.String(), "embedded default") {
					t.Errorf("%s with --config.file: stderr %q", args[0], stderr.String())
				}
			}
			// Without --config.file the titles are the embedded matrix's:
			// said on stderr.
			var stdout, stderr bytes.Buffer
			if code := runWith(t.Context(), []string{"report", "--format", "markdown", "--storage.path", dir}, &stdout, &stderr); code != 0 {
				t.Fatalf("report: exit %d; stderr:\n%s", code, stderr.String())
			}
			if want := "benchd: titles from the embedded default matrix; give the run's --config.file for its own\n"; stderr.String() != want {
				t.Errorf("report without --config.file: stderr %q, want %q", stderr.String(), want)
			}
		})
	}
}

// TestReportAfterCrash: the newest run left "running" with no scenario (a
// benchd killed at its start) is passed over by report, which renders the
// newest ended run; asked for by ID it says why there is nothing to show,
// instead of printing nothing (report) or a broken table (--summary).
func TestReportAfterCrash(t *testing.T) {
	dir, cfg, ids := twoRuns(t)
	st, err := store.Open(t.Context(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	left, err := st.BeginRun(t.Context(), store.Run{ID: "29990101T000000Z", Trigger: "start", Start: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{}, {"--summary"}} {
		var stdout, stderr bytes.Buffer
		if code := runWith(t.Context(), append([]string{"report", "--config.file", cfg, "--storage.path", dir}, args...), &stdout, &stderr); code != 0 {
			t.Fatalf("report %v: exit %d; stderr:\n%s", args, code, stderr.String())
		}
		if !strings.Contains(stdout.String(), "json") {
			t.Errorf("report %v: output lacks the newest ended run %s:\n%s", args, ids[1], stdout.String())
		}
	}
	var stdout, stderr bytes.Buffer
	code := runWith(t.Context(), []string{"report", "--config.file", cfg, "--storage.path", dir, "--run", left}, &stdout, &stderr)
	if want := "run " + left + " has no scenario results (outcome running: in progress, or left running by a benchd that was killed"; code == 0 || !strings.Contains(stderr.String(), want) {
		t.Errorf("report --run %s: exit %d, stderr:\n%s\nwant an error saying %q", left, code, stderr.String(), want)
	}
}

// TestReportDiffSettingsChanged: after an edit of one endpoint's
// connections, --diff says the configurations differ, marks that
// endpoint's row, and --fail-on gates the others but not it.
func TestReportDiffSettingsChanged(t *testing.T) {
	dir, cfg, _ := twoRuns(t)
	text, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(text), `path: "/myapp/{mode}/json"}`, `path: "/myapp/{mode}/json", connections: 4}`, 1)
	if edited == string(text) {
		t.Fatal("the json endpoint is not in the config")
	}
	if err := os.WriteFile(cfg, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := runWith(t.Context(), []string{"matrix", "--config.file", cfg, "--storage.path", dir, "--format", "json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("matrix: exit %d; stderr:\n%s", code, stderr.String())
	}
	// throughput>-99% fails every scenario that kept its throughput: brotli;
	// json's settings changed, slow has none.
	stdout.Reset()
	stderr.Reset()
	code := runWith(t.Context(), []string{"report", "--config.file", cfg, "--storage.path", dir,
		"--diff", "last~1", "--diff", "last", "--fail-on", "throughput>-99%"}, &stdout, &stderr)
	if code != exitGateFailed || !strings.Contains(stderr.String(), "FAILED gunicorn-gevent/sync/brotli: ") || strings.Contains(stderr.String(), "/json") {
		t.Errorf("exit %d, want %d failing brotli only; stderr:\n%s", code, exitGateFailed, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"\nthe runs come from different configurations (config_hash ",
		"\n2 of 3 scenarios match by name with the same settings; 1 with other settings (connections), which --fail-on does not gate",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for l := range strings.Lines(out) {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "gunicorn-gevent/sync/json" && strings.Join(f[9:], " ") != "changed: connections" {
			t.Errorf("json row %q, want settings changed: connections", f)
		}
	}
}
