// Package api is benchd's HTTP surface: /metrics for Prometheus, /healthz,
// a landing page, and the JSON API under /api/v1/. It decodes requests and
// calls the scheduler; it holds no business logic. TLS and basic auth come
// from the same --web.config.file as any Prometheus exporter's
// (exporter-toolkit's format); the write API also takes a bearer token and
// basic-auth writers, see [Options.Token] and [Options.WriteUsers].
//
// A [Server] is safe for concurrent use.
package api

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/exporter-toolkit/web"
	"golang.org/x/time/rate"
)

// DefaultListenAddress is where benchd listens unless told otherwise:
// loopback only, port 9480.
const DefaultListenAddress = "127.0.0.1:9480"

// ShutdownTimeout bounds how long [Server.Serve] waits for open requests
// when its context is done.
const ShutdownTimeout = 5 * time.Second

// Defaults of the server's limits (see [Options]). Each bounds what a slow
// or idle client can hold: without them an idle keep-alive connection
// stays open for good.
const (
	// DefaultReadHeaderTimeout bounds reading a request's headers.
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultReadTimeout bounds reading a whole request, body included
	// (API request bodies are small).
	DefaultReadTimeout = 30 * time.Second
	// DefaultWriteTimeout bounds a request from the end of its headers to
	// the end of its response: ample for the largest page of run history
	// (limit=1000) over loopback or a LAN. A handler that streams must
	// extend it with [http.ResponseController.SetWriteDeadline].
	DefaultWriteTimeout = time.Minute
	// DefaultIdleTimeout is how long an idle keep-alive connection is kept:
	// longer than the usual 1-minute scrape interval, so that a scraper
	// reuses its connection.
	DefaultIdleTimeout = 2 * time.Minute
	// DefaultMaxHeaderBytes bounds the size of a request's headers.
	DefaultMaxHeaderBytes = 64 << 10
)

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
	// ScenarioProblem, when set, says why a scenario name is unknown (its
	// closest known name), or "" when it is known: an empty history of an
	// unknown scenario then answers 404 with that text, not 200 and [].
	ScenarioProblem func(name string) string
	// Token returns the bearer token (api.token_file), read at each request
	// so that a reload can change it. The token may read and write. Nil or
	// empty means no token: a bearer header is then ignored.
	Token func() string
	// WriteUsers returns the basic-auth users (of the web config file's
	// basic_auth_users) that may also write (api.write_users), read at each
	// request. Their writes must pass [http.CrossOriginProtection]. With
	// neither a token nor write users the write API is off (it answers
	// 403), so that an unprotected daemon cannot be driven over the network.
	WriteUsers func() []string

	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are the
	// [http.Server] timeouts of the same names; MaxHeaderBytes its header
	// size limit. Zero or negative means the DefaultX of the same name.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	MaxHeaderBytes    int

	// Storage, when set, reports the run history's write health on
	// /api/v1/status.
	Storage func() StorageStatus
	// Progress, when set, reports the run in progress (or the last run)
	// on /api/v1/status under "run"; ok false (before the first run)
	// leaves it out.
	Progress func() (status RunStatus, ok bool)

	// Alerts, when set, stores the alerts of Alertmanager's webhook
	// notifications (POST /api/v1/alertmanager/webhook, a write) and
	// lists them (GET /api/v1/alerts); nil answers 404 on both.
	Alerts Alerts
	// AlertReceived, when set, is called once per stored alert with its
	// status (firing or resolved) and alertname ("" when it has none),
	// for benchd_alert_notifications_received_total. It must not block.
	AlertReceived func(status, alertname string)
	// Now is the clock that stamps received alerts; nil means time.Now.
	Now func() time.Time

	// UI, when set, serves GET / (instead of the landing page of links)
	// and GET /ui/...: benchd's results pages (the ui package), behind the
	// same web config as every path.
	UI http.Handler
	// UIScenarioPath, when set, returns the UI page of a scenario
	// (target/mode/endpoint): an accept posted by a browser's form is
	// answered with a redirect (303) to it instead of JSON.
	UIScenarioPath func(scenario string) string
}

