package config

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// reName is what target, endpoint, service and mode names look like: they
// become Prometheus label values and parts of URL paths and scenario names.
var reName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

const nameRule = "use lower-case letters, digits, '_', '.' and '-', starting with a letter or digit"

// checker collects problems, the first maxProblems of them; it counts the
// others.
type checker struct {
	errs    []error
	seen    map[string]bool // messages already reported, for add1
	dropped int             // problems past maxProblems
}

// maxProblems is the most problems a checker lists: a huge wrong file
// should not produce a gigabyte of messages.
const maxProblems = 100

func (k *checker) full() bool { return len(k.errs) >= maxProblems }

func (k *checker) add(path, format string, args ...any) {
	if k.full() {
		k.dropped++
		return
	}
	k.errs = append(k.errs, &FieldError{Path: path, Err: fmt.Errorf(format, args...)})
}

// problems returns the problems with, past maxProblems, a count of the rest.
func (k *checker) problems() []error {
	if k.dropped == 0 {
		return k.errs
	}
	return append(k.errs, &FieldError{Err: fmt.Errorf("and %d more problems, not shown (fix the ones above first)", k.dropped)})
}

// suggest is [suggest] for names(), skipped once k is full (the message
// would be dropped, and the search is costly in a huge file).
func (k *checker) suggest(name, kind string, names func() []string) string {
	if k.full() {
		return ""
	}
	return suggest(name, kind, names())
}

// add1 adds a problem unless the same one was already added: several
// scenarios can share one bad layer.
func (k *checker) add1(path, format string, args ...any) {
	e := &FieldError{Path: path, Err: fmt.Errorf(format, args...)}
	if k.seen == nil {
		k.seen = map[string]bool{}
	}
	if msg := e.Error(); !k.seen[msg] {
		k.seen[msg] = true
		if k.full() {
			k.dropped++
			return
		}
		k.errs = append(k.errs, e)
	}
}

// Validate checks c and returns every problem at once, joined with
// errors.Join; each is a [*FieldError] whose message starts with its YAML
// path and says how to fix it. It returns nil if c is valid. It compiles
// and caches the schedule (see [Config.CronSchedule]), so it must not run
// concurrently with other methods of c.
//
// It checks: the cron schedule; cpus lists; names (required, unique, matching
// ^[a-z0-9][a-z0-9_.-]*$); target URLs (absolute http or https with a host);
// commands; ready checks; durations; load settings (connections 1 to
// MaxConnections, threads at most connections, duration and timeout more
// than 0, all three and warmup at most MaxDuration, method not empty,
// on_timeout reconnect or wait); endpoint expects (status codes from 100 to
// 599, each once; body_size bounds not negative, max at least min);
// references (targets[].services, targets[].overrides, endpoint modes);
// {mode} and modes on targets without modes (for an instruction lane,
// only on the endpoints it counts). What the engine can run
// (method and header syntax, negative or non-finite values, https
// settings) is checked by the engine's own Plan.Validate, which
// cmd/benchd runs through [LoadWith]. With valid names and every
// endpoint mode being a mode of some target, scenario names are unique and
// the matrix is not empty.
func (c *Config) Validate() error {
	return errors.Join(c.validate()...)
}

// validate returns the problems of c, each a *FieldError.
func (c *Config) validate() []error {
	k := &checker{}
	c.checkSchedule(k)
	checkTitle(k, "title", c.Title)
	checkCPUs(k, "cpus", c.CPUs)
	checkSettings(k, "defaults", &c.Defaults)
	c.checkServices(k)
	c.checkTargets(k)
	c.checkEndpoints(k)
	c.checkMatrix(k)
	c.checkRegression(k)
	c.checkAPI(k)
	c.checkShards(k)
	return k.problems()
}

