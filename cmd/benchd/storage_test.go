package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"

	"github.com/benchd/benchd/internal/testutil"
)

// smallConfig writes a two-scenario matrix over an in-process loopback
// server, runs only by hand, and returns its path.
func smallConfig(t *testing.T, schedule string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`
schedule: %q
run_on_start: false
defaults: {connections: 2, threads: 1, duration: 200ms, warmup: 0s, timeout: 1s}
targets:
  - {name: t, url: %s}
endpoints:
  - {name: a, path: /a}
  - {name: b, path: /b}
api:
  token_file: token
`, schedule, srv.URL)
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "benchd.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type statusJSON struct {
	Running bool `json:"running"`
	Storage *struct {
		LastError     string   `json:"last_error"`
		PendingWrites int      `json:"pending_writes"`
		PendingRuns   []string `json:"pending_runs"`
	} `json:"storage"`
}

// runNow triggers a run over the write API and waits for it to end.
func runNow(t *testing.T, base string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/runs", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("trigger a run: %s", resp.Status)
	}
	for range 300 {
		var st statusJSON
		getJSON(t, base+"/api/v1/status", &st)
		if !st.Running {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("the run did not end within 30s")
}

type runJSON struct {
	ID        string `json:"id"`
	Outcome   string `json:"outcome"`
	Error     string `json:"error"`
	Scenarios []struct {
		Scenario string `json:"scenario"`
		Error    string `json:"error"`
	} `json:"scenarios"`
}

// TestServeFullDisk runs a real daemon whose storage fills up: the run is
// kept in memory, counted, and reported on /api/v1/status (/healthz stays
// ok); once space is freed the next run's writes bring it in whole with
// its real outcome and a note that its history write failed.
func TestServeFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs and runs benchd")
	}
	storage := testutil.SmallTmpfs(t, "512k")
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd, stderr := startServe(ctx, t, port, "--config.file", smallConfig(t, "@every 1h"), "--storage.path", storage)
	fams := scrape(t, base+"/metrics")
	for _, op := range []string{"begin_run", "save_scenario", "finish_run", "prune"} {
		if find(fams, "benchd_storage_write_failures_total", map[string]string{"operation": op}) == nil {
			t.Errorf("benchd_storage_write_failures_total{operation=%q} missing at start", op)
		}
	}

	filler := testutil.FillDisk(t, storage)
	runNow(t, base)
	runNow(t, base) // held behind the first one's writes
	fams = scrape(t, base+"/metrics")
	if v := value(fams, "benchd_storage_write_failures_total", map[string]string{"operation": "begin_run"}); v < 1 {
		t.Errorf("begin_run failures %v on a full disk, want >= 1", v)
	}
	var st statusJSON
	getJSON(t, base+"/api/v1/status", &st)
	if st.Storage == nil || !strings.Contains(st.Storage.LastError, "disk full") || st.Storage.PendingWrites != 8 || len(st.Storage.PendingRuns) != 2 {
		t.Fatalf("status on a full disk: %+v, want last_error saying disk full and 8 pending writes of 2 runs", st.Storage)
	}
	// The API shows the held runs as they will be stored, not a stale
	// "running" or a 404.
	const heldNote = "history write failed: disk full (the run is kept in memory and stored once space is back)"
	for _, id := range st.Storage.PendingRuns {
		var held runJSON
		if code := getJSONCode(t, base+"/api/v1/runs/"+id, &held); code != http.StatusOK || held.Outcome != "success" || len(held.Scenarios) != 2 || held.Error != heldNote {
			t.Errorf("held run %s on a full disk: %d, outcome %q, %d scenarios, error %q; want 200, success, 2, %q", id, code, held.Outcome, len(held.Scenarios), held.Error, heldNote)
		}
	}
	var heldRuns struct {
		Runs []runJSON `json:"runs"`
	}
	getJSON(t, base+"/api/v1/runs", &heldRuns)
	if len(heldRuns.Runs) != 2 || heldRuns.Runs[0].Outcome != "success" || heldRuns.Runs[1].Outcome != "success" {
		t.Errorf("runs on a full disk: %+v, want the 2 held runs, success", heldRuns.Runs)
	}
	if resp, err := http.Get(base + "/healthz"); err != nil {
		t.Errorf("/healthz on a full disk: %v, want 200 (liveness)", err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("/healthz on a full disk: %s, want 200 (liveness)", resp.Status)
		}
	}
	held := st.Storage.PendingRuns

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	runNow(t, base)
	getJSON(t, base+"/api/v1/status", &st)
	if st.Storage.LastError != "" || st.Storage.PendingWrites != 0 {
		t.Errorf("status after space came back: %+v, want healthy", st.Storage)
	}
	var runs struct {
		Runs []runJSON `json:"runs"`
	}
	getJSON(t, base+"/api/v1/runs", &runs)
	if len(runs.Runs) != 3 || runs.Runs[2].ID != held[0] || runs.Runs[1].ID != held[1] {
		t.Fatalf("runs %+v, want 3, the older %s", runs.Runs, held)
	}
	for i, r := range runs.Runs {
		var full runJSON
		getJSON(t, base+"/api/v1/runs/"+r.ID, &full)
		if full.Outcome != "success" || len(full.Scenarios) != 2 {
			t.Errorf("run %s: outcome %s, %d scenarios, want success and 2", r.ID, full.Outcome, len(full.Scenarios))
		}
		if wantNote := i > 0; strings.Contains(full.Error, "history write failed: disk full") != wantNote {
			t.Errorf("run %s: error %q, want the history-write note: %v", r.ID, full.Error, wantNote)
		}
	}
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("benchd exit: %v; stderr:\n%s", err, stderr.String())
	}
}

