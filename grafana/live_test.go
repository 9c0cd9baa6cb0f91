package grafana

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/internal/testutil"
)

// liveSubstitutions turn a dashboard query into plain PromQL: the time
// variables Grafana fills in, and the scenario variables set to All.
var liveSubstitutions = strings.NewReplacer(
	"$__rate_interval", "1m",
	"$__interval", "15s",
	"$__range", "10m",
	"$target", ".*",
	"$endpoint", ".*",
	"$mode", ".*",
)

// TestLive builds benchd, runs it on a tiny matrix against a Go HTTP
// server, has Debian's prometheus scrape it every second with benchd's
// rules loaded, and checks through Prometheus' HTTP API that every
// dashboard query runs and (unless it reads a pending or alert metric)
// returns data, that every metric the dashboards name is one Prometheus
// scraped from benchd, that histogram_quantile over the latency histogram
// gives a latency, and that every rule evaluates without error.
func TestLive(t *testing.T) {
	if testing.Short() {
		t.Skip("starts benchd and prometheus")
	}
	promBin := tool(t, "prometheus", "prometheus")
	dir := t.TempDir()
	deadline := time.Now().Add(50 * time.Second)

	// The target: two endpoints, one slower than the other.
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			time.Sleep(2 * time.Millisecond)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"ok":true}`)
	}))
	t.Cleanup(target.Close)

	benchd := testutil.BuildBenchd(t, "..", dir)

	// Three targets: the test's server (unmanaged), benchd's own upstream
	// payload server, managed by benchd (for benchd_target_up), and a
	// managed target whose server exits at once (for BenchdTargetDown and
	// BenchdRunsFailing, which fire without a for: clause).
	config := filepath.Join(dir, "benchd.yml")
	upstreamAddr := freeAddr(t)
	writeFile(t, config, fmt.Sprintf(`schedule: "@every 10s"
run_on_start: true
defaults: {connections: 4, threads: 1, duration: 1s, warmup: 0s, timeout: 1s}
targets:
  - name: local
    url: %s
  - name: upstream
    url: http://%s
    process:
      command: [%q, upstream, --listen-address, %q]
      ready: tcp://%s
      ready_timeout: 10s
  - name: broken
    url: http://%s
    process:
      command: [/bin/false]
      ready_timeout: 2s
endpoints:
  - {name: fast, path: /fast}
  - {name: slow, path: /slow}
