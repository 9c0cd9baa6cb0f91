package proc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/benchd/benchd/config"
)

// DefaultReadyTimeout is the time a managed process has to become ready,
// its setup steps included, when [Spec.ReadyTimeout] is zero.
const DefaultReadyTimeout = 30 * time.Second

// DefaultStopTimeout is the grace between SIGTERM and SIGKILL of a managed
// process group when [Spec.StopTimeout] is zero.
const DefaultStopTimeout = 10 * time.Second

// DefaultEnvAllow is what a managed process with Spec.CleanEnv keeps
// of benchd's environment when Spec.EnvAllow is nil: the
// configuration's default.
var DefaultEnvAllow = config.DefaultEnvAllow

// processEnv returns the whole environment of spec's processes.
func processEnv(spec *Spec) []string {
	env := []string{} // not nil: startChild reads nil as os.Environ()
	if !spec.CleanEnv {
		env = os.Environ()
	} else {
		allow := spec.EnvAllow
		if allow == nil {
			allow = DefaultEnvAllow
		}
		for _, k := range allow {
			if v, ok := os.LookupEnv(k); ok {
				env = append(env, k+"="+v)
			}
		}
	}
	// os/exec keeps the last value of a duplicated key.
	return append(env, spec.Env...)
}

// OutputBytes is how much of the latest output (stdout and stderr
// together) a managed process keeps for error messages and
// [Process.Output]: 64 KiB.
const OutputBytes = 64 << 10

const (
	// drainWait bounds the wait for the output pipes to reach EOF once
	// the group is gone (a process that left the group may hold them).
	drainWait = time.Second
	// tailLines and tailBytes bound the output quoted in an error.
	tailLines = 15
	tailBytes = 4 << 10
	// probeTimeout bounds one readiness check.
	probeTimeout = 2 * time.Second
	// addrCheckTimeout bounds the "address already in use" check.
	addrCheckTimeout = time.Second
)

// Sentinel errors of [Start], [Process.ExitErr] and [Process.Usage],
// for errors.Is. The errors returned carry their own message; the
// sentinels only classify them.
var (
	// ErrAddrInUse means something already listened on the loopback
	// address of Spec.Ready before the command was started.
	ErrAddrInUse = errors.New("scheduler: address already in use")
	// ErrNotReady means the process did not become ready within
	// Spec.ReadyTimeout.
	ErrNotReady = errors.New("scheduler: process not ready")
	// ErrExited means the process leader has exited: before it was
	// ready, or later (Process.ExitErr, Process.Usage).
	ErrExited = errors.New("scheduler: process exited")
	// ErrSetup means a Spec.Setup command failed to start or
	// exited with a non-zero code.
	ErrSetup = errors.New("scheduler: setup step failed")
)

// Spec describes a managed process: a target server or a helper
// service benchd starts, waits ready for and stops. A Spec is a plain
// value; Start does not keep or modify its slices.
type Spec struct {
	// Name names the process in errors and logs, with its kind:
	// "target gunicorn-gevent", "service redis". Errors read
	// "scheduler: <Name>: ...".
	Name string
	// Command is the argv of the process. Command[0] is looked up in PATH
	// when it has no slash; a relative path with a slash is relative to
	// Dir. Required.
	Command []string
	// Dir is the working directory of Setup and Command; "" means the
	// current directory of benchd.
	Dir string
	// Env holds extra KEY=VALUE pairs added to the inherited environment
	// (see CleanEnv); a key given here overrides the inherited one.
	Env []string
	// CleanEnv, if set, starts Setup and Command with only the variables
	// of benchd's environment named in EnvAllow (plus Env), so that
	// benchd's secrets do not reach them; unset, they inherit all of it.
	CleanEnv bool
	// EnvAllow names the variables kept from benchd's environment when
	// CleanEnv is set; nil means [DefaultEnvAllow].
	EnvAllow []string
	// Setup holds commands run in Dir, in order, before Command, each in
	// its own process group with the same Env; each must exit 0, or
	// Start fails with its output tail. Their time counts against
	// ReadyTimeout.
	Setup [][]string
	// Ready says when the process is ready (see [ParseProbe]); nil means
	// ready as soon as it started. When its host is a loopback address or
	// "localhost", the address must be free before the start (see
	// ErrAddrInUse).
	Ready *Probe
	// ReadyTimeout is how long to wait for ready, setup included; zero or
	// negative means DefaultReadyTimeout.
	ReadyTimeout time.Duration
	// StopTimeout is the grace between SIGTERM and SIGKILL of the process
	// group in Stop; zero or negative means DefaultStopTimeout.
	StopTimeout time.Duration
	// CPUs, if not "", is the CPU affinity of Command, a CPU list such as
	// "0" or "0-1" (see [config.ParseCPUList]): the CPUs it and everything
	// it starts may run on (Setup is not pinned). The mask is set on the
	// thread that forks the command, and restored right after the fork, so
	// the command has it from its first instruction and benchd keeps its
	// own. A malformed list, or CPUs the machine does not
	// have, fail the start. "" means benchd's own affinity.
	CPUs string
	// Logger receives lifecycle records and, at debug level, every output
	// line (keys process, stream, line); nil discards.
	Logger *slog.Logger
}

