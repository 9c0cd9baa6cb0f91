package exporters

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/result"
)

// TracerName is the instrumentation scope of benchd's spans.
const TracerName = "github.com/benchd/benchd"

// Tracing owns benchd's OpenTelemetry tracer provider: an SDK provider with
// an OTLP exporter when the standard environment asks for one, otherwise a
// no-op provider that costs nothing (the shape of Prometheus' tracing
// manager). It is safe for concurrent use.
type Tracing struct {
	provider trace.TracerProvider
	shutdown func(context.Context) error
	// Exporting reports whether spans leave the process.
	Exporting bool
	// Protocol is the OTLP protocol in use ("grpc" or "http/protobuf"),
	// empty when not exporting.
	Protocol string
}

// NewTracing configures tracing from the OpenTelemetry environment, as the
// OTel specification names it:
//
//   - OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none: no export.
//   - OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT set:
//     export over OTLP, protocol from OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or
//     OTEL_EXPORTER_OTLP_PROTOCOL ("grpc" or "http/protobuf", the
//     specification's default); the exporters read the other
//     OTEL_EXPORTER_OTLP_* variables (headers, TLS, timeout) themselves,
//     and the SDK reads OTEL_TRACES_SAMPLER and OTEL_RESOURCE_ATTRIBUTES.
//   - otherwise: no export.
//
// env looks variables up (os.LookupEnv when nil). It returns an error
// naming the variable when a value is not understood. The caller must call
// Shutdown, which flushes pending spans.
func NewTracing(ctx context.Context, version string, env func(string) (string, bool)) (*Tracing, error) {
	if env == nil {
		env = os.LookupEnv
	}
	get := func(k string) string { v, _ := env(k); return strings.TrimSpace(v) }
	off := &Tracing{provider: noop.NewTracerProvider(), shutdown: func(context.Context) error { return nil }}
	if v := get("OTEL_SDK_DISABLED"); v != "" {
		disabled, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("exporters: OTEL_SDK_DISABLED=%q: want true or false", v)
		}
		if disabled {
			return off, nil
		}
	}
	switch v := get("OTEL_TRACES_EXPORTER"); v {
	case "none":
		return off, nil
	case "", "otlp":
	default:
		return nil, fmt.Errorf("exporters: OTEL_TRACES_EXPORTER=%q: benchd supports otlp and none", v)
	}
	if get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" && get("OTEL_EXPORTER_OTLP_ENDPOINT") == "" {
		return off, nil
	}
	protocol := get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = get("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if protocol == "" {
		protocol = "http/protobuf"
	}
	var exp sdktrace.SpanExporter
	var err error
	switch protocol {
	case "grpc":
		exp, err = otlptracegrpc.New(ctx)
	case "http/protobuf":
		exp, err = otlptracehttp.New(ctx)
	default:
		return nil, fmt.Errorf("exporters: OTEL_EXPORTER_OTLP_PROTOCOL=%q: want grpc or http/protobuf", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("exporters: OTLP %s exporter: %w", protocol, err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName("benchd"), semconv.ServiceVersion(version)))
	if err != nil {
		return nil, fmt.Errorf("exporters: tracing resource: %w", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return &Tracing{provider: tp, shutdown: tp.Shutdown, Exporting: true, Protocol: protocol}, nil
}

// Provider returns the tracer provider.
func (t *Tracing) Provider() trace.TracerProvider { return t.provider }

// Shutdown flushes pending spans and stops the exporter; ctx bounds the
// wait. It returns the exporter's error, if any.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if err := t.shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("exporters: tracing shutdown: %w", err)
	}
	return nil
}

// RunTracer turns a run's events into one trace: a root span benchd.run,
// a child benchd.target per managed target (process start, ready and stop
// as events), and under it a benchd.scenario span per scenario with the
// results as attributes and a failure as the span status. Methods are
// called in run order from one goroutine; a RunTracer is safe for
// concurrent use but traces one run at a time.
type RunTracer struct {
	tracer trace.Tracer

	mu      sync.Mutex
	runCtx  context.Context
	run     trace.Span
	targets map[string]*targetSpan
}

type targetSpan struct {
	ctx  context.Context
	span trace.Span
}

// NewRunTracer returns a RunTracer on tp.
func NewRunTracer(tp trace.TracerProvider) *RunTracer {
	return &RunTracer{tracer: tp.Tracer(TracerName), targets: map[string]*targetSpan{}}
}

// RunStarted starts the span of run id, started by trigger at start: the
// trace's root, or the child of a span ctx carries (the run's context).
func (t *RunTracer) RunStarted(ctx context.Context, id, trigger string, scenarios int, start time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.runCtx, t.run = t.tracer.Start(context.WithoutCancel(ctx), "benchd.run",
		trace.WithTimestamp(start), trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(
			attribute.String("benchd.run.id", id),
			attribute.String("benchd.run.trigger", trigger),
			attribute.Int("benchd.run.scenarios", scenarios)))
	t.targets = map[string]*targetSpan{}
}

