// Package djangotest runs the reference Django target (deploy/django) for
// tests outside package deploy: it unpacks, migrates and seeds the project
// and serves it under gunicorn+gevent on loopback.
package djangotest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/benchd/benchd/deploy"
)

// RequireDjangoStack fails the test (never skips it) when the Debian
// packages of the reference Django target are missing, naming the command
// that installs them.
func RequireDjangoStack(t testing.TB) {
	t.Helper()
	for _, p := range []string{"/usr/bin/python3", "/usr/bin/gunicorn", "/usr/bin/hypercorn"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("%s is missing: run `make setup` (scripts/setup.sh: apt-get install -y python3-django gunicorn python3-gevent python3-uvicorn python3-hypercorn python3-uvloop python3-brotli)", p)
		}
	}
	if out, err := exec.Command("/usr/bin/python3", "-c", "import django, gevent, uvicorn, hypercorn, uvloop").CombinedOutput(); err != nil {
		t.Fatalf("python modules missing (%s): run `make setup` (apt-get install -y python3-django python3-gevent python3-uvicorn python3-hypercorn python3-uvloop)", out)
	}
}

// PrepareDjango unpacks the reference Django project into a temporary
// directory, migrates and seeds its SQLite database, and returns the
// project directory.
func PrepareDjango(t testing.TB) string {
	t.Helper()
	RequireDjangoStack(t)
	dir := filepath.Join(t.TempDir(), "django")
	if err := deploy.UnpackDjango(dir); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"manage.py", "migrate", "--noinput"}, {"manage.py", "seed_rows"}} {
		cmd := exec.Command("/usr/bin/python3", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	return dir
}

// StartDjango serves the Django project in dir under gunicorn+gevent (one
// worker) on 127.0.0.1:port with extra environment (such as
// BENCHD_DJANGO_DELAY_MS=200), waits until /healthz answers, and returns a
// function that kills its process group; the test's cleanup calls it too.
func StartDjango(t testing.TB, dir string, port int, env ...string) (stop func()) {
	t.Helper()
	cmd := exec.Command("/usr/bin/gunicorn", "-k", "gevent", "-w", "1", "--worker-connections", "200",
		"-b", fmt.Sprintf("127.0.0.1:%d", port), "proj.wsgi:application")
	cmd.Dir = dir
	cmd.Env = append(append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1"), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		_ = cmd.Wait()
	}
	t.Cleanup(stop)
	url := fmt.Sprintf("http://127.0.0.1:%d/healthz", port)
	for i := 0; ; i++ {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return stop
			}
		}
		if i > 300 {
			t.Fatalf("django on port %d not ready after 15 s", port)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