// Process is a started, ready managed process: the leader started from
// Spec.Command and every process in its process group. It is safe for
// concurrent use and must not be copied. The caller must call Stop, also
// after the process exited by itself, to kill what is left of the group and
// release the output pipes.
type Process struct {
	name        string
	stopTimeout time.Duration
	log         *slog.Logger
	c           *child

	stopMu   sync.Mutex
	stopping bool
	stopDone chan struct{}
	stopErr  error // written before stopDone is closed
}

// Start runs spec.Setup, starts spec.Command and waits until it is
// ready.
//
// The command runs under a supervisor, benchd re-executed (see
// [Command]), in its own process group, so Stop reaches its workers
// and helpers. When benchd dies, even of SIGKILL, the supervisor kills
// the group and every other descendant, daemons that left the group
// included (it is their subreaper), so no process of the target is left
// holding the port. The supervisor also raises the command's RLIMIT_NOFILE
// soft limit to the hard limit: Go raises its own soft limit at start-up
// but gives children the original one back (often 1024), which a server
// under 2000 connections hits in ways that look like slowness. PID, Usage
// and the exit status are the command's, not the supervisor's. Setup
// steps run directly, in their own groups. The output (stdout and stderr)
// is read all the time, so a full pipe never blocks the child: the latest
// OutputBytes are kept for errors and Output, and each line goes to
// spec.Logger at debug level.
//
// The environment is benchd's (or, with spec.CleanEnv, its variables named
// in spec.EnvAllow) plus spec.Env, for Setup and Command alike.
//
// Start blocks until the process is ready, fails, spec.ReadyTimeout
// passes or ctx is done. On every failure it stops the whole group (SIGTERM,
// SIGKILL after spec.StopTimeout) before returning an error that starts
// with "scheduler: <Name>: " and says why, quoting the last output lines
// where there are some:
//   - a Setup step failed: wraps [ErrSetup] (and the [*ExitError]);
//   - the address of Ready was already in use: wraps [ErrAddrInUse];
//   - the command could not be started ("start: exec: ...": wraps the
//     *exec.Error, so errors.Is(err, exec.ErrNotFound) works), or its
//     spec.CPUs not applied ("cpus ...", "start: set CPU affinity ...",
//     wrapping the kernel's errno);
//   - it exited before ready ("exited with code 3 before ready: ..."):
//     wraps [ErrExited] and the [*ExitError];
//   - it was not ready in time ("not ready after 30s (tcp://...)"):
//     wraps [ErrNotReady] and the last check's error;
//   - ctx was done: wraps context.Cause(ctx).
//
// The caller owns the returned Process and must Stop it.
func Start(ctx context.Context, spec Spec) (*Process, error) {
	if spec.ReadyTimeout <= 0 {
		spec.ReadyTimeout = DefaultReadyTimeout
	}
	if spec.StopTimeout <= 0 {
		spec.StopTimeout = DefaultStopTimeout
	}
	log := spec.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(spec.Command) == 0 || spec.Command[0] == "" {
		return nil, &processError{msg: "scheduler: " + spec.Name + ": empty command"}
	}
	probe := spec.Ready
	var cpus []int
	if spec.CPUs != "" {
		var err error
		if cpus, err = config.ParseCPUList(spec.CPUs); err != nil {
			return nil, &processError{msg: fmt.Sprintf("scheduler: %s: cpus %q: %v", spec.Name, spec.CPUs, err), errs: []error{err}}
		}
	}

	env := processEnv(&spec)
	begin := time.Now()
	readyCtx, cancel := context.WithTimeoutCause(ctx, spec.ReadyTimeout, errReadyDeadline)
	defer cancel()

	for i, argv := range spec.Setup {
		if err := runSetupStep(readyCtx, ctx, &spec, env, i, argv, log); err != nil {
			return nil, err
		}
	}

	if probe != nil && probe.loopback {
		if inUse(readyCtx, probe.addr) {
			fix := "change the target url"
			if strings.HasPrefix(spec.Name, "service ") {
				fix = "change the service's ready address and command"
			}
			return nil, &processError{
				msg:  fmt.Sprintf("scheduler: %s: %s is already in use by another process; stop it or %s", spec.Name, probe.addr, fix),
				errs: []error{ErrAddrInUse},
			}
		}
	}

	if readyCtx.Err() != nil {
		// Do not start a process only to stop it again.
		return nil, waitError(readyCtx, &spec, nil, "")
	}
	c, err := startChild(childOptions{
		name:        spec.Name,
		argv:        spec.Command,
		dir:         spec.Dir,
		env:         env,
		supervise:   true,
		grace:       spec.StopTimeout,
		raiseNofile: true,
		cpus:        cpus,
		log:         log,
	})
	if err != nil {
		return nil, &processError{msg: fmt.Sprintf("scheduler: %s: start: %v", spec.Name, err), errs: []error{err}}
	}
	p := &Process{
		name:        spec.Name,
		stopTimeout: spec.StopTimeout,
		log:         log,
		c:           c,
		stopDone:    make(chan struct{}),
	}
	log.Debug("process started", "process", spec.Name, "pid", c.pid)

	if err := p.waitReady(readyCtx, probe); err != nil {
		// The failure, not the clean-up, is what the caller must see; a
		// group that survives SIGKILL is rare enough to only be logged.
		if serr := p.Stop(context.WithoutCancel(ctx)); serr != nil {
			log.Warn("process stop after failed start", "process", spec.Name, "err", serr)
		}
		return nil, p.readyError(readyCtx, err, &spec)
	}
	log.Debug("process ready", "process", spec.Name, "pid", c.pid,
		"duration_seconds", time.Since(begin).Seconds())
	return p, nil
}

