package main

import (
	"time"

	"github.com/benchd/benchd/exporters"
	"github.com/benchd/benchd/scheduler"
)

// telemetry feeds scheduler events to the trace of each run and to the
// Prometheus collector, in that order, so that a scenario's span exists
// before its metrics carry the span's trace ID as an exemplar.
type telemetry struct {
	metrics *exporters.Metrics // nil: no metrics (benchd matrix)
	tracer  *exporters.RunTracer
}

func (o telemetry) RunStarted(info *scheduler.RunInfo) {
	o.tracer.RunStarted(info.ID, info.Trigger, len(info.Scenarios), info.Start)
	if o.metrics != nil {
		o.metrics.ObserveRunStart(info.Scheduled, info.Start)
	}
}

func (o telemetry) TargetStarting(target string) {
	o.tracer.TargetStarting(target, time.Now())
}

func (o telemetry) TargetFailed(target string, _ error) {
	if o.metrics != nil {
		o.metrics.TargetStartFailed(target)
	}
}

func (o telemetry) TargetChanged(target string, up bool) {
	o.tracer.TargetChanged(target, up, time.Now())
	if o.metrics != nil {
		o.metrics.SetTargetUp(target, up)
	}
}

func (o telemetry) ScenarioFinished(r *scheduler.ScenarioResult) {
	span := o.tracer.ScenarioFinished(r.Record)
	if o.metrics != nil {
		o.metrics.ObserveScenario(r.Record, span)
	}
}

func (o telemetry) RunFinished(r *scheduler.RunReport) {
	o.tracer.RunFinished(r.Outcome(), r.Failed(), r.Err, r.End)
	if o.metrics != nil {
		// benchd_runs_total's result is success, failed or skipped
		// (docs/metrics.md): an interrupted run counts as failed.
		result := r.Outcome()
		if result == scheduler.OutcomeInterrupted {
			result = scheduler.OutcomeFailed
		}
		o.metrics.ObserveRun(result, r.Start, r.End)
	}
}

func (o telemetry) RunSkipped(time.Time) {
	if o.metrics != nil {
		o.metrics.RunSkipped()
	}
}

func (o telemetry) NextRun(at time.Time) {
	if o.metrics != nil {
		o.metrics.SetNextRun(at)
	}
}

// observers fans scheduler events out to several observers, in order.
type observers []scheduler.Observer

func (os observers) RunStarted(i *scheduler.RunInfo) {
	for _, o := range os {
		o.RunStarted(i)
	}
}

func (os observers) TargetStarting(t string) {
	for _, o := range os {
		o.TargetStarting(t)
	}
}

func (os observers) TargetFailed(t string, err error) {
	for _, o := range os {
		o.TargetFailed(t, err)
	}
}

func (os observers) TargetChanged(t string, up bool) {
	for _, o := range os {
		o.TargetChanged(t, up)
	}
}

func (os observers) ScenarioFinished(r *scheduler.ScenarioResult) {
	for _, o := range os {
		o.ScenarioFinished(r)
	}
}

func (os observers) RunFinished(r *scheduler.RunReport) {
	for _, o := range os {
		o.RunFinished(r)
	}
}

func (os observers) RunSkipped(at time.Time) {
	for _, o := range os {
		o.RunSkipped(at)
	}
}

func (os observers) NextRun(at time.Time) {
	for _, o := range os {
		o.NextRun(at)
	}
}
