package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benchd/benchd/store"
)

// TestDecodeWebhook checks the decoder against a notification as
// Alertmanager sends it and against each kind of bad payload.
func TestDecodeWebhook(t *testing.T) {
	good, err := os.ReadFile("testdata/alertmanager-webhook.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeWebhook(bytes.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if m.Receiver != "ticket" || m.Status != "firing" || len(m.Alerts) != 2 || !strings.HasPrefix(m.GroupKey, "{}/") {
		t.Errorf("message = %+v", m)
	}
	a, b := m.Alerts[0], m.Alerts[1]
	if a.Labels["alertname"] != "BenchdThroughputRegression" || a.Annotations["summary"] == "" || a.Fingerprint != "3a9b2e5f1c0d4e6a" ||
		!a.StartsAt.Equal(time.Date(2026, 12, 1, 22, 30, 5, 123456789, time.UTC)) || !a.EndsAt.IsZero() {
		t.Errorf("first alert = %+v (the zero endsAt must decode as the zero time)", a)
	}
	if b.Status != "resolved" || !b.EndsAt.Equal(time.Date(2026, 12, 1, 21, 29, 0, 0, time.UTC)) || b.EndsAt.Location() != time.UTC {
		t.Errorf("second alert = %+v", b)
	}

	var doc map[string]any
	if err := json.Unmarshal(good, &doc); err != nil {
		t.Fatal(err)
	}
	with := func(edit func(map[string]any)) string {
		var d map[string]any
		if err := json.Unmarshal(good, &d); err != nil {
			t.Fatal(err)
		}
		edit(d)
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	alert0 := func(d map[string]any) map[string]any { return d["alerts"].([]any)[0].(map[string]any) }
	many := make([]any, MaxWebhookAlerts+1)
	for i := range many {
		many[i] = alert0(doc)
	}
	tests := []struct {
		name, body, want string
	}{
		{"empty", "", "not an Alertmanager webhook message (JSON): EOF"},
		{"not JSON", "alert!", "not an Alertmanager webhook message (JSON)"},
		{"a list", "[]", "not an Alertmanager webhook message (JSON): json: cannot unmarshal array"},
		{"version 3", with(func(d map[string]any) { d["version"] = "3" }), `version: "3", want "4"`},
		{"no version", with(func(d map[string]any) { delete(d, "version") }), `version: "", want "4"`},
		{"bad status", with(func(d map[string]any) { d["status"] = "pending" }), `status: "pending", want firing or resolved`},
		{"no alerts", with(func(d map[string]any) { d["alerts"] = []any{} }), "alerts: none"},
		{"too many alerts", with(func(d map[string]any) { d["alerts"] = many }), "alerts: 1001, more than 1000"},
		{"bad alert status", with(func(d map[string]any) { alert0(d)["status"] = "" }), `alerts[0].status: "", want firing or resolved`},
		{"bad time", with(func(d map[string]any) { alert0(d)["startsAt"] = "yesterday" }), `alerts[0].startsAt: want an RFC 3339 time, got "yesterday"`},
		{"time out of range", with(func(d map[string]any) { alert0(d)["endsAt"] = "9999-01-01T00:00:00Z" }), "alerts[0].endsAt: 9999-01-01T00:00:00Z is out of range"},
		{"time not a string", with(func(d map[string]any) { alert0(d)["startsAt"] = 5 }), "json: cannot unmarshal number"},
		{"labels not strings", with(func(d map[string]any) { alert0(d)["labels"] = map[string]any{"a": 1} }), "json: cannot unmarshal number"},
		{"two messages", string(good) + string(good), "data after the JSON object"},
		{"too large", `{"version": "4", "x": "` + strings.Repeat("a", MaxWebhookBytes) + `"}`, "webhook body too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := DecodeWebhook(strings.NewReader(tt.body))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("DecodeWebhook = %+v, %v; want an error with %q", m, err, tt.want)
			}
		})
	}
	if _, err := DecodeWebhook(strings.NewReader(tests[len(tests)-1].body)); !errors.Is(err, ErrWebhookTooLarge) {
		t.Errorf("too large: %v, want ErrWebhookTooLarge", err)
	}
}