// PID returns the process ID of the leader, which is also the process
// group ID of the whole group. The kernel does not reuse it while the
// leader or any process of its group lives.
func (p *Process) PID() int {
	return p.c.pid
}

// Descendants returns the process IDs of the leader's live descendants
// (its children, theirs, and so on; not the leader), read from /proc;
// nil when there are none. A process may exit as soon as it is listed.
func (p *Process) Descendants() []int {
	return descendants(p.c.pid)
}

// Exited returns a channel closed when the leader has exited and was
// reaped; other processes of the group may still run (Stop kills them).
func (p *Process) Exited() <-chan struct{} {
	return p.c.exited
}

// ExitErr returns nil while the leader runs and, once Exited is closed, an
// error saying how it ended: "scheduler: <Name>: exited (code N)" or
// "scheduler: <Name>: exited (signal killed)". It also describes an exit
// caused by Stop. The error wraps [ErrExited] and, unless the exit code was
// 0, an [*ExitError].
func (p *Process) ExitErr() error {
	select {
	case <-p.c.exited:
	default:
		return nil
	}
	errs := []error{ErrExited}
	if p.c.waitErr != nil {
		errs = append(errs, p.c.waitErr)
	}
	return &processError{
		msg:  fmt.Sprintf("scheduler: %s: exited (%s)", p.name, exitText(p.c.state)),
		errs: errs,
	}
}

// Output returns the latest output of the process, stdout and stderr
// interleaved line by line, at most OutputBytes. The caller may keep
// the string.
func (p *Process) Output() string {
	return string(p.c.out.bytes())
}

// Stop stops the whole process group: SIGTERM to the group, then SIGKILL
// once the StopTimeout grace has passed or ctx is done. It returns when the
// leader has been reaped and no live process of the group is left (zombies
// awaiting reaping by init do not count), polling /proc; after SIGKILL it
// waits at most 5 s more, then fails with an error naming the group. Then
// the supervisor kills what left the group (daemons; SIGTERM, SIGKILL after
// the same grace) and exits, and Stop waits for it. A stop that needed
// SIGKILL is logged at info level with the grace. Stop also waits (at most
// 1 s) for the output pipes to drain.
//
// Stop is idempotent and safe after the process exited by itself: the
// first call does the work and returns its result, later or concurrent
// calls return the same result (a concurrent caller whose ctx is done
// first gets context.Cause(ctx) instead). Stop does not report how the
// process ended: see ExitErr.
func (p *Process) Stop(ctx context.Context) error {
	p.stopMu.Lock()
	if p.stopping {
		p.stopMu.Unlock()
		select {
		case <-p.stopDone:
			return p.stopErr
		case <-ctx.Done():
			return fmt.Errorf("scheduler: %s: stop: %w", p.name, context.Cause(ctx))
		}
	}
	p.stopping = true
	p.stopMu.Unlock()

	begin := time.Now()
	killed, err := p.c.stop(ctx, p.stopTimeout)
	if killed {
		p.log.Info("process needed SIGKILL: still running after the SIGTERM grace", "process", p.name,
			"pid", p.c.pid, "stop_timeout", p.stopTimeout)
	}
	if err != nil {
		err = fmt.Errorf("scheduler: %s: stop: %w", p.name, err)
	}
	p.stopErr = err
	close(p.stopDone)
	p.log.Debug("process stopped", "process", p.name, "pid", p.c.pid,
		"duration_seconds", time.Since(begin).Seconds())
	return err
}

// Usage returns the resource use of the process tree: the leader, its
// descendants (through /proc ppid links), any other live member of its
// process group, and processes that left the group (daemons), but not the
// supervisor. It reads /proc and is safe for concurrent use. Once the
// leader has exited it fails with an error wrapping [ErrExited].
func (p *Process) Usage() (Usage, error) {
	select {
	case <-p.c.exited:
		return Usage{}, &processError{
			msg:  fmt.Sprintf("scheduler: %s: usage: exited (%s)", p.name, exitText(p.c.state)),
			errs: []error{ErrExited},
		}
	default:
	}
	u, err := treeUsage(p.c.pid, p.c.pid, p.c.supPID)
	if err != nil {
		return Usage{}, fmt.Errorf("scheduler: %s: usage: %w", p.name, err)
	}
	return u, nil
}