api: {token_file: %q}
`, target.URL, upstreamAddr, benchd, upstreamAddr, upstreamAddr, freeAddr(t), writeToken(t, dir)))
	const scenarios = 4 // that apply load: local and upstream
	benchdAddr := freeAddr(t)
	start(t, dir, "benchd", benchd, "serve", "--config.file="+config,
		"--web.listen-address="+benchdAddr, "--storage.path="+filepath.Join(dir, "state"))

	// Alertmanager with deploy/alertmanager/alertmanager.yml, whose
	// receivers post to benchd's webhook.
	amAddr := startAlertmanager(t, dir, benchdAddr)

	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	api := startPrometheus(t, dir, promBin, rules, amAddr, benchdAddr)

	// Wait until a run of every scenario shows in increase() of the
	// histogram. The first run does not: a scenario's series appear when its
	// first run ends, already holding that run, so increase() sees the
	// second run on.
	waitFor(t, deadline, "a second benchd run scraped by prometheus", func() error {
		v, err := instantQuery(api, `count(increase(benchd_request_duration_seconds_count[1m]) > 0)`)
		if err != nil {
			return err
		}
		if len(v) == 0 || v[0].value() < scenarios {
			return fmt.Errorf("result %v, want %d scenarios", v, scenarios)
		}
		return nil
	})

	pending := map[string]bool{"ALERTS": true}
	for _, n := range PendingMetrics {
		pending[n] = true
	}
	for _, n := range ConditionalMetrics {
		pending[n] = true
	}
	scraped := map[string]bool{}
	t.Run("metric names", func(t *testing.T) {
		names, err := apiGet[[]string](api + "/api/v1/label/__name__/values")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			scraped[n] = true
		}
		for _, q := range dashboardQueries(t) {
			for _, n := range metricNames(q.expr) {
				if !scraped[n] && !pending[n] {
					t.Errorf("%s: %s is not among the metrics prometheus scraped from benchd", q.where, n)
				}
			}
		}
	})

	scenarioSeries := scenarioMetrics(t)
	t.Run("dashboard queries", func(t *testing.T) {
		for _, q := range dashboardQueries(t) {
			expr := liveSubstitutions.Replace(q.expr)
			needsData, overScenarios := true, false
			for _, n := range metricNames(expr) {
				needsData = needsData && !pending[n]
				overScenarios = overScenarios || scenarioSeries[n]
			}
			overScenarios = overScenarios && !strings.HasSuffix(q.where, ".query")
			var last error
			for {
				v, err := instantQuery(api, expr)
				last = err
				if err == nil && needsData && len(v) == 0 {
					last = errors.New("no data")
				}
				for _, s := range v {
					if _, ok := s.Metric["instance"]; ok && overScenarios && last == nil {
						last = fmt.Errorf("a series with instance, not aggregated by scenario: %v", s.Metric)
					}
				}
				if last == nil || time.Now().After(deadline) {
					break
				}
				time.Sleep(500 * time.Millisecond)
			}
			if last != nil {
				t.Errorf("%s: %s: %v", q.where, expr, last)
			}
		}
	})

	t.Run("CPU signals", func(t *testing.T) {
		// The panels' queries, for the managed target upstream: its CPU
		// per request and foreign CPU ratio of each of its scenarios, the
		// detector's cpu_per_request series, and invalid results by reason
		// with foreign_cpu among them (0 or more).
		forUpstream := strings.NewReplacer(`target=~"$target"`, `target="upstream"`, "$__range", "10m", "$endpoint", ".*", "$mode", ".*")
		tests := []struct {
			dashboard, title string
			query            int
			wantSeries       int
			ok               func(float64) bool
		}{
			{"benchd-scenario.json", "CPU per request per run", 0, 2, func(v float64) bool { return v > 0 && v < 1 }},
			{"benchd-scenario.json", "Foreign CPU per run", 0, 2, func(v float64) bool { return v >= 0 && v <= 1 }},
			{"benchd-regressions.json", "CPU per request: verdict", 0, 2, func(v float64) bool { return v == 0 || v == 1 }},
			{"benchd-regressions.json", "CPU per request: change and detectable change", 1, 2, func(v float64) bool { return !math.IsNaN(v) }},
			{"benchd-regressions.json", "Invalid results over the range", 0, -1, func(v float64) bool { return v >= 0 }},
		}
		panels := dashboardPanels(t)
		for _, tt := range tests {
			t.Run(tt.title, func(t *testing.T) {
				var expr string
				for _, p := range panels[tt.dashboard] {
					if p.title == tt.title && len(p.exprs) > tt.query {
						expr = forUpstream.Replace(p.exprs[tt.query])
					}
				}
				if expr == "" {
					t.Fatalf("no panel %q with query %d in %s", tt.title, tt.query, tt.dashboard)
				}
				v, err := instantQuery(api, expr)
				if err != nil {
					t.Fatal(err)
				}
				reasons := map[string]bool{}
				for _, s := range v {
					reasons[s.Metric["reason"]] = true
					if !tt.ok(s.value()) {
						t.Errorf("%s: %v = %v", expr, s.Metric, s.value())
					}
				}
				switch {
				case tt.wantSeries >= 0 && len(v) != tt.wantSeries:
					t.Errorf("%s: %d series, want one per scenario of upstream (%d): %v", expr, len(v), tt.wantSeries, v)
				case tt.wantSeries < 0 && !reasons["foreign_cpu"]:
					t.Errorf("%s: no foreign_cpu reason: %v", expr, v)
				}
			})
		}
	})

	t.Run("histogram_quantile", func(t *testing.T) {
		v, err := instantQuery(api, `histogram_quantile(0.99, sum by (target, endpoint, mode, le) (increase(benchd_request_duration_seconds_bucket{target=~"local|upstream"}[10m])))`)
		if err != nil {
			t.Fatal(err)
		}
		if len(v) != scenarios {
			t.Fatalf("%d series, want one per scenario (%d): %v", len(v), scenarios, v)
		}
		for _, s := range v {
			// Loopback answers take well under the 1 s timeout; the slow
			// endpoint at least its 2 ms.
			if p := s.value(); math.IsNaN(p) || p <= 0 || p > 1 {
				t.Errorf("p99 of %v = %v, want within (0, 1] s", s.Metric, p)
			}
		}
	})

	t.Run("alerts reach alertmanager", func(t *testing.T) {
		// Alertmanager's API holds both alerts, and its routing sent the
		// critical one to the page receiver.
		waitFor(t, deadline, "BenchdTargetDown and BenchdRunsFailing in alertmanager", func() error {
			resp, err := httpClient.Get("http://" + amAddr + "/api/v2/alerts?filter=target%3D%22broken%22")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var alerts []struct {
				Labels map[string]string `json:"labels"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
				return err
			}
			got := map[string]bool{}
			for _, a := range alerts {
				got[a.Labels["alertname"]] = true
			}
			if !got["BenchdTargetDown"] {
				return fmt.Errorf("alerts for target broken: %v", alerts)
			}
			return nil
		})
		waitFor(t, deadline, "BenchdRunsFailing in alertmanager", func() error {
			resp, err := httpClient.Get("http://" + amAddr + "/api/v2/alerts?filter=alertname%3D%22BenchdRunsFailing%22")
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			var alerts []json.RawMessage
			if err := json.NewDecoder(resp.Body).Decode(&alerts); err != nil {
				return err
			}
			if len(alerts) == 0 {
				return errors.New("none yet")
			}
			return nil
		})
		// ... and the page receiver's notification reached benchd's
		// webhook, which stored it.
		waitFor(t, deadline, "BenchdTargetDown from the page receiver in benchd's GET /api/v1/alerts", func() error {
			got, err := receivedAlerts(benchdAddr, "?alertname=BenchdTargetDown&status=firing")
			if err != nil {
				return err
			}
			for _, a := range got {
				if a.Receiver == "page" && a.Labels["target"] == "broken" {
					return nil
				}
			}
			return fmt.Errorf("alerts received: %+v", got)
		})
	})

	t.Run("rules evaluate", func(t *testing.T) {
		type ruleState struct {
			Name, Health, LastError string
		}
		var last error
		for {
			groups, err := apiGet[struct {
				Groups []struct {
					Name  string
					Rules []ruleState
				}
			}](api + "/api/v1/rules")
			last = err
			if err == nil {
				var bad []string
				n := 0
				for _, g := range groups.Groups {
					for _, r := range g.Rules {
						n++
						if r.Health != "ok" {
							bad = append(bad, fmt.Sprintf("%s/%s: %s %s", g.Name, r.Name, r.Health, r.LastError))
						}
					}
				}
				switch {
				case n != len(loadRules(t)):
					last = fmt.Errorf("%d rules loaded, want the %d of %s", n, len(loadRules(t)), rulesFile)
				case len(bad) > 0:
					last = fmt.Errorf("%s", strings.Join(bad, "; "))
				}
			}
			if last == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if last != nil {
			t.Error(last)
		}
	})
}