func (c *Config) checkSchedule(k *checker) {
	c.schedule, c.scheduleSpec = nil, ""
	if strings.TrimSpace(c.Schedule) == "" {
		k.add("schedule", "is empty (write a cron spec such as %q, or remove the key for that default)", DefaultSchedule)
		return
	}
	s, err := parseSchedule(c.Schedule)
	if err != nil {
		k.add("schedule", "invalid cron spec %q: %w (write five fields, minute hour day-of-month month day-of-week, such as %q, or a descriptor such as @hourly or @every 30m)", c.Schedule, err, DefaultSchedule)
		return
	}
	if every, ok := strings.CutPrefix(strings.TrimSpace(c.Schedule), "@every "); ok {
		// cron rounds anything under a second, negative too, up to 1s.
		if d, err := time.ParseDuration(strings.TrimSpace(every)); err == nil && d < time.Second {
			k.add("schedule", "%q: the interval must be at least 1s, got %s", c.Schedule, d)
			return
		}
	}
	if s.Next(scheduleEpoch).IsZero() {
		k.add("schedule", "cron spec %q never fires (check day-of-month against month)", c.Schedule)
		return
	}
	c.schedule, c.scheduleSpec = s, c.Schedule
}

// scheduleEpoch is a fixed instant to probe schedules from, so checks do not
// depend on the clock.
var scheduleEpoch = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)

// checkName checks a name and records it in seen (name -> path).
func checkName(k *checker, path, kind, name string, seen map[string]string) {
	switch {
	case name == "":
		k.add(path+".name", "is required (a unique %s name such as %q)", kind, map[string]string{"target": "gunicorn-gevent", "endpoint": "json", "service": "redis"}[kind])
	case !reName.MatchString(name):
		k.add(path+".name", "%q is not a valid name (%s; it becomes a metric label and part of scenario names)", name, nameRule)
	case seen[name] != "":
		k.add(path+".name", "%q is already the name of %s (names must be unique)", name, seen[name])
	default:
		seen[name] = path
	}
}

// checkModes checks a list of modes.
func checkModes(k *checker, path string, modes []string) {
	for i, m := range modes {
		p := indexPath(path, i)
		switch {
		case !reName.MatchString(m):
			k.add(p, "%q is not a valid mode (%s; it becomes a metric label and replaces {mode} in paths)", m, nameRule)
		case slices.Index(modes, m) < i:
			k.add(p, "mode %q is listed twice (remove one)", m)
		}
	}
}

// checkTitle checks a report heading.
func checkTitle(k *checker, path, title string) {
	if strings.ContainsFunc(title, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		k.add(path, "%q contains a line break or control character (a title is one line of a report)", title)
	}
}

func checkCommand(k *checker, path string, cmd []string, example string) {
	switch {
	case len(cmd) == 0:
		k.add(path, "is required (the program and its arguments, run without a shell, such as %s)", example)
	case strings.TrimSpace(cmd[0]) == "":
		k.add(indexPath(path, 0), "the program is empty (give its name or path)")
	}
	for i, arg := range cmd {
		if strings.ContainsRune(arg, 0) {
			k.add(indexPath(path, i), "contains a NUL byte, which no argument can hold")
		}
	}
}

func checkEnv(k *checker, path string, env map[string]string) {
	for _, name := range sortedKeys(env) {
		p := childPath(path, name)
		switch {
		case name == "":
			k.add(p, "variable name is empty")
		case strings.ContainsAny(name, "=\x00"):
			k.add(p, "variable name %q contains '=' or NUL (an environment name cannot)", name)
		case strings.ContainsRune(env[name], 0):
			k.add(p, "value contains a NUL byte, which an environment value cannot hold")
		}
	}
}

// programProblem says why argv[0] cannot be started, as benchd would look
// it up (in PATH without a slash, else relative to dir), or "" if it can
// or cannot be checked yet (a relative path while Config.Dir is unset, or a
// program in {venv}, which benchd makes at start).
func (c *Config) programProblem(dir string, argv []string) string {
	if len(argv) == 0 || argv[0] == "" || strings.Contains(argv[0], PlaceholderVenv) ||
		(c.venv != "" && strings.HasPrefix(argv[0], c.venv+string(filepath.Separator))) {
		return ""
	}
	name := argv[0]
	if !strings.Contains(name, "/") {
		if _, err := exec.LookPath(name); err != nil {
			return fmt.Sprintf("program %q is not in PATH (%s), so the process cannot start; install it or give its full path", name, os.Getenv("PATH"))
		}
		return ""
	}
	path := name
	if !filepath.IsAbs(name) {
		if c.Dir == "" && !filepath.IsAbs(dir) {
			return ""
		}
		path = filepath.Join(c.ResolvePath(dir), name)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return path + " does not exist, so the process cannot start; install it or fix the path"
	case err != nil:
		return fmt.Sprintf("%s: %v, so the process may not start", path, err)
	case fi.IsDir():
		return path + " is a directory, not a program"
	case fi.Mode().Perm()&0o111 == 0:
		return path + " is not executable, so the process cannot start (chmod +x it)"
	}
	return ""
}