// TestStartOnFullDisk: benchd serve and benchd matrix refuse to start on
// a full disk (exit 1: a matrix run it cannot record is lost), both
// saying "disk full" and the path; matrix --dry-run, which records
// nothing, still prints its plan.
func TestStartOnFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs and runs benchd")
	}
	storage := testutil.SmallTmpfs(t, "512k")
	cfg := smallConfig(t, "@every 1h")
	var stdout, stderr bytes.Buffer
	if code := runWith(t.Context(), []string{"matrix", "--config.file", cfg, "--storage.path", storage, "--only", "t/-/a"}, &stdout, &stderr); code != 0 {
		t.Fatalf("first matrix: exit %d; stderr:\n%s", code, stderr.String())
	}
	testutil.FillDisk(t, storage)
	for _, args := range [][]string{
		{"serve", "--web.listen-address", fmt.Sprintf("127.0.0.1:%d", freePort(t))},
		{"matrix", "--only", "t/-/a"},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		cmd := benchd(ctx, t, append(args, "--config.file", cfg, "--storage.path", storage)...)
		out, err := cmd.CombinedOutput()
		cancel()
		code := -1
		if ee, ok := errors.AsType[*exec.ExitError](err); ok {
			code = ee.ExitCode()
		}
		if code != 1 || !strings.Contains(string(out), "disk full ("+storage+")") || !strings.Contains(string(out), filepath.Join(storage, "benchd.db")) ||
			strings.Contains(string(out), "not recorded") {
			t.Errorf("benchd %s on a full disk: %v, output:\n%s\nwant exit 1 saying disk full (%s) and the database's path", args[0], err, out, storage)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if out, err := benchd(ctx, t, "matrix", "--dry-run", "--config.file", cfg, "--storage.path", storage).CombinedOutput(); err != nil || !strings.Contains(string(out), "t/-/a") {
		t.Errorf("matrix --dry-run on a full disk: %v, output:\n%s\nwant the plan", err, out)
	}
	// The default matrix unpacks the reference Django project into the
	// storage path first (not in a dry run, which writes nothing): that too
	// says disk full. --only matches nothing, so nothing would run anyway.
	out, err := benchd(ctx, t, "matrix", "--only", "^none$", "--storage.path", storage).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "disk full ("+storage+")") {
		t.Errorf("default matrix on a full disk: %v, output:\n%s\nwant it to say disk full (%s)", err, out, storage)
	}
}

