package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/andybalholm/brotli"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/internal/testutil"
)

// These tests start the reference Django project under each of the four
// server configurations of DESIGN.md, as real processes on loopback, and
// check every endpoint. The servers run from the venv the tests share
// (SharedVenv, made once per requirements change); redis comes from Debian.
// A missing part fails the test with the command that installs it.

const (
	// redisServer and redisCLI are Debian's redis-server and redis-tools.
	redisServer = "/usr/bin/redis-server"
	redisCLI    = "/usr/bin/redis-cli"

	// readyTimeout bounds server start-up (two Python workers on a busy
	// 2-core machine).
	readyTimeout = 30 * time.Second
	// stopGrace is how long a server has to exit after SIGTERM before the
	// whole process group gets SIGKILL.
	stopGrace = 20 * time.Second
	// itemRows is how many rows json_query and template_query return.
	itemRows = 20
)

// testVenv is the bin directory of the shared venv, made by the first
// test that needs it.
var testVenv struct {
	once sync.Once
	bin  string
	err  error
}

// venvBin returns the bin directory of the shared venv (SharedVenv),
// failing the test with SharedVenv's error (which names what to install)
// when it cannot be made.
func venvBin(t testing.TB) string {
	t.Helper()
	testVenv.once.Do(func() {
		var dir string
		dir, testVenv.err = SharedVenv(context.Background(), slog.New(slog.NewTextHandler(os.Stderr, nil)))
		testVenv.bin = filepath.Join(dir, "bin")
	})
	if testVenv.err != nil {
		t.Fatalf("the Django stack's venv: %v", testVenv.err)
	}
	return testVenv.bin
}

// venvPython is the venv's python.
func venvPython(t testing.TB) string { return filepath.Join(venvBin(t), "python") }

// requireDjangoStack fails the test, naming the command that installs it,
// when the venv cannot be made or redis is missing.
func requireDjangoStack(t *testing.T) {
	t.Helper()
	var missing []string
	for _, tool := range []struct{ path, pkg string }{
		{redisServer, "redis-server"},
		{redisCLI, "redis-tools"},
	} {
		if _, err := os.Stat(tool.path); err != nil {
			missing = append(missing, tool.pkg)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the Django stack is incomplete; install it with: apt-get install -y %s (or run scripts/setup.sh)",
			strings.Join(missing, " "))
	}
	venvBin(t)
}

