package ui

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/pipeline"
	"github.com/benchd/benchd/regress"
	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/scheduler"
	"github.com/benchd/benchd/store"
)

// smallHistory is the history of the page tests: 3 targets × 2
// endpoints, 40 hourly runs, t1/-/e0 regressed from run 34, every 9th run
// contended, a deploy marker from run 30.
var smallHistory = histOptions{Targets: 3, Endpoints: 2, Runs: 40, Regressed: "t1/-/e0", RegressFrom: 34,
	InvalidEvery: 9, MarkerAt: 30}

func newSmall(t *testing.T, so serverOptions) *testServer {
	t.Helper()
	st := buildHistory(t, t.TempDir(), smallHistory)
	return startServer(t, st, testConfig(t, smallHistory), so)
}

// cellVerdicts returns the data-verdict of each matrix cell, by scenario.
func cellVerdicts(body string) map[string]string {
	out := map[string]string{}
	re := regexp.MustCompile(`<td class="cell [a-z]+" data-scenario="([^"]+)" data-verdict="([a-z]+)"`)
	for _, m := range re.FindAllStringSubmatch(body, -1) {
		out[m[1]] = m[2]
	}
	return out
}

func TestPages(t *testing.T) {
	ts := newSmall(t, serverOptions{Token: "s3cret"})
	lastRun := histStart.Add(39 * time.Hour).Format("20060102T150405Z")
	tests := []struct {
		name, path string
		want       []string
	}{
		{"matrix", "/", []string{"<title>UI test matrix · matrix</title>", `<th>t0</th><th>t1</th><th>t2</th>`, "req/s", "p99", "<svg class=\"spark\""}},
		{"scenario regressed", "/ui/scenario/t1/-/e0", []string{`data-verdict="regression"`, `<tr data-signal="throughput" data-verdict="regression">`,
			"baseline median", "detectable change", "change point", "deploy marker", "invalid run (left out of the detector)", "stroke:#C01010" /* the change point line, colorChange */, `action="/api/v1/baselines/t1/-/e0/accept"`, "no: foreign_cpu"}},
		{"ui root redirects to the matrix", "/ui/", []string{"<title>UI test matrix · matrix</title>"}},
		{"scenario ok", "/ui/scenario/t0/-/e1", []string{`data-verdict="ok"`, "latency_p99", "timeout_ratio"}},
		{"run", "/ui/run/" + lastRun, []string{"Run " + lastRun, "Requests/sec:", "Latency Distribution",
			`<img class="plot" src="/ui/run/` + lastRun + `/latency/t1/-/e0" loading="lazy" width="720" height="230" alt="latency by percentile: t1/-/e0">`,
			"against the previous run", `class="worse"`}},
		{"latency plot", "/ui/run/" + lastRun + "/latency/t1/-/e0", []string{`<svg`, `xmlns="http://www.w3.org/2000/svg"`, "latency by percentile: t1/-/e0", ">90%</text>"}},
		{"now", "/ui/now", []string{"No run since benchd started."}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, ts.URL+tt.path, nil)
			if code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", tt.path, code, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s: no %q in the page", tt.path, w)
				}
			}
			for _, bad := range []string{"<script", "src=\"http", "stylesheet", "NaN", "%!"} {
				if strings.Contains(body, bad) {
					t.Errorf("GET %s: the page holds %q", tt.path, bad)
				}
			}
		})
	}
	t.Run("latency plot headers", func(t *testing.T) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, ts.URL+LatencyPlotPath(lastRun, "t1/-/e0"), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		for k, want := range map[string]string{"Content-Type": "image/svg+xml", "X-Content-Type-Options": "nosniff",
			"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"} {
			if got := resp.Header.Get(k); got != want {
				t.Errorf("%s: %q, want %q", k, got, want)
			}
		}
	})
	t.Run("matrix verdicts", func(t *testing.T) {
		_, body := get(t, ts.URL+"/", nil)
		got := cellVerdicts(body)
		if len(got) != 6 {
			t.Fatalf("%d cells, want 6: %v", len(got), got)
		}
		for name, v := range got {
			want := VerdictOK
			if name == smallHistory.Regressed {
				want = VerdictRegression
			}
			if v != want {
				t.Errorf("%s: verdict %s, want %s", name, v, want)
			}
		}
	})
	for _, path := range []string{"/ui/scenario/t9/-/e0", "/ui/run/nosuchrun", "/ui/nothing", "/ui/run/nosuchrun/latency/t1/-/e0", "/ui/run/" + lastRun + "/latency/t9/-/e0"} {
		if code, _ := get(t, ts.URL+path, nil); code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, code)
		}
	}
}

