package ui

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/pipeline"
	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"
)

// chromiumInstall is how to get the browser these tests drive.
const chromiumInstall = "apt-get install -y chromium (scripts/setup.sh installs it)"

// browser starts a headless Debian chromium for the test, failing with the
// install command when it is missing (skipping only under -short), and
// returns a tab's context and the console errors it collects: runtime
// console.error calls, uncaught exceptions and error log entries (failed
// loads, CSP violations).
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if testing.Short() {
			t.Skip("no chromium: " + chromiumInstall)
		}
		t.Fatal("the browser tests need Debian's chromium: " + chromiumInstall)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 1000), chromedp.Flag("lang", "en-US"))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	ctx, cancelTime := context.WithTimeout(ctx, 5*time.Minute) // under -race on 2 busy cores the test takes 1–2.5 min
	t.Cleanup(func() { cancelTime(); cancelTab(); cancelAlloc() })
	var mu sync.Mutex
	var errs []string
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return // the tab ended
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				errs = append(errs, fmt.Sprintf("%s %s:%d: %s", m.Type, m.URL, m.Line+1, m.Text))
				mu.Unlock()
			}
		}
	}()
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := errs
		errs = nil
		return out
	}
}

// artifacts returns the directory the screenshots go to:
// $BENCHD_ARTIFACTS/ui when set, else a directory of the test's, logged.
func artifacts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if a := os.Getenv("BENCHD_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, "ui")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

func screenshot(ctx context.Context, t *testing.T, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBrowser loads every page in a real browser from a real server over
// a real SQLite history with an injected regression: no console error,
// every scenario in the DOM, the regression marked, and the accept form
// working with the token and with a write user.
func TestBrowser(t *testing.T) {
	// The server first: cleanups run last-in first-out, so the browser and
	// its connections end before the server shuts down.
	ts := newSmall(t, serverOptions{Token: "s3cret", Users: map[string]string{"reader": "r-pass", "writer": "w-pass"},
		WriteUsers: []string{"writer"}})
	ctx, consoleErrors := browser(t)
	dir := artifacts(t)
	auth := func(v string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": v}})
			return err
		})
	}
	basic := func(u, p string) chromedp.Action[chromedp.Void] {
		return auth("Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p)))
	}
	if err := chromedp.Do(ctx, basic("reader", "r-pass")); err != nil {
		t.Fatal(err)
	}
	lastRun := histStart.Add(time.Duration(smallHistory.Runs-1) * time.Hour).Format("20060102T150405Z")
	// A run in progress for the now page: 2 of 6 finished.
	feedProgress(t, ts)

	pages := []struct{ name, path, ready string }{
		{"matrix", "/", "table.matrix"},
		{"scenario-regressed", "/ui/scenario/t1/-/e0", "table.signals"},
		{"scenario-ok", "/ui/scenario/t0/-/e1", "table.signals"},
		{"run", "/ui/run/" + lastRun, "article.scenario"},
		{"now", "/ui/now", "#now"},
	}
	for _, p := range pages {
		t.Run(p.name, func(t *testing.T) {
			if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+p.path), chromedp.WaitVisible(chromedp.CSS(p.ready))); err != nil {
				t.Fatalf("load %s: %v", p.path, err)
			}
			screenshot(ctx, t, dir, p.name)
			if errs := consoleErrors(); len(errs) > 0 {
				t.Errorf("console errors on %s:\n%s", p.path, strings.Join(errs, "\n"))
			}
		})
	}

	t.Run("report file", func(t *testing.T) {
		var b strings.Builder
		if err := WriteReport(t.Context(), &b, Options{Store: ts.Store}, lastRun); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "run.html")
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate("file://"+file), chromedp.WaitVisible(chromedp.CSS("article.scenario"))); err != nil {
			t.Fatal(err)
		}
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("td.cell[data-scenario]").length + 100*document.querySelectorAll("article.scenario").length`))
		if err != nil {
			t.Fatal(err)
		}
		if n != 6+100*6 {
			t.Errorf("report file: cells + 100 × scenario sections = %d, want 606", n)
		}
		screenshot(ctx, t, dir, "report-file")
		if errs := consoleErrors(); len(errs) > 0 {
			t.Errorf("console errors in the report file:\n%s", strings.Join(errs, "\n"))
		}
	})

	t.Run("matrix DOM", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS("table.matrix"))); err != nil {
			t.Fatal(err)
		}
		cells, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`Object.fromEntries([...document.querySelectorAll("td.cell[data-scenario]")].map(td => [td.dataset.scenario, td.dataset.verdict + " " + td.querySelector(".verdict").textContent + " " + getComputedStyle(td).backgroundColor]))`))
		if err != nil {
			t.Fatal(err)
		}
		for _, sc := range ts.Config.Scenarios() {
			got, ok := cells[sc.Name]
			if !ok {
				t.Errorf("no cell of %s in the matrix", sc.Name)
				continue
			}
			want := "ok ok rgba(0, 0, 0, 0)"
			if sc.Name == smallHistory.Regressed {
				want = "regression regression rgb(253, 232, 232)" // by word and by colour
			}
			if sc.Name == ts.Config.Scenarios()[1].Name {
				// The run in progress (feedProgress) passed the UI's Feed an
				// invalid result of it: the newest.
				want = "invalid invalid rgb(255, 250, 240)"
			}
			if got != want {
				t.Errorf("%s: %q, want %q", sc.Name, got, want)
			}
		}
	})

	t.Run("run DOM", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/ui/run/"+lastRun), chromedp.WaitVisible(chromedp.CSS("article.scenario"))); err != nil {
			t.Fatal(err)
		}
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("article.scenario pre.wrk").length + 100*document.querySelectorAll("article.scenario img.plot").length`))
		if err != nil {
			t.Fatal(err)
		}
		if want := 6 + 100*6; n != want {
			t.Errorf("wrk blocks + 100 × plots = %d, want %d", n, want)
		}
		// The plots are lazy images of the same server (CSP img-src
		// 'self'): load them all and wait until each is drawn.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[int](`(() => { const is = document.querySelectorAll("img.plot"); is.forEach(i => i.loading = "eager"); return is.length; })()`)); err != nil {
			t.Fatal(err)
		}
		drawn := 0
		for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if drawn, err = chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll("img.plot")].filter(i => i.complete && i.naturalWidth > 0).length`)); err != nil {
				t.Fatal(err)
			}
			if drawn == 6 {
				break
			}
		}
		if drawn != 6 {
			t.Errorf("%d of 6 latency plots drawn", drawn)
		}
		screenshot(ctx, t, dir, "run-plots")
		if errs := consoleErrors(); len(errs) > 0 {
			t.Errorf("console errors on the run page:\n%s", strings.Join(errs, "\n"))
		}
	})

	accept := func(t *testing.T, who chromedp.Action[chromedp.Void], scenario string) {
		t.Helper()
		err := chromedp.Do(ctx, who, chromedp.Navigate(ts.URL+ScenarioPath(scenario)), chromedp.WaitVisible(chromedp.CSS("#accept")),
			chromedp.Click(chromedp.CSS("#accept"), chromedp.NodeVisible), chromedp.WaitVisible(chromedp.CSS("#accepted")))
		if err != nil {
			t.Fatalf("accept %s: %v", scenario, err)
		}
		notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#accepted")))
		if err != nil {
			t.Fatalf("accept %s: %v", scenario, err)
		}
		if want := "Baseline accepted from run " + lastRun; !strings.Contains(notice, want) {
			t.Errorf("notice %q, want %q", notice, want)
		}
		if errs := consoleErrors(); len(errs) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(errs, "\n"))
		}
	}
	t.Run("accept with the token", func(t *testing.T) {
		accept(t, auth("Bearer "+ts.Token), "t0/-/e1")
		accepted, err := ts.Store.Accepted(t.Context(), "t0/-/e1")
		if err != nil || !accepted[lastRun] {
			t.Errorf("store: accepted %v, %v; want run %s", accepted, err, lastRun)
		}
	})
	t.Run("accept as a write user", func(t *testing.T) {
		accept(t, basic("writer", "w-pass"), smallHistory.Regressed)
		screenshot(ctx, t, dir, "scenario-accepted")
		if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/"), chromedp.WaitVisible(chromedp.CSS("table.matrix"))); err != nil {
			t.Fatal(err)
		}
		verdict, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(fmt.Sprintf(`td[data-scenario=%q]`, smallHistory.Regressed)), "data-verdict"))
		if err != nil {
			t.Fatal(err)
		}
		if verdict.Value == VerdictRegression {
			t.Errorf("%s after its accept: still a regression", smallHistory.Regressed)
		}
	})
	t.Run("a reader sees no working accept", func(t *testing.T) {
		if err := chromedp.Do(ctx, basic("reader", "r-pass"), chromedp.Navigate(ts.URL+"/ui/scenario/t2/-/e0"), chromedp.WaitVisible(chromedp.CSS("#accept")),
			chromedp.Click(chromedp.CSS("#accept"), chromedp.NodeVisible), chromedp.WaitNotPresent(chromedp.CSS("#accept"))); err != nil {
			t.Fatal(err)
		}
		status, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(status, "may read but not write") {
			t.Errorf("a reader's accept answered %q, want a refusal", status)
		}
		consoleErrors() // the 403 is logged as a failed load: expected here
	})
}

// feedProgress tells ts's Feed and Progress of a run of ts's matrix with 2
// of its scenarios finished and the third started.
func feedProgress(t *testing.T, ts *testServer) {
	t.Helper()
	progressOf(t, ts.observer(nil), ts.Config.Scenarios(), 2)
}

// TestBrowserNow runs a real matrix, two scenarios of two repeats each (2 s
// at 200 requests/s) against a real loopback server, through the real
// scheduler and pipeline (history, Feed, Progress) of the daemon's server,
// and reads the now page in the browser while it runs: it names the
// scenario repeat in progress (one the matrix has, repeat 1 or 2 of 2),
// and after the run the run itself, ended, with its finished cells.
func TestBrowserNow(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	t.Cleanup(target.Close)
	cfg, err := config.Parse(fmt.Appendf(nil, `
