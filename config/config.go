package config

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	// CRON_TZ=Zone in a schedule needs the time zone database; embed it so
	// that works in images without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
	"gopkg.in/yaml.v3"
)

// Built-in defaults. They apply where neither the defaults section, the
// endpoint nor a target's override sets a value; the load settings follow
// wrk's own defaults where wrk has one.
const (
	// DefaultSchedule is the cron spec of the matrix when schedule is unset:
	// every hour, on the hour.
	DefaultSchedule = "0 * * * *"
	// DefaultRunOnStart is whether a run starts as soon as benchd is up when
	// run_on_start is unset.
	DefaultRunOnStart = true
	// DefaultMethod is the HTTP request method (wrk sends GET).
	DefaultMethod = "GET"
	// DefaultConnections is the number of keep-alive connections kept busy
	// (wrk -c 10).
	DefaultConnections = 10
	// DefaultThreads is the number of shards the connections are split into;
	// 0 means GOMAXPROCS (wrk -t defaults to 2).
	DefaultThreads = 0
	// DefaultDuration is how long a scenario is measured, after its warm-up
	// (wrk -d 10s).
	DefaultDuration = 10 * time.Second
	// DefaultTimeout is the deadline of one request, from send to the last
	// byte of the response (wrk --timeout 2s).
	DefaultTimeout = 2 * time.Second
	// DefaultOnTimeout is what a connection does after a request timed
	// out when on_timeout is unset: close it and open a new one.
	DefaultOnTimeout = OnTimeoutReconnect
	// OnTimeoutReconnect and OnTimeoutWait are the values of on_timeout:
	// close a connection whose request timed out and open a new one, or
	// keep it, sending nothing, until the late answer has arrived (counted
	// apart, never as a response), then reuse it.
	OnTimeoutReconnect = "reconnect"
	OnTimeoutWait      = "wait"
	// DefaultWarmup is load applied before measuring and not counted (wrk
	// has no warm-up; DESIGN.md asks for 2 s).
	DefaultWarmup = 2 * time.Second
	// DefaultRepeats is how many times a scenario runs per run: once, as
	// the seed's wrk runs.
	DefaultRepeats = 1
	// MaxRepeats bounds repeats, so that a typo cannot make one run of
	// the matrix last for days.
	MaxRepeats = 100
	// DefaultRate is the target request rate in requests per second; 0 means
	// closed loop, each connection sending its next request when the previous
	// one ends, as wrk does.
	DefaultRate = 0.0
	// DefaultReadyTimeout is how long benchd waits for a managed target or a
	// service to become ready when ready_timeout is unset.
	DefaultReadyTimeout = 30 * time.Second
	// DefaultTitle is the top heading of Markdown reports when title is
	// unset.
	DefaultTitle = "benchd results"
	// DefaultStopTimeout is the grace between SIGTERM and SIGKILL when a
	// managed target is stopped and stop_timeout is unset.
	DefaultStopTimeout = 10 * time.Second
)

// Limits checked by [Config.Validate] and [Config.Warnings].
const (
	// MaxConnections is the largest connections value accepted: each
	// connection is a file descriptor and an ephemeral port on both ends.
	MaxConnections = 1_000_000
	// WarnConnections is the connections value above which
	// [Config.Warnings] reports a warning.
	WarnConnections = 10_000
	// MaxDuration is the largest duration, timeout and warmup accepted: a
	// day. Longer values are mistakes, and would overflow the sums a run's
	// length is estimated from.
	MaxDuration = 24 * time.Hour
)

// NoMode is the mode of a scenario whose target and endpoint have no modes;
// it stands in the scenario name, as in "target/-/endpoint".
const NoMode = "-"

//go:embed default.yml
var defaultYAML []byte

// DefaultYAML returns the embedded default matrix, as YAML with its comments.
// The caller owns the returned slice.
func DefaultYAML() []byte {
	return bytes.Clone(defaultYAML)
}

