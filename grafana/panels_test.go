package grafana

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// panel is a panel of a generated dashboard: its type, title and the
// expressions of its targets in order.
type panel struct {
	typ, title string
	exprs      []string
}

// dashboardPanels returns the panels of every generated dashboard, by file
// name.
func dashboardPanels(t *testing.T) map[string][]panel {
	t.Helper()
	files, err := Generate()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]panel{}
	for _, f := range files {
		var doc struct {
			Panels []struct {
				Type    string `json:"type"`
				Title   string `json:"title"`
				Targets []struct {
					Expr string `json:"expr"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal(f.JSON, &doc); err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		for _, p := range doc.Panels {
			q := panel{typ: p.Type, title: p.Title}
			for _, tg := range p.Targets {
				q.exprs = append(q.exprs, tg.Expr)
			}
			out[f.Name] = append(out[f.Name], q)
		}
	}
	return out
}

// TestSignalPanels checks that the panels of the per-scenario CPU signals,
// the invalid-results counter and the detector's cpu_per_request series
// exist, with their exact queries.
func TestSignalPanels(t *testing.T) {
	const s = `target=~"$target", endpoint=~"$endpoint", mode=~"$mode"`
	tests := []struct {
		file, typ, title string
		exprs            []string
	}{
		{"benchd-overview.json", "table", "CPU per request ($mode)", []string{
			`max by (target, endpoint, mode) (benchd_scenario_target_cpu_seconds_per_request{` + s + `})`}},
		{"benchd-overview.json", "table", "Foreign CPU ($mode)", []string{
			`max by (target, endpoint, mode) (benchd_scenario_foreign_cpu_ratio{` + s + `})`}},
		{"benchd-scenario.json", "timeseries", "CPU per request per run", []string{
			`max by (target, endpoint, mode) (benchd_scenario_target_cpu_seconds_per_request{` + s + `})`}},
		{"benchd-scenario.json", "timeseries", "Foreign CPU per run", []string{
			`max by (target, endpoint, mode) (benchd_scenario_foreign_cpu_ratio{` + s + `})`}},
		{"benchd-scenario.json", "timeseries", "Instructions per request per run", []string{
			`max by (target, endpoint, mode) (benchd_scenario_instructions_per_request{` + s + `})`}},
		{"benchd-regressions.json", "timeseries", "CPU per request: runs against the baseline", []string{
			`max by (target, endpoint, mode) (benchd_scenario_target_cpu_seconds_per_request{` + s + `})`,
			`max by (target, endpoint, mode) (benchd_baseline_median{signal="cpu_per_request", ` + s + `})`}},
		{"benchd-regressions.json", "timeseries", "CPU per request: change and detectable change", []string{
			`max by (target, endpoint, mode) (benchd_regression_change_ratio{signal="cpu_per_request", ` + s + `})`,
			`max by (target, endpoint, mode) (benchd_regression_detectable_change_ratio{signal="cpu_per_request", ` + s + `})`}},
		{"benchd-regressions.json", "state-timeline", "CPU per request: verdict", []string{
			`max by (target, endpoint, mode) (benchd_regression_detected{signal="cpu_per_request", ` + s + `})`}},
		{"benchd-regressions.json", "timeseries", "Detectable change", []string{
			`max by (target, endpoint, mode, signal) (benchd_regression_detectable_change_ratio{` + s + `})`}},
		{"benchd-regressions.json", "timeseries", "Invalid results by reason", []string{
			`sum by (reason) (increase(benchd_invalid_results_total[$__rate_interval]))`}},
		{"benchd-regressions.json", "stat", "Invalid results over the range", []string{
			`sum by (reason) (increase(benchd_invalid_results_total[$__range]))`}},
		{"benchd-regressions.json", "timeseries", "Foreign CPU per run", []string{
			`max by (target, endpoint, mode) (benchd_scenario_foreign_cpu_ratio{` + s + `})`}},
	}
	panels := dashboardPanels(t)
	for _, tt := range tests {
		t.Run(tt.file+"/"+tt.title, func(t *testing.T) {
			var found []panel
			for _, p := range panels[tt.file] {
				if p.title == tt.title {
					found = append(found, p)
				}
			}
			if len(found) != 1 {
				t.Fatalf("%d panels titled %q in %s, want 1", len(found), tt.title, tt.file)
			}
			if found[0].typ != tt.typ {
				t.Errorf("type %q, want %q", found[0].typ, tt.typ)
			}
			if !slices.Equal(found[0].exprs, tt.exprs) {
				t.Errorf("queries\n%q\nwant\n%q", found[0].exprs, tt.exprs)
			}
		})
	}
}

// scenarioMetrics returns the names of the exported series that carry a
// scenario's labels, with the _bucket, _sum and _count of histograms and
// summaries.
func scenarioMetrics(t *testing.T) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for name, labels := range describedMetrics(t) {
		if !slices.Contains(labels, "target") || !slices.Contains(labels, "endpoint") || !slices.Contains(labels, "mode") {
			continue
		}
		for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
			out[name+suffix] = true
		}
	}
	if !out["benchd_scenario_target_cpu_seconds_per_request"] || out["benchd_runs_total"] {
		t.Fatalf("scenario metrics misread from the exporters: %v", out)
	}
	return out
}

var (
	// promqlAggregation is an aggregation operator with an optional
	// grouping, at the end of the text before its opening parenthesis.
	promqlAggregation = regexp.MustCompile(`\b(sum|min|max|avg|count|group|stddev|stdvar)\s*(?:(by|without)\s*\(([^()]*)\))?\s*$`)
	// promqlStringBody is the inside of a quoted string.
	promqlStringBody = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
)

// unaggregated returns the scenario metrics of expr (those in scenario)
// that no enclosing aggregation groups without job and instance: each
// selector of one must sit inside sum, max… either without a grouping or
// "by" labels that leave out job and instance. It knows enough PromQL for
// benchd's dashboards, as metricNames does.
func unaggregated(expr string, scenario map[string]bool) []string {
	// Blank out strings and label matchers, keeping the positions.
	blank := func(m string) string { return strings.Repeat(" ", len(m)) }
	s := promqlStringBody.ReplaceAllStringFunc(expr, blank)
	s = promqlBraces.ReplaceAllStringFunc(s, blank)
	s = promqlRanges.ReplaceAllStringFunc(s, blank)
	var bad []string
	for _, loc := range promqlIdent.FindAllStringIndex(s, -1) {
		name := s[loc[0]:loc[1]]
		if !scenario[name] {
			continue
		}
		if loc[0] > 0 && strings.ContainsRune("0123456789.$", rune(s[loc[0]-1])) {
			continue
		}
		if !aggregated(s[:loc[0]]) {
			bad = append(bad, name)
		}
	}
	return bad
}

// aggregated reports whether one of the parentheses left open in prefix
// opens an aggregation whose grouping drops job and instance.
func aggregated(prefix string) bool {
	depth := 0
	for i := len(prefix) - 1; i >= 0; i-- {
		switch prefix[i] {
		case ')':
			depth++
		case '(':
			if depth > 0 {
				depth--
				continue
			}
			m := promqlAggregation.FindStringSubmatch(prefix[:i])
			if m == nil {
				continue // a function: look further out
			}
			if m[2] == "" {
				return true
			}
			labels := strings.Split(strings.ReplaceAll(m[3], " ", ""), ",")
			keeps := slices.Contains(labels, "job") || slices.Contains(labels, "instance")
			return m[2] == "by" && !keeps
		}
	}
	return false
}

func TestUnaggregated(t *testing.T) {
	scenario := map[string]bool{"m": true, "m_bucket": true}
	tests := []struct {
		expr string
		want []string
	}{
		{`m{target=~"$target"}`, []string{"m"}},
		{`sum by (target, endpoint, mode) (m{target=~"a(b)"})`, nil},
		{`histogram_quantile(0.9, sum by (target, endpoint, mode, le) (increase(m_bucket{x="y"}[5m])))`, nil},
		{`histogram_quantile(0.9, increase(m_bucket[5m]))`, []string{"m_bucket"}},
		{`time() - max by (target, endpoint, mode) (m)`, nil},
		{`sum(m) or vector(0)`, nil},
		{`sum by (target) (1 - m)`, nil},
		{`sum by (target, instance) (m)`, []string{"m"}},
		{`sum without (instance) (m)`, []string{"m"}},
		{`sum by (target, endpoint, mode) (m) / m`, []string{"m"}},
		{`sum by (target, endpoint, mode) (abs(m)) * other`, nil},
		{`other{job="benchd"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			if got := unaggregated(tt.expr, scenario); !slices.Equal(got, tt.want) {
				t.Errorf("unaggregated = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestScenarioQueriesAggregate checks that every dashboard query over
// scenario series aggregates them by scenario (sum by (target, endpoint,
// mode, …)), so that no panel relies on one benchd instance exporting
// them. The variables' label_values() selectors are not queries.
func TestScenarioQueriesAggregate(t *testing.T) {
	scenario := scenarioMetrics(t)
	n := 0
	for _, q := range dashboardQueries(t) {
		if strings.HasSuffix(q.where, ".query") {
			continue
		}
		if slices.ContainsFunc(metricNames(q.expr), func(m string) bool { return scenario[m] }) {
			n++
		}
		if bad := unaggregated(q.expr, scenario); len(bad) > 0 {
			t.Errorf("%s: %s reads %v without aggregating by scenario", q.where, q.expr, bad)
		}
	}
	if n < 30 {
		t.Errorf("%d queries over scenario series, want the dashboards' 30 or more", n)
	}
}

// TestRulesAggregateScenarios checks that every rule over scenario series
// aggregates them by scenario and matches without job or instance, so
// that it gives the same answer with one benchd shard or many
// (docs/scale-out.md); the rules about one benchd itself read no scenario
// series.
func TestRulesAggregateScenarios(t *testing.T) {
	scenario := scenarioMetrics(t)
	onInstance := regexp.MustCompile(`\b(on|ignoring|by)\s*\([^()]*\b(job|instance)\b`)
	n := 0
	for _, r := range loadRules(t) {
		name := r.Alert + r.Record
		if !slices.ContainsFunc(metricNames(r.Expr), func(m string) bool { return scenario[m] }) {
			continue
		}
		n++
		if bad := unaggregated(r.Expr, scenario); len(bad) > 0 {
			t.Errorf("%s: reads %v without aggregating by scenario:\n%s", name, bad, r.Expr)
		}
		if m := onInstance.FindString(r.Expr); m != "" {
			t.Errorf("%s: groups or matches by job or instance (%q):\n%s", name, m, r.Expr)
		}
	}
	if n < 10 {
		t.Errorf("%d rules over scenario series, want benchd's 10 or more", n)
	}
}