// checkEnvAllow checks env_allow against inherit_env.
func checkEnvAllow(k *checker, path string, inherit *bool, allow []string) {
	if allow != nil && (inherit == nil || *inherit) {
		k.add(path+".env_allow", "has no effect while inherit_env is true (the default): the whole environment is inherited; set inherit_env: false or remove env_allow")
	}
	for i, name := range allow {
		p := indexPath(path+".env_allow", i)
		switch {
		case name == "":
			k.add(p, "variable name is empty")
		case strings.ContainsAny(name, "=\x00"):
			k.add(p, "variable name %q contains '=' or NUL (give the name only, such as PATH; values go in env)", name)
		case slices.Index(allow, name) < i:
			k.add(p, "variable %q is listed twice (remove one)", name)
		}
	}
}

func checkPositive(k *checker, path string, d time.Duration, hint string) {
	if d <= 0 {
		k.add(path, "must be more than 0, got %s (%s)", d, hint)
	}
}

func checkMaxDuration(k *checker, path string, d time.Duration) {
	if d > MaxDuration {
		k.add(path, "%s is more than %s (a scenario is a load test, not a soak test)", d, MaxDuration)
	}
}

// checkReady checks a readiness check; allowPath permits a path on the
// target URL.
func checkReady(k *checker, path, ready string, allowPath bool) {
	forms := "tcp://host:port or an http:// or https:// URL"
	if allowPath {
		forms = "a path on the target URL such as /healthz, " + forms
	}
	switch {
	case strings.HasPrefix(ready, "tcp://"):
		u, err := url.Parse(ready)
		if err != nil {
			k.add(path, "%q is not a valid URL: %w (want tcp://host:port)", ready, errors.Unwrap(err))
			return
		}
		if u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			k.add(path, "%q has more than host and port (want tcp://host:port, such as tcp://127.0.0.1:6379)", ready)
			return
		}
		checkHostPort(k, path, ready, u.Host)
	case strings.HasPrefix(ready, "http://") || strings.HasPrefix(ready, "https://"):
		u, err := url.Parse(ready)
		if err != nil {
			k.add(path, "%q is not a valid URL: %w", ready, errors.Unwrap(err))
			return
		}
		if u.Hostname() == "" {
			k.add(path, "%q has no host (want a URL such as http://127.0.0.1:8000/healthz)", ready)
		}
	case allowPath && strings.HasPrefix(ready, "/"):
		checkURLPath(k, path, ready)
	case ready == "" && allowPath:
		// The target URL's host and port: see Target.ReadyURL.
	case ready == "":
		k.add(path, "is required (%s)", forms)
	default:
		k.add(path, "%q is not a readiness check (want %s)", ready, forms)
	}
}

func checkHostPort(k *checker, path, ready, hostport string) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || host == "" {
		k.add(path, "%q needs a host and a port (want tcp://host:port, such as tcp://127.0.0.1:6379)", ready)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		k.add(path, "%q has port %q, not a number from 1 to 65535", ready, port)
	}
}

// checkURLPath checks a path to append to a base URL.
func checkURLPath(k *checker, path, p string) {
	if !strings.HasPrefix(p, "/") {
		k.add(path, "%q does not start with / (write it as /%s)", p, p)
		return
	}
	if i := strings.IndexFunc(p, func(r rune) bool { return r <= ' ' || r == 0x7f }); i >= 0 {
		k.add(path, "%q contains a space or control character at byte %d (percent-encode it, e.g. %%20)", p, i)
		return
	}
	u, err := url.Parse("http://host" + p)
	if err != nil {
		k.add(path, "%q is not a valid URL path: %w", p, errors.Unwrap(err))
		return
	}
	if u.Fragment != "" || strings.Contains(p, "#") {
		k.add(path, "%q has a #fragment, which is never sent to a server (remove it)", p)
	}
}

