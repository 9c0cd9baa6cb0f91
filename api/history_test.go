package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/store"
)

// TestHistoryQuery checks that bad query values of the history endpoints
// answer 400 naming the parameter, against a real server and a real
// SQLite store.
func TestHistoryQuery(t *testing.T) {
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	base, client := startServer(t, authSetup{}, false, func(o *Options) { o.History = st })
	cases := []struct {
		query    string
		wantCode int
		wantBody string
	}{
		{"/api/v1/runs", 200, `"runs":[]`},
		{"/api/v1/runs?limit=10&before=2026-11-29T17:00:00Z", 200, `"runs":[]`},
		{"/api/v1/runs?before=2026-11-29T17:00:00.123456789%2B02:00", 200, `"runs":[]`},
		{"/api/v1/runs?before=9999-12-31T23:59:59Z", 400, "before: 9999-12-31T23:59:59Z is out of range"},
		{"/api/v1/runs?before=0001-01-01T00:00:00Z", 400, "before: 0001-01-01T00:00:00Z is out of range"},
		{"/api/v1/runs?before=yesterday", 400, "before: want an RFC 3339 time"},
		{"/api/v1/runs?before=2026-13-01T00:00:00Z", 400, "before: want an RFC 3339 time"},
		{"/api/v1/runs?limit=0", 400, "limit: want a whole number from 1 to 1000"},
		{"/api/v1/runs?limit=1001", 400, "limit:"},
		{"/api/v1/runs?limit=-1", 400, "limit:"},
		{"/api/v1/runs?limit=99999999999999999999", 400, "limit:"},
		{"/api/v1/runs?limit=1e3", 400, "limit:"},
		{"/api/v1/runs/nope", 404, "no run with that ID"},
		{"/api/v1/scenarios/t/-/e/history?limit=abc", 400, "limit:"},
		{"/api/v1/scenarios/t/-/e/history?limit=5", 200, `"results":[]`},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			resp, err := client.Get(base + c.query)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.wantCode || !strings.Contains(string(body), c.wantBody) {
				t.Errorf("GET %s = %d %s, want %d containing %q", c.query, resp.StatusCode, body, c.wantCode, c.wantBody)
			}
		})
	}
}

// FuzzParseRunQuery checks that parseRunQuery never panics, that its
// errors name the parameter, and that what it accepts the store can take:
// a limit from 0 to 1000 and a before the store can represent.
func FuzzParseRunQuery(f *testing.F) {
	for _, s := range []string{
		"", "limit=10", "limit=0", "limit=1000&before=2026-11-29T17:00:00Z",
		"before=9999-12-31T23:59:59Z", "before=2262-04-11T23:47:16.854775808Z",
		"before=1677-09-21T00:12:43.145224191Z", "before=2026-11-29T17:00:00%2B23:59", "limit=1&limit=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseRunQuery(v)
		// The scenario history takes the same parameters, the same way.
		if hq, herr := parseHistoryQuery(v); (herr == nil) != (err == nil) || (err == nil && (hq.Limit != q.Limit || !hq.Before.Equal(q.Before))) {
			t.Fatalf("parseHistoryQuery = %+v, %v; parseRunQuery = %+v, %v", hq, herr, q, err)
		}
		if err != nil {
			if msg := err.Error(); !strings.HasPrefix(msg, "limit: ") && !strings.HasPrefix(msg, "before: ") {
				t.Fatalf("error %q does not name its parameter", msg)
			}
			return
		}
		if q.Limit < 0 || q.Limit > 1000 {
			t.Fatalf("accepted limit %d", q.Limit)
		}
		if !q.Before.IsZero() {
			// The store keeps Unix nanoseconds: the instant must survive them.
			if back := time.Unix(0, q.Before.UnixNano()); !back.Equal(q.Before) {
				t.Fatalf("accepted before %s, which the store cannot represent", q.Before)
			}
		}
	})
}

