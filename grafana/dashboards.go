package grafana

import (
	"fmt"
	"slices"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/heatmap"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/statetimeline"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// sel inserts the scenario selector, plus extra matchers, into a metric
// selector: sel("m", `quantile="0.99"`) is m{quantile="0.99", target=~...}.
func sel(metric string, extra ...string) string {
	m := ""
	var mSb21 strings.Builder
	for _, e := range extra {
		mSb21.WriteString(e + ", ")
	}
	m += mSb21.String()
	return metric + "{" + m + scenarioSelector + "}"
}

// scenarioLabels are the labels that name a scenario; byScenario groups by them.
var scenarioLabels = []string{"target", "endpoint", "mode"}

// byScenario aggregates expr with op (sum, max…) by the scenario's labels
// plus extra ones: byScenario("sum", e, "le") is
// sum by (target, endpoint, mode, le) (e). The result carries no job or
// instance, so a panel shows one series per scenario whichever benchd
// instance exported it (docs/metrics.md, "Dashboards"). A scenario's
// series come from one instance, where sum and max are the value itself,
// except a split scenario's (endpoints[].split), one segment per shard:
// counters, requests per second and latency sums and counts add up over
// them (sum); latency quantiles, ratios, per-request figures and the
// detector's series take the worst segment (max), as the rules do.
func byScenario(op, expr string, extra ...string) string {
	return fmt.Sprintf("%s by (%s) (%s)", op, strings.Join(append(slices.Clone(scenarioLabels), extra...), ", "), expr)
}

// legendTable shows the legend as a table with the last and max values.
func legendTable() *common.VizLegendOptionsBuilder {
	return common.NewVizLegendOptionsBuilder().
		ShowLegend(true).
		DisplayMode(common.LegendDisplayModeTable).
		Placement(common.LegendPlacementBottom).
		Calcs([]string{"lastNotNull", "max"})
}

// perRun is a time series of a per-run gauge: it changes once per run, so
// it is drawn as steps.
func perRun(title, description, unit string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasourceRef()).
		Unit(unit).
		LineInterpolation(common.LineInterpolationStepAfter).
		ShowPoints(common.VisibilityModeAlways).
		PointSize(4).
		Legend(legendTable()).
		Span(12).Height(9)
}

// perInterval is a time series of increase() over $__rate_interval: bars at
// the runs, zero between.
func perInterval(title, description, unit string) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasourceRef()).
		Unit(unit).
		DrawStyle(common.GraphDrawStyleBars).
		FillOpacity(80).
		Legend(legendTable()).
		Span(12).Height(9)
}

// matrixTable is one of the overview's seed-style tables for one mode.
func matrixTable(title, description, expr, unit string, thresholds *dashboard.ThresholdsConfigBuilder) *table.PanelBuilder {
	return table.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(datasourceRef()).
		WithTarget(tableQuery("A", expr)).
		WithTransformation(matrix()).
		Unit(unit).
		Thresholds(thresholds).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		CellOptions(colorBackground()).
		Repeat("mode").
		RepeatDirection(dashboard.PanelRepeatDirectionH).
		MaxPerRow(2).
		Span(12).Height(10)
}

// Thresholds of the overview's colours: a guide for the eye, not alerts
// (those compare against the configured thresholds, benchd_threshold).
func p99Steps() *dashboard.ThresholdsConfigBuilder {
	return steps("green", step{0.25, "yellow"}, step{1, "orange"}, step{2, "red"})
}

func timeoutRatioSteps() *dashboard.ThresholdsConfigBuilder {
	return steps("green", step{0.0001, "yellow"}, step{0.01, "red"})
}

func foreignCPUSteps() *dashboard.ThresholdsConfigBuilder {
	return steps("green", step{0.1, "yellow"}, step{0.25, "red"})
}

func errorRatioSteps() *dashboard.ThresholdsConfigBuilder {
	return steps("green", step{0.001, "yellow"}, step{0.05, "red"})
}