// Config is one benchd configuration: the matrix and its schedule. Build it
// with [Load], [Parse] or [Default]; a Config built by hand should be checked
// with [Config.Validate]. A Config may be copied; copies share slices and maps.
type Config struct {
	// Schedule is when runs start: a robfig/cron/v3 standard spec of five
	// fields (minute hour day-of-month month day-of-week), optionally
	// prefixed by CRON_TZ=Zone, or a descriptor such as @hourly or
	// @every 30m. The default is DefaultSchedule.
	Schedule string `yaml:"schedule"`
	// RunOnStart starts a run as soon as benchd is up, besides the
	// schedule. The default is true.
	RunOnStart bool `yaml:"run_on_start"`
	// Title is the top ("# ") heading of Markdown reports, one line, such
	// as the seed's "Django Workers"; "" writes none. The default is
	// DefaultTitle.
	Title string `yaml:"title"`
	// Defaults are the load settings of every scenario unless an endpoint
	// or a target's override sets them; unset fields take the built-in
	// DefaultX values.
	Defaults Settings `yaml:"defaults"`
	// Services are helper processes that targets need, started once per run
	// before the first target that names them.
	Services []Service `yaml:"services"`
	// Targets are the systems under test, in run order.
	Targets []Target `yaml:"targets"`
	// Endpoints are the paths loaded on every target, in run order.
	Endpoints []Endpoint `yaml:"endpoints"`
	// CPUs, if set, is the CPU list benchd itself (the load generator)
	// runs on, such as "1" or "2-3" (see [ParseCPUList]), so that it does
	// not compete with the target for the same cores; "" means no pinning.
	// The caller applies it (cmd/benchd, at start-up).
	CPUs string `yaml:"cpus,omitempty"`
	// API configures benchd's HTTP API.
	API API `yaml:"api,omitempty"`
	// Regression configures the regression detector.
	Regression Regression `yaml:"regression,omitempty"`
	// Shards splits the matrix over several benchd processes
	// (docs/scale-out.md); unset, one benchd runs it all.
	Shards Shards `yaml:"shards,omitempty"`
	// Dir is the directory relative paths (process.dir, service dir) resolve
	// against: the config file's directory for [Load], the dir argument of
	// [Parse], "" for [Default]. It is not part of the YAML.
	Dir string `yaml:"-"`
	// ShardIndex is this benchd's shard, 0 to Shards.Count-1, set by
	// [Config.ApplyShard] (from the command line, the environment or the
	// hostname, never from the YAML, which every shard shares); 0 by
	// default. See [Config.Shard].
	ShardIndex int `yaml:"-"`
	// ShardIndexFrom says where ShardIndex came from, for the log:
	// "--shard.index (or BENCHD_SHARD_INDEX)", "the ordinal of hostname
	// \"benchd-2\"", or "" when it is the default (one shard).
	ShardIndexFrom string `yaml:"-"`

	// venv is the directory {venv} was expanded to ([Config.ExpandVenv]);
	// programs under it are benchd's to make, not the user's to install.
	venv string
	// stateDir is set by [Config.UseStateDir]: what is under Dir benchd
	// makes at start.
	stateDir bool

	// schedule is the compiled Schedule, cached by Validate; scheduleSpec is
	// the spec it was compiled from.
	schedule     cron.Schedule
	scheduleSpec string
}

// Settings are load settings. Every field is optional: nil (or, for Headers,
// a nil slice) means unset, and the value is inherited from the next layer
// out, in the order target override, endpoint, defaults, built-in DefaultX.
// [Config.Scenarios] resolves them into a [LoadSpec]. Copies share the
// pointed-to values: replace a pointer rather than write through it.
type Settings struct {
	// Method is the HTTP request method, a token such as GET or POST.
	Method *string `yaml:"method,omitempty"`
	// Headers are sent with every request. In YAML either a mapping of name
	// to value or a list of "Name: value" strings (the list allows a name
	// twice). A layer's headers replace same-named headers of the layers
	// it inherits from (names compare case-insensitively) and add the rest.
	Headers Headers `yaml:"headers,omitempty"`
	// Body is the request body sent with every request; "" sends none.
	Body *string `yaml:"body,omitempty"`
	// Connections is the number of keep-alive connections kept busy, at
	// least 1 (wrk -c).
	Connections *int `yaml:"connections,omitempty"`
	// Threads is the number of shards the connections are split into, each
	// with its own latency histogram, from 0 to Connections; 0 means
	// GOMAXPROCS (wrk -t).
	Threads *int `yaml:"threads,omitempty"`
	// Duration is how long the scenario is measured, after the warm-up;
	// more than 0 (wrk -d).
	Duration *time.Duration `yaml:"duration,omitempty"`
	// Timeout is the deadline of one request, from send to the last byte of
	// the response; more than 0 (wrk --timeout).
	Timeout *time.Duration `yaml:"timeout,omitempty"`
	// OnTimeout is what a connection does once a request's timeout fired
	// (the request counts as a timeout either way): OnTimeoutReconnect
	// (the default) or OnTimeoutWait.
	OnTimeout *string `yaml:"on_timeout,omitempty"`
	// Warmup is load applied before measuring, not counted; 0 or more, 0
	// meaning none.
	Warmup *time.Duration `yaml:"warmup,omitempty"`
	// Rate is the target rate in requests per second over all connections
	// (open loop, latency corrected for coordinated omission, as wrk2);
	// 0 means closed loop, as wrk. Not negative.
	Rate *float64 `yaml:"rate,omitempty"`
	// Repeats is how many times the scenario runs, back to back with fresh
	// connections, in each run of the matrix: from 1 to [MaxRepeats]. The
	// repeats are reported as one result (their sum) and the regression
	// detector takes each signal's median over them, which lowers the
	// run-to-run noise that comes from each execution (such as how the
	// connections fell across a server's workers): docs/regressions.md.
	Repeats *int `yaml:"repeats,omitempty"`
	// Thresholds are absolute levels the scenario's signals must keep,
	// which benchd exports (benchd_threshold) for the shipped alerting
	// rules: without one a signal alerts on change only. A layer's
	// thresholds replace the same signals' of the layers it inherits from
	// and keep the others. Not a load setting: the engine never sees it.
	Thresholds Thresholds `yaml:"thresholds,omitempty"`
}