// TestRunOutcomeShown: a run the store keeps as aborted reads
// "interrupted" in the API, the word benchd uses everywhere else.
func TestRunOutcomeShown(t *testing.T) {
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	start := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	for i, outcome := range []string{store.OutcomeAborted, store.OutcomeFailed} {
		id, err := st.BeginRun(t.Context(), store.Run{ID: "r" + string(rune('0'+i)), Trigger: "manual", Start: start.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.FinishRun(t.Context(), id, start.Add(time.Hour), outcome, "x"); err != nil {
			t.Fatal(err)
		}
	}
	base, client := startServer(t, authSetup{}, false, func(o *Options) { o.History = st })
	for path, want := range map[string]string{"/api/v1/runs/r0": `"outcome":"interrupted"`, "/api/v1/runs/r1": `"outcome":"failed"`} {
		resp, err := client.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %s, want %s", path, body, want)
		}
	}
}

// TestScenarioHistoryBaselines: the history of a scenario names the runs
// that start its baseline segments and why, from a real SQLite store
// whose second result's settings changed.
func TestScenarioHistoryBaselines(t *testing.T) {
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	start := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	for i, conns := range []string{"10", "20"} {
		id := fmt.Sprintf("r%d", i)
		at := start.Add(time.Duration(i) * time.Hour)
		if _, err := st.BeginRun(t.Context(), store.Run{ID: id, Trigger: "test", Start: at}); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveScenario(t.Context(), store.Scenario{RunID: id, Name: "t/-/e", Target: "t", Mode: "-", Endpoint: "e",
			Start: at, End: at.Add(time.Second), Settings: result.NewSettings(map[string]string{"connections": conns})}); err != nil {
			t.Fatal(err)
		}
	}
	base, client := startServer(t, authSetup{}, false, func(o *Options) { o.History = st })
	resp, err := client.Get(base + "/api/v1/scenarios/t/-/e/history")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Results   []result.Scenario `json:"results"`
		Baselines []store.Baseline  `json:"baselines"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != 2 || got.Results[1].SettingsHash == "" || got.Results[0].SettingsHash == got.Results[1].SettingsHash {
		t.Errorf("results %+v, want two with different settings hashes", got.Results)
	}
	if len(got.Baselines) != 1 || got.Baselines[0].RunID != "r1" || got.Baselines[0].Reason != "settings changed: connections" {
		t.Errorf("baselines %+v, want r1: settings changed: connections", got.Baselines)
	}
}

// TestScenarioHistoryBefore: the scenario history pages back with limit
// and before, as docs/api.md says: before a result's start returns the
// ones older than it.
func TestScenarioHistoryBefore(t *testing.T) {
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	start := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	for i := range 4 {
		at := start.Add(time.Duration(i) * time.Hour)
		id, err := st.BeginRun(t.Context(), store.Run{ID: fmt.Sprintf("r%d", i), Trigger: "schedule", Start: at})
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SaveScenario(t.Context(), store.Scenario{RunID: id, Name: "t/-/e", Target: "t", Mode: "-", Endpoint: "e",
			Start: at, End: at.Add(time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	base, client := startServer(t, authSetup{}, false, func(o *Options) { o.History = st })
	for _, c := range []struct {
		query    string
		wantCode int
		want     []string // run IDs, oldest first
	}{
		{"limit=2", 200, []string{"r2", "r3"}},
		{"limit=2&before=2026-12-01T22:00:00Z", 200, []string{"r0", "r1"}},
		{"before=2026-12-01T21:00:00.000000001Z", 200, []string{"r0", "r1"}},
		{"before=2026-12-01T20:00:00Z", 200, nil},
		{"before=yesterday", 400, nil},
		{"before=9999-12-31T23:59:59Z", 400, nil},
	} {
		t.Run(c.query, func(t *testing.T) {
			resp, err := client.Get(base + "/api/v1/scenarios/t/-/e/history?" + c.query)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body struct {
				Results []struct {
					RunID string `json:"run_id"`
				} `json:"results"`
				Error string `json:"error"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, r := range body.Results {
				ids = append(ids, r.RunID)
			}
			if resp.StatusCode != c.wantCode || !slices.Equal(ids, c.want) || (c.wantCode == 400 && !strings.HasPrefix(body.Error, "before: ")) {
				t.Errorf("GET history?%s = %d %v %q, want %d %v", c.query, resp.StatusCode, ids, body.Error, c.wantCode, c.want)
			}
		})
	}
}

// TestScenarioHistoryUnknown: the history of a scenario the configuration
// does not have, and that has no results, answers 404 naming the closest
// scenario; a known scenario without results answers 200 and none.
func TestScenarioHistoryUnknown(t *testing.T) {
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	known := map[string]bool{"t/sync/json": true}
	problem := func(name string) string {
		if known[name] {
			return ""
		}
		return fmt.Sprintf("no scenario is named %q (did you mean %q?)", name, "t/sync/json")
	}
	base, client := startServer(t, authSetup{}, false, func(o *Options) { o.History = st; o.ScenarioProblem = problem })
	for _, c := range []struct {
		path, wantErr string
		wantCode      int
	}{
		{"t/sync/json", "", 200},
		{"t/sync/jsn", `no scenario is named "t/sync/jsn" (did you mean "t/sync/json"?)`, 404},
	} {
		resp, err := client.Get(base + "/api/v1/scenarios/" + c.path + "/history")
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error   string            `json:"error"`
			Results []json.RawMessage `json:"results"`
		}
		err = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != c.wantCode || body.Error != c.wantErr || len(body.Results) != 0 {
			t.Errorf("GET %s history = %d %+v (%v), want %d %q", c.path, resp.StatusCode, body, err, c.wantCode, c.wantErr)
		}
	}
}