// FuzzDecodeWebhook checks that DecodeWebhook never panics and that what
// it accepts is what the store takes: statuses firing or resolved, 1 to
// MaxWebhookAlerts alerts, times zero or in range and in UTC.
// Run it with: go test -fuzz=FuzzDecodeWebhook ./api.
func FuzzDecodeWebhook(f *testing.F) {
	good, err := os.ReadFile("testdata/alertmanager-webhook.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	for _, s := range []string{
		"", "{}", "null", `{"version":"4"}`,
		`{"version":"4","status":"firing","alerts":[{"status":"firing","startsAt":"1677-12-31T23:59:59Z"}]}`,
		`{"version":"4","status":"resolved","alerts":[{"status":"resolved","labels":null,"endsAt":"2262-04-11T23:47:16.854775807Z"}]}`,
		`{"version":"4","status":"firing","alerts":[{"status":"firing"}]} {}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeWebhook(bytes.NewReader(data))
		if err != nil {
			return
		}
		if m.Version != WebhookVersion || !alertStatus(m.Status) || len(m.Alerts) == 0 || len(m.Alerts) > MaxWebhookAlerts {
			t.Fatalf("accepted %+v", m)
		}
		for i, a := range m.Alerts {
			if !alertStatus(a.Status) {
				t.Fatalf("alert %d status %q", i, a.Status)
			}
			for _, ts := range []time.Time{a.StartsAt, a.EndsAt} {
				if !ts.IsZero() && (ts.Before(minBefore) || !ts.Before(maxBefore) || ts.Location() != time.UTC) {
					t.Fatalf("alert %d time %v", i, ts)
				}
			}
		}
	})
}

// TestWebhookAPI posts notifications to a real server, behind the write
// API's auth, stored in a real SQLite store, then lists them.
func TestWebhookAPI(t *testing.T) {
	st, err := store.Open(t.Context(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var mu sync.Mutex
	counted := map[string]int{}
	received := time.Date(2026, 12, 1, 22, 31, 0, 0, time.UTC)
	base, client := startServer(t, authSetup{token: true, basic: true}, false, func(o *Options) {
		o.Alerts = st
		o.Now = func() time.Time { return received }
		o.AlertReceived = func(status, name string) { mu.Lock(); defer mu.Unlock(); counted[status+" "+name]++ }
	})
	good, err := os.ReadFile("testdata/alertmanager-webhook.json")
	if err != nil {
		t.Fatal(err)
	}
	post := func(auth func(*http.Request), body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/api/v1/alertmanager/webhook", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "Alertmanager/0.25.0")
		auth(req)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret") }
	cases := []struct {
		name     string
		auth     func(*http.Request)
		body     string
		wantCode int
		wantBody string
	}{
		{"no credentials", func(*http.Request) {}, string(good), 401, "credentials required"},
		{"a reader", func(r *http.Request) { r.SetBasicAuth("bob", "bob-pw") }, string(good), 403, `user \"bob\" may read but not write`},
		{"bad payload", bearer, `{"version": "3"}`, 400, `alertmanager webhook: version: \"3\", want \"4\"`},
		{"too large", bearer, strings.Repeat(" ", MaxWebhookBytes+10), 413, "webhook body too large"},
		{"bearer", bearer, string(good), 200, `"alerts":2`},
		// Alertmanager's http_config basic_auth, as a write user.
		{"basic auth writer", func(r *http.Request) { r.SetBasicAuth("alice", "alice-pw") }, string(good), 200, `"status":"stored"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, body := post(c.auth, c.body)
			if code != c.wantCode || !strings.Contains(body, c.wantBody) {
				t.Errorf("POST = %d %s, want %d containing %q", code, body, c.wantCode, c.wantBody)
			}
		})
	}
	mu.Lock()
	if want := map[string]int{"firing BenchdThroughputRegression": 2, "resolved BenchdLatencyRegression": 2}; fmt.Sprint(counted) != fmt.Sprint(want) {
		t.Errorf("counted %v, want %v", counted, want)
	}
	mu.Unlock()

	get := func(query string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/api/v1/alerts"+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("bob", "bob-pw")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body := get("?status=firing&limit=1")
	var list struct {
		Alerts []map[string]any `json:"alerts"`
	}
	if err := json.Unmarshal(body, &list); err != nil || code != 200 || len(list.Alerts) != 1 {
		t.Fatalf("GET /api/v1/alerts = %d %s (%v)", code, body, err)
	}
	a := list.Alerts[0]
	labels, _ := a["labels"].(map[string]any)
	if a["alertname"] != "BenchdThroughputRegression" || a["status"] != "firing" || a["receiver"] != "ticket" ||
		a["received"] != "2026-12-01T22:31:00Z" || a["starts_at"] != "2026-12-01T22:30:05.123456789Z" || a["ends_at"] != nil ||
		labels["target"] != "b" {
		t.Errorf("alert = %v", a)
	}
	for _, c := range []struct{ query, want string }{
		{"", `"alertname":"BenchdLatencyRegression"`},
		{"?alertname=Nope", `{"alerts":[]}`},
		{"?since=2026-12-01T22:31:00Z&until=2026-12-01T22:32:00Z&alertname=BenchdLatencyRegression&status=resolved", `"ends_at":"2026-12-01T21:29:00Z"`},
		{"?until=2026-12-01T22:31:00Z", `{"alerts":[]}`},
		{"?status=pending", `status: \"pending\", want firing or resolved`},
		{"?since=now", "since: want an RFC 3339 time"},
		{"?until=9999-01-01T00:00:00Z", "until: 9999-01-01T00:00:00Z is out of range"},
		{"?limit=0", "limit: want a whole number from 1 to 1000"},
	} {
		if _, body := get(c.query); !strings.Contains(string(body), c.want) {
			t.Errorf("GET /api/v1/alerts%s = %s, want %q", c.query, body, c.want)
		}
	}
}