// lockedBuffer collects a child's output; it is written by the exec copier
// goroutine and read by the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// childEnv is the environment of every Python child: the test's own, minus
// any setting of the project's that would change what is tested, plus extra.
func childEnv(extra ...string) []string {
	env := []string{"PYTHONDONTWRITEBYTECODE=1"}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "BENCHD_DJANGO_") || strings.HasPrefix(kv, "DJANGO_SETTINGS_MODULE=") ||
			strings.HasPrefix(kv, "PYTHONDONTWRITEBYTECODE=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// managePy runs manage.py with args in dir and returns its stdout.
func managePy(t *testing.T, dir string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), venvPython(t), append([]string{"manage.py"}, args...)...)
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("manage.py %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// freePort returns a 127.0.0.1 port that was free a moment ago.
func freePort(t *testing.T) int { return testutil.FreePort(t) }

// serverConfig is one way of serving the project, as in DESIGN.md.
type serverConfig struct {
	name string
	// args is the command line, its program in the venv's bin; "ADDR" is
	// replaced by host:port.
	args []string
	// asgi is true if the server runs the async views too.
	asgi bool
}

var serverConfigs = []serverConfig{
	{
		name: "gunicorn-gevent",
		args: []string{"gunicorn", "-k", "gevent", "-w", "2", "--worker-connections", "1000", "--no-control-socket", "-b", "ADDR", "proj.wsgi:application"},
	},
	{
		name: "gunicorn-uvicorn",
		args: []string{"gunicorn", "-k", "uvicorn_worker.UvicornWorker", "-w", "2", "--no-control-socket", "-b", "ADDR", "proj.asgi:application"},
		asgi: true,
	},
	{
		name: "hypercorn-asyncio",
		args: []string{"hypercorn", "-k", "asyncio", "-w", "2", "-b", "ADDR", "proj.asgi:application"},
		asgi: true,
	},
	{
		name: "hypercorn-uvloop",
		args: []string{"hypercorn", "-k", "uvloop", "-w", "2", "-b", "ADDR", "proj.asgi:application"},
		asgi: true,
	},
}

// startDjango unpacks the project into a temporary directory, migrates and
// seeds its database, starts cfg on a free loopback port in its own process
// group, waits until /healthz answers and returns the base URL. The group is
// stopped (SIGTERM, then SIGKILL) when the test ends.
func startDjango(t *testing.T, cfg serverConfig, extraEnv ...string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "django")
	if err := UnpackDjango(dir); err != nil {
		t.Fatal(err)
	}
	env := childEnv(extraEnv...)
	managePy(t, dir, env, "migrate", "--no-input")
	managePy(t, dir, env, "seed_rows")

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(freePort(t)))
	args := slices.Clone(cfg.args)
	args[0] = filepath.Join(venvBin(t), args[0])
	for i, a := range args {
		if a == "ADDR" {
			args[i] = addr
		}
	}
	// Not CommandContext: the cleanup below stops the whole group, which
	// killing the leader alone would not.
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Dir = dir
	cmd.Env = env
	output := &lockedBuffer{}
	cmd.Stdout = output
	cmd.Stderr = output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cfg.name, err)
	}
	pgid := cmd.Process.Pid
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// Idle keep-alive connections would hold a graceful shutdown open.
		httpClient.CloseIdleConnections()
		stopping := time.Now()
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case err := <-exited:
			t.Logf("%s stopped in %v (%v)", cfg.name, time.Since(stopping).Round(time.Millisecond), err)
		case <-time.After(stopGrace):
			t.Errorf("%s did not exit within %v of SIGTERM", cfg.name, stopGrace)
		}
		// Workers may outlive their master; none may survive the test.
		if err := syscall.Kill(-pgid, syscall.SIGKILL); err == nil {
			t.Logf("%s: SIGKILL reached leftover processes", cfg.name)
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", cfg.name, output.String())
		}
	})

	base := "http://" + addr
	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("%s exited before it was ready: %v\n%s", cfg.name, err, output.String())
		default:
		}
		if status, body, _, err := get(t.Context(), base+"/healthz", nil); err == nil {
			if status != http.StatusOK || string(body) != "ok" {
				t.Fatalf("%s /healthz: status %d body %q, want 200 \"ok\"", cfg.name, status, body)
			}
			return base
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within %v\n%s", cfg.name, readyTimeout, output.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// httpClient never asks for or undoes compression, so the brotli body
// arrives as the server sent it.
var httpClient = &http.Client{
	Timeout:   20 * time.Second,
	Transport: &http.Transport{DisableCompression: true, Proxy: nil},
}

// get fetches url and returns the status, the body (capped at 4 MiB) and
// the headers. A "Host" entry in header replaces the request's Host.
func get(ctx context.Context, url string, header http.Header) (int, []byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, nil, err
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v[0]
			continue
		}
		req.Header[k] = v
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, body, resp.Header, err
}

// response is what an endpoint check gets to look at.
type response struct {
	mode    string
	header  http.Header
	body    []byte
	elapsed time.Duration
	// svc are the services the server was started with.
	svc *services
}

func decodeJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("body is not the expected JSON: %v\n%.300s", err, body)
	}
}

func checkContentType(t *testing.T, r response, want string) {
	t.Helper()
	if got := r.header.Get("Content-Type"); !strings.HasPrefix(got, want) {
		t.Errorf("Content-Type %q, want %s", got, want)
	}
}