// checkSettings checks the values one layer of load settings sets.
func checkSettings(k *checker, path string, s *Settings) {
	at := func(key string) string { return path + "." + key }
	// What the engine can send (method and header syntax, rates, negative
	// values) is the engine's rule: cmd/benchd runs engine.Plan.Validate
	// on every scenario as a Check of LoadWith. Here: what YAML alone
	// makes possible.
	checkThresholds(k, at("thresholds"), s.Thresholds)
	if s.Method != nil && *s.Method == "" {
		k.add(at("method"), "is empty (remove it to send %s, or give a method such as POST)", DefaultMethod)
	}
	if s.Connections != nil {
		switch n := *s.Connections; {
		case n < 1:
			k.add(at("connections"), "must be at least 1, got %d", n)
		case n > MaxConnections:
			k.add(at("connections"), "%d is more than %d (each connection is a file descriptor and a port)", n, MaxConnections)
		}
	}
	if s.Duration != nil {
		checkPositive(k, at("duration"), *s.Duration, "how long to measure, such as 10s")
		checkMaxDuration(k, at("duration"), *s.Duration)
	}
	if s.Timeout != nil {
		checkPositive(k, at("timeout"), *s.Timeout, "the deadline of one request, such as 2s")
		checkMaxDuration(k, at("timeout"), *s.Timeout)
	}
	if s.OnTimeout != nil {
		switch v := *s.OnTimeout; v {
		case OnTimeoutReconnect, OnTimeoutWait:
		default:
			k.add(at("on_timeout"), "%q is not a timeout policy: use %s (close the connection and open a new one, the default) or %s (keep it, idle, until the late answer arrives)", v, OnTimeoutReconnect, OnTimeoutWait)
		}
	}
	if s.Warmup != nil {
		checkMaxDuration(k, at("warmup"), *s.Warmup)
	}
	if s.Repeats != nil {
		if n := *s.Repeats; n < 1 || n > MaxRepeats {
			k.add(at("repeats"), "must be from 1 (run once) to %d, got %d", MaxRepeats, n)
		}
	}
}

// checkExpect checks an endpoint's expect, nil or not. What depends on the
// whole plan (a body check on HEAD, a bound above the engine's body cap)
// is the engine's to report.
func checkExpect(k *checker, path string, e *Expect) {
	if e == nil {
		return
	}
	seen := map[int]int{}
	for i, code := range e.Status {
		at := indexPath(path+".status", i)
		if code < 100 || code > 599 {
			k.add(at, "%d is not an HTTP status code (give one from 100 to 599, such as 200 or 301)", code)
			continue
		}
		if first, ok := seen[code]; ok {
			k.add(at, "%d is listed twice (also at %s; keep one)", code, indexPath(path+".status", first))
			continue
		}
		seen[code] = i
	}
	if b := e.BodySize; b != nil {
		switch {
		case b.Min < 0:
			k.add(path+".body_size.min", "must not be negative, got %d (the least body length in bytes)", b.Min)
		case b.Max < 0:
			k.add(path+".body_size.max", "must not be negative, got %d (the largest body length in bytes; 0 or unset means no bound)", b.Max)
		case b.Min == 0 && b.Max == 0:
			k.add(path+".body_size", "sets no bound (give min, max or both in bytes, or remove it)")
		case b.Max > 0 && b.Max < b.Min:
			k.add(path+".body_size.max", "%d is less than min %d: no body could pass (swap them?)", b.Max, b.Min)
		}
	}
}

