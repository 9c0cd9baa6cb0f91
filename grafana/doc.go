// Package grafana builds benchd's Grafana dashboards as code, with
// github.com/grafana/grafana-foundation-sdk, and writes them as JSON.
//
// The generated JSON is committed under grafana/dashboards/ (regenerate with
// `go generate ./grafana` or `go run ./grafana/cmd/gen`); a test fails when
// the committed files differ from what [Generate] returns. There are four
// dashboards: the matrix overview (the seed's results table, live), scenario
// detail, regressions and the daemon itself. Every query reads Prometheus
// through the dashboard's `datasource` variable and only the metrics of
// DESIGN.md's metric contract (see docs/metrics.md), the scrape metrics
// Prometheus adds (`up`, `scrape_*`) and `ALERTS`; a metric queried before
// benchd exports it is listed in [PendingMetrics]. Every query over scenario
// series aggregates them by (target, endpoint, mode, …), so that none
// relies on one benchd instance exporting them (docs/metrics.md,
// "Dashboards").
//
// With an hourly schedule a 5-minute rate() is mostly empty: the queries use
// the per-run gauges and summary, or increase() over the dashboard's range or
// over $__rate_interval (non-zero only around a run).
//
// The package does no I/O except [Write], holds no state and is safe for
// concurrent use. The Prometheus alerting rules that go with the dashboards
// are in deploy/prometheus/rules/.
package grafana

//go:generate go run ./cmd/gen -out dashboards
