package ui

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/config"
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
		{"scenario ok", "/ui/scenario/t0/-/e1", []string{`data-verdict="ok"`, "latency_p99", "timeout_ratio"}},
		{"run", "/ui/run/" + lastRun, []string{"Run " + lastRun, "Requests/sec:", "Latency Distribution", "latency by percentile: t1/-/e0",
			">90%</text>", "against the previous run", `class="worse"`}},
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
	for _, path := range []string{"/ui/scenario/t9/-/e0", "/ui/run/nosuchrun", "/ui/nothing"} {
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

func TestProgress(t *testing.T) {
	now := histStart
	p := NewProgress(func() time.Time { return now })
	cfg := testConfig(t, histOptions{Targets: 2, Endpoints: 2})
	scs := cfg.Scenarios()
	p.RunStarted(t.Context(), &scheduler.RunInfo{ID: "run1", Start: now, Scenarios: scs})
	if s := p.State(now); !s.Running || s.Planned != 4 || s.Done != 0 || s.ETA != 0 {
		t.Fatalf("at start: %+v", s)
	}
	rec := &result.Scenario{Name: scs[0].Name, Valid: true, Measurement: result.Measurement{Sent: 10, Requests: 10,
		RequestsPerSecond: 1234, Latency: &result.Latency{P99: 0.012}}}
	now = now.Add(30 * time.Second)
	p.ScenarioFinished(t.Context(), &scheduler.ScenarioResult{RunID: "run1", Scenario: scs[0], Index: 0, Total: 4, Record: rec})
	now = now.Add(30 * time.Second)
	p.ScenarioFinished(t.Context(), &scheduler.ScenarioResult{RunID: "run1", Scenario: scs[1], Index: 1, Total: 4, Err: errors.New("target down")})
	s := p.State(now.Add(10 * time.Second))
	if s.Done != 2 || s.Planned != 4 || s.Elapsed != 70*time.Second || s.ETA != 70*time.Second {
		t.Errorf("after 2 of 4 at 70s: done %d/%d elapsed %s eta %s, want 2/4 70s 70s", s.Done, s.Planned, s.Elapsed, s.ETA)
	}
	if len(s.Recent) != 2 || s.Recent[0].Status != "failed" || s.Recent[1].RPS != "1234" || s.Recent[1].P99 != "12.00ms" {
		t.Errorf("recent: %+v", s.Recent)
	}
	p.RunFinished(t.Context(), &scheduler.RunReport{RunInfo: scheduler.RunInfo{ID: "run1", Start: histStart, Scenarios: scs}, End: now})
	if s := p.State(now.Add(time.Hour)); s.Running || s.Outcome != scheduler.OutcomeFailed || s.Elapsed != time.Minute {
		t.Errorf("after the run: %+v", s)
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
	progress := NewProgress(nil)
	for _, tt := range []struct {
		name string
		ui   *UI
	}{
		{"observer", New(Options{Store: st, Config: func() *config.Config { return cfg }, Progress: progress})},
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
				progress.ScenarioFinished(t.Context(), &scheduler.ScenarioResult{RunID: id, Scenario: cfg.Scenarios()[1], Total: 2, Record: &rec})
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