func (c *Config) checkServices(k *checker) {
	seen := map[string]string{}
	for i := range c.Services {
		s := &c.Services[i]
		p := indexPath("services", i)
		checkName(k, p, "service", s.Name, seen)
		checkCommand(k, p+".command", s.Command, `[redis-server, --port, "6379"]`)
		checkEnv(k, p+".env", s.Env)
		checkEnvAllow(k, p, s.InheritEnv, s.EnvAllow)
		checkReady(k, p+".ready", s.Ready, false)
		checkPositive(k, p+".ready_timeout", s.ReadyTimeout, "how long the service may take to become ready, such as 30s")
		checkCPUs(k, p+".cpus", s.CPUs)
	}
}

func (c *Config) checkEndpoints(k *checker) {
	seen := map[string]string{}
	for i := range c.Endpoints {
		e := &c.Endpoints[i]
		p := indexPath("endpoints", i)
		checkName(k, p, "endpoint", e.Name, seen)
		checkTitle(k, p+".title", e.Title)
		switch rest := strings.ReplaceAll(e.Path, "{mode}", ""); {
		case e.Path == "":
			k.add(p+".path", "is required (the path appended to each target URL, such as /myapp/{mode}/json)")
		case strings.ContainsAny(rest, "{}"):
			k.add(p+".path", "%q has braces other than {mode}, the only placeholder (percent-encode literal braces as %%7B and %%7D)", e.Path)
		default:
			checkURLPath(k, p+".path", strings.ReplaceAll(e.Path, "{mode}", "mode"))
		}
		checkModes(k, p+".modes", e.Modes)
		checkExpect(k, p+".expect", e.Expect)
		checkSettings(k, p, &e.Settings)
	}
}

func (c *Config) checkTargets(k *checker) {
	seen := map[string]string{}
	services := map[string]bool{} // a set, not c.Service's scan per reference
	for _, s := range c.Services {
		services[s.Name] = true
	}
	for i := range c.Targets {
		t := &c.Targets[i]
		p := indexPath("targets", i)
		checkName(k, p, "target", t.Name, seen)
		checkTitle(k, p+".title", t.Title)
		checkTargetURL(k, p+".url", t.URL)
		if pr := t.Process; pr != nil {
			pp := p + ".process"
			checkCommand(k, pp+".command", pr.Command, "[/usr/bin/gunicorn, -b, 127.0.0.1:8000, proj.wsgi:application]")
			checkEnv(k, pp+".env", pr.Env)
			checkEnvAllow(k, pp, pr.InheritEnv, pr.EnvAllow)
			for j, cmd := range pr.Setup {
				checkCommand(k, indexPath(pp+".setup", j), cmd, "[/usr/bin/python3, manage.py, migrate]")
			}
			checkReady(k, pp+".ready", pr.Ready, true)
			checkPositive(k, pp+".ready_timeout", pr.ReadyTimeout, "how long the server may take to start, such as 30s")
			checkPositive(k, pp+".stop_timeout", pr.StopTimeout, "the grace between SIGTERM and SIGKILL, such as 10s")
			checkCPUs(k, pp+".cpus", pr.CPUs)
		}
		checkModes(k, p+".modes", t.Modes)
		for j, name := range t.Services {
			sp := indexPath(p+".services", j)
			switch {
			case !services[name]:
				k.add(sp, "no service is named %q (%s)", name, k.suggest(name, "service", c.serviceNames))
			case slices.Index(t.Services, name) < j:
				k.add(sp, "service %q is listed twice (remove one)", name)
			}
		}
		for _, name := range sortedKeys(t.Overrides) {
			op := childPath(p+".overrides", name)
			if c.Endpoint(name) == nil {
				k.add(op, "no endpoint is named %q (%s)", name, k.suggest(name, "endpoint", c.endpointNames))
				continue
			}
			ov := t.Overrides[name]
			checkSettings(k, op, &ov)
		}
		if t.Instructions != nil {
			c.checkInstructions(k, p, t)
		}
	}
}