// overview is the matrix overview: the seed's results table, live.
func overview() *dashboard.DashboardBuilder {
	b := scenarioVariables(newDashboard("benchd-overview", "Matrix overview",
		"The last run of every scenario as the seed's results table: a row per endpoint, a column per target, a table per mode."))
	b = b.WithRow(dashboard.NewRowBuilder("Last run of each scenario"))
	b = b.WithPanel(matrixTable("Requests/s ($mode)",
		"Completed requests per second of the last run (wrk's Requests/sec without late answers). Higher is better; colours run from red at the lowest to green at the highest of the table.",
		byScenario("sum", sel("benchd_scenario_requests_per_second")), "reqps",
		steps("red")).ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdContinuousRdYlGr)))
	b = b.WithPanel(matrixTable("p99 latency ($mode)",
		"99th percentile latency of the last run, exact from its HDR histogram. Timed-out requests are not in it: read it beside the timeout ratio.",
		byScenario("max", sel("benchd_scenario_latency_seconds", `quantile="0.99"`)), "s", p99Steps()))
	b = b.WithPanel(matrixTable("Timeout ratio ($mode)",
		"Timeouts / requests sent, last run. Red from the BenchdHighTimeoutRatio threshold (1 %).",
		byScenario("max", sel("benchd_scenario_timeout_ratio")), "percentunit", timeoutRatioSteps()))
	b = b.WithPanel(matrixTable("Error ratio ($mode)",
		"(Socket errors including timeouts + 4xx/5xx responses) / requests sent, last run. Red from the BenchdHighErrorRatio threshold (5 %).",
		byScenario("max", sel("benchd_scenario_error_ratio")), "percentunit", errorRatioSteps()))
	b = b.WithPanel(matrixTable("CPU per request ($mode)",
		"CPU seconds (user + system) the managed target's process tree used per completed request over the measured interval of the last run: the detector's cpu_per_request. Lower is better; colours run from green at the lowest to red at the highest of the table. Empty for an unmanaged target.",
		byScenario("max", sel("benchd_scenario_target_cpu_seconds_per_request")), "s",
		steps("green")).ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdContinuousGrYlRd)))
	b = b.WithPanel(matrixTable("Foreign CPU ($mode)",
		"Share of the CPUs benchd and the target may run on that other work (neither benchd, the target's process tree nor its services) used during the last run's measured interval, steal included. Red from regression.max_foreign_cpu's default (25 %), above which a repeat is invalid. Empty for an unmanaged target.",
		byScenario("max", sel("benchd_scenario_foreign_cpu_ratio")), "percentunit", foreignCPUSteps()))

	b = b.WithRow(dashboard.NewRowBuilder("Over the time range"))
	b = b.WithPanel(table.NewPanelBuilder().
		Title("Timeouts and errors over the range").
		Description("Requests whose deadline fired, and failed requests by kind, summed over the dashboard's time range.").
		Datasource(datasourceRef()).
		WithTarget(tableQuery("A", byScenario("sum", fmt.Sprintf(`increase(%s[$__range])`, sel("benchd_request_timeouts_total"))))).
		WithTarget(tableQuery("B", byScenario("sum", fmt.Sprintf(`increase(%s[$__range])`, sel("benchd_request_errors_total")), "kind"))).
		WithTransformation(hideColumns("Time")).
		Decimals(0).
		Span(24).Height(10))
	b = b.WithPanel(perRun("Requests/s per run",
		"Requests/s of each run, one point per run.", "reqps").
		WithTarget(query("A", byScenario("sum", sel("benchd_scenario_requests_per_second")), scenarioLegend)))
	b = b.WithPanel(perRun("p99 latency per run",
		"p99 latency of each run, exact from its HDR histogram.", "s").
		WithTarget(query("A", byScenario("max", sel("benchd_scenario_latency_seconds", `quantile="0.99"`)), scenarioLegend)))
	return b
}