// startPrometheus starts Debian's prometheus in dir, scraping benchd at
// benchdAddr every second, evaluating the rules file every second and
// sending alerts to Alertmanager at amAddr; it returns its API base URL.
func startPrometheus(t *testing.T, dir, promBin, rules, amAddr, benchdAddr string) string {
	t.Helper()
	promConfig := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promConfig, fmt.Sprintf(`global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: [%q]
alerting:
  alertmanagers: [{static_configs: [{targets: [%q]}]}]
scrape_configs:
  - job_name: benchd
    static_configs: [{targets: [%q]}]
`, rules, amAddr, benchdAddr))
	promAddr := freeAddr(t)
	start(t, dir, "prometheus", promBin, "--config.file="+promConfig,
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+promAddr)
	return "http://" + promAddr
}

// start starts a process with its output in dir/name.log, stops it when the
// test ends, and prints its log if the test failed. It returns the
// process, which the test may stop earlier.
func start(t *testing.T, dir, name, bin string, args ...string) *exec.Cmd {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = log.Close()
		if t.Failed() {
			out, _ := os.ReadFile(logPath)
			if len(out) > 8000 {
				out = out[len(out)-8000:]
			}
			t.Logf("%s log (tail):\n%s", name, out)
		}
	})
	return cmd
}