// Service is a helper process the matrix needs, such as Redis or an upstream
// HTTP server, started once per run and stopped at its end. It may be copied;
// copies share Command and Env.
type Service struct {
	// Name identifies the service in targets[].services; it matches
	// ^[a-z0-9][a-z0-9_.-]*$ and is unique among services.
	Name string `yaml:"name"`
	// Command is the program and its arguments, run without a shell.
	// Required.
	Command []string `yaml:"command"`
	// Dir is the working directory, relative to [Config.Dir] unless
	// absolute; "" means Config.Dir.
	Dir string `yaml:"dir,omitempty"`
	// Env adds variables to the environment benchd passes on.
	Env map[string]string `yaml:"env,omitempty"`
	// InheritEnv says whether the service inherits benchd's whole
	// environment (nil or true, the default) or, when false, only the
	// variables named in EnvAllow, so that benchd's secrets (cloud keys,
	// tokens) do not reach the system under test. Env applies either way.
	InheritEnv *bool `yaml:"inherit_env,omitempty"`
	// EnvAllow names the variables of benchd's environment kept when
	// InheritEnv is false; nil means [DefaultEnvAllow]. It is an error
	// unless InheritEnv is false.
	EnvAllow []string `yaml:"env_allow,omitempty"`
	// Ready is how benchd knows the service is up: tcp://host:port (a
	// connection is accepted) or an http:// or https:// URL (it answers
	// 2xx). Required.
	Ready string `yaml:"ready"`
	// ReadyTimeout is how long benchd waits for Ready before the run
	// fails; more than 0, default DefaultReadyTimeout.
	ReadyTimeout time.Duration `yaml:"ready_timeout"`
	// CPUs, if set, is the CPU list the service runs on (see
	// [ParseCPUList]); "" means no pinning.
	CPUs string `yaml:"cpus,omitempty"`
}

// DefaultEnvAllow is what a managed process with inherit_env: false keeps
// of benchd's environment when env_allow is not set.
var DefaultEnvAllow = []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"}

// CleanEnv reports whether the service starts without benchd's
// environment (inherit_env: false).
func (s *Service) CleanEnv() bool { return s.InheritEnv != nil && !*s.InheritEnv }

// CleanEnv reports whether the process starts without benchd's
// environment (inherit_env: false).
func (p *Process) CleanEnv() bool { return p.InheritEnv != nil && !*p.InheritEnv }

// Target is one system under test. It may be copied; copies share Process,
// Modes, Services and Overrides.
type Target struct {
	// Name identifies the target in scenario names, metrics and the API; it
	// matches ^[a-z0-9][a-z0-9_.-]*$ and is unique among targets.
	Name string `yaml:"name"`
	// Title is the heading of the target in reports, such as "WSGI Gunicorn
	// Gevent"; "" means Name. One line.
	Title string `yaml:"title,omitempty"`
	// URL is the base URL endpoint paths are appended to, such as
	// http://127.0.0.1:8000: absolute, http or https, with a host, without
	// query or fragment. Required.
	URL string `yaml:"url"`
	// Process, if set, is the server benchd starts before the target's
	// scenarios and stops after them; nil means the target is already
	// running and benchd only loads it.
	Process *Process `yaml:"process,omitempty"`
	// Modes are the variants of every endpoint on this target, such as
	// [sync, async], each matching ^[a-z0-9][a-z0-9_.-]*$; empty means the
	// target has no modes.
	Modes []string `yaml:"modes,omitempty"`
	// Services are the names of the services this target needs; each must
	// be defined in [Config.Services].
	Services []string `yaml:"services,omitempty"`
	// Overrides maps an endpoint name to load settings for this target
	// only; they take precedence over the endpoint's own. Each key must name
	// an endpoint.
	Overrides map[string]Settings `yaml:"overrides,omitempty"`
	// TLS is how an https:// URL's server certificate is verified, by the
	// load and by the readiness check; nil verifies it against the system
	// roots.
	TLS *TLSConfig `yaml:"tls_config,omitempty"`
	// Instructions, if set, makes the target an instruction-count lane:
	// its Process runs under valgrind's callgrind and each of its
	// scenarios counts the instructions per request over a fixed number of
	// requests instead of applying load (docs/regressions.md). nil means a
	// load target. It requires Process.
	Instructions *Instructions `yaml:"instructions,omitempty"`
}