// TestWebConfig checks that the web config's basic auth covers the UI as
// it covers /metrics, and that the accept form is a write: a write user's
// same-origin form post and the bearer token accept, a reader and a
// cross-origin post do not.
func TestWebConfig(t *testing.T) {
	ts := newSmall(t, serverOptions{Token: "s3cret", Users: map[string]string{"reader": "r-pass", "writer": "w-pass"},
		WriteUsers: []string{"writer"}})
	basic := func(u, p string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
	for _, path := range []string{"/", "/ui/now", "/ui/scenario/t0/-/e0", "/metrics"} {
		if code, _ := get(t, ts.URL+path, nil); code != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d, want 401", path, code)
		}
		if code, _ := get(t, ts.URL+path, basic("reader", "wrong")); code != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong password: %d, want 401", path, code)
		}
		if code, _ := get(t, ts.URL+path, basic("reader", "r-pass")); code != http.StatusOK {
			t.Errorf("GET %s as reader: %d, want 200", path, code)
		}
	}
	post := func(name string, auth func(*http.Request), site string) (code int, location string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, ts.URL+"/api/v1/baselines/"+name+"/accept", strings.NewReader(url.Values{}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", site)
		auth(req)
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return resp.StatusCode, resp.Header.Get("Location")
	}
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") }
	tests := []struct {
		name     string
		scenario string
		auth     func(*http.Request)
		site     string
		want     int
	}{
		{"reader refused", "t1/-/e0", basic("reader", "r-pass"), "same-origin", http.StatusForbidden},
		{"cross-origin refused", "t1/-/e0", basic("writer", "w-pass"), "cross-site", http.StatusForbidden},
		{"writer accepts", "t1/-/e0", basic("writer", "w-pass"), "same-origin", http.StatusSeeOther},
		{"token accepts", "t0/-/e0", bearer, "cross-site", http.StatusSeeOther},
		{"unknown scenario", "t9/-/e0", bearer, "same-origin", http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, loc := post(tt.scenario, tt.auth, tt.site)
			if code != tt.want {
				t.Fatalf("status %d, want %d", code, tt.want)
			}
			if tt.want == http.StatusSeeOther {
				if !strings.HasPrefix(loc, ScenarioPath(tt.scenario)+"?accepted=") {
					t.Errorf("Location %q, want the scenario page", loc)
				}
			}
		})
	}
	_, body := get(t, ts.URL+"/", basic("reader", "r-pass"))
	if v := cellVerdicts(body)["t1/-/e0"]; v == VerdictRegression {
		t.Errorf("t1/-/e0 after its accept: verdict %s, want the regression cleared", v)
	}
}