// checkInstructions checks a target's instructions block.
func (c *Config) checkInstructions(k *checker, p string, t *Target) {
	in, ip := t.Instructions, p+".instructions"
	if t.Process == nil {
		k.add(ip, "needs targets[].process (benchd starts the server under callgrind itself; add a process block)")
	}
	if len(in.Endpoints) == 0 {
		k.add(ip+".endpoints", "is required (the endpoints to count instructions of, such as [json])")
	}
	for j, name := range in.Endpoints {
		ep := indexPath(ip+".endpoints", j)
		switch {
		case c.Endpoint(name) == nil:
			k.add(ep, "no endpoint is named %q (%s)", name, k.suggest(name, "endpoint", c.endpointNames))
		case slices.Index(in.Endpoints, name) < j:
			k.add(ep, "endpoint %q is listed twice (remove one)", name)
		}
	}
	if in.Requests < 0 || in.Requests > MaxInstructionRequests {
		k.add(ip+".requests", "%d is outside 1 to %d (the requests counted, such as %d)", in.Requests, MaxInstructionRequests, DefaultInstructionRequests)
	}
	if in.WarmupRequests < -1 || in.WarmupRequests > MaxInstructionRequests {
		k.add(ip+".warmup_requests", "%d is outside -1 (none) to %d (the requests sent before counting, such as %d)", in.WarmupRequests, MaxInstructionRequests, DefaultInstructionWarmupRequests)
	}
	if in.Connections < 0 || in.Connections > MaxInstructionConnections {
		k.add(ip+".connections", "%d is outside 1 to %d (low concurrency: the lane counts a code path, not a server under load)", in.Connections, MaxInstructionConnections)
	}
	if in.Timeout < 0 {
		k.add(ip+".timeout", "%s is negative (the deadline of one request under callgrind, such as 30s)", in.Timeout)
	}
}

func checkTargetURL(k *checker, path, raw string) {
	if raw == "" {
		k.add(path, "is required (the base URL of the target, such as http://127.0.0.1:8000)")
		return
	}
	u, err := url.Parse(raw)
	switch {
	case !strings.Contains(raw, "://"):
		k.add(path, "%q is not an absolute URL (write it as http://host:port)", raw)
	case err != nil:
		k.add(path, "%q is not a valid URL: %w", raw, errors.Unwrap(err))
	case u.Scheme != "http" && u.Scheme != "https":
		k.add(path, "%q is not an absolute http:// or https:// URL (write it as http://host:port)", raw)
	case u.Hostname() == "":
		k.add(path, "%q has no host (write it as http://host:port)", raw)
	case u.RawQuery != "" || u.Fragment != "" || strings.ContainsAny(raw, "?#"):
		k.add(path, "%q has a query or fragment (put those in the endpoint paths)", raw)
	case u.User != nil:
		k.add(path, "%q has user information (send credentials with an Authorization header instead)", u.Redacted())
	}
}

// checkMatrix checks what spans targets and endpoints.
func (c *Config) checkMatrix(k *checker) {
	if len(c.Targets) == 0 {
		k.add("targets", "at least one target is required")
	}
	if len(c.Endpoints) == 0 {
		k.add("endpoints", "at least one endpoint is required")
	}
	var allModes []string
	for _, t := range c.Targets {
		for _, m := range t.Modes {
			if !slices.Contains(allModes, m) {
				allModes = append(allModes, m)
			}
		}
	}
	for ei, e := range c.Endpoints {
		p := indexPath("endpoints", ei)
		if len(allModes) > 0 {
			for j, m := range e.Modes {
				if !slices.Contains(allModes, m) {
					k.add(indexPath(p+".modes", j), "%q is not a mode of any target (%s)", m, k.suggest(m, "mode", func() []string { return allModes }))
				}
			}
		}
		for ti, t := range c.Targets {
			if len(t.Modes) > 0 || !t.runs(e.Name) { // a lane need not suit what it does not count
				continue
			}
			switch {
			case len(e.Modes) > 0:
				k.add(p+".modes", "target %q has no modes, so it cannot run an endpoint restricted to modes (give targets[%d] modes, or remove modes here)", t.Name, ti)
			case strings.Contains(e.Path, "{mode}"):
				k.add(p+".path", "%q has {mode}, but target %q has no modes to put there (give targets[%d] modes such as [sync], or remove {mode})", e.Path, t.Name, ti)
			}
		}
	}
	for _, x := range c.cells() {
		// connections < 1 is reported where it is set.
		if l := x.Load; l.Connections >= 1 && l.Threads > l.Connections {
			k.add1(x.from.threads+".threads", "%d threads is more than %d connections (set in %s); each thread needs a connection (lower threads, or use 0 for one per CPU)", l.Threads, l.Connections, originName(x.from.connections, "connections"))
		}
	}
}

