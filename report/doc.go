// Package report writes what people read of a load test: wrk's text layout
// ([WriteWrk]), JSON ([WriteJSON], [WriteEntriesJSON]) and Markdown like the
// seed document ([WriteMarkdown]); it also reads such documents back
// ([ParseWrkMarkdown]), for comparing a run with wrk outputs pasted by hand
// (the seed document ships as [Seed]).
//
// Writers are plain functions of an [engine.Result] (or entries of them)
// and an io.Writer: they measure nothing, keep nothing, and are safe for
// concurrent use. Prometheus metrics and OpenTelemetry spans are the
// exporters package's.
package report