defaults: {connections: 1, threads: 1, duration: 2s, warmup: 0s, timeout: 1s, repeats: 2, rate: 200}
targets: [{name: loop, url: %q}]
endpoints: [{name: a, path: /a}, {name: b, path: /b}]
`, target.URL), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	ts := startServer(t, st, cfg, serverOptions{})
	ctx, consoleErrors := browser(t)
	dir := artifacts(t)
	hist := pipeline.NewHistory(pipeline.HistoryOptions{Store: st})
	t.Cleanup(func() { _ = hist.Close() })
	pipe := ts.observer(hist)
	sched, err := scheduler.New(cfg, scheduler.Options{Observer: pipe, Recorder: pipe})
	if err != nil {
		t.Fatal(err)
	}
	type ran struct {
		rep *scheduler.RunReport
		err error
	}
	done := make(chan ran, 1)
	go func() {
		rep, err := sched.RunOnce(t.Context(), scheduler.TriggerManual, nil)
		done <- ran{rep, err}
	}()

	current := `(() => { const c = document.querySelector("#current[data-scenario]"); return c ? c.dataset.scenario + " " + c.dataset.repeat + "/" + c.dataset.repeats : ""; })()`
	var seen []string
	var r ran
poll:
	for {
		select {
		case r = <-done:
			break poll
		default:
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/ui/now"), chromedp.WaitVisible(chromedp.CSS("#now"))); err != nil {
			t.Fatalf("load /ui/now: %v", err)
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](current))
		if err != nil {
			t.Fatal(err)
		}
		if got != "" {
			if len(seen) == 0 {
				screenshot(ctx, t, dir, "now-running")
			}
			seen = append(seen, got)
		}
	}
	if r.err != nil {
		t.Fatalf("run: %v", r.err)
	}
	if o := r.rep.Outcome(); o != scheduler.OutcomeSuccess {
		t.Fatalf("run outcome %s, want success", o)
	}
	if len(seen) == 0 {
		t.Fatal("the now page never named a scenario running during the run")
	}
	valid := map[string]bool{"loop/-/a 1/2": true, "loop/-/a 2/2": true, "loop/-/b 1/2": true, "loop/-/b 2/2": true}
	for _, s := range seen {
		if !valid[s] {
			t.Errorf("the now page named %q running; want one of the matrix's scenarios, repeat 1 or 2 of 2 (seen %q)", s, seen)
		}
	}
	t.Logf("scenario repeats seen running: %q", seen)

	if err := chromedp.Do(ctx, chromedp.Navigate(ts.URL+"/ui/now"), chromedp.WaitVisible(chromedp.CSS("#now"))); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#now")))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"No run in progress. The last, " + r.rep.ID + ", ended", "(success)", "2 of 2 scenarios", "loop/-/a", "loop/-/b"} {
		if !strings.Contains(text, want) {
			t.Errorf("the now page after the run lacks %q:\n%s", want, text)
		}
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#current").length`)); err != nil || n != 0 {
		t.Errorf("after the run: %d #current, %v; want none", n, err)
	}
	screenshot(ctx, t, dir, "now-finished")
	if errs := consoleErrors(); len(errs) > 0 {
		t.Errorf("console errors on the now page:\n%s", strings.Join(errs, "\n"))
	}
}