// RunStatus is the run in progress, or the last run when none is, as
// /api/v1/status reports it under "run".
type RunStatus struct {
	// ID and Trigger are the run's.
	ID      string `json:"id"`
	Trigger string `json:"trigger"`
	// Running is true while the run is in progress.
	Running bool `json:"running"`
	// Start is when it began; End when it ended and Outcome how (success,
	// failed or interrupted), both omitted while it runs.
	Start   time.Time `json:"start"`
	End     time.Time `json:"end,omitzero"`
	Outcome string    `json:"outcome,omitempty"`
	// Target is the target whose scenarios run now (the last started).
	Target string `json:"target,omitempty"`
	// Current is the scenario whose repeat runs now; nil (omitted)
	// between two scenarios and after the run.
	Current *CurrentScenario `json:"current,omitempty"`
	// Done counts the scenarios finished, failed or not, of Planned.
	Done    int `json:"scenarios_done"`
	Planned int `json:"scenarios_planned"`
	// LastScenario is the last scenario finished and LastStatus its
	// status (ok, interrupted, no request completed, FAILED: reason).
	LastScenario string `json:"last_scenario,omitempty"`
	LastStatus   string `json:"last_status,omitempty"`
	// ElapsedSeconds is the time from Start to the last scenario's end;
	// RemainingSeconds the estimate of the time left then (the mean time
	// per finished scenario times the scenarios left), and ETA the time
	// it gives; 0 and omitted when unknown or done.
	ElapsedSeconds   float64   `json:"elapsed_seconds"`
	RemainingSeconds float64   `json:"remaining_seconds"`
	ETA              time.Time `json:"eta,omitzero"`
}

// CurrentScenario is the scenario whose repeat runs now, as
// /api/v1/status reports it under "run"."current".
type CurrentScenario struct {
	// Name is the scenario's, target/mode/endpoint.
	Name string `json:"scenario"`
	// Repeat is the repeat running, 1 to Repeats (the scenario's
	// configured repeats).
	Repeat  int `json:"repeat"`
	Repeats int `json:"repeats"`
	// Start is when the repeat began.
	Start time.Time `json:"start"`
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
	opts          Options
	log           *slog.Logger
	mux           http.Handler
	listeners     []net.Listener
	webConfigPath string      // --web.config.file; "" for none
	webConfig     *web.Config // as read by New, for TLS and the warnings
	limiter       *rate.Limiter
	passwords     *passwords
	csrf          *http.CrossOriginProtection
}

// New checks the web config file of o.Web, binds its listen addresses and
// builds the handler. Binding here rather than in Serve lets callers learn
// the bound addresses (for a port 0) before serving. It returns an error if
// the web config file is invalid (as exporter-toolkit's web.Validate finds:
// users' bcrypt hashes, headers, TLS files), an address cannot be bound or
// the landing page cannot be built; the caller must then not call Serve.
// The caller must call Serve, which closes the listeners.
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Gatherer == nil {
		return nil, errors.New("api: no gatherer")
	}
	o.ReadHeaderTimeout = orDefault(o.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	o.ReadTimeout = orDefault(o.ReadTimeout, DefaultReadTimeout)
	o.WriteTimeout = orDefault(o.WriteTimeout, DefaultWriteTimeout)
	o.IdleTimeout = orDefault(o.IdleTimeout, DefaultIdleTimeout)
	o.MaxHeaderBytes = orDefault(o.MaxHeaderBytes, DefaultMaxHeaderBytes)
	s := &Server{opts: o, log: o.Logger, passwords: newPasswords(), csrf: http.NewCrossOriginProtection()}
	if o.Web != nil && o.Web.WebConfigFile != nil && *o.Web.WebConfigFile != "" {
		path := *o.Web.WebConfigFile
		if err := web.Validate(path); err != nil {
			return nil, fmt.Errorf("api: --web.config.file %s: %w", path, err)
		}
		c, err := readWebConfig(path)
		if err != nil {
			return nil, fmt.Errorf("api: --web.config.file %s: %w", path, err)
		}
		s.webConfigPath, s.webConfig = path, c
		if rl := c.RateLimiterConfig; rl.Interval != 0 {
			s.limiter = rate.NewLimiter(rate.Every(rl.Interval), rl.Burst)
		}
	}
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
	if o.UI != nil {
		mux.Handle("GET /{$}", o.UI)
		mux.Handle("GET /ui/", o.UI)
	} else {
		mux.Handle("GET /{$}", landing)
	}
	mux.HandleFunc("GET /api/v1/status", s.status)
	mux.HandleFunc("GET /api/v1/runs", s.listRuns)
	mux.HandleFunc("GET /api/v1/runs/{id}", s.getRun)
	mux.HandleFunc("GET /api/v1/scenarios/{target}/{mode}/{endpoint}/history", s.scenarioHistory)
	mux.HandleFunc("POST /-/reload", s.write(s.reload))
	mux.HandleFunc("POST /api/v1/runs", s.write(s.triggerRun))
	mux.HandleFunc("POST /api/v1/schedule/pause", s.write(s.pause))
	mux.HandleFunc("POST /api/v1/schedule/resume", s.write(s.resume))
	mux.HandleFunc("POST /api/v1/baselines/{target}/{mode}/{endpoint}/accept", s.write(s.accept))
	mux.HandleFunc("GET /api/v1/alerts", s.listAlerts)
	mux.HandleFunc("POST /api/v1/alertmanager/webhook", s.write(s.alertmanagerWebhook))
	s.mux = mux

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

func orDefault[T time.Duration | int](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Handler returns the server's HTTP handler (the server itself), for tests.
func (s *Server) Handler() http.Handler { return s }

// ServeHTTP serves r as exporter-toolkit's handler does (the web config
// file re-read, so that edited users apply at once; its rate limit and
// headers), then authenticates r (see the rules in auth.go) and routes it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var users map[string]commoncfg.Secret
	if s.webConfigPath != "" {
		c, err := readWebConfig(s.webConfigPath)
		if err != nil {
			s.log.Error("api: read --web.config.file", "file", s.webConfigPath, "err", err)
			http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
			return
		}
		if s.limiter != nil && !s.limiter.Allow() {
			http.Error(w, http.StatusText(http.StatusTooManyRequests), http.StatusTooManyRequests)
			return
		}
		for k, v := range c.HTTPConfig.Header {
			w.Header().Set(k, v)
		}
		users = c.Users
	}
	who, ok := s.authenticate(w, r, users)
	if !ok {
		return
	}
	s.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, who)))
}