func checkGateway(seconds int) func(*testing.T, response) {
	return func(t *testing.T, r response) {
		checkContentType(t, r, "application/json")
		var got struct {
			Gateway       string `json:"gateway"`
			WaitedSeconds int    `json:"waited_seconds"`
			Mode          string `json:"mode"`
		}
		decodeJSON(t, r.body, &got)
		if want := fmt.Sprintf("%ds", seconds); got.Gateway != want || got.WaitedSeconds != seconds || got.Mode != r.mode {
			t.Errorf("got %+v, want gateway %q, waited_seconds %d, mode %q", got, want, seconds, r.mode)
		}
		if least := time.Duration(seconds) * time.Second; r.elapsed < least {
			t.Errorf("answered in %v, want at least %v", r.elapsed, least)
		}
	}
}

// endpointCheck is one endpoint and what its answer must look like.
type endpointCheck struct {
	name   string
	header http.Header
	// asyncOnly is true for an endpoint without a sync view (404 there).
	asyncOnly bool
	// warm is true if the endpoint is requested once before the checked
	// request (cache_hit stores its key on the first miss).
	warm  bool
	check func(t *testing.T, r response)
}

var endpointChecks = []endpointCheck{
	{
		name: "json",
		check: func(t *testing.T, r response) {
			checkContentType(t, r, "application/json")
			var got map[string]any
			decodeJSON(t, r.body, &got)
			if msg, _ := got["message"].(string); msg == "" || got["mode"] != r.mode || len(got) != 2 {
				t.Errorf("got %v, want keys message (non-empty) and mode %q", got, r.mode)
			}
		},
	},
	{
		name: "json_query",
		check: func(t *testing.T, r response) {
			checkContentType(t, r, "application/json")
			var got struct {
				Mode  string           `json:"mode"`
				Count int              `json:"count"`
				Items []map[string]any `json:"items"`
			}
			decodeJSON(t, r.body, &got)
			if got.Mode != r.mode || got.Count != itemRows || len(got.Items) != itemRows {
				t.Fatalf("mode %q count %d items %d, want %q, %d, %d", got.Mode, got.Count, len(got.Items), r.mode, itemRows, itemRows)
			}
			for i, item := range got.Items {
				for _, key := range []string{"id", "name", "sku", "description", "price_cents", "quantity"} {
					if _, ok := item[key]; !ok {
						t.Errorf("items[%d] lacks %q: %v", i, key, item)
					}
				}
				if id, _ := item["id"].(float64); int(id) != i+1 {
					t.Errorf("items[%d].id = %v, want %d (rows in id order)", i, item["id"], i+1)
				}
			}
		},
	},
	{
		name: "template_query",
		check: func(t *testing.T, r response) {
			checkContentType(t, r, "text/html")
			body := string(r.body)
			if n := strings.Count(body, `<tr class="item">`); n != itemRows {
				t.Errorf("%d item rows in the HTML table, want %d", n, itemRows)
			}
			if !strings.Contains(body, fmt.Sprintf(`data-mode="%s"`, r.mode)) || !strings.Contains(body, "SKU-000020") {
				t.Errorf("HTML lacks the mode or row 20:\n%.500s", body)
			}
		},
	},
	{name: "gateway_1s", check: checkGateway(1)},
	{
		name:   "brotli",
		header: http.Header{"Accept-Encoding": {"br"}},
		check: func(t *testing.T, r response) {
			checkContentType(t, r, "application/json")
			if got := r.header.Get("Content-Encoding"); got != "br" {
				t.Errorf("Content-Encoding %q, want br", got)
			}
			if got := r.header.Values("Vary"); !slices.ContainsFunc(got, func(v string) bool {
				return strings.Contains(strings.ToLower(v), "accept-encoding")
			}) {
				t.Errorf("Vary %q, want Accept-Encoding", got)
			}
			plain, err := io.ReadAll(io.LimitReader(brotli.NewReader(bytes.NewReader(r.body)), 4<<20))
			if err != nil {
				t.Fatalf("body does not decode as Brotli: %v", err)
			}
			if len(plain) < 100<<10 || len(r.body) >= len(plain) {
				t.Errorf("%d bytes compressed to %d, want ≥ 100 KiB compressed to less", len(plain), len(r.body))
			}
			var got struct {
				Items []map[string]any `json:"items"`
			}
			decodeJSON(t, plain, &got)
			if len(got.Items) == 0 {
				t.Error("decoded payload has no items")
			}
		},
	},
}

