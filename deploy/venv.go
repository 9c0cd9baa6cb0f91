package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Requirements is deploy/django/requirements.txt: the reference target's
// Python packages with exact versions and sha256 hashes, made by
// scripts/django-lock.sh from requirements.in.
//
//go:embed django/requirements.txt
var Requirements []byte

// Python is the interpreter the venv is made with: Debian 12's CPython
// 3.11, named by path so that a pyenv or other python3 first on PATH is not
// taken by mistake.
const Python = "/usr/bin/python3"

// VenvStamp is the file in a venv holding the hex sha256 of the
// [Requirements] it was installed from. It is written last, so a venv
// without it (an interrupted install) is made again.
const VenvStamp = "benchd-requirements.sha256"

// venvTimeout bounds the making of a venv (measured at ~30 s with a warm
// network, 1 min on a cold one).
const venvTimeout = 10 * time.Minute

// RequirementsHash is the hex sha256 of [Requirements].
func RequirementsHash() string {
	sum := sha256.Sum256(Requirements)
	return hex.EncodeToString(sum[:])
}

// EnsureVenv makes dir a Python virtual environment holding exactly the
// packages of [Requirements], unless it is one already: its [VenvStamp]
// names the hash of these requirements and its bin/python runs. Otherwise
// it removes dir, runs `/usr/bin/python3 -m venv dir` and
// `dir/bin/pip install --require-hashes --only-binary=:all: -r
// dir/requirements.txt` (wheels from PyPI, ~1 min), and writes the stamp.
// What it does is logged at info level.
//
// A lock file beside dir (dir + ".lock") keeps concurrent callers, in this
// and other processes, from building it at the same time: the later one
// waits and then finds the venv made. The errors, prefixed "deploy: ", say
// what to install (apt-get install python3-venv) or that PyPI is
// unreachable, with the tail of pip's output; ctx ends the wait and the
// install, and the install takes at most 10 minutes.
func EnsureVenv(ctx context.Context, dir string, logger *slog.Logger) error {
	return ensureVenv(ctx, dir, Python, logger)
}

// ensureVenv is EnsureVenv with the interpreter python.
func ensureVenv(ctx context.Context, dir, python string, logger *slog.Logger) error {
	if dir == "" {
		return errors.New("deploy: venv: empty directory name")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("deploy: venv: %w", err)
	}
	want := RequirementsHash()
	if venvCurrent(dir, want) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("deploy: venv: %w", err)
	}
	unlock, err := lockFile(ctx, dir+".lock")
	if err != nil {
		return fmt.Errorf("deploy: venv %s: %w", dir, err)
	}
	defer unlock()
	if venvCurrent(dir, want) { // made while this call waited
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, venvTimeout)
	defer cancel()
	start := time.Now()
	// At warn: the minute's wait must show where only warnings are logged
	// (benchd's subcommands), or the first `benchd matrix` seems to hang.
	logger.Warn("making the reference Django target's Python venv from PyPI (once per requirements change, about 1 min)",
		"dir", dir, "python", python, "requirements_sha256", want[:12])
	if err := makeVenv(ctx, dir, python); err != nil {
		return err
	}
	logger.Info("the Python venv is ready", "dir", dir, "duration_seconds", time.Since(start).Round(time.Second).Seconds())
	return nil
}

// venvCurrent reports whether dir is a venv made from requirements with
// hash want.
func venvCurrent(dir, want string) bool {
	stamp, err := os.ReadFile(filepath.Join(dir, VenvStamp))
	if err != nil || strings.TrimSpace(string(stamp)) != want {
		return false
	}
	_, err = os.Stat(filepath.Join(dir, "bin", "python"))
	return err == nil
}

func makeVenv(ctx context.Context, dir, python string) error {
	if _, err := os.Stat(python); err != nil {
		return fmt.Errorf("deploy: venv: %s is missing: install Debian's Python with `apt-get install -y python3 python3-venv` (or run `make setup`)", python)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("deploy: venv: remove the old venv: %w", err)
	}
	if out, err := run(ctx, python, "-m", "venv", dir); err != nil {
		hint := ""
		if bytes.Contains(out, []byte("ensurepip")) || bytes.Contains(out, []byte("No module named venv")) {
			hint = ": Debian's venv module is missing: `apt-get install -y python3-venv` (or run `make setup`)"
		}
		return fmt.Errorf("deploy: venv: %s -m venv %s: %w%s\n%s", python, dir, err, hint, tail(out))
	}
	reqs := filepath.Join(dir, "requirements.txt")
	if err := writeFileAtomic(reqs, Requirements, 0o644); err != nil {
		return fmt.Errorf("deploy: venv: %w", err)
	}
	out, err := run(ctx, filepath.Join(dir, "bin", "pip"), "install", "--require-hashes", "--only-binary=:all:",
		"--no-input", "--disable-pip-version-check", "--no-cache-dir", "-r", reqs)
	if err != nil {
		hint := ""
		for _, s := range []string{"NewConnectionError", "Temporary failure in name resolution", "Network is unreachable",
			"ConnectTimeout", "ReadTimeout", "No matching distribution found", "ProxyError", "SSLError"} {
			if bytes.Contains(out, []byte(s)) {
				hint = ": PyPI (the Python Package Index) looks unreachable from here: check the network, a proxy (HTTPS_PROXY) or PIP_INDEX_URL"
				break
			}
		}
		return fmt.Errorf("deploy: venv: pip install -r %s: %w%s\n%s", reqs, err, hint, tail(out))
	}
	if err := writeFileAtomic(filepath.Join(dir, VenvStamp), []byte(RequirementsHash()+"\n"), 0o644); err != nil {
		return fmt.Errorf("deploy: venv: %w", err)
	}
	return nil
}

// run runs a command and returns its combined output.
func run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PIP_NO_INPUT=1")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", err, ctx.Err())
	}
	return out, err
}

// tail is the last 2 KiB of out, for an error message.
func tail(out []byte) string {
	const n = 2048
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.TrimSpace(string(out))
}

// lockFile takes an exclusive flock on name, creating it, polling every
// 100 ms until ctx is done. unlock releases it.
func lockFile(ctx context.Context, name string) (unlock func(), err error) {
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("lock %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("waiting for %s (another benchd or test is making the venv): %w", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// SharedVenv is [EnsureVenv] on a venv shared by all benchd test packages
// and checkouts on this machine: venv-<first 16 hex digits of
// RequirementsHash> under os.UserCacheDir()/benchd (~/.cache/benchd), made
// once per requirements change. It returns the venv's directory; its
// executables are in its bin/.
func SharedVenv(ctx context.Context, logger *slog.Logger) (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("deploy: shared venv: %w", err)
	}
	dir := filepath.Join(cache, "benchd", "venv-"+RequirementsHash()[:16])
	if err := EnsureVenv(ctx, dir, logger); err != nil {
		return "", err
	}
	return dir, nil
}
