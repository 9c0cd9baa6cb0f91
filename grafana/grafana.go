package grafana

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
)

// PendingMetrics are metric names the dashboards and alerting rules use
// although benchd does not export them yet. The test that checks every
// queried metric against the exporters allows them, and fails once one of
// them is exported, so that it leaves this list. Empty: everything the
// dashboards query is exported.
var PendingMetrics []string

// ConditionalMetrics are exported metrics that exist only when there is
// something to report, so a live Prometheus may hold no series of them:
// the time of a signal's last change point exists once the detector found
// one, instructions per request only for instruction-lane scenarios.
var ConditionalMetrics = []string{"benchd_changepoint_last_timestamp_seconds", "benchd_scenario_instructions_per_request"}

// File is one generated dashboard.
type File struct {
	// Name is the file name under grafana/dashboards, such as
	// "benchd-overview.json".
	Name string
	// JSON is the dashboard model, indented, ending in a newline.
	JSON []byte
}

// Generate builds every dashboard and returns them in a fixed order, each
// as indented JSON. The result depends only on this package's code: the
// same for every call. It returns an error if a builder rejects a setting.
func Generate() ([]File, error) {
	builders := []struct {
		name  string
		build func() *dashboard.DashboardBuilder
	}{
		{"benchd-overview.json", overview},
		{"benchd-scenario.json", scenario},
		{"benchd-regressions.json", regressions},
		{"benchd-daemon.json", daemon},
	}
	files := make([]File, 0, len(builders))
	for _, b := range builders {
		d, err := b.build().Build()
		if err != nil {
			return nil, fmt.Errorf("grafana: build %s: %w", b.name, err)
		}
		data, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("grafana: encode %s: %w", b.name, err)
		}
		files = append(files, File{Name: b.name, JSON: append(data, '\n')})
	}
	return files, nil
}

// Write generates the dashboards and writes each into dir (created if
// missing, mode 0o755; files mode 0o644), replacing files of the same name.
// It returns the first error met, wrapped.
func Write(dir string) error {
	files, err := Generate()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("grafana: %w", err)
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.JSON, 0o644); err != nil {
			return fmt.Errorf("grafana: %w", err)
		}
	}
	return nil
}

// scenarioSelector matches the scenarios the dashboard's variables choose.
const scenarioSelector = `target=~"$target", endpoint=~"$endpoint", mode=~"$mode"`

// scenarioLegend names a series by its scenario, as benchd's logs and CLI do.
const scenarioLegend = "{{target}}/{{mode}}/{{endpoint}}"

// datasourceRef points panels at the dashboard's datasource variable.
func datasourceRef() common.DataSourceRef {
	return common.DataSourceRef{Type: new("prometheus"), Uid: new("${datasource}")}
}

// newDashboard starts a dashboard with benchd's common settings: the
// datasource variable, a day's range (runs are hourly by default) and the
// runs annotation.
func newDashboard(uid, title, description string) *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder("benchd / "+title).
		Uid(uid).
		Description(description).
		Tags([]string{"benchd"}).
		Editable().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("1m").
		Time("now-24h", "now").
		Timezone(common.TimeZoneBrowser).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").
			Label("Data source").
			Type("prometheus")).
		Annotation(dashboard.NewAnnotationQueryBuilder().
			Name("benchd runs").
			Datasource(datasourceRef()).
			Enable(true).
			IconColor("rgba(0, 211, 255, 1)").
			// The value is the end of the last run: Grafana places the
			// annotation there, so runs are marked even at a coarse step.
			Expr("benchd_last_run_timestamp_seconds * 1000").
			UseValueForTime(true).
			TitleFormat("benchd run ended").
			Step("1m"))
}

// scenarioVariables adds the target, endpoint and mode variables, each
// multi-valued with All, each filtering the next.
func scenarioVariables(b *dashboard.DashboardBuilder) *dashboard.DashboardBuilder {
	v := func(name, label, query string) *dashboard.QueryVariableBuilder {
		return dashboard.NewQueryVariableBuilder(name).
			Label(label).
			Datasource(datasourceRef()).
			Query(dashboard.StringOrMap{String: new(query)}).
			Definition(query).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).
			IncludeAll(true).
			AllValue(".*")
	}
	return b.
		WithVariable(v("target", "Target", `label_values(benchd_scenario_up, target)`)).
		WithVariable(v("endpoint", "Endpoint", `label_values(benchd_scenario_up{target=~"$target"}, endpoint)`)).
		WithVariable(v("mode", "Mode", `label_values(benchd_scenario_up{target=~"$target", endpoint=~"$endpoint"}, mode)`))
}

// query is a range query drawn as a time series.
func query(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(datasourceRef()).
		RefId(ref).
		Expr(expr).
		LegendFormat(legend).
		Range()
}

// tableQuery is an instant query in table format.
func tableQuery(ref, expr string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(datasourceRef()).
		RefId(ref).
		Expr(expr).
		Instant().
		Format(prometheus.PromQueryFormatTable)
}

// step is one threshold: from value on, the colour.
type step struct {
	value float64
	color string
}

// steps builds absolute thresholds: the base colour, then each step.
func steps(base string, from ...step) *dashboard.ThresholdsConfigBuilder {
	s := []dashboard.Threshold{{Color: base}}
	for _, f := range from {
		s = append(s, dashboard.Threshold{Value: new(f.value), Color: f.color})
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(s)
}

// colorBackground colours table cells by the field's thresholds.
func colorBackground() common.TableCellOptions {
	return common.TableCellOptions{TableColoredBackgroundCellOptions: &common.TableColoredBackgroundCellOptions{
		Type: common.TableCellDisplayModeColorBackground,
	}}
}

// hideColumns is an organize transformation that hides the named columns.
func hideColumns(names ...string) dashboard.DataTransformerConfig {
	hidden := map[string]bool{}
	for _, n := range names {
		hidden[n] = true
	}
	return dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{"excludeByName": hidden}}
}

// matrix turns an instant table of one value per scenario into the seed's
// layout: a row per endpoint, a column per target.
func matrix() dashboard.DataTransformerConfig {
	return dashboard.DataTransformerConfig{Id: "groupingToMatrix", Options: map[string]any{
		"rowField":    "endpoint",
		"columnField": "target",
		"valueField":  "Value",
		"emptyValue":  "null",
	}}
}