// Defaults of [Instructions].
const (
	// DefaultInstructionRequests is the number of requests counted per
	// scenario of an instruction lane: 200.
	DefaultInstructionRequests = 200
	// DefaultInstructionWarmupRequests is the number of requests sent
	// before counting starts: 50.
	DefaultInstructionWarmupRequests = 50
	// DefaultInstructionConnections is the number of connections the
	// counted requests share: 1.
	DefaultInstructionConnections = 1
	// DefaultInstructionTimeout is the deadline of one request under
	// callgrind (some 20 to 50 times slower than natively): 30 s.
	DefaultInstructionTimeout = 30 * time.Second
	// MaxInstructionRequests caps requests and warmup_requests: 100000.
	MaxInstructionRequests = 100000
	// MaxInstructionConnections caps connections: 8 ("low concurrency").
	MaxInstructionConnections = 8
)

// Instructions configures a target's instruction-count lane: benchd starts
// the target's process under `setarch -R valgrind --tool=callgrind
// --instr-atstart=no` with PYTHONHASHSEED=0, sends WarmupRequests, switches
// instrumentation on with callgrind_control for exactly Requests requests
// over Connections connections, and records the instructions executed per
// completed request. It may be copied; copies share Endpoints.
type Instructions struct {
	// Endpoints names the endpoints measured on this target; only these
	// get scenarios here. Required, each an endpoint's name, once.
	Endpoints []string `yaml:"endpoints"`
	// Requests is how many requests are counted per scenario; 1 to
	// MaxInstructionRequests, default DefaultInstructionRequests.
	Requests int `yaml:"requests,omitempty"`
	// WarmupRequests is how many requests are sent before counting (so
	// that caches, imports and lazy initialisation are behind); 0 to
	// MaxInstructionRequests, default DefaultInstructionWarmupRequests.
	// Unset and 0 both mean the default; write -1 for none.
	WarmupRequests int `yaml:"warmup_requests,omitempty"`
	// Connections is how many keep-alive connections the requests share;
	// 1 to MaxInstructionConnections, default DefaultInstructionConnections.
	Connections int `yaml:"connections,omitempty"`
	// Timeout is the deadline of one request; more than 0, default
	// DefaultInstructionTimeout.
	Timeout time.Duration `yaml:"timeout,omitempty"`
}

// Resolved returns i with its defaults applied: zero Requests,
// Connections and Timeout take their DefaultInstructionX, a zero
// WarmupRequests DefaultInstructionWarmupRequests and a negative one 0.
func (i Instructions) Resolved() Instructions {
	if i.Requests == 0 {
		i.Requests = DefaultInstructionRequests
	}
	switch {
	case i.WarmupRequests == 0:
		i.WarmupRequests = DefaultInstructionWarmupRequests
	case i.WarmupRequests < 0:
		i.WarmupRequests = 0
	}
	if i.Connections == 0 {
		i.Connections = DefaultInstructionConnections
	}
	if i.Timeout == 0 {
		i.Timeout = DefaultInstructionTimeout
	}
	return i
}

// TLSConfig is how benchd verifies an https target's certificate.
type TLSConfig struct {
	// InsecureSkipVerify accepts any certificate (curl -k): for
	// self-signed test servers only. Default false.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty"`
	// CAFile is a PEM file of the CA certificates that verify the target
	// instead of the system roots, relative to [Config.Dir] unless
	// absolute; "" means the system roots.
	CAFile string `yaml:"ca_file,omitempty"`
}

