// Package report writes what people read of load tests and runs: wrk's
// text layout ([WriteWrk], [WriteWrkBlocks]), JSON ([WriteJSON],
// [WriteScenariosJSON]) and Markdown like the seed document
// ([WriteMarkdown]) of result records; of stored runs, the summary table
// endpoint × server ([WriteSummary]), the diff of two runs ([WriteDiff]),
// the alerts received during a run ([WriteRunAlerts]) and the comparison
// of a run with a document of wrk outputs ([CompareRun],
// [WriteComparison]), which it reads back with [ParseWrkMarkdown] (the
// seed document ships as [Seed]); and `benchd matrix --dry-run`'s plan
// ([WritePlan]). [LoadRun] chooses the stored run `benchd report` renders.
//
// Writers are plain functions of [result.Scenario] records, stored runs
// ([store.Run]) or a configuration, and an io.Writer: they measure
// nothing, keep nothing, and are safe for concurrent use. Prometheus
// metrics and OpenTelemetry spans are the exporters package's.
package report
