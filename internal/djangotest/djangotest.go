// Package djangotest runs the reference Django target (deploy/django) for
// tests outside package deploy: it unpacks, migrates and seeds the project
// and serves it under gunicorn+gevent on loopback, from the venv all test
// packages share (deploy.SharedVenv, made once per requirements change).
package djangotest

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/benchd/benchd/deploy"
)

// shared is the shared venv's bin directory, made by the first caller.
var shared struct {
	once sync.Once
	bin  string
	err  error
}

// VenvBin returns the bin directory of the venv the tests share
// (deploy.SharedVenv under ~/.cache/benchd): VenvBin(t)+"/gunicorn",
// "/hypercorn" and "/python" are the reference target's programs. The first
// call in a test binary makes the venv if needed (about a minute, once per
// requirements change; concurrent test binaries wait for one another). It
// fails the test (never skips it) with what to install when the venv cannot
// be made, such as `apt-get install -y python3-venv`.
func VenvBin(t testing.TB) string {
	t.Helper()
	shared.once.Do(func() {
		var dir string
		dir, shared.err = deploy.SharedVenv(context.Background(), slog.New(slog.NewTextHandler(os.Stderr, nil)))
		shared.bin = filepath.Join(dir, "bin")
	})
	if shared.err != nil {
		t.Fatalf("the reference Django target's venv: %v", shared.err)
	}
	return shared.bin
}

// RequireDjangoStack fails the test (never skips it) when the reference
// Django target's venv cannot be made; the error names what to install.
func RequireDjangoStack(t testing.TB) { VenvBin(t) }

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
		cmd := exec.Command(filepath.Join(VenvBin(t), "python"), args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	return dir
}

// StartDjango serves the Django project in dir under the venv's
// gunicorn+gevent (one worker) on 127.0.0.1:port with extra environment (such as
// BENCHD_DJANGO_DELAY_MS=200), waits until /healthz answers, and returns a
// function that kills its process group; the test's cleanup calls it too.
func StartDjango(t testing.TB, dir string, port int, env ...string) (stop func()) {
	t.Helper()
	cmd := exec.Command(filepath.Join(VenvBin(t), "gunicorn"), "-k", "gevent", "-w", "1", "--worker-connections", "200", "--no-control-socket",
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
