package pipeline

import (
	"context"
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

func (o telemetry) RunStarted(ctx context.Context, info *scheduler.RunInfo) {
	o.tracer.RunStarted(ctx, info.ID, info.Trigger, len(info.Scenarios), info.Start)
	if o.metrics != nil {
		o.metrics.ObserveRunStart(info.Scheduled, info.Start)
	}
}

func (o telemetry) TargetStarting(_ context.Context, target string) {
	o.tracer.TargetStarting(target, time.Now())
}

func (o telemetry) TargetFailed(_ context.Context, target string, _ error) {
	if o.metrics != nil {
		o.metrics.TargetStartFailed(target)
	}
}

func (o telemetry) TargetChanged(_ context.Context, target string, up bool) {
	o.tracer.TargetChanged(target, up, time.Now())
	if o.metrics != nil {
		o.metrics.SetTargetUp(target, up)
	}
}

func (o telemetry) ScenarioStarted(context.Context, *scheduler.ScenarioStart) {}

func (o telemetry) ScenarioFinished(_ context.Context, r *scheduler.ScenarioResult) {
	span := o.tracer.ScenarioFinished(r.Record)
	if o.metrics != nil {
		o.metrics.ObserveScenario(r.Record, span)
	}
}

func (o telemetry) RunFinished(_ context.Context, r *scheduler.RunReport) {
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

func (o telemetry) RunSkipped(context.Context, time.Time) {
	if o.metrics != nil {
		o.metrics.RunSkipped()
	}
}

func (o telemetry) NextRun(_ context.Context, at time.Time) {
	if o.metrics != nil {
		o.metrics.SetNextRun(at)
	}
}

// Options are the stages of a [Pipeline]; nil ones are left out.
type Options struct {
	// Tracer and Metrics are the telemetry: tracing first, then metrics.
	// Tracer is required; Metrics may be nil (benchd matrix).
	Tracer  *exporters.RunTracer
	Metrics *exporters.Metrics
	// History records runs and results (and chooses run IDs).
	History *History
	// Detector tests the series after each run.
	Detector *Detector
	// Extra observers come last (benchd matrix's progress).
	Extra []scheduler.Observer
}

// Pipeline is the after-run pipeline that serve and matrix both use: each
// scheduler event goes to tracing, then the metrics (a scenario's span
// exists before its metrics carry its trace ID as an exemplar), then the
// run history, then the detector (which tests what the history holds),
// then the extra observers. It is the scheduler's Observer and Recorder.
type Pipeline struct {
	observers
	history *History
}

// New returns the pipeline of o's stages.
func New(o Options) *Pipeline {
	p := &Pipeline{history: o.History}
	p.observers = append(p.observers, telemetry{metrics: o.Metrics, tracer: o.Tracer})
	if o.History != nil {
		p.observers = append(p.observers, o.History)
	}
	if o.Detector != nil {
		p.observers = append(p.observers, o.Detector)
	}
	p.observers = append(p.observers, o.Extra...)
	return p
}

// RecordRun implements [scheduler.Recorder] through the history: it
// returns the ID the run is stored under, or info.ID without a history.
func (p *Pipeline) RecordRun(info scheduler.RunInfo) string {
	if p.history == nil {
		return info.ID
	}
	return p.history.RecordRun(info)
}

// observers fans scheduler events out to several observers, in order.
type observers []scheduler.Observer

func (os observers) RunStarted(ctx context.Context, i *scheduler.RunInfo) {
	for _, o := range os {
		o.RunStarted(ctx, i)
	}
}

func (os observers) TargetStarting(ctx context.Context, t string) {
	for _, o := range os {
		o.TargetStarting(ctx, t)
	}
}

func (os observers) TargetFailed(ctx context.Context, t string, err error) {
	for _, o := range os {
		o.TargetFailed(ctx, t, err)
	}
}

func (os observers) TargetChanged(ctx context.Context, t string, up bool) {
	for _, o := range os {
		o.TargetChanged(ctx, t, up)
	}
}

func (os observers) ScenarioStarted(ctx context.Context, s *scheduler.ScenarioStart) {
	for _, o := range os {
		o.ScenarioStarted(ctx, s)
	}
}

func (os observers) ScenarioFinished(ctx context.Context, r *scheduler.ScenarioResult) {
	for _, o := range os {
		o.ScenarioFinished(ctx, r)
	}
}

func (os observers) RunFinished(ctx context.Context, r *scheduler.RunReport) {
	for _, o := range os {
		o.RunFinished(ctx, r)
	}
}

func (os observers) RunSkipped(ctx context.Context, at time.Time) {
	for _, o := range os {
		o.RunSkipped(ctx, at)
	}
}

func (os observers) NextRun(ctx context.Context, at time.Time) {
	for _, o := range os {
		o.NextRun(ctx, at)
	}
}