func TestWriteReport(t *testing.T) {
	st := buildHistory(t, t.TempDir(), smallHistory)
	runs, err := st.Runs(t.Context(), store.RunQuery{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteReport(t.Context(), &b, Options{Store: st}, runs[0].ID); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if got := cellVerdicts(page); len(got) != 6 || got["t1/-/e0"] != VerdictRegression {
		t.Errorf("report matrix: %v, want 6 cells with t1/-/e0 a regression", got)
	}
	for _, w := range []string{`href="#s-t1---e0"`, `id="s-t1---e0"`, "Requests/sec:", "<svg class=\"plot\""} {
		if !strings.Contains(page, w) {
			t.Errorf("report: no %q", w)
		}
	}
	// Self-contained: no script, no stylesheet or image to fetch, no link to a served page.
	for _, bad := range []string{"<script", "stylesheet", "src=", `href="/`, `href="http`} {
		if strings.Contains(page, bad) {
			t.Errorf("report holds %q", bad)
		}
	}
	err = WriteReport(t.Context(), &b, Options{Store: st}, "nosuchrun")
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown run: %v, want store.ErrNotFound", err)
	}
}

// TestNowPage follows a run through the real pipeline into the now page:
// the progress (i of N, the scenario repeat running, the time left) is
// pipeline.Progress's, the last finished cells the Feed's.
func TestNowPage(t *testing.T) {
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	cfg := testConfig(t, histOptions{Targets: 2, Endpoints: 2})
	ts := &testServer{Store: st, Config: cfg, Feed: NewFeed(), Progress: &pipeline.Progress{}}
	u := New(Options{Store: st, Config: func() *config.Config { return cfg }, Feed: ts.Feed, Progress: ts.Progress.Status})
	obs := ts.observer(nil)
	scs := cfg.Scenarios()
	now := time.Now()
	info := &scheduler.RunInfo{ID: "run1", Start: now.Add(-time.Minute), Scenarios: scs}
	rec := &result.Scenario{RunID: "run1", Name: scs[0].Name, Valid: true, Measurement: result.Measurement{Sent: 10, Requests: 10,
		RequestsPerSecond: 1234, Latency: &result.Latency{P99: 0.012}}}
	var results []*scheduler.ScenarioResult
	finish := func(r *scheduler.ScenarioResult) {
		results = append(results, r)
		obs.ScenarioFinished(t.Context(), r)
	}
	left := regexp.MustCompile(`about (\S+) left`)
	steps := []struct {
		name string
		do   func()
		want []string
		left time.Duration // about this much time left (±10 s); 0 for no estimate
	}{
		{"before a run", func() {}, []string{"No run since benchd started."}, 0},
		{"run started", func() { obs.RunStarted(t.Context(), info) },
			[]string{`<b id="done">0</b> of <b id="planned">4</b>`, "no estimate before the first scenario ends", "the run is starting"}, 0},
		{"a repeat", func() {
			obs.ScenarioStarted(t.Context(), &scheduler.ScenarioStart{RunID: "run1", Scenario: scs[0], Total: 4, Repeat: 1, Repeats: 2, Start: now.Add(-5 * time.Second)})
		}, []string{`id="current" data-scenario="t0/-/e0" data-repeat="1" data-repeats="2"`, `Running <a href="/ui/scenario/t0/-/e0">t0/-/e0</a>, repeat 1 of 2, started 5s ago.`}, 0},
		{"its next repeat", func() {
			obs.ScenarioStarted(t.Context(), &scheduler.ScenarioStart{RunID: "run1", Scenario: scs[0], Total: 4, Repeat: 2, Repeats: 2, Start: now})
		}, []string{`data-repeat="2" data-repeats="2"`, "repeat 2 of 2, started 0s ago."}, 0},
		{"finished", func() {
			finish(&scheduler.ScenarioResult{RunID: "run1", Scenario: scs[0], Total: 4, End: now, Record: rec})
		},
			[]string{`<b id="done">1</b> of <b id="planned">4</b>`, "No scenario running: target t0 starts or settles", "<td>1234</td><td>12.00ms</td><td>+1m0s</td>"}, 3 * time.Minute},
		{"one failed", func() {
			obs.ScenarioStarted(t.Context(), &scheduler.ScenarioStart{RunID: "run1", Scenario: scs[1], Index: 1, Total: 4, Repeat: 1, Repeats: 1, Start: now})
			finish(&scheduler.ScenarioResult{RunID: "run1", Scenario: scs[1], Index: 1, Total: 4, End: now, Err: errors.New("target down"),
				Record: &result.Scenario{RunID: "run1", Name: scs[1].Name, Error: "target down"}})
		}, []string{`<b id="done">2</b> of`, `<td>2</td><td><a href="/ui/scenario/t0/-/e1">t0/-/e1</a></td><td><span class="verdict failed">failed</span> <small>target down</small>`}, time.Minute},
		{"run finished", func() {
			obs.RunFinished(t.Context(), &scheduler.RunReport{RunInfo: *info, Results: results, End: now.Add(time.Second)})
		}, []string{`No run in progress. The last, <a href="/ui/run/run1">run1</a>, ended`, "(failed) after 1m1s: 2 of 4 scenarios.", "target down"}, 0},
	}
	for _, s := range steps {
		s.do()
		w := httptest.NewRecorder()
		u.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/ui/now", nil))
		body := w.Body.String()
		if w.Code != http.StatusOK {
			t.Fatalf("%s: GET /ui/now: %d %s", s.name, w.Code, body)
		}
		for _, want := range s.want {
			if !strings.Contains(body, want) {
				t.Errorf("%s: the now page lacks %q:\n%s", s.name, want, body)
			}
		}
		m := left.FindStringSubmatch(body)
		switch {
		case s.left == 0 && m != nil:
			t.Errorf("%s: %q, want no estimate", s.name, m[0])
		case s.left > 0 && m == nil:
			t.Errorf("%s: no time left, want about %s", s.name, s.left)
		case s.left > 0:
			if d, err := time.ParseDuration(m[1]); err != nil || d < s.left-10*time.Second || d > s.left+time.Second {
				t.Errorf("%s: %q, want about %s", s.name, m[0], s.left)
			}
		}
	}
}

func TestVerdictOf(t *testing.T) {
	ok := &result.Scenario{Valid: true}
	tests := []struct {
		name   string
		newest *result.Scenario
		tested bool
		reg    bool
		want   string
	}{
		{"no result", nil, false, false, VerdictUntested},
		{"too few runs", ok, false, false, VerdictUntested},
		{"tested", ok, true, false, VerdictOK},
		{"regressed", ok, true, true, VerdictRegression},
		{"contended", &result.Scenario{InvalidReasons: []string{"foreign_cpu"}}, true, false, VerdictInvalid},
		{"failed", &result.Scenario{Valid: true, Error: "target exited"}, true, false, VerdictInvalid},
		{"regressed, newest failed", &result.Scenario{Error: "x"}, true, true, VerdictRegression},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			vs := verdictsFor(tt.tested, tt.reg)
			var newest *summary
			if tt.newest != nil {
				sum := summarize(tt.newest)
				newest = &sum
			}
			if got, _ := verdictOf(vs, newest); got != tt.want {
				t.Errorf("verdict %s, want %s", got, tt.want)
			}
		})
	}
}

