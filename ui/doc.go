// Package ui is benchd's own results UI, served by the daemon at GET / of
// its listen address (as Prometheus serves its own) and written as one
// self-contained HTML file by `benchd report --format html`. Pages:
//
//   - matrix (/): endpoint × server, each cell the newest result's
//     requests/s, p99 and timeouts, its verdict (regression, ok, invalid,
//     untested) by colour and word, and a sparkline of recent runs;
//   - scenario (/ui/scenario/{target}/{mode}/{endpoint}): each signal's
//     history with the baseline median and band, the detectable change,
//     change points, accepted baselines, deploy markers and invalid runs,
//     and an "accept as baseline" form when the write API is on;
//   - run (/ui/run/{id}): each scenario's wrk block, its latency
//     percentile plot from the stored HDR histogram, and the diff against
//     the previous run;
//   - now (/ui/now): the run in progress, as pipeline.Progress reports it
//     ([Options.Progress]): i of N, the scenario and repeat running, the
//     time elapsed and left; and the last finished cells, from a [Feed].
//
// Pages are rendered on the server with html/template; plots are SVG drawn
// with gonum.org/v1/plot, inline in the page, so that a page needs no
// network and no script. The UI reads the run history ([Source]: the store)
// and computes the verdicts with [regress.Detect], as the daemon's
// detector does; it holds no state but a cache of the results it read
// (fed by a [Feed] in the daemon). It does no
// authentication: the api package's server, which mounts it, applies the
// web config (TLS, basic auth) to every path, and guards the accept
// action as any write. A [UI] is safe for concurrent use.
package ui