// Process is a managed target's server process: what to run, not a running
// process (the scheduler owns those). It may be copied; copies share slices
// and Env.
type Process struct {
	// Command is the program and its arguments, run without a shell.
	// Required.
	Command []string `yaml:"command"`
	// Dir is the working directory of Command and Setup, relative to
	// [Config.Dir] unless absolute; "" means Config.Dir.
	Dir string `yaml:"dir,omitempty"`
	// Env adds variables to the environment benchd passes on.
	Env map[string]string `yaml:"env,omitempty"`
	// InheritEnv says whether the server (and its Setup) inherits benchd's whole
	// environment (nil or true, the default) or, when false, only the
	// variables named in EnvAllow, so that benchd's secrets (cloud keys,
	// tokens) do not reach the system under test. Env applies either way.
	InheritEnv *bool `yaml:"inherit_env,omitempty"`
	// EnvAllow names the variables of benchd's environment kept when
	// InheritEnv is false; nil means [DefaultEnvAllow]. It is an error
	// unless InheritEnv is false.
	EnvAllow []string `yaml:"env_allow,omitempty"`
	// Setup are commands run in Dir, one after the other, before Command;
	// each must exit 0 (for example a database migration and seeding).
	Setup [][]string `yaml:"setup,omitempty"`
	// Ready is how benchd knows the server is up: a path on the target's
	// URL such as /healthz (it answers 2xx), tcp://host:port (a connection
	// is accepted) or a full http:// or https:// URL. "" means the target
	// URL's host and port accept a connection. See [Target.ReadyURL].
	Ready string `yaml:"ready,omitempty"`
	// ReadyTimeout is how long benchd waits for Ready after starting
	// Command; more than 0, default DefaultReadyTimeout.
	ReadyTimeout time.Duration `yaml:"ready_timeout"`
	// StopTimeout is the grace between SIGTERM and SIGKILL when the server
	// is stopped; more than 0, default DefaultStopTimeout.
	StopTimeout time.Duration `yaml:"stop_timeout"`
	// CPUs, if set, is the CPU list the server and everything it starts
	// run on, such as "0" or "0-1" (see [ParseCPUList]); "" means no
	// pinning. It also sets {nproc} in Command and Setup.
	CPUs string `yaml:"cpus,omitempty"`
}

// Endpoint is a path loaded on every target, with its own load settings. It
// may be copied; copies share Modes and the settings' pointers.
type Endpoint struct {
	// Name identifies the endpoint in scenario names, metrics and
	// targets[].overrides; it matches ^[a-z0-9][a-z0-9_.-]*$ and is unique
	// among endpoints.
	Name string `yaml:"name"`
	// Title is the heading of the endpoint in reports, such as "JSON
	// performance"; "" means Name. One line.
	Title string `yaml:"title,omitempty"`
	// Path is appended to the target URL. It starts with "/" and may hold a
	// query; {mode} is replaced by the scenario's mode and is an error on a
	// target without modes.
	Path string `yaml:"path"`
	// Modes restricts the endpoint to these modes of each target; empty
	// means all the target's modes. A target left with no mode gets no
	// scenario for this endpoint.
	Modes []string `yaml:"modes,omitempty"`
	// Expect is what the endpoint's responses must be to count as
	// expected; nil accepts any 2xx or 3xx status and checks no body, as
	// wrk. Responses it rejects count (once each) as unexpected, in the
	// error ratio.
	Expect *Expect `yaml:"expect,omitempty"`
	// Split, with more than one shard (shards.count), runs each of the
	// endpoint's scenarios on every shard at once, each shard with its
	// share of the connections and rate (an execution segment, as k6 has:
	// docs/scale-out.md); false, the default, runs each on one shard. A
	// split scenario needs at least as many connections as shards, runs
	// once per run (repeats 1) and is no instruction lane's.
	Split bool `yaml:"split,omitempty"`
	// Settings are the endpoint's load settings, written inline beside
	// name and path.
	Settings `yaml:",inline"`
}

// Expect is what an endpoint's responses must be to count as expected.
// Every field is optional; a response fails if any check fails.
type Expect struct {
	// Status lists the accepted status codes, each from 100 to 599 and
	// given once; empty means any 2xx or 3xx.
	Status []int `yaml:"status,omitempty"`
	// BodyContains, when not empty, must occur in the body as sent
	// (chunked encoding removed; a compressed body is not decompressed).
	BodyContains string `yaml:"body_contains,omitempty"`
	// BodySize bounds the length of the body in bytes, as BodyContains
	// reads it; nil means any length.
	BodySize *SizeRange `yaml:"body_size,omitempty"`
}

// SizeRange is a range of sizes in bytes, bounds included; a zero bound
// is no bound.
type SizeRange struct {
	// Min is the least size; 0 or more.
	Min int `yaml:"min,omitempty"`
	// Max is the largest size; 0 (no bound) or at least Min.
	Max int `yaml:"max,omitempty"`
}

// LoadSpec is a scenario's resolved load settings, with nothing unset; it is
// what the scheduler turns into an engine plan. Each [Config.Scenarios] call
// returns new LoadSpecs, which the caller owns.
type LoadSpec struct {
	// Method is the HTTP request method.
	Method string
	// Headers are sent with every request, in order.
	Headers []Header
	// Body is sent with every request; "" sends none.
	Body string
	// Connections is the number of keep-alive connections, at least 1.
	Connections int
	// Threads is the number of shards; 0 means GOMAXPROCS.
	Threads int
	// Duration is the measured time, after Warmup.
	Duration time.Duration
	// Timeout is the deadline of one request.
	Timeout time.Duration
	// OnTimeout is OnTimeoutReconnect or OnTimeoutWait.
	OnTimeout string
	// Warmup is the unmeasured load before Duration; 0 means none.
	Warmup time.Duration
	// Rate is the open-loop rate in requests per second; 0 means closed
	// loop.
	Rate float64
	// Repeats is how many times the scenario runs per run of the matrix,
	// at least 1.
	Repeats int
}