// processError is an error with its own message that wraps several
// errors (a sentinel and a cause), so that callers can use errors.Is and
// errors.As on both while the message stays readable.
type processError struct {
	msg  string
	errs []error
}

func (e *processError) Error() string   { return e.msg }
func (e *processError) Unwrap() []error { return e.errs }

// errReadyDeadline is the cause of the ready context when ReadyTimeout
// passes, to tell it apart from the caller's ctx.
var errReadyDeadline = errors.New("ready timeout")

// waitReady polls the readiness probe until it passes (nil), the leader
// exits (ErrExited) or ctx is done (the error of the last complete check).
func (p *Process) waitReady(ctx context.Context, probe *Probe) error {
	if probe == nil {
		return nil
	}
	client := &http.Client{Transport: &http.Transport{
		Proxy:             nil, // a loopback target must not go through HTTP_PROXY
		DisableKeepAlives: true,
		TLSClientConfig:   probe.tls,
	}}
	defer client.CloseIdleConnections()
	wait := 10 * time.Millisecond
	var last error
	for {
		err := probe.check(ctx, client)
		if err == nil {
			return nil
		}
		// A check cut short by the deadline says less than the one
		// before it ("i/o timeout" rather than "connection refused").
		if last == nil || ctx.Err() == nil {
			last = err
		}
		t := time.NewTimer(wait)
		select {
		case <-p.c.exited:
			t.Stop()
			return ErrExited
		case <-ctx.Done():
			t.Stop()
			return last
		case <-t.C:
		}
		wait = min(2*wait, 200*time.Millisecond)
	}
}

// readyError builds the error of a failed readiness wait; the group has
// been stopped, so the output is complete.
func (p *Process) readyError(readyCtx context.Context, err error, spec *Spec) error {
	tail := p.c.out.tail(tailLines, tailBytes)
	if !errors.Is(err, ErrExited) {
		return waitError(readyCtx, spec, err, tail)
	}
	errs := []error{ErrExited}
	if p.c.waitErr != nil {
		errs = append(errs, p.c.waitErr)
	}
	return &processError{
		msg:  fmt.Sprintf("scheduler: %s: %s before ready%s", p.name, exitPhrase(p.c.state), withTail(tail)),
		errs: errs,
	}
}

// waitError builds the error of a start whose ready context is done: not
// ready in time, or cancelled by the caller. last is the last readiness
// check error, if any; tail the last output.
func waitError(readyCtx context.Context, spec *Spec, last error, tail string) error {
	if cause := context.Cause(readyCtx); !errors.Is(cause, errReadyDeadline) {
		return &processError{
			msg:  fmt.Sprintf("scheduler: %s: start canceled before ready: %v", spec.Name, cause),
			errs: []error{cause},
		}
	}
	msg := fmt.Sprintf("scheduler: %s: not ready after %s (%s)", spec.Name, spec.ReadyTimeout, spec.Ready)
	errs := []error{ErrNotReady}
	if last != nil {
		msg += ": last check: " + last.Error()
		errs = append(errs, last)
	}
	if tail != "" {
		msg += "; output: " + tail
	}
	return &processError{msg: msg, errs: errs}
}

// withTail returns ": tail", or "" when there is no output.
func withTail(tail string) string {
	if tail == "" {
		return ""
	}
	return ": " + tail
}

// runSetupStep runs setup command i to completion within readyCtx. ctx is
// the caller's context, used to tell cancellation from the ready timeout.
func runSetupStep(readyCtx, ctx context.Context, spec *Spec, env []string, i int, argv []string, log *slog.Logger) error {
	step := fmt.Sprintf("setup step %d %q", i+1, argv)
	if len(argv) == 0 || argv[0] == "" {
		return &processError{msg: fmt.Sprintf("scheduler: %s: %s: empty command", spec.Name, step), errs: []error{ErrSetup}}
	}
	// Supervised as the process is, so that what the step daemonizes (out of
	// its group: setsid, a double fork) is killed with the step's leftovers
	// below, and with benchd if it dies meanwhile. Servers a target needs
	// belong in services, not in setup.
	c, err := startChild(childOptions{
		name:      spec.Name,
		argv:      argv,
		dir:       spec.Dir,
		env:       env,
		log:       log,
		stream:    "setup ",
		supervise: true,
		grace:     spec.StopTimeout,
	})
	if err != nil {
		return &processError{msg: fmt.Sprintf("scheduler: %s: %s: start: %v", spec.Name, step, err), errs: []error{ErrSetup, err}}
	}
	var done bool
	select {
	case <-c.exited:
		done = true
	case <-readyCtx.Done():
	}
	// Also after a normal exit: kill what the step left in its group and
	// drain its output.
	if _, serr := c.stop(context.WithoutCancel(ctx), spec.StopTimeout); serr != nil {
		log.Warn("setup step stop", "process", spec.Name, "step", i+1, "err", serr)
	}
	tail := c.out.tail(tailLines, tailBytes)
	if !done {
		cause := context.Cause(readyCtx)
		if errors.Is(cause, errReadyDeadline) {
			return &processError{
				msg:  fmt.Sprintf("scheduler: %s: not ready after %s (%s still running)%s", spec.Name, spec.ReadyTimeout, step, withTail(tail)),
				errs: []error{ErrNotReady},
			}
		}
		return &processError{
			msg:  fmt.Sprintf("scheduler: %s: start canceled during %s: %v", spec.Name, step, cause),
			errs: []error{cause},
		}
	}
	if c.waitErr != nil {
		errs := []error{ErrSetup}
		if c.waitErr != nil {
			errs = append(errs, c.waitErr)
		}
		return &processError{
			msg:  fmt.Sprintf("scheduler: %s: %s: %s%s", spec.Name, step, exitPhrase(c.state), withTail(tail)),
			errs: errs,
		}
	}
	log.Debug("setup step done", "process", spec.Name, "step", i+1)
	return nil
}

