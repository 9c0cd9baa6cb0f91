// Package api is benchd's HTTP surface: /metrics for Prometheus, /healthz,
// a landing page, and the JSON API under /api/v1/. It decodes requests and
// calls the scheduler; it holds no business logic. Listening, TLS and basic
// auth come from github.com/prometheus/exporter-toolkit, so the server is
// locked down with the same --web.config.file as any Prometheus exporter.
//
// A [Server] is safe for concurrent use.
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
)

// DefaultListenAddress is where benchd listens unless told otherwise:
// loopback only, port 9480.
const DefaultListenAddress = "127.0.0.1:9480"

// ShutdownTimeout bounds how long [Server.Serve] waits for open requests
// when its context is done.
const ShutdownTimeout = 5 * time.Second

// Options configure a [Server].
type Options struct {
	// Gatherer is what /metrics exposes. Required.
	Gatherer prometheus.Gatherer
	// Registerer, when set, gets the promhttp handler's own metrics
	// (promhttp_metric_handler_requests_total and friends).
	Registerer prometheus.Registerer
	// Web holds the listen addresses and the web config file (TLS, basic
	// auth), as parsed by exporter-toolkit's kingpinflag.AddFlags.
	Web *web.FlagConfig
	// Version is shown on the landing page.
	Version string
	// Ready reports whether benchd is ready (config loaded, scheduler
	// running); nil means always. /healthz answers 503 when it is false.
	Ready func() bool
	// Logger receives server logs; nil discards them.
	Logger *slog.Logger
	// Control, when set, serves the write API: POST /-/reload,
	// POST /api/v1/runs, POST /api/v1/schedule/pause and /resume.
	Control Control
	// History, when set, serves the run history: GET /api/v1/runs,
	// /api/v1/runs/{id} and /api/v1/scenarios/{target}/{mode}/{endpoint}/history.
	History History
	// Token returns the bearer token the write API requires, read at each
	// request so that a reload can change it. Nil or empty switches the
	// write API off (it answers 403), so that an unprotected daemon
	// cannot be driven over the network.
	Token func() string
	// Storage, when set, reports the run history's write health on
	// /api/v1/status.
	Storage func() StorageStatus
}

// StorageStatus is the run history's write health, as /api/v1/status
// reports it under "storage".
type StorageStatus struct {
	// LastError is the last failed write; empty when every write so far
	// is stored.
	LastError string `json:"last_error"`
	// Since is when writes started failing; zero (omitted) when healthy.
	Since time.Time `json:"failing_since,omitzero"`
	// PendingWrites counts the writes kept in memory for a retry.
	PendingWrites int `json:"pending_writes"`
	// PendingRuns lists the IDs of the runs those writes belong to.
	PendingRuns []string `json:"pending_runs"`
}

// Control is what the write API calls. Methods must be safe for
// concurrent use and return quickly.
type Control interface {
	// Reload re-reads the configuration; on error the old one stays.
	Reload() error
	// TriggerRun starts a run of the matrix now; it returns an error
	// satisfying IsConflict while a run is in progress.
	TriggerRun(ctx context.Context) error
	// Pause and Resume stop and restart scheduled runs.
	Pause()
	Resume()
	// Status reports whether a run is in progress and the schedule paused.
	Status() (running, paused bool)
	// Accept accepts the current results of a scenario (target/mode/endpoint)
	// as its new baseline and returns the run the baseline starts at; an
	// error satisfying errors.Is(err, ErrNotFound) when the scenario is
	// unknown or has no result.
	Accept(ctx context.Context, scenario string) (runID string, err error)
}

// ErrNotFound marks a request for something that does not exist; the API
// answers 404.
var ErrNotFound = errors.New("api: not found")

// ErrConflict marks a request that cannot be done in the current state
// (a run is already in progress); the API answers 409.
var ErrConflict = errors.New("api: conflict")

// Server serves benchd's HTTP endpoints. Create it with [New].
type Server struct {
	opts      Options
	log       *slog.Logger
	handler   http.Handler
	listeners []net.Listener
}