// Header is one request header line, a plain value.
type Header struct {
	// Name is the header field name, an HTTP token.
	Name string
	// Value is the field value, without surrounding spaces.
	Value string
}

// Scenario is one cell of the matrix: one load test. It is a value the
// caller owns; changing it does not change the Config.
type Scenario struct {
	// Name is "target/mode/endpoint"; mode is NoMode ("-") when neither the
	// target nor the endpoint has modes.
	Name string
	// Target is the target's name.
	Target string
	// Mode is the mode, or NoMode.
	Mode string
	// Endpoint is the endpoint's name.
	Endpoint string
	// URL is the target URL followed by the endpoint path, {mode} replaced.
	URL string
	// Load is the resolved load: built-in defaults, overridden by the
	// defaults section, then the endpoint's settings, then the target's
	// overrides for this endpoint.
	Load LoadSpec
	// Expect is the endpoint's expect, copied; the zero value accepts any
	// 2xx or 3xx status and checks no body.
	Expect Expect
	// TLS is the target's TLS settings, CAFile resolved against
	// [Config.Dir]; the zero value verifies against the system roots.
	TLS TLSConfig
	// Thresholds are the scenario's resolved thresholds by signal: those
	// of defaults, replaced signal by signal by the endpoint's, then by
	// the target's overrides for this endpoint. Nil when none is set. The
	// map is the scenario's own.
	Thresholds Thresholds
	// Instructions, resolved ([Instructions.Resolved]), is set when the
	// scenario is an instruction-count lane's (its target has
	// instructions): it counts instructions per request instead of
	// applying Load. nil for a load scenario.
	Instructions *Instructions
	// Split is the endpoint's split: the scenario runs on every shard.
	Split bool
	// Segment, set by [Config.ShardScenarios] on a split scenario with more
	// than one shard, is the shard's share of it; Load is then that
	// share's. nil otherwise.
	Segment *Segment
	// Sources are the YAML paths the values above come from.
	Sources Sources
}

// Sources are the YAML paths that set the values of a [Scenario], such as
// "endpoints[3].headers[0]" or "defaults.timeout", so that a problem found
// outside this package (the engine's check of the scenario's plan) can be
// reported where the user fixes it. "" means the built-in default.
type Sources struct {
	// URL is the target's url, Path the endpoint's path; Scenario.URL is
	// the one followed by the other.
	URL, Path string
	// The LoadSpec fields of the same names.
	Method, Body, Connections, Threads, Duration, Timeout, OnTimeout, Warmup, Rate string
	// Expect is the endpoint's expect.
	Expect string
	// Headers holds one path per LoadSpec.Headers entry.
	Headers []string
	// TLS is the target's tls_config.
	TLS string
}

// Load reads the YAML file at path and returns it as a valid Config: DefaultX
// values applied, decoded strictly (unknown keys are errors), validated, and
// its schedule compiled. Dir is set to the absolute directory of path.
//
// A syntax error is returned as reported by the YAML parser. Otherwise all
// problems are returned at once, joined into one error whose elements are
// [*FieldError]s (use errors.As, or the Unwrap() []error of the wrapped
// error, to list them). A file over [MaxConfigBytes] or a matrix over
// [MaxScenarios] scenarios is refused before it is decoded or expanded,
// with an error satisfying errors.Is(err, [ErrTooLarge]).
func Load(path string) (*Config, error) {
	return LoadWith(path, nil)
}

// Check is a validation step from outside this package, such as the
// engine's check of each scenario's load plan (config imports no other
// benchd package). It runs on the decoded Config after its own validation,
// whether that passed or not, and returns [*FieldError]s.
type Check func(*Config) []error

// LoadWith is [Load] with check (nil means none) run as part of the
// validation: its problems are listed with the Config's own, except those
// at a YAML path that already has one.
func LoadWith(path string, check Check) (*Config, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	return parse(data, dir, path, check)
}

// Parse is [Load] for a document in memory; dir becomes [Config.Dir]. An empty
// document is the built-in defaults, which is not valid (it has no targets).
func Parse(data []byte, dir string) (*Config, error) {
	return parse(data, dir, "", nil)
}

// Default returns the embedded default matrix (config/default.yml): the seed
// document's scenarios for the endpoints of the reference Django project. Its
// Dir is "": the caller sets it to the directory the Django project is
// unpacked in, which process.dir "django" is relative to. Each call returns a
// new Config; an error means the binary was built with a broken default.
func Default() (*Config, error) {
	return DefaultWith(nil)
}

// DefaultWith is [Default] with check run as [LoadWith] runs it.
func DefaultWith(check Check) (*Config, error) {
	return parse(defaultYAML, "", "default.yml", check)
}