// Serve serves until ctx is done, then shuts down within
// [ShutdownTimeout]. With TLS in the web config file it serves HTTPS,
// re-reading the file (and so the certificates) for each new connection,
// as exporter-toolkit does. It returns nil after a clean shutdown and the
// serving error otherwise.
func (s *Server) Serve(ctx context.Context) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    s.opts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	useTLS, err := s.setTLS(srv)
	if err != nil {
		s.closeListeners()
		return err
	}
	errc := make(chan error, len(s.listeners))
	for _, l := range s.listeners {
		s.log.Info("serving", "address", l.Addr().String(), "tls", useTLS)
		go func() {
			if useTLS {
				errc <- srv.ServeTLS(l, "", "")
				return
			}
			errc <- srv.Serve(l)
		}()
	}
	var serveErr error
	select {
	case serveErr = <-errc: // a listener failed: stop the others
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	for range len(s.listeners) - btoi(serveErr != nil) {
		if e := <-errc; !errors.Is(e, http.ErrServerClosed) && serveErr == nil {
			serveErr = e
		}
	}
	s.closeListeners()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("api: serve: %w", serveErr)
	}
	if err != nil {
		return fmt.Errorf("api: shutdown: %w", err)
	}
	return nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// setTLS configures srv for the TLS of the web config file, if it has
// any, and reports whether it does.
func (s *Server) setTLS(srv *http.Server) (bool, error) {
	c := s.webConfig
	if c == nil || !c.TLSConfig.IsEnabled() {
		return false, nil
	}
	cfg, err := web.ConfigToTLSConfig(&c.TLSConfig)
	if err != nil {
		return false, fmt.Errorf("api: --web.config.file %s: %w", s.webConfigPath, err)
	}
	http2 := c.HTTPConfig.HTTP2
	if !http2 {
		srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	protos := []string{"http/1.1"}
	if http2 {
		protos = []string{"h2", "http/1.1"}
	}
	path := s.webConfigPath
	cfg.NextProtos = protos
	cfg.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		c, err := readWebConfig(path)
		if err != nil {
			return nil, err
		}
		next, err := web.ConfigToTLSConfig(&c.TLSConfig)
		if err != nil {
			return nil, err
		}
		next.NextProtos = protos
		return next, nil
	}
	srv.TLSConfig = cfg
	return true, nil
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
	case s.opts.UIScenarioPath != nil && isForm(r):
		http.Redirect(w, r, s.opts.UIScenarioPath(name)+"?accepted="+url.QueryEscape(runID), http.StatusSeeOther)
	default:
		writeJSON(w, http.StatusOK, map[string]string{"scenario": name, "accepted_from_run": runID})
	}
}

// isForm reports whether r is an HTML form's submission.
func isForm(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "application/x-www-form-urlencoded" || ct == "multipart/form-data"
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
	if s.opts.Progress != nil {
		if rs, ok := s.opts.Progress(); ok {
			out["run"] = rs
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