// scenario is the detail of one or a few scenarios.
func scenario() *dashboard.DashboardBuilder {
	b := scenarioVariables(newDashboard("benchd-scenario", "Scenario detail",
		"Latency, throughput, errors and timeouts of the chosen scenarios, per run and from the latency histogram."))
	hist := func(q string) string {
		return fmt.Sprintf(`histogram_quantile(%s, %s)`, q,
			byScenario("sum", fmt.Sprintf(`increase(%s[$__rate_interval])`, sel("benchd_request_duration_seconds_bucket")), "le"))
	}
	percentiles := perInterval("Latency percentiles from the histogram",
		"Quantiles interpolated from benchd_request_duration_seconds's classic buckets over each interval that holds a run (empty between runs). Exemplars link to the scenario's trace.", "s").
		DrawStyle(common.GraphDrawStylePoints).PointSize(5)
	for i, q := range []string{"0.5", "0.9", "0.99"} {
		percentiles = percentiles.WithTarget(query(string(rune('A'+i)), hist(q), "p"+q[2:]+" "+scenarioLegend).Exemplar(true))
	}
	b = b.WithRow(dashboard.NewRowBuilder("Latency"))
	b = b.WithPanel(percentiles)
	b = b.WithPanel(perRun("Latency percentiles per run (exact)",
		"The summary of each run, exact from its HDR histogram: p50 to max.", "s").
		WithTarget(query("A", byScenario("max", sel("benchd_scenario_latency_seconds", `quantile=~"0.5|0.9|0.99|0.999|1"`), "quantile"), "q{{quantile}} "+scenarioLegend)))
	b = b.WithPanel(heatmap.NewPanelBuilder().
		Title("Latency heatmap").
		Description("Requests per latency bucket of benchd_request_duration_seconds, per interval (runs show as columns). Exemplars link to traces.").
		Datasource(datasourceRef()).
		WithTarget(query("A", fmt.Sprintf(`sum by (le) (increase(%s[$__rate_interval]))`, sel("benchd_request_duration_seconds_bucket")), "{{le}}").
			Format(prometheus.PromQueryFormatHeatmap).Exemplar(true)).
		Calculate(false).
		YAxis(heatmap.NewYAxisConfigBuilder().Unit("s")).
		Span(12).Height(9))
	b = b.WithPanel(perRun("Mean latency per run",
		"The last run's latency sum / count, from its summary.", "s").
		WithTarget(query("A", fmt.Sprintf("%s / %s", byScenario("sum", sel("benchd_scenario_latency_seconds_sum")), byScenario("sum", sel("benchd_scenario_latency_seconds_count"))), scenarioLegend)))

	b = b.WithRow(dashboard.NewRowBuilder("Throughput"))
	b = b.WithPanel(perRun("Requests/s per run",
		"Completed requests per second of each run (wrk's Requests/sec without late answers).", "reqps").
		WithTarget(query("A", byScenario("sum", sel("benchd_scenario_requests_per_second")), scenarioLegend)))
	b = b.WithPanel(perInterval("Responses by status class",
		"Responses received within the timeout, by class, per interval.", "short").
		WithTarget(query("A", byScenario("sum", fmt.Sprintf(`increase(%s[$__rate_interval])`, sel("benchd_requests_total")), "class"), "{{class}} "+scenarioLegend)))
	b = b.WithPanel(perInterval("Bytes read",
		"Response bytes read on the wire (status line, headers, body), per interval.", "bytes").
		WithTarget(query("A", byScenario("sum", fmt.Sprintf(`increase(%s[$__rate_interval])`, sel("benchd_response_bytes_total"))), scenarioLegend)))
	b = b.WithPanel(statetimeline.NewPanelBuilder().
		Title("Scenario applied load").
		Description("1 when the scenario's last run applied load (target ready, connections made).").
		Datasource(datasourceRef()).
		WithTarget(query("A", byScenario("max", sel("benchd_scenario_up")), scenarioLegend)).
		Thresholds(steps("red", step{1.0, "green"})).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		Span(12).Height(9))

	b = b.WithRow(dashboard.NewRowBuilder("Errors and timeouts"))
	b = b.WithPanel(perInterval("Errors by kind",
		"Failed requests per interval: connect, read, write, timeout (the deadline fired), closed (the server closed a kept-alive connection).", "short").
		WithTarget(query("A", byScenario("sum", fmt.Sprintf(`increase(%s[$__rate_interval])`, sel("benchd_request_errors_total")), "kind"), "{{kind}} "+scenarioLegend)))
	b = b.WithPanel(perInterval("Timeouts",
		"Requests whose deadline fired, per interval.", "short").
		WithTarget(query("A", byScenario("sum", fmt.Sprintf(`increase(%s[$__rate_interval])`, sel("benchd_request_timeouts_total"))), scenarioLegend)))
	b = b.WithPanel(perRun("Timeout and error ratio per run",
		"Timeouts / sent and (socket errors + 4xx/5xx) / sent of each run; the alert thresholds are 1 % and 5 %.", "percentunit").
		WithTarget(query("A", byScenario("max", sel("benchd_scenario_timeout_ratio")), "timeouts "+scenarioLegend)).
		WithTarget(query("B", byScenario("max", sel("benchd_scenario_error_ratio")), "errors "+scenarioLegend)))
	b = b.WithPanel(stat.NewPanelBuilder().
		Title("Since the last run").
		Description("Time since the last run of each scenario ended.").
		Datasource(datasourceRef()).
		WithTarget(query("A", "time() - "+byScenario("max", sel("benchd_scenario_last_run_timestamp_seconds")), scenarioLegend)).
		Unit("s").
		Span(12).Height(9))

	b = b.WithRow(dashboard.NewRowBuilder("CPU"))
	b = b.WithPanel(perRun("CPU per request per run",
		"CPU seconds (user + system) the managed target's process tree used per completed request over the measured interval of each run, warm-up and start-up excluded: the detector's cpu_per_request (higher is worse). No series for an unmanaged target.", "s").
		WithTarget(query("A", byScenario("max", sel("benchd_scenario_target_cpu_seconds_per_request")), scenarioLegend)))
	b = b.WithPanel(foreignCPUPanel())
	b = b.WithPanel(perRun("Instructions per request per run",
		"Instructions (valgrind callgrind's Ir) the target's workers executed per counted request in each run of an instruction-lane scenario (targets[].instructions): the detector's instructions_per_request, blind to other work on the machine. No series for a load scenario.", "short").
		WithTarget(query("A", byScenario("max", sel("benchd_scenario_instructions_per_request")), scenarioLegend)))
	return b
}

