package grafana

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"gopkg.in/yaml.v3"

	"github.com/benchd/benchd/api"
	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/exporters"
)

var update = flag.Bool("update", false, "rewrite grafana/dashboards/*.json from the generator")

const (
	dashboardsDir = "dashboards"
	rulesFile     = "../deploy/prometheus/rules/benchd.rules.yml"
	rulesTestFile = "../deploy/prometheus/rules/tests/benchd.test.yml"
	promConfig    = "../deploy/prometheus/prometheus.yml"
	amConfig      = "../deploy/alertmanager/alertmanager.yml"
	runbookFile   = "../docs/runbook.md"
)

// prometheusMetrics are the series Prometheus itself adds, which dashboards
// and rules may query besides benchd's.
var prometheusMetrics = []string{"up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS"}

// TestGenerated fails when the committed dashboards differ from the
// generator's output; -update rewrites them.
func TestGenerated(t *testing.T) {
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := Write(dashboardsDir); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]bool{}
	for _, f := range files {
		want[f.Name] = true
		t.Run(f.Name, func(t *testing.T) {
			got, err := os.ReadFile(filepath.Join(dashboardsDir, f.Name))
			if err != nil {
				t.Fatalf("%v (run go generate ./grafana, or go test ./grafana -run TestGenerated -update)", err)
			}
			if !bytes.Equal(got, f.JSON) {
				t.Errorf("%s differs from the generator's output: run go generate ./grafana (or go test ./grafana -run TestGenerated -update) and commit it", f.Name)
			}
		})
	}
	committed, err := filepath.Glob(filepath.Join(dashboardsDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range committed {
		if !want[filepath.Base(c)] {
			t.Errorf("%s is not generated any more: delete it", c)
		}
	}
}

// dashboardQuery is one PromQL expression of a dashboard.
type dashboardQuery struct {
	where string // dashboard file and JSON path
	expr  string
}

// dashboardQueries returns every PromQL expression of the generated
// dashboards: panel targets, annotations, and the selectors inside the
// label_values() of query variables.
func dashboardQueries(t *testing.T) []dashboardQuery {
	t.Helper()
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	var out []dashboardQuery
	labelValues := regexp.MustCompile(`^label_values\((.*),\s*\w+\)$`)
	for _, f := range files {
		var doc any
		if err := json.Unmarshal(f.JSON, &doc); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		var walk func(path string, v any)
		walk = func(path string, v any) {
			switch v := v.(type) {
			case map[string]any:
				keys := make([]string, 0, len(v))
				for k := range v {
					keys = append(keys, k)
				}
				sort.Strings(keys)
				for _, k := range keys {
					if s, ok := v[k].(string); ok && k == "expr" {
						out = append(out, dashboardQuery{where: f.Name + ":" + path, expr: s})
						continue
					}
					if s, ok := v[k].(string); ok && k == "query" && v["type"] == "query" {
						m := labelValues.FindStringSubmatch(s)
						if m == nil {
							t.Errorf("%s:%s: variable query %q is not label_values(SELECTOR, LABEL)", f.Name, path, s)
							continue
						}
						out = append(out, dashboardQuery{where: f.Name + ":" + path + ".query", expr: m[1]})
						continue
					}
					walk(path+"."+k, v[k])
				}
			case []any:
				for i, e := range v {
					walk(path+"["+strconv.Itoa(i)+"]", e)
				}
			}
		}
		walk("", doc)
	}
	if len(out) == 0 {
		t.Fatal("no queries found in the dashboards")
	}
	return out
}

var (
	promqlStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promqlBraces   = regexp.MustCompile(`\{[^{}]*\}`)
	promqlRanges   = regexp.MustCompile(`\[[^\[\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promqlIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promqlKeywords = map[string]bool{
		"and": true, "or": true, "unless": true, "bool": true, "offset": true, "by": true, "without": true,
		"on": true, "ignoring": true, "group_left": true, "group_right": true, "Inf": true, "NaN": true, "inf": true, "nan": true,
	}
)

// metricNames returns the metric names expr selects, sorted and unique. It
// knows enough PromQL for benchd's dashboards and rules: strings, label
// matchers, ranges and grouping clauses are removed, and an identifier not
// followed by "(" and not a keyword is a metric name.
func metricNames(expr string) []string {
	s := promqlStrings.ReplaceAllString(expr, `""`)
	s = promqlBraces.ReplaceAllString(s, " ")
	s = promqlRanges.ReplaceAllString(s, " ")
	s = promqlGrouping.ReplaceAllString(s, " ")
	var names []string
	for _, loc := range promqlIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if loc[0] > 0 && strings.ContainsRune("0123456789.$", rune(s[loc[0]-1])) {
			continue // part of a number such as 1e3, or a Grafana variable
		}
		if strings.HasPrefix(strings.TrimLeft(s[loc[1]:], " \t\n"), "(") || promqlKeywords[name] {
			continue // a function
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return slices.Compact(names)
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`benchd_scenario_requests_per_second{target=~"$target"}`, []string{"benchd_scenario_requests_per_second"}},
		{`histogram_quantile(0.99, sum by (target, le) (increase(benchd_request_duration_seconds_bucket{mode=~"a|b"}[$__rate_interval])))`, []string{"benchd_request_duration_seconds_bucket"}},
		{`time() - benchd_scenario_last_run_timestamp_seconds > on(job, instance) group_left() (scalar(x:y:z) * w)`, []string{"benchd_scenario_last_run_timestamp_seconds", "w", "x:y:z"}},
		{`up{job="benchd"} == 0 or absent(up{job="benchd"})`, []string{"up"}},
		{`sum(a) or vector(0) * 1e3 + b offset 5m`, []string{"a", "b"}},
		{`clamp_min(time() - m, 0) and bool n unless o`, []string{"m", "n", "o"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			if got := metricNames(tt.expr); !slices.Equal(got, tt.want) {
				t.Errorf("metricNames = %q, want %q", got, tt.want)
			}
		})
	}
}

// exportedMetrics returns the names benchd's /metrics can hold: those the
// exporters' collector and client_golang's Go and process collectors
// describe, with the _bucket, _sum and _count series of histograms and
// summaries. Which of them are histograms is checked by the live test.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for name := range describedMetrics(t) {
		for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
			names[name+suffix] = true
		}
	}
	if !names["benchd_scenario_requests_per_second"] {
		t.Fatalf("exporters describe no benchd_scenario_requests_per_second: %v", names)
	}
	return names
}

// describedMetrics returns the names the exporters' collector and
// client_golang's Go and process collectors describe, each with its
// variable labels in order.
func describedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	ch := make(chan *prometheus.Desc, 256)
	go func() {
		for _, c := range []prometheus.Collector{
			exporters.NewMetrics(),
			exporters.NewRegressions(),
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		} {
			c.Describe(ch)
		}
		close(ch)
	}()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	variable := regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
	out := map[string][]string{}
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		var labels []string
		if v := variable.FindStringSubmatch(d.String()); v != nil && v[1] != "" {
			labels = strings.Split(v[1], ",")
		}
		out[m[1]] = labels
	}
	return out
}

// recordedMetrics returns the names recorded by benchd.rules.yml.
func recordedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, r := range loadRules(t) {
		if r.Record != "" {
			names[r.Record] = true
		}
	}
	return names
}

type rule struct {
	Record, Alert, Expr, For string
	Labels, Annotations      map[string]string
}

func loadRules(t *testing.T) []rule {
	t.Helper()
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Groups []struct {
			Name  string
			Rules []rule
		}
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	var rules []rule
	for _, g := range doc.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

// TestQueriedMetricsExist checks that every metric a dashboard or an
// alerting rule names is one benchd exports (or Prometheus adds, or a rule
// records), apart from the documented PendingMetrics.
func TestQueriedMetricsExist(t *testing.T) {
	known := exportedMetrics(t)
	for _, n := range prometheusMetrics {
		known[n] = true
	}
	for n := range recordedMetrics(t) {
		known[n] = true
	}
	pending := map[string]bool{}
	for _, n := range PendingMetrics {
		pending[n] = true
	}
	used := map[string]bool{}
	check := func(where, expr string) {
		names := metricNames(expr)
		if len(names) == 0 && !strings.Contains(expr, "vector(") {
			t.Errorf("%s: no metric in %q", where, expr)
		}
		for _, n := range names {
			used[n] = true
			if !known[n] && !pending[n] {
				t.Errorf("%s: %q names %s, which benchd does not export", where, expr, n)
			}
		}
	}
	for _, q := range dashboardQueries(t) {
		check(q.where, q.expr)
	}
	for _, r := range loadRules(t) {
		check(rulesFile+": "+r.Record+r.Alert, r.Expr)
	}
	for _, n := range PendingMetrics {
		if known[n] {
			t.Errorf("%s is exported now: remove it from PendingMetrics", n)
		}
		if !used[n] {
			t.Errorf("PendingMetrics lists %s, which no dashboard or rule uses", n)
		}
	}
}

// TestAlertRules checks the monitoring-mixin conventions of every alert and
// that each runbook_url has its section in docs/runbook.md.
func TestAlertRules(t *testing.T) {
	runbook, err := os.ReadFile(runbookFile)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for line := range strings.SplitSeq(string(runbook), "\n") {
		if h, ok := strings.CutPrefix(line, "## "); ok {
			anchors[strings.ToLower(strings.ReplaceAll(strings.TrimSpace(h), " ", "-"))] = true
		}
	}
	var alerts []string
	for _, r := range loadRules(t) {
		if r.Alert == "" {
			continue
		}
		alerts = append(alerts, r.Alert)
		t.Run(r.Alert, func(t *testing.T) {
			if !regexp.MustCompile(`^Benchd[A-Z][A-Za-z]+$`).MatchString(r.Alert) {
				t.Errorf("name %q is not BenchdXxx", r.Alert)
			}
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("severity = %q, want warning or critical", s)
			}
			for _, k := range []string{"summary", "description", "runbook_url"} {
				if r.Annotations[k] == "" {
					t.Errorf("no %s annotation", k)
				}
			}
			_, anchor, ok := strings.Cut(r.Annotations["runbook_url"], "/docs/runbook.md#")
			if !ok || anchor != strings.ToLower(r.Alert) || !anchors[anchor] {
				t.Errorf("runbook_url %q: want a link to the %q section of docs/runbook.md", r.Annotations["runbook_url"], "## "+r.Alert)
			}
		})
	}
	tests, err := os.ReadFile(rulesTestFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alerts {
		if n := strings.Count(string(tests), "alertname: "+a+"\n"); n < 2 {
			t.Errorf("%s: %d promtool test cases in %s, want at least 2 (firing and not firing)", a, n, rulesTestFile)
		}
	}
}

// tool returns the path of a Debian tool, failing the test with the
// package to install when it is missing.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: apt-get install -y %s (or make setup)", name, pkg)
	}
	return p
}

// TestPromtool runs promtool over the configuration, the rules and their
// unit tests.
func TestPromtool(t *testing.T) {
	promtool := tool(t, "promtool", "prometheus")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"check rules", []string{"check", "rules", rulesFile}, fmt.Sprintf("SUCCESS: %d rules found", len(loadRules(t)))},
		{"test rules", []string{"test", "rules", rulesTestFile}, "SUCCESS"},
		{"check config", []string{"check", "config", promConfig}, "is valid prometheus config file syntax"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.CommandContext(t.Context(), promtool, tt.args...).CombinedOutput()
			if err != nil {
				t.Fatalf("promtool %s: %v\n%s", strings.Join(tt.args, " "), err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("promtool %s: output lacks %q:\n%s", strings.Join(tt.args, " "), tt.want, out)
			}
		})
	}
}

// TestAlertmanagerConfig checks alertmanager.yml with amtool and tests
// where each kind of benchd alert is routed.
func TestAlertmanagerConfig(t *testing.T) {
	amtool := tool(t, "amtool", "prometheus-alertmanager")
	if out, err := exec.CommandContext(t.Context(), amtool, "check-config", amConfig).CombinedOutput(); err != nil {
		t.Fatalf("amtool check-config: %v\n%s", err, out)
	}
	tests := []struct {
		labels   []string
		receiver string
	}{
		{[]string{"alertname=BenchdDown", "severity=critical", "job=benchd"}, "page"},
		{[]string{"alertname=BenchdTargetDown", "severity=critical", "target=gunicorn-gevent"}, "page"},
		{[]string{"alertname=BenchdLatencyRegression", "severity=warning", "target=t", "endpoint=json", "mode=sync", "signal=latency_p99"}, "ticket"},
		{[]string{"alertname=BenchdHighTimeoutRatio", "severity=warning"}, "ticket"},
		{[]string{"alertname=Other"}, "default"},
		{[]string{"alertname=Other", "severity=info"}, "default"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.labels, ","), func(t *testing.T) {
			args := append([]string{"config", "routes", "test", "--config.file=" + amConfig, "--verify.receivers=" + tt.receiver}, tt.labels...)
			var stderr bytes.Buffer
			cmd := exec.CommandContext(t.Context(), amtool, args...)
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("amtool %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.Bytes())
			}
			if got := strings.TrimSpace(string(out)); got != tt.receiver {
				t.Errorf("routed to %q, want %q", got, tt.receiver)
			}
		})
	}
}

// TestAlertmanagerReceivers checks that every receiver of
// alertmanager.yml posts to benchd's webhook on its default address, with
// the token file of the embedded default matrix in the state directory
// (data/, relative to the file), and that nothing points at the old example
// address 127.0.0.1:5001, where nothing listens.
func TestAlertmanagerReceivers(t *testing.T) {
	data, err := os.ReadFile(amConfig)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "127.0.0.1:5001") {
		t.Errorf("%s still names 127.0.0.1:5001", amConfig)
	}
	var doc struct {
		Receivers []struct {
			Name           string
			WebhookConfigs []struct {
				URL          string `yaml:"url"`
				SendResolved bool   `yaml:"send_resolved"`
				HTTPConfig   struct {
					Authorization struct {
						Type            string
						CredentialsFile string `yaml:"credentials_file"`
					}
				} `yaml:"http_config"`
			} `yaml:"webhook_configs"`
		}
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	def, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	wantURL := "http://" + api.DefaultListenAddress + "/api/v1/alertmanager/webhook"
	wantToken := "../../data/" + def.API.TokenFile
	if len(doc.Receivers) != 3 {
		t.Fatalf("%d receivers, want default, page and ticket", len(doc.Receivers))
	}
	for _, r := range doc.Receivers {
		if len(r.WebhookConfigs) != 1 {
			t.Errorf("receiver %s: %d webhooks, want benchd's", r.Name, len(r.WebhookConfigs))
			continue
		}
		w := r.WebhookConfigs[0]
		if w.URL != wantURL || !w.SendResolved || w.HTTPConfig.Authorization.Type != "Bearer" || w.HTTPConfig.Authorization.CredentialsFile != wantToken {
			t.Errorf("receiver %s: %+v, want %s with send_resolved and the bearer token of %s", r.Name, w, wantURL, wantToken)
		}
	}
}

// TestProvisioning checks that Grafana's provisioning files parse and point
// at what scripts/stack.sh starts and at the generated dashboards.
func TestProvisioning(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, doc map[string]any)
	}{
		{"../deploy/grafana/provisioning/datasources/benchd.yml", func(t *testing.T, doc map[string]any) {
			ds, _ := doc["datasources"].([]any)
			if len(ds) != 1 {
				t.Fatalf("datasources = %v, want one", doc["datasources"])
			}
			d, _ := ds[0].(map[string]any)
			if d["type"] != "prometheus" || d["url"] != "http://127.0.0.1:9090" || d["isDefault"] != true {
				t.Errorf("datasource = %v, want the default, prometheus at http://127.0.0.1:9090", d)
			}
		}},
		{"../deploy/grafana/provisioning/dashboards/benchd.yml", func(t *testing.T, doc map[string]any) {
			ps, _ := doc["providers"].([]any)
			if len(ps) != 1 {
				t.Fatalf("providers = %v, want one", doc["providers"])
			}
			p, _ := ps[0].(map[string]any)
			opts, _ := p["options"].(map[string]any)
			if p["type"] != "file" || opts["path"] != "$BENCHD_DASHBOARDS" {
				t.Errorf("provider = %v, want type file, path $BENCHD_DASHBOARDS", p)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(filepath.Dir(tt.file)), func(t *testing.T) {
			data, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := yaml.Unmarshal(data, &doc); err != nil {
				t.Fatalf("%s: %v", tt.file, err)
			}
			if doc["apiVersion"] != 1 {
				t.Errorf("apiVersion = %v, want 1", doc["apiVersion"])
			}
			tt.check(t, doc)
		})
	}
}