// parse decodes data, expands the placeholders of its commands ({benchd},
// {nproc}) and validates it, with check if not nil; name is the file name
// used in errors.
func parse(data []byte, dir, name string, check Check) (*Config, error) {
	where := "config: "
	if name != "" {
		where = "config: " + name + ": "
	}
	if len(data) > MaxConfigBytes {
		return nil, fmt.Errorf("config: %w", tooLarge(name, int64(len(data))))
	}
	c := &Config{Schedule: DefaultSchedule, RunOnStart: DefaultRunOnStart, Title: DefaultTitle}
	dups, extra, err := decode(data, c)
	if err != nil {
		if errs, ok := errors.AsType[fieldErrors](err); ok {
			return nil, problems(where, errs)
		}
		return nil, fmt.Errorf("%s%w", where, err)
	}
	c.Dir = dir
	if err := c.checkScenarioCount(); err != nil {
		return nil, problems(where, append(dups, err))
	}
	errs := append(c.expand(), c.validate()...)
	if check != nil {
		at := map[string]bool{}
		for _, e := range errs {
			if fe, ok := errors.AsType[*FieldError](e); ok {
				at[fe.Path] = true
			}
		}
		for _, e := range check(c) {
			if fe, ok := errors.AsType[*FieldError](e); !ok || !at[fe.Path] {
				errs = append(errs, e)
			}
		}
	}
	if extra != nil {
		errs = append(errs, extra)
	}
	errs = append(dups, errs...) // problems of form first, as in the file
	if len(errs) > 0 {
		return nil, problems(where, errs)
	}
	return c, nil
}

// problems wraps several problems into one error with a header line.
func problems(where string, errs []error) error {
	noun := "problems"
	if len(errs) == 1 {
		noun = "problem"
	}
	return fmt.Errorf("%s%d %s:\n%w", where, len(errs), noun, errors.Join(errs...))
}

// decode decodes the first YAML document in data into c strictly. Problems
// of form found while decoding are returned as fieldErrors; a syntax error
// as is. Keys given twice in a mapping, which yaml.v3 reports alone while
// it skips the whole mapping (the document, for a key of the top level),
// are reported with the rest: each mapping is decoded again with the
// key's last occurrence only (see [dropDuplicateKeys]). When they are the
// only problems of form they are returned as dups, and c holds the
// document as decoded without them, so that its content is checked too.
// A second document is not decoded: extra is the problem that reports it,
// nil if there is none. dups and extra are returned beside the first
// document's problems (or in them) so that they hide none of them.
func decode(data []byte, c *Config) (dups []error, extra error, err error) {
	// yaml.v3 recovers its own failures; this guards benchd against any
	// other panic inside the decoder on hostile input.
	defer func() {
		if r := recover(); r != nil {
			dups, extra, err = nil, nil, fmt.Errorf("yaml decoder failed: %v", r)
		}
	}()
	start := *c // the defaults, for a decode again
	messages, extra, err := decodeOnce(data, c)
	if err != nil {
		return nil, nil, err
	}
	var found fieldErrors
	for range maxDuplicateRounds { // each round reaches one level deeper
		more, kept := dropDuplicateKeys(data, messages)
		if kept == nil {
			break
		}
		again := start
		m, x, e := decodeOnce(kept, &again)
		if e != nil { // not expected: kept parses as data did
			break
		}
		found = append(found, more...)
		data, messages, extra, *c = kept, m, x, again
	}
	if len(found) > maxLocated {
		n := len(found) - maxLocated
		found = append(found[:maxLocated], &FieldError{Err: fmt.Errorf("and %d more keys given twice, not shown (fix the ones above first)", n)})
	}
	var errs fieldErrors
	if messages != nil {
		errs = locate(data, messages)
	}
	errs = append(errs, fractions(data)...)
	if errs != nil {
		errs = append(found, errs...)
		if extra != nil {
			errs = append(errs, extra)
		}
		return nil, nil, errs
	}
	return found, extra, nil
}

// maxDuplicateRounds bounds the decodes of [decode] for keys given twice:
// one per level of mappings that has some, more than a benchd config has.
const maxDuplicateRounds = 16

// decodeOnce decodes the first YAML document in data into c strictly and
// returns the messages of yaml.v3's type error, nil if there is none. A
// syntax error is returned as err; extra reports a second document, as
// [decode] says.
func decodeOnce(data []byte, c *Config) (messages []string, extra, err error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err = dec.Decode(c)
	if errors.Is(err, io.EOF) {
		return nil, nil, nil // an empty document: the defaults only
	}
	typeErr, isType := errors.AsType[*yaml.TypeError](err)
	if err != nil && !isType {
		return nil, nil, syntaxError(data, err)
	}
	var second yaml.Node
	if e := dec.Decode(&second); !errors.Is(e, io.EOF) {
		line := second.Line
		if e != nil { // the second document does not parse: find its ---
			line = secondDocLine(data)
		}
		extra = &FieldError{Line: line, Err: errors.New("more than one YAML document: the second starts here (remove it and its ---, or move it to a file of its own)")}
	}
	if isType {
		messages = typeErr.Errors
	}
	return messages, extra, nil
}