// foreignCPUPanel is the foreign CPU ratio of each run, with the default
// limit above which a repeat is invalid drawn as a dashed line.
func foreignCPUPanel() *timeseries.PanelBuilder {
	return perRun("Foreign CPU per run",
		"Share of the CPUs benchd and the target may run on that other work (neither benchd, the target's process tree nor its services) used during each run's measured interval, steal included; 0.5 on two CPUs is one busy process. A repeat above regression.max_foreign_cpu (default 25 %, the dashed line) is invalid: counted in benchd_invalid_results_total{reason=\"foreign_cpu\"}, never in a baseline. Managed targets only.", "percentunit").
		WithTarget(query("A", byScenario("max", sel("benchd_scenario_foreign_cpu_ratio")), scenarioLegend)).
		Min(0).
		Thresholds(foreignCPUSteps()).
		ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeDashed))
}

// regressions shows the detector's verdicts against the baselines.
func regressions() *dashboard.DashboardBuilder {
	b := scenarioVariables(newDashboard("benchd-regressions", "Regressions",
		"The regression detector's verdict per scenario and signal: last run against its baseline, change ratio, p-value, firing alerts, change points."))
	b = b.Annotation(dashboard.NewAnnotationQueryBuilder().
		Name("change points").
		Datasource(datasourceRef()).
		Enable(true).
		IconColor("rgba(255, 96, 96, 1)").
		Expr(byScenario("max", sel("benchd_changepoint_last_timestamp_seconds"), "signal") + " * 1000").
		UseValueForTime(true).
		TitleFormat("change point").
		TextFormat("{{target}}/{{mode}}/{{endpoint}} {{signal}}").
		TagKeys("target,endpoint,mode,signal").
		Step("1m"))
	b = b.WithPanel(stat.NewPanelBuilder().
		Title("Regressions detected").
		Description("Scenario × signal pairs whose last verdict is a confirmed regression.").
		Datasource(datasourceRef()).
		WithTarget(query("A", fmt.Sprintf("sum(%s) or vector(0)", sel("benchd_regression_detected")), "")).
		Thresholds(steps("green", step{1.0, "red"})).
		ColorMode(common.BigValueColorModeBackground).
		Span(6).Height(6))
	b = b.WithPanel(table.NewPanelBuilder().
		Title("Firing benchd alerts").
		Description("Alerts of deploy/prometheus/rules/benchd.rules.yml firing now, from Prometheus' ALERTS series.").
		Datasource(datasourceRef()).
		WithTarget(tableQuery("A", `ALERTS{alertname=~"Benchd.+", alertstate="firing"}`)).
		WithTransformation(hideColumns("Time", "Value", "__name__", "alertstate")).
		Span(18).Height(6))
	b = b.WithPanel(table.NewPanelBuilder().
		Title("Verdicts").
		Description("Per scenario and signal: detected (0/1), change ratio against the baseline, the smallest change the detector can confirm at this noise (95 % power), p-value, baseline value and runs. A 0 in detected means no change larger than 'detectable'.").
		Datasource(datasourceRef()).
		WithTarget(tableQuery("A", byScenario("max", sel("benchd_regression_detected"), "signal"))).
		WithTarget(tableQuery("B", byScenario("max", sel("benchd_regression_change_ratio"), "signal"))).
		WithTarget(tableQuery("C", byScenario("max", sel("benchd_regression_p_value"), "signal"))).
		WithTarget(tableQuery("D", byScenario("max", sel("benchd_baseline_median"), "signal"))).
		WithTarget(tableQuery("E", byScenario("max", sel("benchd_baseline_runs"), "signal"))).
		WithTarget(tableQuery("F", byScenario("max", sel("benchd_regression_detectable_change_ratio"), "signal"))).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{
			"excludeByName": map[string]bool{"Time": true, "job": true, "instance": true},
			"renameByName": map[string]string{
				"Value #A": "detected", "Value #B": "change", "Value #C": "p-value",
				"Value #D": "baseline", "Value #E": "baseline runs", "Value #F": "detectable",
			},
		}}).
		SortBy([]cog.Builder[common.TableSortByFieldState]{common.NewTableSortByFieldStateBuilder().DisplayName("detected").Desc(true)}).
		Span(24).Height(10))
	b = b.WithPanel(perRun("Change ratio against the baseline",
		"Relative change of each signal against its baseline (0.1 = +10 %). Latency up and throughput down are regressions.", "percentunit").
		WithTarget(query("A", byScenario("max", sel("benchd_regression_change_ratio"), "signal"), "{{signal}} "+scenarioLegend)))
	b = b.WithPanel(perRun("p-value",
		"The detector's p-value for each signal (lower is stronger evidence of a change).", "none").
		WithTarget(query("A", byScenario("max", sel("benchd_regression_p_value"), "signal"), "{{signal}} "+scenarioLegend)))
	b = b.WithPanel(perRun("Requests/s: runs against the baseline",
		"Requests/s of each run (points) and the baseline the detector compares them with (line).", "reqps").
		WithTarget(query("A", byScenario("sum", sel("benchd_scenario_requests_per_second")), "run "+scenarioLegend)).
		WithTarget(query("B", byScenario("sum", sel("benchd_baseline_median", `signal="throughput"`)), "baseline "+scenarioLegend)))
	b = b.WithPanel(perRun("p99 latency: runs against the baseline",
		"p99 latency of each run (points) and its baseline (line).", "s").
		WithTarget(query("A", byScenario("max", sel("benchd_scenario_latency_seconds", `quantile="0.99"`)), "run "+scenarioLegend)).
		WithTarget(query("B", byScenario("max", sel("benchd_baseline_median", `signal="latency_p99"`)), "baseline "+scenarioLegend)))
	b = b.WithPanel(perRun("Detectable change",
		"The smallest sustained step of each signal, as a change ratio towards its worse direction, that the detector would confirm within its confirm runs with 95 % probability at the baseline's noise (benchd_regression_detectable_change_ratio; 0 when untested). No regression detected means no change larger than this.", "percentunit").
		WithTarget(query("A", byScenario("max", sel("benchd_regression_detectable_change_ratio"), "signal"), "{{signal}} "+scenarioLegend)))

	cpu := sel("benchd_regression_detected", `signal="cpu_per_request"`)
	b = b.WithRow(dashboard.NewRowBuilder("CPU per request"))
	b = b.WithPanel(perRun("CPU per request: runs against the baseline",
		"CPU seconds the managed target's process tree used per completed request in each run (points) and the median of the cpu_per_request baseline the detector compares them with (line). The baseline starts a new segment when the scenario's settings hash changes (docs/regressions.md).", "s").
		WithTarget(query("A", byScenario("max", sel("benchd_scenario_target_cpu_seconds_per_request")), "run "+scenarioLegend)).
		WithTarget(query("B", byScenario("max", sel("benchd_baseline_median", `signal="cpu_per_request"`)), "baseline "+scenarioLegend)))
	b = b.WithPanel(perRun("CPU per request: change and detectable change",
		"cpu_per_request's change ratio against its baseline (higher is worse) and the smallest step the detector would confirm at this noise: a change below the detectable line cannot be told from noise yet.", "percentunit").
		WithTarget(query("A", byScenario("max", sel("benchd_regression_change_ratio", `signal="cpu_per_request"`)), "change "+scenarioLegend)).
		WithTarget(query("B", byScenario("max", sel("benchd_regression_detectable_change_ratio", `signal="cpu_per_request"`)), "detectable "+scenarioLegend)))
	b = b.WithPanel(statetimeline.NewPanelBuilder().
		Title("CPU per request: verdict").
		Description("1 (red) while the detector confirms a cpu_per_request regression of the scenario, 0 (green) otherwise; no series for an unmanaged target.").
		Datasource(datasourceRef()).
		WithTarget(query("A", byScenario("max", cpu), scenarioLegend)).
		Thresholds(steps("green", step{1.0, "red"})).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		Span(24).Height(8))

	b = b.WithRow(dashboard.NewRowBuilder("Valid results"))
	b = b.WithPanel(perInterval("Invalid results by reason",
		"Scenario results left out of the detector's baselines and tests, per interval: target_failed, target_died, open_loop_late, scheduler_latency (benchd starved of CPU), foreign_cpu (other work took more of the CPUs than regression.max_foreign_cpu in a repeat). A result with several reasons counts under each.", "short").
		WithTarget(query("A", `sum by (reason) (increase(benchd_invalid_results_total[$__rate_interval]))`, "{{reason}}")))
	b = b.WithPanel(stat.NewPanelBuilder().
		Title("Invalid results over the range").
		Description("Scenario results left out of the detector over the dashboard's time range, by reason (BenchdResultsInvalid fires when they pile up).").
		Datasource(datasourceRef()).
		WithTarget(query("A", `sum by (reason) (increase(benchd_invalid_results_total[$__range]))`, "{{reason}}").Instant()).
		Decimals(0).
		Span(12).Height(9))
	b = b.WithPanel(foreignCPUPanel())
	return b
}