// ExitError is how a managed process (or a setup step) ended with a
// failure: a non-zero exit code or a signal. The errors of Start
// and Process.ExitErr wrap it; use errors.As.
type ExitError struct {
	// Status is the wait(2) status of the process.
	Status syscall.WaitStatus
}

// ExitCode returns the exit code, or -1 when a signal ended the process.
func (e *ExitError) ExitCode() int { return e.Status.ExitStatus() }

func (e *ExitError) Error() string { return exitPhrase(e.Status) }

// exitErr returns nil for a zero exit, else an *ExitError.
func exitErr(ws syscall.WaitStatus) error {
	if ws.Exited() && ws.ExitStatus() == 0 {
		return nil
	}
	return &ExitError{Status: ws}
}

// exitText describes how a process ended: "code 3" or "signal killed".
func exitText(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "signal " + ws.Signal().String()
	}
	return "code " + strconv.Itoa(ws.ExitStatus())
}

// exitPhrase describes how a process ended as a verb phrase:
// "exited with code 3" or "killed by signal terminated".
func exitPhrase(ws syscall.WaitStatus) string {
	if ws.Signaled() {
		return "killed by signal " + ws.Signal().String()
	}
	return "exited with code " + strconv.Itoa(ws.ExitStatus())
}

// Probe is a compiled readiness check ([Spec.Ready]). It is immutable and
// safe for concurrent use; build it with [ParseProbe], once, when the
// configuration is loaded.
type Probe struct {
	raw      string
	tcp      bool        // tcp:// rather than http(s)://
	addr     string      // host:port
	loopback bool        // host is a loopback address or localhost
	tls      *tls.Config // verifies an https check
}

// ParseProbe compiles a readiness check: "tcp://host:port" (a TCP connect
// succeeds) or an "http://" or "https://" URL (a GET answers 2xx,
// redirects followed, no proxy), whose server tlsConfig verifies (nil
// means Go's default, the system roots; the Probe keeps it, and the caller
// must not change it afterwards). "" gives nil, nil: no check. The error
// says what is wrong with s, as in `invalid ready "ftp://x": want
// tcp://host:port or an http(s):// URL`.
func ParseProbe(s string, tlsConfig *tls.Config) (*Probe, error) {
	r, err := parseReady(s)
	if r != nil {
		r.tls = tlsConfig
	}
	return r, err
}

// String returns the check as written; "" for a nil Probe.
func (r *Probe) String() string {
	if r == nil {
		return ""
	}
	return r.raw
}

// parseReady parses a readiness check; "" gives nil.
func parseReady(s string) (*Probe, error) {
	if s == "" {
		return nil, nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid ready %q: %w", s, err)
	}
	r := &Probe{raw: s}
	port := u.Port()
	switch u.Scheme {
	case "tcp":
		r.tcp = true
		if port == "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("invalid ready %q: want tcp://host:port", s)
		}
	case "http":
		if port == "" {
			port = "80"
		}
	case "https":
		if port == "" {
			port = "443"
		}
	default:
		return nil, fmt.Errorf("invalid ready %q: want tcp://host:port or an http(s):// URL", s)
	}
	host := u.Hostname()
	if host == "" {
		return nil, fmt.Errorf("invalid ready %q: no host", s)
	}
	r.addr = net.JoinHostPort(host, port)
	ip := net.ParseIP(host)
	r.loopback = host == "localhost" || (ip != nil && ip.IsLoopback())
	return r, nil
}