// checkUpstream checks that an outbound endpoint returned the upstream's
// body and that the upstream saw a request from the client library whose
// User-Agent starts with agent.
func checkUpstream(agent string) func(*testing.T, response) {
	return func(t *testing.T, r response) {
		checkContentType(t, r, "application/json")
		if !bytes.Equal(r.body, upstreamBody) {
			t.Errorf("body: %d bytes %.80q..., want the upstream's %d bytes", len(r.body), r.body, len(upstreamBody))
		}
		if !r.svc.upstreamSaw(agent) {
			t.Errorf("the upstream saw no request from %s; User-Agents seen: %q", agent, r.svc.upstreamAgents())
		}
	}
}

var outboundChecks = []endpointCheck{
	{
		name: "cache_hit",
		warm: true,
		check: func(t *testing.T, r response) {
			checkContentType(t, r, "application/json")
			var got struct {
				Mode  string `json:"mode"`
				Hit   bool   `json:"hit"`
				Value struct {
					Message string `json:"message"`
					Numbers []int  `json:"numbers"`
				} `json:"value"`
			}
			decodeJSON(t, r.body, &got)
			if got.Mode != r.mode || !got.Hit || got.Value.Message == "" || len(got.Value.Numbers) != 16 {
				t.Errorf("got %+v, want mode %q, hit true, a message and 16 numbers", got, r.mode)
			}
		},
	},
	{
		name: "cache_set",
		check: func(t *testing.T, r response) {
			checkContentType(t, r, "application/json")
			var got struct {
				Mode  string          `json:"mode"`
				Key   string          `json:"key"`
				Value json.RawMessage `json:"value"`
			}
			decodeJSON(t, r.body, &got)
			if got.Mode != r.mode || !strings.HasPrefix(got.Key, "benchd:cache_set:") || len(got.Value) == 0 {
				t.Fatalf("got %s, want mode %q, a benchd:cache_set: key and a value", r.body, r.mode)
			}
			// What Redis holds under Django's key (prefix "", version 1) is
			// the value just written, as JSON.
			stored := r.svc.redisGet(t, ":1:"+got.Key)
			var a, b any
			decodeJSON(t, got.Value, &a)
			decodeJSON(t, []byte(stored), &b)
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("Redis holds %s under :1:%s, the view wrote %s", stored, got.Key, got.Value)
			}
		},
	},
	{name: "requests", check: checkUpstream("python-requests/")},
	{name: "httpx", check: checkUpstream("python-httpx/")},
	{name: "aiohttp", asyncOnly: true, check: checkUpstream("aiohttp/")},
}

// upstreamBody is what the test upstream serves: about 24 KiB of JSON, as
// `benchd upstream` does (its "service", which the default matrix checks).
var upstreamBody = []byte(`{"service":"benchd-upstream","data":"` + strings.Repeat("x", 24<<10-39) + `"}`)

// services are the helpers of the outbound endpoints, started once for all
// servers of a test: a Redis server and an HTTP upstream on loopback.
type services struct {
	redisAddr   string
	upstreamURL string

	mu     sync.Mutex
	agents map[string]bool // User-Agents the upstream has seen
}

// env returns the variables that point the Django project at s.
func (s *services) env() []string {
	return []string{"BENCHD_REDIS_URL=redis://" + s.redisAddr + "/0", "BENCHD_UPSTREAM_URL=" + s.upstreamURL}
}

