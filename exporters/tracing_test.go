package exporters

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
)

// traceRun feeds one run of two scenarios on one target, the second failed.
func traceRun(t *testing.T, rt *RunTracer) {
	t0 := time.Unix(1700000000, 0)
	rt.RunStarted(t.Context(), "20231114T221320Z", "manual", 2, t0)
	rt.TargetStarting("gunicorn-gevent", t0.Add(time.Millisecond))
	rt.TargetChanged("gunicorn-gevent", true, t0.Add(time.Second))
	ok := observed("gunicorn-gevent", "sync", "json", knownResult(t), t0.Add(3*time.Second))
	ok.URL, ok.Method, ok.Start = "http://127.0.0.1:8000/myapp/sync/json", "GET", t0.Add(time.Second)
	rt.ScenarioFinished(ok)
	failed := observed("gunicorn-gevent", "sync", "json_query", nil, t0.Add(4*time.Second))
	failed.URL, failed.Method, failed.Start = "http://127.0.0.1:8000/myapp/sync/json_query", "GET", t0.Add(3*time.Second)
	failed.Error = "scheduler: target gunicorn-gevent: exited (code 1)"
	rt.ScenarioFinished(failed)
	rt.TargetChanged("gunicorn-gevent", false, t0.Add(5*time.Second))
	rt.RunFinished("failed", 1, nil, t0.Add(6*time.Second))
}

// TestRunTracerParent: the run span is the child of a span the run's
// context carries (a caller's trace), and the trace's root without one;
// a cancelled context still gives a span.
func TestRunTracerParent(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	parentCtx, parent := tp.Tracer("test").Start(t.Context(), "caller")
	ctx, cancel := context.WithCancel(parentCtx)
	cancel()
	rt := NewRunTracer(tp)
	rt.RunStarted(ctx, "r1", "manual", 0, time.Now())
	rt.RunFinished("success", 0, nil, time.Now())
	rt.RunStarted(t.Context(), "r2", "manual", 0, time.Now())
	rt.RunFinished("success", 0, nil, time.Now())
	parent.End()
	var runs []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.Name() == "benchd.run" {
			runs = append(runs, s)
		}
	}
	if len(runs) != 2 {
		t.Fatalf("%d run spans, want 2", len(runs))
	}
	if runs[0].Parent().SpanID() != parent.SpanContext().SpanID() || runs[0].SpanContext().TraceID() != parent.SpanContext().TraceID() {
		t.Errorf("run span r1 is not the child of the context's span")
	}
	if runs[1].Parent().IsValid() {
		t.Errorf("run span r2 has a parent %v, want a root", runs[1].Parent())
	}
}

func TestRunTracerStructure(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	traceRun(t, NewRunTracer(tp))
	spans := rec.Ended()
	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	if len(byName["benchd.run"]) != 1 || len(byName["benchd.target"]) != 1 || len(byName["benchd.scenario"]) != 2 {
		t.Fatalf("spans by name: run %d, target %d, scenario %d; want 1, 1, 2",
			len(byName["benchd.run"]), len(byName["benchd.target"]), len(byName["benchd.scenario"]))
	}
	run, target := byName["benchd.run"][0], byName["benchd.target"][0]
	if target.Parent().SpanID() != run.SpanContext().SpanID() {
		t.Errorf("target span's parent is not the run span")
	}
	var events []string
	for _, e := range target.Events() {
		events = append(events, e.Name)
	}
	if got := strings.Join(events, ","); got != "process.start,ready,stop" {
		t.Errorf("target events %q, want process.start,ready,stop", got)
	}
	if run.Status().Code != codes.Error {
		t.Errorf("run status %v, want Error (a scenario failed)", run.Status())
	}
	attrs := func(s sdktrace.ReadOnlySpan) map[attribute.Key]attribute.Value {
		m := map[attribute.Key]attribute.Value{}
		for _, kv := range s.Attributes() {
			m[kv.Key] = kv.Value
		}
		return m
	}
	for _, s := range byName["benchd.scenario"] {
		if s.Parent().SpanID() != target.SpanContext().SpanID() || s.SpanContext().TraceID() != run.SpanContext().TraceID() {
			t.Errorf("scenario span is not a child of the target span in the run's trace")
		}
		a := attrs(s)
		if a["http.request.method"].AsString() != "GET" || a["server.address"].AsString() != "127.0.0.1" || a["server.port"].AsInt64() != 8000 {
			t.Errorf("semantic-convention attributes wrong: %v", a)
		}
		switch a["benchd.endpoint"].AsString() {
		case "json":
			if s.Status().Code == codes.Error || a["benchd.responses.2xx"].AsInt64() != 3 || a["benchd.errors.timeout"].AsInt64() != 1 {
				t.Errorf("json scenario span: status %v attrs %v", s.Status(), a)
			}
			if a["benchd.requests_per_second"].AsFloat64() != 2 {
				t.Errorf("requests_per_second %v, want 2", a["benchd.requests_per_second"])
			}
		case "json_query":
			if s.Status().Code != codes.Error || !strings.Contains(s.Status().Description, "exited") {
				t.Errorf("failed scenario status %v", s.Status())
			}
		}
	}
}

func TestNewTracingFromEnv(t *testing.T) {
	cases := []struct {
		name      string
		env       map[string]string
		exporting bool
		protocol  string
		wantErr   string
	}{
		{"nothing set", nil, false, "", ""},
		{"endpoint set, default protocol", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true, "http/protobuf", ""},
		{"traces endpoint, grpc", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, true, "grpc", ""},
		{"traces protocol wins", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, true, "grpc", ""},
		{"sdk disabled", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"}, false, "", ""},
		{"exporter none", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"}, false, "", ""},
		{"bad protocol", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, false, "", "OTEL_EXPORTER_OTLP_PROTOCOL"},
		{"bad disabled", map[string]string{"OTEL_SDK_DISABLED": "maybe"}, false, "", "OTEL_SDK_DISABLED"},
		{"unsupported exporter", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, false, "", "OTEL_TRACES_EXPORTER"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := func(k string) (string, bool) { v, ok := c.env[k]; return v, ok }
			tr, err := NewTracing(t.Context(), "test", env)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tr.Shutdown(context.Background()) })
			if tr.Exporting != c.exporting || tr.Protocol != c.protocol {
				t.Errorf("exporting %v protocol %q, want %v %q", tr.Exporting, tr.Protocol, c.exporting, c.protocol)
			}
		})
	}
}

// receiver is a real OTLP/gRPC trace receiver.
type receiver struct {
	collectortrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	names []string
}

func (r *receiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				r.names = append(r.names, s.Name)
			}
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// TestOTLPExportToRealReceiver exports a run's trace over OTLP/gRPC, as
// configured by the standard environment, to a gRPC receiver on loopback.
func TestOTLPExportToRealReceiver(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	rcv := &receiver{}
	collectortrace.RegisterTraceServiceServer(srv, rcv)
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)

	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+l.Addr().String())
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")
	tr, err := NewTracing(t.Context(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !tr.Exporting {
		t.Fatal("not exporting")
	}
	traceRun(t, NewRunTracer(tr.Provider()))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	got := map[string]int{}
	for _, n := range rcv.names {
		got[n]++
	}
	if got["benchd.run"] != 1 || got["benchd.target"] != 1 || got["benchd.scenario"] != 2 {
		t.Errorf("received spans %v, want 1 run, 1 target, 2 scenarios", got)
	}
}