// check runs one readiness check.
func (r *Probe) check(ctx context.Context, client *http.Client) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if r.tcp {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", r.addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.raw, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}

// inUse reports whether something accepts connections on addr.
func inUse(ctx context.Context, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, addrCheckTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

// childOptions describes a child to start.
type childOptions struct {
	name        string
	argv        []string
	dir         string
	env         []string      // the whole environment; nil: os.Environ()
	supervise   bool          // start under a supervisor (see [Command])
	grace       time.Duration // the supervisor's clean-up grace
	raiseNofile bool          // set the RLIMIT_NOFILE soft limit to the hard one (supervised only)
	cpus        []int         // CPU affinity of the child; empty: inherited
	log         *slog.Logger
	stream      string // prefix of the stream names in logs: "" or "setup "
}

// child is one started process (a Command or a Setup step) with its own
// process group, output readers and wait goroutine.
type child struct {
	name    string
	pid     int
	out     *outputRing
	readers sync.WaitGroup
	pipes   []*os.File // read ends of stdout and stderr

	exited  chan struct{}      // closed once the leader was reaped
	state   syscall.WaitStatus // set before exited is closed
	waitErr error              // *ExitError or nil; set before exited is closed

	// Set for a supervised child (see [Command]): the supervisor's
	// stdin, closed to make it clean up and exit, and done, closed once
	// the supervisor was reaped.
	supervisor *os.File
	supPID     int
	supDone    chan struct{}
	forget     func() // removes the group from the leftovers record
}

// startChild starts o.argv in its own process group with Pdeathsig;
// with o.supervise, under a supervisor (see [Command]).
func startChild(o childOptions) (*child, error) {
	// Without this check os/exec reports a missing working directory as
	// "fork/exec ARGV0: no such file or directory", which blames the
	// program.
	if o.dir != "" {
		if fi, err := os.Stat(o.dir); err != nil {
			return nil, fmt.Errorf("working directory (dir): %w", err)
		} else if !fi.IsDir() {
			return nil, fmt.Errorf("working directory (dir) %s is not a directory", o.dir)
		}
	}
	path, err := lookPath(o.argv[0], o.dir)
	if err != nil {
		return nil, err
	}
	env := o.env
	if env == nil {
		env = os.Environ()
	}
	var cmd *exec.Cmd
	var stdinW, statusR, statusW *os.File
	if o.supervise {
		cmd = Command(path, o.argv, o.grace, o.raiseNofile, env)
		// The supervisor cleans up when benchd dies: SIGTERM from the
		// kernel, or EOF on its stdin.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
		var stdinR *os.File
		if stdinR, stdinW, err = os.Pipe(); err != nil {
			return nil, err
		}
		if statusR, statusW, err = os.Pipe(); err != nil {
			stdinR.Close()
			stdinW.Close()
			return nil, err
		}
		cmd.Stdin = stdinR
		cmd.ExtraFiles = []*os.File{statusW}
		defer stdinR.Close()
		defer statusW.Close()
	} else {
		cmd = exec.Command(path, o.argv[1:]...)
		cmd.Args[0] = o.argv[0]
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	}
	cmd.Dir = o.dir
	closeSup := func() {
		if stdinW != nil {
			stdinW.Close()
			statusR.Close()
		}
	}

	// The pipes are passed as *os.File, so os/exec starts no copying
	// goroutine and Wait does not wait for grandchildren that keep them.
	outR, outW, err := os.Pipe()
	if err != nil {
		closeSup()
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeSup()
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = outW, errW

	c := &child{
		name:       o.name,
		out:        newOutputRing(OutputBytes),
		pipes:      []*os.File{outR, errR},
		exited:     make(chan struct{}),
		supervisor: stdinW,
		forget:     func() {},
	}
	if o.supervise {
		c.supDone = make(chan struct{})
	}
	var affinity *unix.CPUSet
	if len(o.cpus) > 0 {
		affinity = new(unix.CPUSet)
		for _, cpu := range o.cpus {
			affinity.Set(cpu)
		}
	}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the thread that forked the child exits,
		// not the process (go.dev/issue/27505). Go only ends threads of
		// goroutines that exit locked, so fork from a locked thread and
		// keep it until the child is reaped.
		runtime.LockOSThread()
		unlock := true
		defer func() {
			// A thread whose mask could not be restored dies with this
			// goroutine (exiting locked) rather than run others pinned.
			if unlock {
				runtime.UnlockOSThread()
			}
		}()
		if affinity != nil {
			// A child inherits the CPU affinity of the thread that forks
			// it: pin this thread for the fork, then give it its own
			// mask back.
			var own unix.CPUSet
			if err := unix.SchedGetaffinity(0, &own); err != nil {
				started <- fmt.Errorf("get CPU affinity: %w", err)
				return
			}
			if err := unix.SchedSetaffinity(0, affinity); err != nil {
				started <- fmt.Errorf("set CPU affinity %v: %w", o.cpus, err)
				return
			}
			err := cmd.Start()
			if rerr := unix.SchedSetaffinity(0, &own); rerr != nil {
				unlock = false
			}
			if err != nil {
				started <- err
				return
			}
		} else if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		if !o.supervise {
			c.pid = cmd.Process.Pid
			started <- nil
			err := cmd.Wait()
			c.state = cmd.ProcessState.Sys().(syscall.WaitStatus)
			c.waitErr = exitErr(c.state)
			if err != nil && c.waitErr == nil {
				c.waitErr = err
			}
			close(c.exited)
			return
		}
		c.superviseWait(cmd, statusR, started, o)
	}()
	err = <-started
	outW.Close()
	errW.Close()
	if err != nil {
		closeSup()
		outR.Close()
		errR.Close()
		return nil, err
	}
	debug := o.log.Enabled(context.Background(), slog.LevelDebug)
	c.readers.Add(2)
	go c.readOutput(outR, o.stream+"stdout", o.log, debug)
	go c.readOutput(errR, o.stream+"stderr", o.log, debug)
	return c, nil
}

// superviseWait follows a started supervisor: its first status message
// (the target's PID, or why it did not start) goes to started; then it
// closes c.exited when the target leader was reaped, and c.supDone once
// the supervisor itself was. A supervisor that dies without saying how
// the target ended passes its own end on.
func (c *child) superviseWait(cmd *exec.Cmd, statusR *os.File, started chan<- error, o childOptions) {
	defer close(c.supDone)
	defer statusR.Close()
	br := bufio.NewReader(statusR)
	st, err := ReadStatus(br)
	switch {
	case err == nil && st.Err != nil:
		err = st.Err
	case err == nil && !st.Started:
		err = errors.New("supervisor: no start message")
	case err != nil:
		err = fmt.Errorf("supervisor: %w", err)
	}
	if err != nil {
		c.supervisor.Close()
		_ = cmd.Wait()
		started <- err
		return
	}
	c.pid, c.supPID = st.PID, cmd.Process.Pid
	supStart, _ := StartTime(cmd.Process.Pid)
	c.forget = Record(Entry{Name: o.name, PGID: st.PID, Start: st.StartTime,
		Supervisor: cmd.Process.Pid, SupervisorStart: supStart})
	started <- nil
	st, err = ReadStatus(br)
	if err == nil && st.Exited {
		c.state = st.WaitStatus
		c.waitErr = exitErr(c.state)
		close(c.exited)
		_ = cmd.Wait()
		return
	}
	_ = cmd.Wait()
	c.state = cmd.ProcessState.Sys().(syscall.WaitStatus)
	c.waitErr = fmt.Errorf("supervisor %s", exitPhrase(c.state))
	close(c.exited)
}

// lookPath resolves name as exec.Command would, relative to dir for a
// relative path with a slash. The error is an *exec.Error.
func lookPath(name, dir string) (string, error) {
	if !strings.Contains(name, "/") {
		return exec.LookPath(name)
	}
	check := name
	if !filepath.IsAbs(name) && dir != "" {
		check = filepath.Join(dir, name)
	}
	if _, err := exec.LookPath(check); err != nil {
		return "", err
	}
	return name, nil
}

// readOutput copies one output pipe, line by line, into the ring and the
// logger until EOF or until the pipe is closed by stop.
func (c *child) readOutput(r *os.File, stream string, log *slog.Logger, debug bool) {
	defer c.readers.Done()
	defer r.Close()
	br := bufio.NewReaderSize(r, 4096)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			// A line longer than the buffer comes in pieces: only its
			// last piece ends it.
			c.out.writeLine(line, !errors.Is(err, bufio.ErrBufferFull))
			if debug {
				log.Debug("process output", "process", c.name, "stream", stream,
					"line", string(bytes.TrimRight(line, "\r\n")))
			}
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// stop signals the group and waits for it to vanish, as Process.Stop;
// killed says whether SIGKILL was needed. A supervised child's supervisor
// is then told to clean up (processes that left the group) and waited for.
func (c *child) stop(ctx context.Context, grace time.Duration) (killed bool, err error) {
	pgid := c.pid
	if !c.gone() {
		signalGroup(pgid, syscall.SIGTERM)
		graceCtx, cancel := context.WithTimeout(ctx, grace)
		ok := c.waitGone(graceCtx)
		cancel()
		if !ok {
			killed = true
			signalGroup(pgid, syscall.SIGKILL)
			killCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killWait)
			if !c.waitGone(killCtx) {
				err = fmt.Errorf("process group %d still has live processes %s after SIGKILL", pgid, killWait)
			}
			cancel()
		}
	}
	if c.supervisor != nil {
		_ = c.supervisor.Close()
		t := time.NewTimer(grace + killWait + time.Second)
		select {
		case <-c.supDone:
		case <-t.C:
			err = errors.Join(err, fmt.Errorf("supervisor of process group %d still runs %s after its clean-up began", pgid, grace+killWait+time.Second))
		}
		t.Stop()
	}
	c.forget()
	c.drain()
	return killed, err
}

// signalGroup sends sig to process group pgid; a group that is already
// gone (ESRCH) is fine.
func signalGroup(pgid int, sig syscall.Signal) {
	_ = syscall.Kill(-pgid, sig)
}

// gone reports whether the leader was reaped and no live process of its
// group is left.
func (c *child) gone() bool {
	select {
	case <-c.exited:
	default:
		return false
	}
	return !groupAlive(c.pid)
}

// waitGone polls gone until it holds or ctx is done.
func (c *child) waitGone(ctx context.Context) bool {
	wait := 5 * time.Millisecond
	for !c.gone() {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return c.gone()
		case <-c.exited:
			t.Stop()
		case <-t.C:
		}
		wait = min(2*wait, 50*time.Millisecond)
	}
	return true
}

// groupAlive reports whether process group pgid has a live member. kill(2)
// also finds zombies, which stay until their new parent reaps them (and
// some container inits never do), so a yes from kill is checked in /proc.
func groupAlive(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	procs, err := scanProcs()
	if err != nil {
		return true // cannot tell: assume the worst
	}
	for _, s := range procs {
		if s.pgrp == pgid && s.live() {
			return true
		}
	}
	return false
}

// drain waits for the output readers to reach EOF; after drainWait it
// closes the pipes (a process outside the group may hold the write ends).
func (c *child) drain() {
	done := make(chan struct{})
	go func() {
		c.readers.Wait()
		close(done)
	}()
	t := time.NewTimer(drainWait)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	}
	for _, f := range c.pipes {
		_ = f.Close()
	}
	<-done
}