func (s *services) upstreamSaw(prefix string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for a := range s.agents {
		if strings.HasPrefix(a, prefix) || strings.Contains(a, " "+prefix) {
			return true
		}
	}
	return false
}

func (s *services) upstreamAgents() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for a := range s.agents {
		out = append(out, a)
	}
	slices.Sort(out)
	return out
}

// redisGet returns the string value of key, read with redis-cli.
func (s *services) redisGet(t *testing.T, key string) string {
	t.Helper()
	host, port, _ := net.SplitHostPort(s.redisAddr)
	out, err := exec.CommandContext(t.Context(), redisCLI, "-h", host, "-p", port, "--raw", "GET", key).Output()
	if err != nil {
		t.Fatalf("redis-cli GET %s: %v", key, err)
	}
	return strings.TrimRight(string(out), "\n")
}

// startServices starts redis-server on a free loopback port (no
// persistence, working directory in a temporary directory) and the upstream;
// both stop when the test ends.
func startServices(t *testing.T) *services {
	t.Helper()
	s := &services{agents: map[string]bool{}}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.agents[r.UserAgent()] = true
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(upstreamBody)
	}))
	t.Cleanup(up.Close)
	s.upstreamURL = up.URL + "/"

	port := freePort(t)
	s.redisAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(redisServer, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	output := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = output, output
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = <-exited // killed: its exit status says so
	})
	deadline := time.Now().Add(readyTimeout)
	for {
		conn, err := net.DialTimeout("tcp", s.redisAddr, time.Second)
		if err == nil {
			conn.Close()
			return s
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("redis-server exited before it was ready: %v\n%s", err, output.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server not ready within %v\n%s", readyTimeout, output.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fetch requests path on base and returns an error unless it answers 200.
func fetch(t *testing.T, base, path string, header http.Header) (response, error) {
	t.Helper()
	start := time.Now()
	status, body, h, err := get(t.Context(), base+path, header)
	elapsed := time.Since(start)
	if err != nil {
		return response{}, err
	}
	if status != http.StatusOK {
		return response{}, fmt.Errorf("GET %s: status %d, want 200: %.300s", path, status, body)
	}
	return response{header: h, body: body, elapsed: elapsed}, nil
}

// checkDefaultExpect fails t unless r, a 200 answer of endpoint, passes
// the expect of that endpoint in the default matrix (config/default.yml),
// as the engine reads the body: the bytes as sent.
func checkDefaultExpect(t *testing.T, endpoint string, r response) {
	t.Helper()
	c, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(c.Endpoints, func(e config.Endpoint) bool { return e.Name == endpoint })
	if i < 0 || c.Endpoints[i].Expect == nil {
		t.Fatalf("the default matrix has no expect for endpoint %s", endpoint)
	}
	e := c.Endpoints[i].Expect
	if len(e.Status) > 0 && !slices.Contains(e.Status, http.StatusOK) {
		t.Errorf("default expect of %s does not accept 200: %v", endpoint, e.Status)
	}
	if e.BodyContains != "" && !bytes.Contains(r.body, []byte(e.BodyContains)) {
		t.Errorf("%s body lacks the default expect's %q: %.300s", endpoint, e.BodyContains, r.body)
	}
	if b := e.BodySize; b != nil && (len(r.body) < b.Min || b.Max > 0 && len(r.body) > b.Max) {
		t.Errorf("%s body is %d bytes, the default expect wants %d to %d", endpoint, len(r.body), b.Min, b.Max)
	}
}

// concurrentGateways sends n simultaneous gateway_1s requests and returns
// how long they took together.
func concurrentGateways(t *testing.T, base, mode string, n int) time.Duration {
	t.Helper()
	start := time.Now()
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := fetch(t, base, "/myapp/"+mode+"/gateway_1s", nil)
			errs <- err
		}()
	}
	var all []error
	for range n {
		all = append(all, <-errs)
	}
	if err := errors.Join(all...); err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

func TestDjangoServers(t *testing.T) {
	t.Parallel()
	requireDjangoStack(t)
	svc := startServices(t)
	for _, cfg := range serverConfigs {
		t.Run(cfg.name, func(t *testing.T) {
			t.Parallel()
			base := startDjango(t, cfg, svc.env()...)
			modes := []string{"sync"}
			if cfg.asgi {
				modes = append(modes, "async")
			}
			for _, mode := range modes {
				for _, ep := range slices.Concat(endpointChecks, outboundChecks) {
					path := "/myapp/" + mode + "/" + ep.name
					if ep.asyncOnly && mode == "sync" {
						t.Run(mode+"/"+ep.name+"_is_404", func(t *testing.T) {
							status, _, _, err := get(t.Context(), base+path, nil)
							if err != nil {
								t.Fatal(err)
							}
							if status != http.StatusNotFound {
								t.Errorf("GET %s: status %d, want 404 (no sync view)", path, status)
							}
						})
						continue
					}
					t.Run(mode+"/"+ep.name, func(t *testing.T) {
						if ep.warm {
							if _, err := fetch(t, base, path, ep.header); err != nil {
								t.Fatal(err)
							}
						}
						r, err := fetch(t, base, path, ep.header)
						if err != nil {
							t.Fatal(err)
						}
						r.mode, r.svc = mode, svc
						ep.check(t, r)
						checkDefaultExpect(t, ep.name, r)
					})
				}
			}
			t.Run("host outside ALLOWED_HOSTS", func(t *testing.T) {
				status, _, _, err := get(t.Context(), base+"/myapp/sync/json", http.Header{"Host": {"bench.example"}})
				if err != nil {
					t.Fatal(err)
				}
				if status != http.StatusBadRequest {
					t.Errorf("status %d, want %d", status, http.StatusBadRequest)
				}
			})
			// The mode that serves requests concurrently per worker: gevent's
			// greenlets for WSGI, the event loop for ASGI (Django runs sync
			// views on one shared thread per ASGI worker). Ten 1 s waits on two
			// workers take ≥ 5 s if they queue.
			concurrentMode := "sync"
			if cfg.asgi {
				concurrentMode = "async"
			}
			t.Run(concurrentMode+"/gateway_1s_concurrent", func(t *testing.T) {
				const n, limit = 10, 4 * time.Second
				if took := concurrentGateways(t, base, concurrentMode, n); took >= limit {
					t.Errorf("%d concurrent gateway_1s requests took %v, want < %v (requests queued?)", n, took, limit)
				}
			})
			if cfg.name == "gunicorn-uvicorn" {
				t.Run("async/gateway_3s", func(t *testing.T) {
					r, err := fetch(t, base, "/myapp/async/gateway_3s", nil)
					if err != nil {
						t.Fatal(err)
					}
					r.mode = "async"
					checkGateway(3)(t, r)
				})
			}
		})
	}
}

// TestDjangoRegressionKnobs checks the two settings that slow the reference
// views on purpose: a sleep (BENCHD_DJANGO_DELAY_MS) and CPU work
// (BENCHD_DJANGO_BURN_LOOPS). Only lower bounds on time are asserted: a busy
// machine can make a request slower, never faster.
func TestDjangoRegressionKnobs(t *testing.T) {
	t.Parallel()
	requireDjangoStack(t)
	for _, knob := range []struct {
		name, env string
		// atLeast is a bound every machine meets: 20,000,000 burn rounds
		// take 1.7 s on a quiet core here (87 ns a round); a core would have
		// to run CPython 3.5 times as fast to finish them in 0.5 s.
		atLeast time.Duration
	}{
		{"delay", "BENCHD_DJANGO_DELAY_MS=300", 300 * time.Millisecond},
		{"burn", "BENCHD_DJANGO_BURN_LOOPS=20000000", 500 * time.Millisecond},
	} {
		t.Run(knob.name, func(t *testing.T) {
			t.Parallel()
			base := startDjango(t, serverConfigs[2], knob.env)
			for _, mode := range []string{"sync", "async"} {
				r, err := fetch(t, base, "/myapp/"+mode+"/json", nil)
				if err != nil {
					t.Fatal(err)
				}
				r.mode = mode
				endpointChecks[0].check(t, r)
				if r.elapsed < knob.atLeast {
					t.Errorf("%s json answered in %v with %s, want ≥ %v", mode, r.elapsed, knob.env, knob.atLeast)
				}
			}
		})
	}
}

func TestDjangoManagement(t *testing.T) {
	t.Parallel()
	requireDjangoStack(t)
	dir := filepath.Join(t.TempDir(), "django")
	if err := UnpackDjango(dir); err != nil {
		t.Fatal(err)
	}
	env := childEnv()

	t.Run("a 500 logs its traceback to stderr", func(t *testing.T) {
		// No migrate yet: json_query hits a missing table.
		script := "from django.test import Client\n" +
			"r = Client(raise_request_exception=False).get('/myapp/sync/json_query', HTTP_HOST='127.0.0.1')\n" +
			"print(r.status_code)\n"
		cmd := exec.CommandContext(t.Context(), venvPython(t), "manage.py", "shell", "--no-imports", "-c", script)
		cmd.Dir = dir
		cmd.Env = env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("manage.py shell: %v\n%s", err, stderr.String())
		}
		if got := strings.TrimSpace(string(out)); got != "500" {
			t.Errorf("status %s, want 500", got)
		}
		for _, want := range []string{"ERROR django.request", "Traceback (most recent call last)", "no such table: myapp_item"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
			}
		}
	})

	t.Run("seed_rows is idempotent", func(t *testing.T) {
		managePy(t, dir, env, "migrate", "--no-input")
		if _, err := os.Stat(filepath.Join(dir, "db.sqlite3")); err != nil {
			t.Errorf("the default database is not db.sqlite3 in the project directory: %v", err)
		}
		for i, want := range []string{
			"100 created, 0 updated, 0 deleted, 100 rows",
			"0 created, 0 updated, 0 deleted, 100 rows",
		} {
			if got := managePy(t, dir, env, "seed_rows"); !strings.Contains(got, want) {
				t.Errorf("run %d: seed_rows said %q, want %q", i+1, got, want)
			}
		}
	})

	t.Run("system checks pass without warnings", func(t *testing.T) {
		managePy(t, dir, env, "check", "--fail-level", "WARNING")
	})

	t.Run("a bad setting is refused", func(t *testing.T) {
		for _, setting := range []string{
			"BENCHD_DJANGO_DELAY_MS=abc",
			"BENCHD_DJANGO_DELAY_MS=-5",
			"BENCHD_DJANGO_BURN_LOOPS=1.5",
			"BENCHD_DJANGO_BURN_LOOPS=-1",
			"BENCHD_DJANGO_DB_ENGINE=mysql",
		} {
			name, _, _ := strings.Cut(setting, "=")
			cmd := exec.CommandContext(t.Context(), venvPython(t), "manage.py", "check")
			cmd.Dir = dir
			cmd.Env = childEnv(setting)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(string(out), name+" must") {
				t.Errorf("%s: err %v, output %.300s; want a failure naming the variable", setting, err, out)
			}
		}
	})

	t.Run("BENCHD_DJANGO_DB moves the database", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "other.sqlite3")
		managePy(t, dir, childEnv("BENCHD_DJANGO_DB="+db), "migrate", "--no-input")
		if _, err := os.Stat(db); err != nil {
			t.Errorf("BENCHD_DJANGO_DB=%s: %v", db, err)
		}
	})

	t.Run("bytecode is not written", func(t *testing.T) {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.Name() == "__pycache__" || strings.HasSuffix(p, ".pyc") {
				t.Errorf("bytecode written: %s", p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// pgBin is where Debian's postgresql-15 keeps its server programs.
const pgBin = "/usr/lib/postgresql/15/bin"

// startPostgreSQL starts a throwaway PostgreSQL cluster in a temporary
// directory, on a free loopback port with its socket in that directory, as
// the postgres user (the server refuses to run as root), trusting local
// connections. It returns the port; the cluster is stopped when the test
// ends.
func startPostgreSQL(t *testing.T) int {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pgBin, "initdb")); err != nil {
		t.Fatalf("PostgreSQL 15 is not installed; install it with: apt-get install -y postgresql (or run scripts/setup.sh)")
	}
	pg, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("no postgres user (apt-get install -y postgresql creates it): %v", err)
	}
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	// t.TempDir and its parent are 0700 root: let postgres through.
	root := t.TempDir()
	for _, d := range []string{filepath.Dir(root), root} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	data, sock := filepath.Join(root, "data"), filepath.Join(root, "sock")
	for _, d := range []string{data, sock} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	asPostgres := func(args ...string) {
		t.Helper()
		cmd := exec.CommandContext(t.Context(), "runuser", append([]string{"-u", "postgres", "--"}, args...)...)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	asPostgres(filepath.Join(pgBin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
	port := freePort(t)
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off", port, sock)
	asPostgres(filepath.Join(pgBin, "pg_ctl"), "-D", data, "-o", opts, "-l", filepath.Join(sock, "server.log"), "-w", "-t", "60", "start")
	t.Cleanup(func() {
		cmd := exec.Command("runuser", "-u", "postgres", "--", filepath.Join(pgBin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("pg_ctl stop: %v\n%s", err, out)
		}
	})
	return port
}

// TestDjangoPostgreSQL serves json_query and template_query from a real
// PostgreSQL, chosen by BENCHD_DJANGO_DB_ENGINE: migrate, seed_rows and the
// views all go through psycopg 3 (the psycopg[binary] wheel).
func TestDjangoPostgreSQL(t *testing.T) {
	t.Parallel()
	requireDjangoStack(t)
	port := startPostgreSQL(t)
	env := []string{
		"BENCHD_DJANGO_DB_ENGINE=postgresql",
		"BENCHD_DJANGO_DB_NAME=postgres",
		"BENCHD_DJANGO_DB_USER=postgres",
		"BENCHD_DJANGO_DB_HOST=127.0.0.1",
		"BENCHD_DJANGO_DB_PORT=" + strconv.Itoa(port),
	}
	base := startDjango(t, serverConfigs[1], env...)
	for _, mode := range []string{"sync", "async"} {
		for _, ep := range endpointChecks[1:3] { // json_query, template_query
			t.Run(mode+"/"+ep.name, func(t *testing.T) {
				r, err := fetch(t, base, "/myapp/"+mode+"/"+ep.name, nil)
				if err != nil {
					t.Fatal(err)
				}
				r.mode = mode
				ep.check(t, r)
			})
		}
	}
	// Django's driver is psycopg 3, not psycopg2.
	dir := filepath.Join(t.TempDir(), "django")
	if err := UnpackDjango(dir); err != nil {
		t.Fatal(err)
	}
	driver := managePy(t, dir, childEnv(env...), "shell", "--no-imports", "-c",
		"from django.db import connection; connection.ensure_connection(); "+
			"print(connection.vendor, connection.Database.__name__, connection.Database.__version__.split('.')[0])")
	if got := strings.TrimSpace(driver); got != "postgresql psycopg 3" {
		t.Errorf("database driver %q, want \"postgresql psycopg 3\"", got)
	}
	// The rows are in PostgreSQL, not in a SQLite file.
	out, err := exec.CommandContext(t.Context(), "runuser", "-u", "postgres", "--", filepath.Join(pgBin, "psql"),
		"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres", "-At", "-c", "SELECT count(*) FROM myapp_item").CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "100" {
		t.Errorf("myapp_item has %s rows in PostgreSQL, want 100", got)
	}
}