// freeAddr returns a loopback address with a port free a moment ago
// (testutil.FreePort: outside the range client connections take theirs).
func freeAddr(t *testing.T) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(testutil.FreePort(t)))
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls check every 500 ms until it returns nil, failing the test
// with its last error at deadline.
func waitFor(t *testing.T, deadline time.Time, what string, check func() error) {
	t.Helper()
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		select {
		case <-t.Context().Done():
			t.Fatal(t.Context().Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// sample is one element of an instant vector from Prometheus' API.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s sample) value() float64 {
	str, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return math.NaN()
	}
	return v
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// apiGet fetches a Prometheus API URL and decodes its data field.
func apiGet[T any](u string) (T, error) {
	var zero T
	resp, err := httpClient.Get(u)
	if err != nil {
		return zero, err
	}
	defer resp.Body.Close()
	var body struct {
		Status    string          `json:"status"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return zero, fmt.Errorf("%s: %s: %w", u, resp.Status, err)
	}
	if body.Status != "success" {
		return zero, fmt.Errorf("%s: %s: %s", body.ErrorType, resp.Status, body.Error)
	}
	var out T
	if err := json.Unmarshal(body.Data, &out); err != nil {
		return zero, fmt.Errorf("%s: %w", u, err)
	}
	return out, nil
}

// instantQuery runs expr at the current time; a scalar result is returned
// as one sample without labels.
func instantQuery(api, expr string) ([]sample, error) {
	data, err := apiGet[struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}](api + "/api/v1/query?query=" + url.QueryEscape(expr))
	if err != nil {
		return nil, err
	}
	if data.ResultType == "scalar" {
		var v [2]any
		if err := json.Unmarshal(data.Result, &v); err != nil {
			return nil, err
		}
		return []sample{{Value: v}}, nil
	}
	var v []sample
	if err := json.Unmarshal(data.Result, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// writeToken writes the write API token of a test's benchd where the
// shipped Alertmanager configuration reads it, relative to its own
// directory: dir/data/benchd.token beside dir/deploy/alertmanager/ (see
// startAlertmanager). It returns the token file's path.
func writeToken(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "data", "benchd.token")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("live-test-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// startAlertmanager starts Debian's Alertmanager with the shipped
// deploy/alertmanager/alertmanager.yml, copied to dir/deploy/alertmanager/
// so that its relative credentials_file finds writeToken's file, with its
// receivers' benchd address set to benchdAddr and its group waits cut to
// a second; it returns Alertmanager's address.
func startAlertmanager(t *testing.T, dir, benchdAddr string) string {
	t.Helper()
	amBin := tool(t, "prometheus-alertmanager", "prometheus-alertmanager")
	shipped, err := os.ReadFile(amConfig)
	if err != nil {
		t.Fatal(err)
	}
	live := strings.NewReplacer(
		"http://127.0.0.1:9480/", "http://"+benchdAddr+"/",
		"group_wait: 30s", "group_wait: 1s",
		"group_wait: 10s", "group_wait: 1s",
		"group_interval: 5m", "group_interval: 2s",
	).Replace(string(shipped))
	if live == string(shipped) || !strings.Contains(live, benchdAddr) {
		t.Fatalf("%s: benchd's webhook address or the group waits not found", amConfig)
	}
	amDir := filepath.Join(dir, "deploy", "alertmanager")
	if err := os.MkdirAll(amDir, 0o755); err != nil {
		t.Fatal(err)
	}
	amYAML := filepath.Join(amDir, "alertmanager.yml")
	writeFile(t, amYAML, live)
	amAddr := freeAddr(t)
	start(t, dir, "alertmanager", amBin, "--config.file="+amYAML, "--storage.path="+filepath.Join(dir, "alertmanager"),
		"--web.listen-address="+amAddr, "--cluster.listen-address=")
	return amAddr
}

// receivedAlert is an alert of benchd's GET /api/v1/alerts.
type receivedAlert struct {
	Receiver string            `json:"receiver"`
	Status   string            `json:"status"`
	Name     string            `json:"alertname"`
	Labels   map[string]string `json:"labels"`
	StartsAt *time.Time        `json:"starts_at"`
	Received time.Time         `json:"received"`
}

// receivedAlerts lists the alerts benchd at addr received from
// Alertmanager, with query (such as "?status=firing") appended.
func receivedAlerts(addr, query string) ([]receivedAlert, error) {
	resp, err := httpClient.Get("http://" + addr + "/api/v1/alerts" + query)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Alerts []receivedAlert `json:"alerts"`
		Error  string          `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("GET /api/v1/alerts: %s: %w", resp.Status, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/alerts: %s: %s", resp.Status, body.Error)
	}
	return body.Alerts, nil
}