func verdictsFor(tested, regressed bool) []regress.Verdict {
	return []regress.Verdict{{Signal: regress.SignalThroughput, Tested: tested, Regressed: regressed}, {Signal: regress.SignalLatencyP99, Tested: tested}}
}

// TestFreshness checks that a page after a new result shows it: fed by
// the Progress observer (the daemon), or read from the store (no
// observer).
func TestFreshness(t *testing.T) {
	o := histOptions{Targets: 1, Endpoints: 2, Runs: 12}
	st := buildHistory(t, t.TempDir(), o)
	cfg := testConfig(t, o)
	feed := NewFeed()
	for _, tt := range []struct {
		name string
		ui   *UI
	}{
		{"observer", New(Options{Store: st, Config: func() *config.Config { return cfg }, Feed: feed})},
		{"store", New(Options{Store: st, Config: func() *config.Config { return cfg }})},
	} {
		t.Run(tt.name, func(t *testing.T) {
			page := func() string {
				w := httptest.NewRecorder()
				tt.ui.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
				return w.Body.String()
			}
			before := page()
			id := "fresh-" + tt.name
			if !strings.Contains(before, "run 20261101T110000Z") || strings.Contains(before, id) {
				t.Fatalf("first page: newest run not shown, or %s already", id)
			}
			start := histStart.Add(100 * time.Hour)
			rec := record(t, rand.New(rand.NewPCG(5, 6)), id, "t0/-/e1", 0, start, 1000, 1, false, 50)
			if tt.name == "observer" {
				feed.ScenarioFinished(t.Context(), &scheduler.ScenarioResult{RunID: id, Scenario: cfg.Scenarios()[1], Total: 2, Record: &rec})
			} else {
				got, err := st.BeginRun(t.Context(), store.Run{ID: id, Start: start})
				if err != nil || got != id {
					t.Fatal(got, err)
				}
				if err := st.SaveScenario(t.Context(), rec); err != nil {
					t.Fatal(err)
				}
			}
			if after := page(); !strings.Contains(after, "run "+id) {
				t.Errorf("after a new result of t0/-/e1: its run %s is not in the matrix", id)
			}
		})
	}
}

