// Package pipeline is what happens after each scenario and run, built once
// and used by both `benchd serve` and `benchd matrix`: a [Pipeline] hands
// the scheduler's events, in order and with the run's context, to tracing,
// the Prometheus metrics, the run [History] (which stores each result
// record, keeps it in memory and retries while the disk is full, and
// prunes by retention, whose schedule rule is
// [config.Config.CheckRetention]), the regression [Detector]
// (which takes each result's points as it passes and tests the series after
// each run), and any extra observer (matrix's [Progress]).
//
// It also holds the daemon's run-time wiring that the command would
// otherwise carry: [Declare] (the series of a configuration, at 0 before
// their first run) and [Daemon], the write API's control (reload, trigger,
// pause, resume, baseline acceptance, the write token). The command only
// wires it.
package pipeline
