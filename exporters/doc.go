// Package exporters turns engine results into what people and other
// systems read: Prometheus metrics, OpenTelemetry spans, and reports (wrk's
// text layout with [WriteWrk], JSON, and Markdown like the seed document).
//
// It adapts [engine.Result] values after a scenario has ended; it never
// touches the request hot path and applies no load itself. Report writers
// are plain functions of their input and safe for concurrent use; the
// concurrency of collectors is documented on each type.
package exporters
