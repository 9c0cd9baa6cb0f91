// Package exporters turns result records ([result.Scenario]) and run
// events into what other systems read: Prometheus metrics (collectors
// registered on an injected Registerer: [Metrics], [Regressions]) and
// OpenTelemetry spans ([Tracing], [RunTracer]). Reports for people are the
// report package's; the order in which a run's events reach them is the
// pipeline package's.
//
// It reads records after a scenario has ended; it never touches the
// request hot path and applies no load itself. The concurrency of
// collectors is documented on each type.
package exporters