// target returns the span of target, starting it at at; t.mu is held.
func (t *RunTracer) target(name string, at time.Time) *targetSpan {
	ts, ok := t.targets[name]
	if !ok {
		parent := t.runCtx
		if parent == nil {
			parent = context.Background()
		}
		ctx, span := t.tracer.Start(parent, "benchd.target", trace.WithTimestamp(at),
			trace.WithAttributes(attribute.String("benchd.target", name)))
		ts = &targetSpan{ctx: ctx, span: span}
		t.targets[name] = ts
	}
	return ts
}

// TargetStarting records that the managed process of target is being
// started.
func (t *RunTracer) TargetStarting(target string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.target(target, at).span.AddEvent("process.start", trace.WithTimestamp(at))
}

// TargetChanged records that target became ready (up) or was stopped or
// failed to start (down); down ends the target span.
func (t *RunTracer) TargetChanged(target string, up bool, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ts := t.target(target, at)
	if up {
		ts.span.AddEvent("ready", trace.WithTimestamp(at))
		return
	}
	ts.span.AddEvent("stop", trace.WithTimestamp(at))
	ts.span.End(trace.WithTimestamp(at))
	delete(t.targets, target)
}

// ScenarioFinished records one scenario (its record s) as a span under
// its target's and returns that span's context, whose trace ID benchd puts
// as an exemplar on the scenario's latency histogram.
func (t *RunTracer) ScenarioFinished(s *result.Scenario) trace.SpanContext {
	t.mu.Lock()
	defer t.mu.Unlock()
	ts := t.target(s.Target, s.Start)
	attrs := []attribute.KeyValue{
		attribute.String("benchd.scenario", s.Name),
		attribute.String("benchd.target", s.Target),
		attribute.String("benchd.mode", s.Mode),
		attribute.String("benchd.endpoint", s.Endpoint),
		semconv.URLFull(s.URL),
		semconv.HTTPRequestMethodKey.String(s.Method),
	}
	if u, err := url.Parse(s.URL); err == nil {
		attrs = append(attrs, semconv.ServerAddress(u.Hostname()))
		if p, err := strconv.Atoi(u.Port()); err == nil {
			attrs = append(attrs, semconv.ServerPort(p))
		}
	}
	if s.Ran() {
		attrs = append(attrs,
			attribute.Int("benchd.connections", s.Connections),
			attribute.Int("benchd.connections_established", s.ConnectionsEstablished),
			attribute.Float64("benchd.duration_seconds", s.ElapsedSeconds),
			attribute.Int64("benchd.requests_sent", int64(s.Sent)),
			attribute.Int64("benchd.requests_completed", int64(s.Requests)),
			attribute.Int64("benchd.requests_in_flight", int64(s.InFlight)),
			attribute.Float64("benchd.requests_per_second", s.RequestsPerSecond),
			attribute.Float64("benchd.error_ratio", s.ErrorRatio),
			attribute.Float64("benchd.timeout_ratio", s.TimeoutRatio),
			attribute.Int64("benchd.response_bytes", int64(s.BytesRead)),
		)
		for c, n := range s.Responses {
			attrs = append(attrs, attribute.Int64("benchd.responses."+engine.Class(c).String(), int64(n)))
		}
		for k, n := range s.Errors {
			attrs = append(attrs, attribute.Int64("benchd.errors."+engine.ErrorKind(k).String(), int64(n)))
		}
		if l := s.Latency; l != nil {
			for _, q := range []struct {
				name string
				v    float64
			}{{"p50", l.P50}, {"p90", l.P90}, {"p99", l.P99}} {
				attrs = append(attrs, attribute.Float64("benchd.latency."+q.name+"_seconds", q.v))
			}
		}
	}
	_, span := t.tracer.Start(ts.ctx, "benchd.scenario", trace.WithTimestamp(s.Start), trace.WithAttributes(attrs...))
	if s.Error != "" {
		span.RecordError(errors.New(s.Error), trace.WithTimestamp(s.End))
		span.SetAttributes(semconv.ErrorTypeKey.String("scenario_failed"))
		span.SetStatus(codes.Error, s.Error)
	}
	span.End(trace.WithTimestamp(s.End))
	return span.SpanContext()
}

// RunFinished ends the run span (and any target span still open) with the
// run's outcome.
func (t *RunTracer) RunFinished(outcome string, failed int, runErr error, end time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, ts := range t.targets {
		ts.span.End(trace.WithTimestamp(end))
		delete(t.targets, name)
	}
	if t.run == nil {
		return
	}
	t.run.SetAttributes(attribute.String("benchd.run.outcome", outcome), attribute.Int("benchd.run.failed_scenarios", failed))
	switch {
	case runErr != nil:
		t.run.SetStatus(codes.Error, runErr.Error())
	case failed > 0:
		t.run.SetStatus(codes.Error, fmt.Sprintf("%d scenarios failed", failed))
	}
	t.run.End(trace.WithTimestamp(end))
	t.run, t.runCtx = nil, nil
}