// outputRing keeps the latest bytes written to it. It is safe for
// concurrent use.
type outputRing struct {
	mu   sync.Mutex
	buf  []byte
	next int  // where the next byte goes
	full bool // buf has wrapped at least once
}

func newOutputRing(size int) *outputRing {
	return &outputRing{buf: make([]byte, size)}
}

// writeLine appends p; if end is set, p ends a line and a newline is
// added if it has none, else p is the start or middle of a line.
func (r *outputRing) writeLine(p []byte, end bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.write(p)
	if end && len(p) > 0 && p[len(p)-1] != '\n' {
		r.write([]byte{'\n'})
	}
}

func (r *outputRing) write(p []byte) {
	if len(p) >= len(r.buf) {
		copy(r.buf, p[len(p)-len(r.buf):])
		r.next, r.full = 0, true
		return
	}
	n := copy(r.buf[r.next:], p)
	if n < len(p) {
		copy(r.buf, p[n:])
		r.full = true
	}
	r.next = (r.next + len(p)) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
}

// bytes returns a copy of the kept bytes, oldest first.
func (r *outputRing) bytes() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.full {
		return bytes.Clone(r.buf[:r.next])
	}
	out := make([]byte, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}

// tail returns at most the last maxLines lines and maxBytes bytes of the
// output, without the final newline, starting at the start of a line: a
// line cut by maxBytes, or whose start the ring has overwritten, is
// dropped, unless it is the only one, which is then quoted from the cut
// after an ellipsis ("…"). The output is made [printable] first.
func (r *outputRing) tail(maxLines, maxBytes int) string {
	r.mu.Lock()
	cut := r.full // the oldest kept byte may be in the middle of a line
	r.mu.Unlock()
	b := bytes.TrimRight(printable(r.bytes()), "\n\t ")
	if len(b) > maxBytes {
		b, cut = b[len(b)-maxBytes:], true
		for len(b) > 0 && !utf8.RuneStart(b[0]) {
			b = b[1:]
		}
	}
	if cut {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		} else if len(b) > 0 {
			b = append([]byte("…"), b...)
		}
	}
	lines := bytes.Split(b, []byte{'\n'})
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return string(bytes.Join(lines, []byte{'\n'}))
}

