package grafana

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/internal/djangotest"
	"github.com/benchd/benchd/internal/testutil"
)

// TestLiveRegressionAlert runs benchd over two real Django targets run
// after run, with Debian's Prometheus evaluating benchd's rules and
// Alertmanager routing them; then it slows one target on purpose
// (BENCHD_DJANGO_DELAY_MS) and checks that the regression alerts of that
// target, and only of it, reach Alertmanager within a bounded time, and
// come back through Alertmanager's shipped receivers into benchd's webhook:
// benchd's API lists the firing notification for target b and none for a.
// The live copy of the rules sets the regression alerts' for: to 0s
// (their 1m wait is covered by the promtool unit tests), and the one of
// Alertmanager's configuration its group waits to a second, so the test
// stays short.
func TestLiveRegressionAlert(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Django, benchd, prometheus and alertmanager")
	}
	promBin := tool(t, "prometheus", "prometheus")
	django := djangotest.PrepareDjango(t)
	dir := t.TempDir()
	deadline := time.Now().Add(3*time.Minute + 30*time.Second)

	benchd := testutil.BuildBenchd(t, "..", dir)

	pa, pb := testutil.FreePort(t), testutil.FreePort(t)
	djangotest.StartDjango(t, django, pa)
	stopB := djangotest.StartDjango(t, django, pb)

	config := filepath.Join(dir, "benchd.yml")
	writeFile(t, config, fmt.Sprintf(`schedule: "@every 1s"
run_on_start: true
defaults: {connections: 4, threads: 1, duration: 500ms, warmup: 100ms, timeout: 2s}
targets:
  - {name: a, url: "http://127.0.0.1:%d"}
  - {name: b, url: "http://127.0.0.1:%d"}
endpoints:
  - {name: json, path: /myapp/sync/json}
# A loaded test machine starves benchd now and then; the test is about the
# alert path, not validity (cmd/benchd and regress test that).
# Two targets share 2 cores with benchd: a run's throughput varies by
# ±20 %% here, so only a change of half or more may count. The slowdown is
# far beyond that; a's noise is not.
regression:
  max_scheduler_latency: 200ms
  min_effect: {throughput: 0.5, latency_p50: 1, latency_p99: 1}
api: {token_file: %q}
`, pa, pb, writeToken(t, dir)))
	benchdAddr := freeAddr(t)
	start(t, dir, "benchd", benchd, "serve", "--config.file="+config,
		"--web.listen-address="+benchdAddr, "--storage.path="+filepath.Join(dir, "state"))

	amAddr := startAlertmanager(t, dir, benchdAddr)

	rules, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	liveRules := string(rules)
	for _, alert := range []string{"BenchdLatencyRegression", "BenchdThroughputRegression"} {
		i := strings.Index(liveRules, "- alert: "+alert)
		j := strings.Index(liveRules[i:], "for: 1m")
		if i < 0 || j < 0 {
			t.Fatalf("%s with for: 1m not found in %s", alert, rulesFile)
		}
		liveRules = liveRules[:i+j] + "for: 0s" + liveRules[i+j+len("for: 1m"):]
	}
	rulesLive := filepath.Join(dir, "benchd.rules.yml")
	writeFile(t, rulesLive, liveRules)
	api := startPrometheus(t, dir, promBin, rulesLive, amAddr, benchdAddr)

	// A baseline of valid runs on both targets, as Prometheus sees it.
	waitFor(t, deadline, "a baseline of 12 runs on both targets", func() error {
		v, err := instantQuery(api, `min(benchd_baseline_runs{signal="throughput"})`)
		if err != nil {
			return err
		}
		if len(v) == 0 || v[0].value() < 12 {
			return fmt.Errorf("baseline runs %v", v)
		}
		return nil
	})

	// Slow target b by 200 ms per request.
	stopB()
	djangotest.StartDjango(t, django, pb, "BENCHD_DJANGO_DELAY_MS=200")

	// The first regression alert of b to fire comes back through
	// Alertmanager's ticket receiver into benchd's webhook: benchd's API
	// lists the firing notification (none for a, checked at the end).
	var received []receivedAlert
	waitFor(t, deadline, "the firing regression notification for target b in benchd's GET /api/v1/alerts", func() error {
		var err error
		received, err = receivedAlerts(benchdAddr, "?status=firing")
		if err != nil {
			return err
		}
		for _, a := range received {
			if a.Labels["target"] == "b" && a.Receiver == "ticket" && strings.HasSuffix(a.Name, "Regression") &&
				a.Labels["severity"] == "warning" && a.StartsAt != nil {
				return nil
			}
		}
		return fmt.Errorf("alerts received: %+v", received)
	})

	alerts := func() (map[string][]string, error) {
		resp, err := httpClient.Get("http://" + amAddr + "/api/v2/alerts?filter=" + url.QueryEscape(`alertname=~"Benchd.*Regression"`))
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		var list []struct {
			Labels map[string]string `json:"labels"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
			return nil, err
		}
		byTarget := map[string][]string{}
		for _, a := range list {
			byTarget[a.Labels["target"]] = append(byTarget[a.Labels["target"]], a.Labels["alertname"]+"/"+a.Labels["signal"])
		}
		return byTarget, nil
	}
	waitFor(t, deadline, "the regression alerts of target b in alertmanager", func() error {
		got, err := alerts()
		if err != nil {
			return err
		}
		have := strings.Join(got["b"], ",")
		// A 200 ms delay moves p50 and p99 alike, but the p99 of a
		// target's first runs (warming up) can be so spread that the
		// p99 step is not significant yet: either latency signal counts.
		if !strings.Contains(have, "BenchdThroughputRegression/throughput") || !strings.Contains(have, "BenchdLatencyRegression/latency_p") {
			detected, _ := instantQuery(api, `benchd_regression_detected == 1`)
			firing, _ := instantQuery(api, `ALERTS`)
			verdict, _ := instantQuery(api, `{__name__=~"benchd_regression_(change_ratio|p_value|q_value)|benchd_baseline_(runs|median)", target="b", signal=~"throughput|latency_p50|latency_p99"}`)
			return fmt.Errorf("alerts by target in alertmanager: %v; detected in prometheus: %v; ALERTS: %v; verdicts of b: %v", got, detected, firing, verdict)
		}
		return nil
	})
	got, err := alerts()
	if err != nil {
		t.Fatal(err)
	}
	if len(got["a"]) > 0 {
		t.Errorf("regression alerts for the unslowed target a: %v", got["a"])
	}

	received, err = receivedAlerts(benchdAddr, "?status=firing")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range received {
		if a.Labels["target"] == "a" {
			t.Errorf("benchd received a notification for the unslowed target a: %+v", a)
		}
	}
	metrics, err := httpClient.Get("http://" + benchdAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer metrics.Body.Close()
	body, err := io.ReadAll(metrics.Body)
	if err != nil {
		t.Fatal(err)
	}
	// benchd's metrics carry its shard, 0 for one benchd (docs/metrics.md).
	if !regexp.MustCompile(`benchd_alert_notifications_received_total\{alertname="Benchd(Throughput|Latency)Regression",shard="0",status="firing"\} [1-9]`).Match(body) {
		t.Errorf("benchd_alert_notifications_received_total does not count the firing regression alerts")
	}
}