// TestScenarioPage: through the real server, a configured scenario with no
// result yet (a daemon just started, an endpoint just added) has a page of
// its settings, not a 404; a name the configuration lacks is a 404 that
// names the closest scenario.
func TestScenarioPage(t *testing.T) {
	st := buildHistory(t, t.TempDir(), smallHistory)
	// One endpoint more than the history has: t0/-/e2 has no result.
	cfg := testConfig(t, histOptions{Targets: smallHistory.Targets, Endpoints: smallHistory.Endpoints + 1})
	ts := startServer(t, st, cfg, serverOptions{Token: "s3cret"})
	tests := []struct {
		name, path string
		code       int
		want, not  []string
	}{
		{"no result yet", "/ui/scenario/t0/-/e2", http.StatusOK,
			[]string{`data-scenario="t0/-/e2" data-verdict="untested"`, `id="no-result"`, "No result yet", "<h2>Settings</h2>", "connections", "http://127.0.0.1:1/e2"},
			[]string{`id="accept"`, `table class="signals"`}},
		{"with results", "/ui/scenario/t0/-/e1", http.StatusOK, []string{`table class="signals"`, `id="accept"`}, []string{`id="no-result"`}},
		{"unknown", "/ui/scenario/t9/-/e0", http.StatusNotFound, []string{`no scenario is named "t9/-/e0" (did you mean "t0/-/e0"?)`}, nil},
		{"unknown, closest without results", "/ui/scenario/t0/-/e22", http.StatusNotFound, []string{`did you mean "t0/-/e2"?`}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := get(t, ts.URL+tt.path, nil)
			if code != tt.code {
				t.Fatalf("GET %s: %d, want %d: %s", tt.path, code, tt.code, body)
			}
			for _, w := range tt.want {
				if !strings.Contains(body, w) {
					t.Errorf("GET %s: no %q in:\n%s", tt.path, w, body)
				}
			}
			for _, w := range tt.not {
				if strings.Contains(body, w) {
					t.Errorf("GET %s: %q in the page", tt.path, w)
				}
			}
		})
	}
	// The matrix links the cell without a result to that page.
	if _, body := get(t, ts.URL+"/", nil); !strings.Contains(body, `href="/ui/scenario/t0/-/e2"`) || cellVerdicts(body)["t0/-/e2"] != VerdictUntested {
		t.Errorf("matrix: no untested cell of t0/-/e2 linking to its page")
	}
}

// countingSource is a real store that counts the histories read from it.
type countingSource struct {
	Source
	histories atomic.Int32
}

func (c *countingSource) History(ctx context.Context, name string, q store.HistoryQuery) ([]store.Scenario, error) {
	c.histories.Add(1)
	return c.Source.History(ctx, name, q)
}

// TestFeedLoaded: the daemon's UI takes the history its regression
// detector read at start (Feed.Loaded) and reads no history at its first
// pages, which are those of a UI that read the history itself.
func TestFeedLoaded(t *testing.T) {
	st := buildHistory(t, t.TempDir(), smallHistory)
	cfg := testConfig(t, smallHistory)
	live := func() *config.Config { return cfg }
	feed := NewFeed()
	det := pipeline.NewDetector(pipeline.DetectorOptions{Store: st, Config: live, Loaded: feed.Loaded})
	if _, err := det.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	counted := &countingSource{Source: st}
	daemon := New(Options{Store: counted, Config: live, Feed: feed})
	alone := New(Options{Store: st, Config: live})
	page := func(u *UI, path string) string {
		w := httptest.NewRecorder()
		u.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, w.Code, w.Body.String())
		}
		return w.Body.String()
	}
	for _, path := range []string{"/", "/ui/scenario/" + smallHistory.Regressed} {
		if got, want := page(daemon, path), page(alone, path); got != want {
			t.Errorf("GET %s: the page from the detector's read differs from the page from the store's", path)
		}
	}
	if n := counted.histories.Load(); n != 0 {
		t.Errorf("the daemon's UI read %d scenario histories, want none", n)
	}
}

// TestSignalOfNoValidRun: a signal whose history holds no valid run shows
// no current value ("-"), not a zero, whatever the signal.
func TestSignalOfNoValidRun(t *testing.T) {
	pts := []regress.Point{{Value: 1872, Valid: false}, {Value: 1900, Valid: false}}
	for _, sig := range []regress.Signal{regress.SignalThroughput, regress.SignalLatencyP50, regress.SignalErrorRatio, regress.SignalCPUPerRequest} {
		vs := regress.Detect(map[regress.SeriesKey][]regress.Point{{Scenario: "t/-/e", Signal: sig}: pts}, regress.Options{})
		if len(vs) != 1 {
			t.Fatalf("%s: %d verdicts, want 1", sig, len(vs))
		}
		if got := signalOf(sig, &vs[0], "").Current; got != "-" {
			t.Errorf("%s with no valid run: current %q, want -", sig, got)
		}
	}
}
