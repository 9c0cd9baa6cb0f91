// Package exporters turns engine results into what other systems read:
// Prometheus metrics (collectors registered on an injected Registerer) and
// OpenTelemetry spans. Reports for people are the report package's.
//
// It adapts [engine.Result] values after a scenario has ended; it never
// touches the request hot path and applies no load itself. The concurrency
// of collectors is documented on each type.
package exporters