// originName names where a resolved value came from.
func originName(path, key string) string {
	if path == "" {
		return "the built-in default"
	}
	return path + "." + key
}

// Warnings returns what is valid but probably unintended, one "yaml.path:
// what and why it matters" line per warning, in a stable order. It assumes
// a valid Config (call [Config.Validate] first) and never fails.
func (c *Config) Warnings() []string {
	var w []string
	add := func(path, format string, args ...any) {
		s := path + ": " + fmt.Sprintf(format, args...)
		if !slices.Contains(w, s) {
			w = append(w, s)
		}
	}
	each := func(fn func(path string, s *Settings)) {
		fn("defaults", &c.Defaults)
		for i := range c.Endpoints {
			fn(indexPath("endpoints", i), &c.Endpoints[i].Settings)
		}
		for i, t := range c.Targets {
			for _, name := range sortedKeys(t.Overrides) {
				ov := t.Overrides[name]
				fn(childPath(indexPath("targets", i)+".overrides", name), &ov)
			}
		}
	}
	each(func(path string, s *Settings) {
		if s.Connections != nil && *s.Connections > WarnConnections {
			add(path+".connections", "%d connections need as many file descriptors (RLIMIT_NOFILE) and ephemeral ports, here and on the target", *s.Connections)
		}
		if s.Method != nil && *s.Method != strings.ToUpper(*s.Method) {
			add(path+".method", "%q is not upper case; methods are case-sensitive and servers expect %q", *s.Method, strings.ToUpper(*s.Method))
		}
	})
	for i, t := range c.Targets {
		p := indexPath("targets", i)
		if u, err := url.Parse(t.URL); err == nil && u.Hostname() != "" && !isLoopback(u.Hostname()) {
			add(p+".url", "%s is not a loopback address: benchd will send load to another machine", u.Hostname())
		}
		if t.TLS != nil && strings.HasPrefix(t.URL, "http://") {
			add(p+".tls_config", "the target url %s is http://, so tls_config has no effect (use https://, or remove tls_config)", t.URL)
		}
		if t.TLS != nil && t.TLS.InsecureSkipVerify {
			add(p+".tls_config.insecure_skip_verify", "the server certificate is not verified: any server on that address is loaded and trusted (give ca_file instead)")
		}
		for _, name := range sortedKeys(t.Overrides) {
			switch e := c.Endpoint(name); {
			case e == nil:
			case !t.runs(name):
				add(childPath(p+".overrides", name), "the instruction lane counts only its instructions.endpoints %v, so this override of endpoint %q has no effect", t.Instructions.Endpoints, name)
			case len(scenarioModes(&c.Targets[i], e)) == 0:
				add(childPath(p+".overrides", name), "endpoint %q has no scenario on this target (its modes %v are not among %v), so the override has no effect", name, e.Modes, t.Modes)
			}
		}
	}
	// A missing working directory fails every start of the target; say so
	// at load time. The usual cause is a copy of default.yml away from the
	// Django project it names.
	missingDir := func(path, dir string) {
		if c.Dir == "" && !filepath.IsAbs(dir) {
			return // relative to a directory the caller has not set yet
		}
		d := c.ResolvePath(dir)
		if c.madeAtStart(d) {
			return // the embedded default's project, unpacked at start
		}
		if _, err := os.Stat(d); errors.Is(err, fs.ErrNotExist) {
			rel := ""
			if !filepath.IsAbs(dir) {
				rel = fmt.Sprintf(" (%q is relative to the config file's directory)", dir)
			}
			add(path, "%s does not exist, so the process cannot start%s; the reference Django project is deploy/django in benchd's source, and django/ in --storage.path once the default matrix has run", d, rel)
		}
	}
	for i, t := range c.Targets {
		if t.Process != nil {
			missingDir(indexPath("targets", i)+".process.dir", t.Process.Dir)
		}
	}
	for i, s := range c.Services {
		missingDir(indexPath("services", i)+".dir", s.Dir)
	}
	// A program that is not there yet may be installed before the run, so
	// this is a warning, not an error.
	for i, t := range c.Targets {
		if pr := t.Process; pr != nil {
			p := indexPath("targets", i) + ".process"
			if msg := c.programProblem(pr.Dir, pr.Command); msg != "" {
				add(p+".command[0]", "%s", msg)
			}
			for j, cmd := range pr.Setup {
				if msg := c.programProblem(pr.Dir, cmd); msg != "" {
					add(indexPath(p+".setup", j)+"[0]", "%s", msg)
				}
			}
		}
	}
	for i, s := range c.Services {
		if msg := c.programProblem(s.Dir, s.Command); msg != "" {
			add(indexPath("services", i)+".command[0]", "%s", msg)
		}
	}
	for i, s := range c.Services {
		if !slices.ContainsFunc(c.Targets, func(t Target) bool { return slices.Contains(t.Services, s.Name) }) {
			add(indexPath("services", i), "no target lists service %q, so it is never started", s.Name)
		}
	}
	for i, e := range c.Endpoints {
		if strings.Contains(e.Path, "{mode}") {
			continue
		}
		for _, t := range c.Targets {
			if modes := scenarioModes(&t, &e); len(modes) > 1 && t.runs(e.Name) {
				add(indexPath("endpoints", i)+".path", "has no {mode}, so modes %v of target %q load the same URL", modes, t.Name)
			}
		}
	}
	for _, x := range c.cells() {
		if l := x.Load; l.Timeout > l.Duration {
			at := originName(x.from.timeout, "timeout")
			if x.from.timeout == "" { // the built-in timeout: point at the short duration
				at = originName(x.from.duration, "duration")
			}
			add(at, "timeout %s is longer than duration %s (set in %s): requests still running when measuring ends are reported as in flight, not as latency", l.Timeout, l.Duration, originName(x.from.duration, "duration"))
		}
	}
	if s, err := c.CronSchedule(); err == nil {
		if gap, run := minGap(s), c.EstimatedRunDuration(); gap > 0 && run > gap {
			add("schedule", "runs may start %s apart, but one run of the matrix takes at least %s (warm-up, duration and timeout of each scenario): a run will still be going when the next is due, and that start is skipped", gap, run.Round(time.Second))
		}
	}
	return append(w, c.apiWarnings()...)
}

