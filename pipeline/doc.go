// Package pipeline is what happens after each scenario and run, built once
// and used by both `benchd serve` and `benchd matrix`: a [Pipeline] hands
// the scheduler's events, in order, to tracing, the Prometheus metrics, the
// run [History] (which stores each result record, keeps it in memory and
// retries while the disk is full, and prunes by retention), the regression
// [Detector] (which takes each result's points as it passes and tests the
// series after each run), and any extra observer (matrix's progress). The
// command only wires it.
package pipeline