// secondDocLine returns the 1-based line of the --- that starts the second
// document of data, or 0 if none is found.
func secondDocLine(data []byte) int {
	content := false
	for i, line := range strings.Split(string(data), "\n") {
		t := strings.TrimRight(line, " \t\r")
		if t == "---" || strings.HasPrefix(t, "--- ") {
			if content {
				return i + 1
			}
			content = true // a --- before any content starts the first
			continue
		}
		if t != "" && !strings.HasPrefix(strings.TrimLeft(t, " \t"), "#") {
			content = true
		}
	}
	return 0
}

// CronSchedule returns the compiled [Config.Schedule]. It is compiled by
// Validate (so by Load, Parse and Default) and compiled again here if
// Schedule has changed since; the error is the cron parser's, wrapped.
func (c *Config) CronSchedule() (cron.Schedule, error) {
	if c.schedule != nil && c.scheduleSpec == c.Schedule {
		return c.schedule, nil
	}
	s, err := parseSchedule(c.Schedule)
	if err != nil {
		return nil, fmt.Errorf("config: schedule %q: %w", c.Schedule, err)
	}
	return s, nil
}

// parseSchedule parses a cron spec as the scheduler will.
func parseSchedule(spec string) (s cron.Schedule, err error) {
	defer func() {
		// The cron parser is not meant to panic; a spec must never take
		// benchd down if it does.
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("cron parser failed: %v", r)
		}
	}()
	return cron.ParseStandard(spec)
}

// Target returns the target named name, or nil if there is none. The pointer
// refers into c.Targets.
func (c *Config) Target(name string) *Target {
	for i := range c.Targets {
		if c.Targets[i].Name == name {
			return &c.Targets[i]
		}
	}
	return nil
}

// Endpoint returns the endpoint named name, or nil if there is none. The
// pointer refers into c.Endpoints.
func (c *Config) Endpoint(name string) *Endpoint {
	for i := range c.Endpoints {
		if c.Endpoints[i].Name == name {
			return &c.Endpoints[i]
		}
	}
	return nil
}

// Service returns the service named name, or nil if there is none. The
// pointer refers into c.Services.
func (c *Config) Service(name string) *Service {
	for i := range c.Services {
		if c.Services[i].Name == name {
			return &c.Services[i]
		}
	}
	return nil
}

// UseStateDir sets [Config.Dir] to dir, benchd's state directory
// (--storage.path), for a configuration whose files there benchd itself
// makes at start: the embedded default matrix, whose reference Django
// project is unpacked there and whose api.token_file is made there. It
// records that, so that [Config.Warnings] does not warn that a directory
// or the token file under dir does not exist yet: a dry run, which writes
// nothing, warns as a real run does.
func (c *Config) UseStateDir(dir string) {
	c.Dir, c.stateDir = dir, true
}

// madeAtStart reports whether path is under the directory of
// [Config.UseStateDir], which benchd fills at start.
func (c *Config) madeAtStart(path string) bool {
	if !c.stateDir || c.Dir == "" {
		return false
	}
	rel, err := filepath.Rel(c.Dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// ResolvePath returns p resolved against [Config.Dir]: p itself if absolute,
// Dir if p is "", else Dir joined with p (still relative to the working
// directory when Dir is ""). Use it for process.dir and a service's dir.
func (c *Config) ResolvePath(p string) string {
	switch {
	case p == "":
		return c.Dir
	case filepath.IsAbs(p) || c.Dir == "":
		return p
	}
	return filepath.Join(c.Dir, p)
}

// UnmarshalYAML applies the defaults of a Service before decoding it, with
// the caller's strictness.
func (s *Service) UnmarshalYAML(unmarshal func(any) error) error {
	v := serviceYAML{ReadyTimeout: DefaultReadyTimeout}
	if err := unmarshal(&v); err != nil {
		return err
	}
	*s = Service(v)
	return nil
}

// UnmarshalYAML applies the defaults of a Process before decoding it, with
// the caller's strictness.
func (p *Process) UnmarshalYAML(unmarshal func(any) error) error {
	v := processYAML{ReadyTimeout: DefaultReadyTimeout, StopTimeout: DefaultStopTimeout}
	if err := unmarshal(&v); err != nil {
		return err
	}
	*p = Process(v)
	return nil
}

// serviceYAML and processYAML decode without their UnmarshalYAML methods.
type (
	serviceYAML Service
	processYAML Process
)