// minGap is the shortest time between two of the next activations of s.
func minGap(s interface{ Next(time.Time) time.Time }) time.Duration {
	var gap time.Duration
	t := s.Next(scheduleEpoch)
	for range 48 {
		next := s.Next(t)
		if next.IsZero() {
			break
		}
		if d := next.Sub(t); gap == 0 || d < gap {
			gap = d
		}
		t = next
	}
	return gap
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func suggest(name, kind string, names []string) string {
	if len(names) == 0 {
		return "none is defined"
	}
	if len(names) <= maxSuggest {
		if best := closest(name, names); best != "" {
			return fmt.Sprintf("did you mean %q?", best)
		}
	}
	if len(names) > maxListed {
		return fmt.Sprintf("%ss: %s and %d more", kind, strings.Join(names[:maxListed], ", "), len(names)-maxListed)
	}
	return kind + "s: " + strings.Join(names, ", ")
}

// Bounds on suggest's work and message: "did you mean" among at most
// maxSuggest names, and at most maxListed names listed.
const (
	maxSuggest = 1000
	maxListed  = 20
)

func (c *Config) serviceNames() []string {
	names := make([]string, len(c.Services))
	for i, s := range c.Services {
		names[i] = s.Name
	}
	return names
}

func (c *Config) endpointNames() []string {
	names := make([]string, len(c.Endpoints))
	for i, e := range c.Endpoints {
		names[i] = e.Name
	}
	return names
}

func indexPath(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for key := range m {
		keys = append(keys, key)
	}
	slices.Sort(keys)
	return keys
}
