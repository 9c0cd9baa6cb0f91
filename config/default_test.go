package config

import (
	"bufio"
	"bytes"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// seedCell is one wrk run of the seed document (testdata holds a copy of
// django-workers-results.md, the results benchd automates).
type seedCell struct {
	name        string // target/mode/endpoint
	targetTitle string // the ## heading of its section
	title       string // the ### heading of its endpoint
	path        string
	duration    time.Duration
	connections int
}

// seedTargets maps the seed's section titles to benchd's target names.
var seedTargets = map[string]string{
	"WSGI Gunicorn Gevent":   "gunicorn-gevent",
	"ASGI Gunicorn Uvicorn":  "gunicorn-uvicorn",
	"ASGI Hypercorn Asyncio": "hypercorn-asyncio",
	"ASGI Hypercorn Uvloop":  "hypercorn-uvloop",
}

var (
	reSeedRunning = regexp.MustCompile(`^Running (\d+)s test @ http://localhost:8000(/myapp/(\w+)/(\w+))$`)
	reSeedConns   = regexp.MustCompile(`^\s*(\d+) threads and (\d+) connections$`)
)

// readSeed parses the seed document into its cells, in document order.
func readSeed(t *testing.T) []seedCell {
	t.Helper()
	data, err := os.ReadFile("testdata/seed-django-workers-results.md")
	if err != nil {
		t.Fatal(err)
	}
	var (
		cells                      []seedCell
		target, targetTitle, title string
		cur                        *seedCell
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if title, ok := strings.CutPrefix(line, "## "); ok {
			targetTitle = strings.TrimSpace(title)
			target = seedTargets[targetTitle]
			if target == "" {
				t.Fatalf("seed section %q maps to no target", title)
			}
			continue
		}
		if h, ok := strings.CutPrefix(line, "### "); ok {
			title = strings.TrimSpace(h)
			continue
		}
		if m := reSeedRunning.FindStringSubmatch(line); m != nil {
			secs, _ := strconv.Atoi(m[1])
			cells = append(cells, seedCell{name: target + "/" + m[3] + "/" + m[4], targetTitle: targetTitle, title: title,
				path: m[2], duration: time.Duration(secs) * time.Second})
			cur = &cells[len(cells)-1]
			continue
		}
		if m := reSeedConns.FindStringSubmatch(line); m != nil && cur != nil {
			cur.connections, _ = strconv.Atoi(m[2])
			cur = nil
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for _, c := range cells {
		if c.connections == 0 {
			t.Fatalf("seed cell %s has no connections line", c.name)
		}
	}
	// 4 targets: gevent 11 sync; each ASGI server 11 sync + 12 async.
	if len(cells) != 80 {
		t.Fatalf("seed has %d cells, want 80", len(cells))
	}
	return cells
}

// seedCells returns the names of the seed's cells, in order.
func seedCells(t *testing.T) []string {
	var names []string
	for _, c := range readSeed(t) {
		names = append(names, c.name)
	}
	return names
}

// seedTimeout is the request timeout of an endpoint: wrk's 2 s, except the
// slow gateways, whose answers must be able to arrive (DESIGN.md, Config).
func seedTimeout(endpoint string) time.Duration {
	switch endpoint {
	case "gateway_3s":
		return 5 * time.Second
	case "gateway_10s":
		return 12 * time.Second
	}
	return 2 * time.Second
}

// checkSeed checks that every scenario of c is the seed's cell of that name,
// with its path, duration and connections, and benchd's timeouts.
func checkSeed(t *testing.T, c *Config) {
	t.Helper()
	seed := map[string]seedCell{}
	for _, s := range readSeed(t) {
		seed[s.name] = s
	}
	for _, s := range c.Scenarios() {
		if s.Instructions != nil {
			continue // the instruction lane: not a seed cell
		}
		want, ok := seed[s.Name]
		if !ok {
			t.Errorf("%s is not in the seed", s.Name)
			continue
		}
		if got := strings.TrimPrefix(s.URL, "http://127.0.0.1:8000"); got != want.path {
			t.Errorf("%s: path %q, seed %q", s.Name, got, want.path)
		}
		if s.Load.Duration != want.duration {
			t.Errorf("%s: duration %v, seed %v", s.Name, s.Load.Duration, want.duration)
		}
		if s.Load.Connections != want.connections {
			t.Errorf("%s: connections %d, seed %d", s.Name, s.Load.Connections, want.connections)
		}
		if s.Load.Timeout != seedTimeout(s.Endpoint) {
			t.Errorf("%s: timeout %v, want %v", s.Name, s.Load.Timeout, seedTimeout(s.Endpoint))
		}
		if s.Load.Warmup != 2*time.Second || s.Load.Threads != 0 || s.Load.Method != http.MethodGet || s.Load.Rate != 0 ||
			s.Load.Body != "" || len(s.Load.Headers) != 0 {
			t.Errorf("%s: load %+v, want 2s warm-up, 0 threads, GET, closed loop, no body or headers", s.Name, s.Load)
		}
	}
}

func TestDefault(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatalf("Default(): %v", err)
	}
	if c.Dir != "" {
		t.Errorf("Dir = %q, want \"\"", c.Dir)
	}
	if c.Schedule != "0 * * * *" || !c.RunOnStart || c.CPUs != "" {
		t.Errorf("schedule %q, run_on_start %v, cpus %q", c.Schedule, c.RunOnStart, c.CPUs)
	}
	// The only warning: the token file, which benchd makes in the state
	// directory it places the matrix in (TestDefaultVenv has none).
	if w := c.Warnings(); len(w) != 1 || !strings.HasPrefix(w[0], "api.token_file: benchd.token does not exist") {
		t.Errorf("Warnings() = %q, want the missing token file only", w)
	}
	if c.API.TokenFile != "benchd.token" {
		t.Errorf("api.token_file = %q, want benchd.token (deploy/alertmanager/alertmanager.yml reads it)", c.API.TokenFile)
	}
	// The seed's "# " heading.
	seed, err := os.ReadFile("testdata/seed-django-workers-results.md")
	if err != nil {
		t.Fatal(err)
	}
	if first, _, _ := strings.Cut(string(seed), "\n"); "# "+c.Title != first {
		t.Errorf("title %q, the seed's heading is %q", c.Title, first)
	}

	// Exactly the seed's cells, in the seed's order: 4 targets, 11 sync
	// endpoints, 12 async ones (aiohttp is async only, gevent sync only).
	want := seedCells(t)
	var got, lane []string
	perTarget := map[string]int{}
	for _, s := range c.Scenarios() {
		if in := s.Instructions; in != nil {
			lane = append(lane, s.Name)
			if in.Requests != 100 || in.WarmupRequests != 20 || in.Connections != 1 || in.Timeout != DefaultInstructionTimeout {
				t.Errorf("%s: instructions %+v, want 100 requests after 20, 1 connection", s.Name, *in)
			}
			continue
		}
		got = append(got, s.Name)
		perTarget[s.Target+"/"+s.Mode]++
	}
	if len(got) != 80 || !slices.Equal(got, want) {
		t.Errorf("%d scenarios:\n got %q\nwant %q", len(got), got, want)
	}
	// And the instruction lane on the main views, after the load targets.
	if want := []string{"callgrind-sync/sync/json", "callgrind-sync/sync/json_query", "callgrind-sync/sync/template_query"}; !slices.Equal(lane, want) {
		t.Errorf("instruction lane %q, want %q", lane, want)
	}
	wantPer := map[string]int{
		"gunicorn-gevent/sync": 11, "gunicorn-uvicorn/sync": 11, "gunicorn-uvicorn/async": 12,
		"hypercorn-asyncio/sync": 11, "hypercorn-asyncio/async": 12, "hypercorn-uvloop/sync": 11, "hypercorn-uvloop/async": 12,
	}
	for k, n := range wantPer {
		if perTarget[k] != n {
			t.Errorf("%s: %d scenarios, want %d", k, perTarget[k], n)
		}
	}
	checkSeed(t, c)
	// A full run takes about 22 minutes, inside the hourly schedule: 66
	// scenarios of 2+10+2 s, 7 of gateway_3s (2+15+5 s) and 7 of
	// gateway_10s (2+22+12 s).
	// The lane: 3 × 120 requests at 0.5 s (measured).
	if got, want := c.EstimatedRunDuration(), (66*14+7*22+7*36)*time.Second+3*120*500*time.Millisecond; got != want {
		t.Errorf("EstimatedRunDuration() = %v, want %v", got, want)
	}

	// The services: Redis and benchd's own upstream, ready on the addresses
	// the Django settings point at.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	services := []Service{
		{Name: "redis", Command: []string{"/usr/bin/redis-server", "--bind", "127.0.0.1", "--port", "6379", "--save", "",
			"--appendonly", "no", "--loglevel", "warning"}, Ready: "tcp://127.0.0.1:6379", ReadyTimeout: DefaultReadyTimeout},
		{Name: "upstream", Command: []string{exe, "upstream", "--listen-address", "127.0.0.1:8090"},
			Ready: "tcp://127.0.0.1:8090", ReadyTimeout: DefaultReadyTimeout},
	}
	if len(c.Services) != len(services) {
		t.Fatalf("%d services, want %d", len(c.Services), len(services))
	}
	for i, want := range services {
		got := c.Services[i]
		if got.Name != want.Name || !slices.Equal(got.Command, want.Command) || got.Ready != want.Ready ||
			got.ReadyTimeout != want.ReadyTimeout || got.Dir != "" || len(got.Env) != 0 || got.CPUs != "" {
			t.Errorf("services[%d] = %+v, want %+v", i, got, want)
		}
	}
	env := map[string]string{"BENCHD_REDIS_URL": "redis://127.0.0.1:6379/0", "BENCHD_UPSTREAM_URL": "http://127.0.0.1:8090/"}

	// Every server and manage.py run from the venv benchd makes ({venv},
	// left for the caller to expand).
	setup := [][]string{{"{venv}/bin/python", "manage.py", "migrate", "--noinput"}, {"{venv}/bin/python", "manage.py", "seed_rows"}}
	// One worker per CPU: {nproc} is runtime.NumCPU() without cpus.
	workers := strconv.Itoa(runtime.NumCPU())
	commands := map[string][]string{
		"gunicorn-gevent": {"{venv}/bin/gunicorn", "-k", "gevent", "-w", workers, "--worker-connections", "1000",
			"-b", "127.0.0.1:8000", "--log-level", "warning", "--no-control-socket", "proj.wsgi:application"},
		"gunicorn-uvicorn": {"{venv}/bin/gunicorn", "-k", "uvicorn_worker.UvicornWorker", "-w", workers,
			"-b", "127.0.0.1:8000", "--log-level", "warning", "--no-control-socket", "proj.asgi:application"},
		"hypercorn-asyncio": {"{venv}/bin/hypercorn", "-k", "asyncio", "-w", workers, "-b", "127.0.0.1:8000", "proj.asgi:application"},
		"hypercorn-uvloop":  {"{venv}/bin/hypercorn", "-k", "uvloop", "-w", workers, "-b", "127.0.0.1:8000", "proj.asgi:application"},
		"callgrind-sync": {"{venv}/bin/gunicorn", "-k", "sync", "-w", "1", "--timeout", "600",
			"-b", "127.0.0.1:8000", "--log-level", "warning", "--no-control-socket", "proj.wsgi:application"},
	}
	if len(c.Targets) != len(commands) {
		t.Errorf("%d targets, want %d", len(c.Targets), len(commands))
	}
	for _, tg := range c.Targets {
		p := tg.Process
		if p == nil {
			t.Errorf("%s: not managed", tg.Name)
			continue
		}
		if !slices.Equal(p.Command, commands[tg.Name]) {
			t.Errorf("%s: command %q, want %q", tg.Name, p.Command, commands[tg.Name])
		}
		readyTimeout := 60 * time.Second
		if tg.Instructions != nil {
			readyTimeout = 120 * time.Second // start-up under valgrind
		}
		if tg.URL != "http://127.0.0.1:8000" || p.Dir != "django" || p.Ready != "/healthz" ||
			p.ReadyTimeout != readyTimeout || p.StopTimeout != DefaultStopTimeout {
			t.Errorf("%s: url %q dir %q ready %q ready_timeout %v stop_timeout %v", tg.Name, tg.URL, p.Dir, p.Ready, p.ReadyTimeout, p.StopTimeout)
		}
		if got := tg.ReadyURL(); got != "http://127.0.0.1:8000/healthz" {
			t.Errorf("%s: ReadyURL() = %q", tg.Name, got)
		}
		if !slices.EqualFunc(p.Setup, setup, slices.Equal) {
			t.Errorf("%s: setup %q, want %q", tg.Name, p.Setup, setup)
		}
		if !maps.Equal(p.Env, env) || p.CPUs != "" {
			t.Errorf("%s: env %q cpus %q, want env %q and no pinning", tg.Name, p.Env, p.CPUs, env)
		}
		if !slices.Equal(tg.Services, []string{"redis", "upstream"}) {
			t.Errorf("%s: services %q, want [redis upstream]", tg.Name, tg.Services)
		}
	}
	// Reports head sections with the seed's titles.
	for _, s := range readSeed(t) {
		sc, ok := c.Scenario(s.name)
		if !ok {
			continue
		}
		if got := c.Target(sc.Target).Title; got != s.targetTitle {
			t.Errorf("%s: target title %q, seed %q", s.name, got, s.targetTitle)
		}
		if got := c.Endpoint(sc.Endpoint).Title; got != s.title {
			t.Errorf("%s: endpoint title %q, seed %q", s.name, got, s.title)
		}
	}
	c.Dir = "/var/lib/benchd"
	if got := c.ResolvePath(c.Targets[0].Process.Dir); got != "/var/lib/benchd/django" {
		t.Errorf("ResolvePath(django) = %q", got)
	}
}

// TestDefaultVenv checks that the default matrix names the venv through
// {venv}, that ExpandVenv fills it in everywhere, and that a venv benchd
// has not made yet is no warning: benchd makes it at start.
func TestDefaultVenv(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if !c.UsesVenv() {
		t.Fatal("UsesVenv() = false for the default matrix")
	}
	storage := t.TempDir()
	if err := os.Mkdir(filepath.Join(storage, "django"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The write API token, which benchd makes beside the Django project.
	if err := os.WriteFile(filepath.Join(storage, c.API.TokenFile), []byte("t0ken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.Dir = storage
	venv := filepath.Join(storage, "venv") // does not exist
	if w := c.Warnings(); len(w) > 0 {
		t.Errorf("before ExpandVenv: Warnings() = %q", w)
	}
	c.ExpandVenv(venv)
	if c.UsesVenv() {
		t.Error("UsesVenv() = true after ExpandVenv")
	}
	if w := c.Warnings(); len(w) > 0 {
		t.Errorf("after ExpandVenv: Warnings() = %q", w)
	}
	want := map[string]string{"gunicorn-gevent": "gunicorn", "gunicorn-uvicorn": "gunicorn", "hypercorn-asyncio": "hypercorn", "hypercorn-uvloop": "hypercorn", "callgrind-sync": "gunicorn"}
	for _, tg := range c.Targets {
		if got, w := tg.Process.Command[0], filepath.Join(venv, "bin", want[tg.Name]); got != w {
			t.Errorf("%s: command[0] = %q, want %q", tg.Name, got, w)
		}
		for _, cmd := range tg.Process.Setup {
			if got, w := cmd[0], filepath.Join(venv, "bin", "python"); got != w {
				t.Errorf("%s: setup %q, want %q first", tg.Name, cmd, w)
			}
		}
	}
}

func TestDefaultYAML(t *testing.T) {
	file, err := os.ReadFile("default.yml")
	if err != nil {
		t.Fatal(err)
	}
	got := DefaultYAML()
	if !bytes.Equal(got, file) {
		t.Fatal("DefaultYAML() differs from default.yml")
	}
	got[0] = '!'
	if again := DefaultYAML(); !bytes.Equal(again, file) {
		t.Fatal("changing the returned slice changed the embedded default")
	}
	// Each Default is a new value: changing one leaves the next alone.
	a, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	a.Targets[0].Name = "changed"
	b, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if b.Targets[0].Name != "gunicorn-gevent" {
		t.Errorf("Default() shares state: %q", b.Targets[0].Name)
	}
}

// TestDefaultExpect checks that every endpoint of the default matrix
// checks its answers' bodies (the strings themselves are checked against
// the live Django project by deploy's TestDjangoServers), and that a
// scenario's plan gets them.
func TestDefaultExpect(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range c.Endpoints {
		if x := e.Expect; x == nil || x.BodyContains == "" && x.BodySize == nil {
			t.Errorf("endpoints[%d] (%s) has no body check", i, e.Name)
		}
	}
	for _, s := range c.Scenarios() {
		if s.Expect.BodyContains == "" && s.Expect.BodySize == nil || s.Sources.Expect == "" {
			t.Errorf("%s: expect %+v from %q, want the endpoint's", s.Name, s.Expect, s.Sources.Expect)
		}
		// The policies measured in docs/default-matrix.md: wait where
		// hypercorn-asyncio answers nothing in time under either policy
		// (and its aiohttp), reconnect everywhere else.
		want := OnTimeoutReconnect
		if s.Target == "hypercorn-asyncio" && waitOnHypercornAsyncio[s.Endpoint] {
			want = OnTimeoutWait
		}
		if s.Load.OnTimeout != want {
			t.Errorf("%s: on_timeout %q, want %q (docs/default-matrix.md)", s.Name, s.Load.OnTimeout, want)
		}
	}
}

// waitOnHypercornAsyncio is the endpoints config/default.yml gives
// on_timeout: wait on hypercorn-asyncio.
var waitOnHypercornAsyncio = map[string]bool{"json": true, "json_query": true, "template_query": true,
	"gateway_1s": true, "brotli": true, "cache_hit": true, "cache_set": true, "requests": true, "aiohttp": true}