// daemon is benchd itself: runs, schedule, targets, scrape health.
func daemon() *dashboard.DashboardBuilder {
	b := newDashboard("benchd-daemon", "Daemon",
		"benchd itself: run durations and results, schedule lag, managed targets, scrape health.")
	small := func(title, description, expr, unit string) *stat.PanelBuilder {
		return stat.NewPanelBuilder().
			Title(title).
			Description(description).
			Datasource(datasourceRef()).
			WithTarget(query("A", expr, "{{instance}}")).
			Unit(unit).
			Span(4).Height(5)
	}
	b = b.WithRow(dashboard.NewRowBuilder("Health"))
	b = b.WithPanel(small("Scrape up", `Prometheus' up{job="benchd"}: 1 when the last scrape of benchd succeeded.`,
		`up{job="benchd"}`, "none").
		Thresholds(steps("red", step{1.0, "green"})).ColorMode(common.BigValueColorModeBackground))
	b = b.WithPanel(small("Schedule lag",
		"How far past its scheduled time the next run is (0 while the schedule keeps up; more means benchd's scheduler is stuck).",
		`clamp_min(time() - benchd_next_run_timestamp_seconds, 0)`, "s").
		Thresholds(steps("green", step{60.0, "red"})))
	b = b.WithPanel(small("Next run in", "Time until the next scheduled run.",
		`benchd_next_run_timestamp_seconds - time()`, "s"))
	b = b.WithPanel(small("Since the last run", "Time since the last matrix run ended.",
		`time() - benchd_last_run_timestamp_seconds`, "s"))
	b = b.WithPanel(small("Last run duration", "Wall time of the last matrix run.",
		`benchd_run_duration_seconds`, "s"))
	b = b.WithPanel(stat.NewPanelBuilder().
		Title("Runs over the range").
		Description("Matrix runs over the dashboard's range, by result.").
		Datasource(datasourceRef()).
		WithTarget(query("A", `sum by (result) (increase(benchd_runs_total[$__range]))`, "{{result}}").Instant()).
		Decimals(0).
		Span(4).Height(5))

	b = b.WithRow(dashboard.NewRowBuilder("Runs"))
	b = b.WithPanel(perRun("Run duration", "Wall time of each matrix run.", "s").
		WithTarget(query("A", `benchd_run_duration_seconds`, "{{instance}}")))
	b = b.WithPanel(perInterval("Runs by result",
		"Matrix runs ended per interval: success, failed (a target did not start or died, or the run was cut short), skipped (a tick fired during a run).", "short").
		WithTarget(query("A", `sum by (result) (increase(benchd_runs_total[$__rate_interval]))`, "{{result}}")))
	b = b.WithPanel(perRun("Schedule lag", "Seconds the next run is overdue; 0 while the schedule keeps up.", "s").
		WithTarget(query("A", `clamp_min(time() - benchd_next_run_timestamp_seconds, 0)`, "{{instance}}")))
	b = b.WithPanel(perInterval("Skipped runs",
		"Scheduled ticks that fired while a run was in progress: the matrix takes longer than the schedule's period.", "short").
		WithTarget(query("A", `sum by (instance) (increase(benchd_runs_total{result="skipped"}[$__rate_interval]))`, "{{instance}}")))

	b = b.WithRow(dashboard.NewRowBuilder("Targets"))
	b = b.WithPanel(statetimeline.NewPanelBuilder().
		Title("Managed targets up").
		Description("1 while benchd has a managed target started and ready; targets are stopped between their scenarios, so 0 between runs is normal.").
		Datasource(datasourceRef()).
		WithTarget(query("A", `benchd_target_up`, "{{target}}")).
		Thresholds(steps("transparent", step{1.0, "green"})).
		ColorScheme(dashboard.NewFieldColorBuilder().Mode(dashboard.FieldColorModeIdThresholds)).
		Span(12).Height(8))
	b = b.WithPanel(perRun("Scenarios without load, per target",
		"Scenarios of each target whose last run applied no load: all of a target's means it failed to start (BenchdTargetDown).", "short").
		WithTarget(query("A", `sum by (target) (1 - benchd_scenario_up)`, "{{target}}")))
	b = b.WithPanel(perRun("Scenarios per shard",
		"Scenarios each benchd shard has run (docs/scale-out.md: rendezvous hashing of their names; one benchd is shard 0). A shard missing here is not scraped (Scrape up).", "short").
		WithTarget(query("A", `count by (shard) (benchd_scenario_up)`, "shard {{shard}}")))

	b = b.WithRow(dashboard.NewRowBuilder("Process and scrape"))
	b = b.WithPanel(perRun("Scrape duration", `How long Prometheus takes to scrape benchd.`, "s").
		WithTarget(query("A", `scrape_duration_seconds{job="benchd"}`, "{{instance}}")))
	b = b.WithPanel(perRun("Samples scraped", "Samples per scrape of benchd: grows with the scenarios that have run.", "short").
		WithTarget(query("A", `scrape_samples_scraped{job="benchd"}`, "{{instance}}")))
	b = b.WithPanel(perRun("Resident memory", "benchd's resident set size.", "bytes").
		WithTarget(query("A", `process_resident_memory_bytes{job="benchd"}`, "{{instance}}")))
	b = b.WithPanel(perRun("Goroutines", "benchd's goroutines.", "short").
		WithTarget(query("A", `go_goroutines{job="benchd"}`, "{{instance}}")))
	b = b.WithPanel(table.NewPanelBuilder().
		Title("Build").
		Description("benchd_build_info: version, revision, branch and Go version of each instance.").
		Datasource(datasourceRef()).
		WithTarget(tableQuery("A", `benchd_build_info`)).
		WithTransformation(hideColumns("Time", "Value", "__name__")).
		Span(24).Height(5))
	return b
}
