// Package scheduler turns a benchd configuration into runs: it fires the
// matrix on its cron schedule (robfig/cron/v3 specs) and at start-up, runs one
// scenario at a time, and starts and stops the managed target and service
// processes around the scenarios that need them.
//
// A [Scheduler] owns the clock, the overlap policy (a tick that fires while a
// run is still going is skipped and counted, never queued) and the live
// configuration, which [Scheduler.ApplyConfig] swaps between runs. It calls
// the load engine through the one-method [Engine] interface and reports what
// happened to an [Observer]; it knows nothing of Prometheus, OpenTelemetry or
// storage.
//
// A target's scenarios with several repeats (config repeats) run
// interleaved: in rounds, each visiting every scenario of the target once,
// in an order shuffled per round from the run's seed ([RunInfo.Seed]), so
// that a slow minute of the machine spreads over all of them (Abedi and
// Brecht, ICPE 2017, randomized multiple interleaved trials). Each repeat
// is its own load test, on fresh connections, announced as it begins
// ([Observer.ScenarioStarted], repeat i of n), and a scenario's result is
// reported once, after its last repeat.
//
// Failure is data: a target that fails to start, a service that is not ready
// or a target that dies mid-scenario fails the affected scenarios with a
// reason, and the rest of the matrix still runs. Managed processes are always
// stopped after their scenarios, also when the run is cancelled.
//
// # Concurrency
//
// One run at a time per Scheduler. [Scheduler.Run] is the long-running loop;
// [Scheduler.RunOnce] may be called from other goroutines and returns
// [ErrRunning] while a run is in progress. Observer methods are called from
// the goroutine executing the run, one at a time, with the run's context
// first (see [Observer]).
package scheduler