// TestRunIDTakenByEarlierProcess: a benchd matrix whose start second is
// already taken by runs of earlier processes (a restart within the same
// second) stores its run under the next suffix, whole, and reports that ID.
func TestRunIDTakenByEarlierProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("runs benchd")
	}
	dir := t.TempDir()
	cfg := smallConfig(t, "@every 1h")
	st, err := store.Open(t.Context(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Take the IDs of the next few seconds, as runs of earlier processes.
	now := time.Now().UTC().Truncate(time.Second)
	taken := map[string]bool{}
	for i := range 10 {
		id := now.Add(time.Duration(i) * time.Second).Format("20060102T150405Z")
		if _, err := st.BeginRun(t.Context(), store.Run{ID: id, Trigger: "earlier", Start: now.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
		if err := st.FinishRun(t.Context(), id, now.Add(time.Duration(i)*time.Second), store.OutcomeSuccess, ""); err != nil {
			t.Fatal(err)
		}
		taken[id] = true
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := benchd(ctx, t, "matrix", "--config.file", cfg, "--storage.path", dir, "--format", "json").CombinedOutput()
	if err != nil {
		t.Fatalf("benchd matrix: %v\n%s", err, out)
	}
	ro, err := store.Open(t.Context(), dir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	runs, err := ro.Runs(t.Context(), store.RunQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, r := range runs {
		if r.Trigger == scheduler.TriggerMatrix {
			id = r.ID
		}
	}
	if len(runs) != 11 || id == "" {
		t.Fatalf("%d runs %v; want the 10 earlier ones and benchd's", len(runs), runs)
	}
	r, err := ro.Run(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if base, _, _ := strings.Cut(r.ID, "-"); !taken[base] || r.ID != base+"-1" {
		t.Errorf("run stored as %q, want a taken second with suffix -1", r.ID)
	}
	if r.Outcome != store.OutcomeSuccess || len(r.Scenarios) != 2 {
		t.Errorf("run %s: %s with %d scenarios, want success with 2", r.ID, r.Outcome, len(r.Scenarios))
	}
	if !strings.Contains(string(out), r.ID) {
		t.Errorf("output does not name the stored ID %s:\n%s", r.ID, out)
	}
	// ID order is time order.
	for i := 1; i < len(runs); i++ {
		if runs[i-1].ID <= runs[i].ID {
			t.Errorf("runs %s (newer) and %s: the newer ID does not sort after", runs[i-1].ID, runs[i].ID)
		}
	}
}

// getJSONCode GETs url, decodes its JSON body into v and returns the
// status code.
func getJSONCode(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Errorf("GET %s: %v", url, err)
	}
	return resp.StatusCode
}

// TestReportOnFullDisk: a read-only command (benchd report) on a full disk
// whose WAL index is a stub SQLite must grow says "disk full" and the path,
// not "disk I/O error (4874)".
func TestReportOnFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs and runs benchd")
	}
	storage := testutil.SmallTmpfs(t, "512k")
	cfg := smallConfig(t, "@every 1h")
	var stdout, stderr bytes.Buffer
	if code := runWith(t.Context(), []string{"matrix", "--config.file", cfg, "--storage.path", storage, "--only", "t/-/a"}, &stdout, &stderr); code != 0 {
		t.Fatalf("matrix: exit %d; stderr:\n%s", code, stderr.String())
	}
	if err := os.WriteFile(filepath.Join(storage, store.DBFile+"-shm"), []byte("shm"), 0o644); err != nil {
		t.Fatal(err)
	}
	testutil.FillDisk(t, storage)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := benchd(ctx, t, "report", "--storage.path", storage).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "disk full ("+storage+")") {
		t.Errorf("benchd report on a full disk: %v, output:\n%s\nwant an error saying disk full (%s)", err, out, storage)
	}
}

// TestStopWithWritesHeld: benchd stopping with runs still held in memory
// (the disk stayed full) logs what is lost before it logs that it stopped,
// and still exits cleanly.
func TestStopWithWritesHeld(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a tmpfs and runs benchd")
	}
	storage := testutil.SmallTmpfs(t, "512k")
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd, stderr := startServe(ctx, t, port, "--config.file", smallConfig(t, "@every 1h"), "--storage.path", storage)
	testutil.FillDisk(t, storage)
	runNow(t, base)
	if err := syscall.Kill(cmd.Process.Pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	log := stderr.String()
	lost, stopped := strings.Index(log, "history: writes lost as benchd stops"), strings.Index(log, "benchd stopped")
	if lost < 0 || stopped < 0 || lost > stopped || strings.Count(log, "writes lost") != 1 {
		t.Errorf("want one 'history: writes lost as benchd stops' before 'benchd stopped'; stderr:\n%s", log)
	}
}

// TestRunIDSuffixOverflowCLI: with every second of the next few taken by a
// run and by a hand-made run of the largest int64 suffix, two benchd
// matrix runs are stored whole, each under a small free suffix of its
// second (not "--9223372036854775808", not into another run's row).
func TestRunIDSuffixOverflowCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("runs benchd")
	}
	dir := t.TempDir()
	cfg := smallConfig(t, "@every 1h")
	st, err := store.Open(t.Context(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	for i := range 20 {
		at := now.Add(time.Duration(i) * time.Second)
		for _, id := range []string{at.Format("20060102T150405Z"), at.Format("20060102T150405Z") + "-9223372036854775807"} {
			if _, err := st.BeginRun(t.Context(), store.Run{ID: id, Trigger: "earlier", Start: at}); err != nil {
				t.Fatal(err)
			}
			if err := st.FinishRun(t.Context(), id, at, store.OutcomeSuccess, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		out, err := benchd(ctx, t, "matrix", "--config.file", cfg, "--storage.path", dir).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("benchd matrix %d: %v\n%s", i, err, out)
		}
	}
	ro, err := store.Open(t.Context(), dir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	runs, err := ro.Runs(t.Context(), store.RunQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var mine []string
	for _, r := range runs {
		if r.Trigger == scheduler.TriggerMatrix {
			mine = append(mine, r.ID)
		}
	}
	if len(runs) != 42 || len(mine) != 2 {
		t.Fatalf("%d runs, %d of benchd matrix (%v); want 40 earlier and 2", len(runs), len(mine), mine)
	}
	for _, id := range mine {
		r, err := ro.Run(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(id, "-1") && !strings.HasSuffix(id, "-2") || r.Outcome != store.OutcomeSuccess || len(r.Scenarios) != 2 {
			t.Errorf("run %s: %s with %d scenarios; want a small suffix, success, 2", id, r.Outcome, len(r.Scenarios))
		}
	}
}