// New binds the listen addresses of o.Web and builds the handler. Binding
// here rather than in Serve lets callers learn the bound addresses (for a
// port 0) before serving. It returns an error if an address cannot be
// bound or the landing page cannot be built; the caller must then not call
// Serve. The caller must call Serve, which closes the listeners.
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Gatherer == nil {
		return nil, errors.New("api: no gatherer")
	}
	s := &Server{opts: o, log: o.Logger}
	mux := http.NewServeMux()
	var metrics = promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelError),
		EnableOpenMetrics: true,
	})
	if o.Registerer != nil {
		metrics = promhttp.InstrumentMetricHandler(o.Registerer, metrics)
	}
	mux.Handle("GET /metrics", metrics)
	mux.HandleFunc("GET /healthz", s.healthz)
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "benchd",
		Description: "Always-on HTTP performance regression monitoring",
		Version:     o.Version,
		Links: []web.LandingLinks{
			{Address: "/metrics", Text: "Metrics"},
			{Address: "/healthz", Text: "Health"},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("api: landing page: %w", err)
	}
	mux.Handle("GET /{$}", landing)
	mux.HandleFunc("GET /api/v1/status", s.status)
	mux.HandleFunc("GET /api/v1/runs", s.listRuns)
	mux.HandleFunc("GET /api/v1/runs/{id}", s.getRun)
	mux.HandleFunc("GET /api/v1/scenarios/{target}/{mode}/{endpoint}/history", s.scenarioHistory)
	mux.HandleFunc("POST /-/reload", s.write(s.reload))
	mux.HandleFunc("POST /api/v1/runs", s.write(s.triggerRun))
	mux.HandleFunc("POST /api/v1/schedule/pause", s.write(s.pause))
	mux.HandleFunc("POST /api/v1/schedule/resume", s.write(s.resume))
	mux.HandleFunc("POST /api/v1/baselines/{target}/{mode}/{endpoint}/accept", s.write(s.accept))
	s.handler = mux

	addrs := []string{DefaultListenAddress}
	if o.Web != nil && o.Web.WebListenAddresses != nil && len(*o.Web.WebListenAddresses) > 0 {
		addrs = *o.Web.WebListenAddresses
	}
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("api: listen on %s (--web.listen-address): %w", a, err)
		}
		s.listeners = append(s.listeners, l)
	}
	return s, nil
}

// Addrs returns the bound listen addresses.
func (s *Server) Addrs() []net.Addr {
	out := make([]net.Addr, len(s.listeners))
	for i, l := range s.listeners {
		out[i] = l.Addr()
	}
	return out
}

// Handler returns the server's HTTP handler, for tests.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves until ctx is done, then shuts down within
// [ShutdownTimeout]. It returns nil after a clean shutdown and the serving
// error otherwise (a bad --web.config.file is reported here).
func (s *Server) Serve(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	flags := s.opts.Web
	if flags == nil {
		flags = &web.FlagConfig{}
	}
	if flags.WebConfigFile == nil {
		empty := ""
		flags.WebConfigFile = &empty
	}
	errc := make(chan error, 1)
	go func() {
		errc <- web.ServeMultiple(s.listeners, srv, flags, s.log)
	}()
	select {
	case err := <-errc:
		s.closeListeners()
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("api: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	_ = <-errc // Serve's own error after Shutdown is http.ErrServerClosed
	if err != nil {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	return nil
}

func (s *Server) closeListeners() {
	for _, l := range s.listeners {
		_ = l.Close()
	}
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	ready := s.opts.Ready == nil || s.opts.Ready()
	status := "ok"
	code := http.StatusOK
	if !ready {
		status, code = "starting", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]string{"status": status})
}

// write guards a write handler: the write API must be configured and the
// request must carry the bearer token.
func (s *Server) write(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		token := ""
		if s.opts.Token != nil {
			token = s.opts.Token()
		}
		if s.opts.Control == nil || token == "" {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "the write API is off: set api.token_file in the configuration to turn it on"})
			return
		}
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="benchd"`)
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong bearer token"})
			return
		}
		h(w, r)
	}
}

func (s *Server) reload(w http.ResponseWriter, _ *http.Request) {
	if err := s.opts.Control.Reload(); err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
}

func (s *Server) triggerRun(w http.ResponseWriter, r *http.Request) {
	err := s.opts.Control.TriggerRun(r.Context())
	switch {
	case errors.Is(err, ErrConflict):
		writeJSON(w, http.StatusConflict, map[string]string{"error": "a run is already in progress"})
	case err != nil:
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "started"})
	}
}

func (s *Server) accept(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("target") + "/" + r.PathValue("mode") + "/" + r.PathValue("endpoint")
	runID, err := s.opts.Control.Accept(r.Context(), name)
	switch {
	case errors.Is(err, ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": err.Error()})
	case err != nil:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, map[string]string{"scenario": name, "accepted_from_run": runID})
	}
}

func (s *Server) pause(w http.ResponseWriter, _ *http.Request) {
	s.opts.Control.Pause()
	s.status(w, nil)
}

func (s *Server) resume(w http.ResponseWriter, _ *http.Request) {
	s.opts.Control.Resume()
	s.status(w, nil)
}

func (s *Server) status(w http.ResponseWriter, _ *http.Request) {
	if s.opts.Control == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no scheduler"})
		return
	}
	running, paused := s.opts.Control.Status()
	out := map[string]any{"running": running, "paused": paused}
	if s.opts.Storage != nil {
		st := s.opts.Storage()
		if st.PendingRuns == nil {
			st.PendingRuns = []string{}
		}
		out["storage"] = st
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