// PinSelf sets the CPU affinity of every thread of benchd to cpus, a CPU
// list such as "1" or "2-3" (see [config.ParseCPUList]); "" does nothing.
// Threads the Go runtime starts later inherit the mask from the thread
// that creates them. Unless the GOMAXPROCS environment variable is set,
// GOMAXPROCS is then recomputed for the new mask.
//
// Managed processes started afterwards inherit benchd's mask unless their
// [Spec.CPUs] set their own: give targets their own cpus to keep
// them off benchd's CPUs. Call PinSelf once, at start-up, before starting
// processes. The error wraps the cause: a malformed list, or the kernel's
// EINVAL for CPUs the machine does not have (the threads pinned before the
// failure keep the new mask).
func PinSelf(cpus string) error {
	if cpus == "" {
		return nil
	}
	list, err := config.ParseCPUList(cpus)
	if err != nil {
		return fmt.Errorf("scheduler: pin benchd to CPUs %q: %w", cpus, err)
	}
	var set unix.CPUSet
	for _, c := range list {
		set.Set(c)
	}
	// The runtime may start a thread while the list is being walked, from a
	// thread not yet pinned: walk again until a pass finds no new thread.
	pinned := map[int]bool{}
	for pass := 0; ; pass++ {
		tids, err := threadIDs()
		if err != nil {
			return fmt.Errorf("scheduler: pin benchd to CPUs %q: %w", cpus, err)
		}
		fresh := false
		for _, tid := range tids {
			if pinned[tid] {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil {
				if errors.Is(err, unix.ESRCH) {
					continue // the thread has ended
				}
				return fmt.Errorf("scheduler: pin benchd to CPUs %q: thread %d: %w", cpus, tid, err)
			}
			pinned[tid], fresh = true, true
		}
		if !fresh || pass == 100 {
			break
		}
	}
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.SetDefaultGOMAXPROCS()
	}
	return nil
}

// threadIDs lists the threads of benchd, from /proc/self/task.
func threadIDs() ([]int, error) {
	names, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil, err
	}
	tids := make([]int, 0, len(names))
	for _, e := range names {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			tids = append(tids, tid)
		}
	}
	return tids, nil
}
