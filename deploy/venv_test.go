package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakePython writes an executable shell script standing in for
// /usr/bin/python3 -m venv DIR: it appends a line to calls, then runs body
// with $3 the venv directory. It returns the script's path and the calls
// file.
func fakePython(t *testing.T, body string) (python, calls string) {
	t.Helper()
	dir := t.TempDir()
	python, calls = filepath.Join(dir, "python3"), filepath.Join(dir, "calls")
	script := fmt.Sprintf("#!/bin/sh\necho \"$@\" >>%s\n%s\n", calls, body)
	if err := os.WriteFile(python, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return python, calls
}

// madeVenv is a fake venv: bin/python and a bin/pip that prints pipOut and
// exits with pipExit.
func madeVenv(pipOut string, pipExit int) string {
	return fmt.Sprintf(`mkdir -p "$3/bin" && touch "$3/bin/python" &&
printf '#!/bin/sh\necho "%s"\nexit %d\n' >"$3/bin/pip" && chmod +x "$3/bin/pip"`, pipOut, pipExit)
}

func countCalls(t *testing.T, calls string) int {
	t.Helper()
	data, err := os.ReadFile(calls)
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(data, []byte("\n"))
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestEnsureVenvErrors checks that each way making the venv fails says
// what to do about it.
func TestEnsureVenvErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		body string // "" means no interpreter at all
		want []string
	}{
		{"no python", "", []string{"is missing", "apt-get install -y python3 python3-venv"}},
		{"no venv module", `echo "The virtual environment was not created successfully because ensurepip is not
available.  On Debian/Ubuntu systems, you need to install the python3-venv package"; exit 1`,
			[]string{"-m venv", "apt-get install -y python3-venv", "ensurepip is not"}},
		{"PyPI unreachable", madeVenv("WARNING: Retrying after connection broken by NewConnectionError: [Errno -3] Temporary failure in name resolution", 1),
			[]string{"pip install -r", "PyPI (the Python Package Index) looks unreachable", "NewConnectionError"}},
		{"bad hash", madeVenv("ERROR: THESE PACKAGES DO NOT MATCH THE HASHES FROM THE REQUIREMENTS FILE.", 1),
			[]string{"pip install -r", "DO NOT MATCH THE HASHES"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			python := filepath.Join(t.TempDir(), "python3")
			if tt.body != "" {
				python, _ = fakePython(t, tt.body)
			}
			dir := filepath.Join(t.TempDir(), "venv")
			err := ensureVenv(t.Context(), dir, python, discard())
			if err == nil {
				t.Fatal("ensureVenv succeeded, want an error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, VenvStamp)); err == nil {
				t.Error("a failed venv has a stamp")
			}
		})
	}
}

// TestEnsureVenvStamp checks that a venv is made once per requirements
// hash, made again when its stamp differs or is missing, and made once by
// concurrent callers.
func TestEnsureVenvStamp(t *testing.T) {
	python, calls := fakePython(t, "sleep 0.2; "+madeVenv("ok", 0))
	dir := filepath.Join(t.TempDir(), "state", "venv")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Go(func() { errs[i] = ensureVenv(t.Context(), dir, python, discard()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if n := countCalls(t, calls); n != 1 {
		t.Fatalf("4 concurrent callers ran python -m venv %d times, want 1", n)
	}
	stamp, err := os.ReadFile(filepath.Join(dir, VenvStamp))
	if err != nil || strings.TrimSpace(string(stamp)) != RequirementsHash() {
		t.Fatalf("stamp %q (%v), want %s", stamp, err, RequirementsHash())
	}
	reqs, err := os.ReadFile(filepath.Join(dir, "requirements.txt"))
	if err != nil || !bytes.Equal(reqs, Requirements) {
		t.Errorf("the venv's requirements.txt is not the embedded one (%v)", err)
	}
	if err := ensureVenv(t.Context(), dir, python, discard()); err != nil || countCalls(t, calls) != 1 {
		t.Fatalf("current venv: err %v, %d calls, want none made", err, countCalls(t, calls))
	}
	// Older requirements, then an interrupted install (no stamp): made again.
	for i, spoil := range []func() error{
		func() error { return os.WriteFile(filepath.Join(dir, VenvStamp), []byte("0123\n"), 0o644) },
		func() error { return os.Remove(filepath.Join(dir, VenvStamp)) },
	} {
		if err := os.WriteFile(filepath.Join(dir, "leftover"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := spoil(); err != nil {
			t.Fatal(err)
		}
		if err := ensureVenv(t.Context(), dir, python, discard()); err != nil {
			t.Fatal(err)
		}
		if n := countCalls(t, calls); n != 2+i {
			t.Errorf("spoil %d: %d calls, want %d", i, n, 2+i)
		}
		if _, err := os.Stat(filepath.Join(dir, "leftover")); err == nil {
			t.Errorf("spoil %d: the old venv's files survived its re-creation", i)
		}
	}
	if err := EnsureVenv(t.Context(), "", discard()); err == nil {
		t.Error(`EnsureVenv("") succeeded`)
	}
}

// normalizePackage is a package name as PEP 503 compares them.
func normalizePackage(name string) string {
	name = strings.ToLower(name)
	return strings.NewReplacer("_", "-", ".", "-").Replace(name)
}

// pins returns the name==version lines of a requirements or pip freeze
// text, by normalized name.
func pins(t *testing.T, text string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, version, ok := strings.Cut(line, "==")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ = strings.Cut(name, "[")
		version, _, _ = strings.Cut(version, " ")
		out[normalizePackage(name)] = version
	}
	return out
}

// TestVenvPinned checks that the shared venv holds exactly the pinned
// versions of requirements.txt, no more and no fewer, and that the server
// programs the default matrix names are in its bin.
func TestVenvPinned(t *testing.T) {
	bin := venvBin(t)
	want := pins(t, string(Requirements))
	if len(want) < 15 {
		t.Fatalf("requirements.txt pins %d packages, want the whole stack", len(want))
	}
	for _, name := range []string{"django", "gunicorn", "gevent", "uvicorn", "uvicorn-worker", "httptools", "uvloop",
		"hypercorn", "redis", "brotli", "requests", "httpx", "aiohttp", "psycopg", "psycopg-binary"} {
		if want[name] == "" {
			t.Errorf("requirements.txt does not pin %s", name)
		}
	}
	if !strings.HasPrefix(want["django"], "5.2.") {
		t.Errorf("Django %s, want 5.2 LTS", want["django"])
	}
	out, err := exec.CommandContext(t.Context(), filepath.Join(bin, "pip"), "freeze", "--disable-pip-version-check").Output()
	if err != nil {
		t.Fatalf("pip freeze: %v", err)
	}
	got := pins(t, string(out))
	for name, v := range want {
		if got[name] != v {
			t.Errorf("%s: venv has %q, requirements.txt pins %q", name, got[name], v)
		}
	}
	for name, v := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("%s==%s is in the venv but not in requirements.txt", name, v)
		}
	}
	for _, prog := range []string{"python", "gunicorn", "hypercorn"} {
		if _, err := exec.LookPath(filepath.Join(bin, prog)); err != nil {
			t.Errorf("venv bin: %v", err)
		}
	}
	// uvicorn's "auto" choices (gunicorn's uvicorn worker asks for them)
	// are the C parser and loop, not h11 and asyncio.
	out, err = exec.CommandContext(t.Context(), filepath.Join(bin, "python"), "-c",
		"from uvicorn.protocols.http.auto import AutoHTTPProtocol\n"+
			"from uvicorn.loops.auto import auto_loop_factory\n"+
			"from uvicorn_worker import UvicornWorker\n"+
			"print(AutoHTTPProtocol.__module__, auto_loop_factory(use_subprocess=False).__module__, UvicornWorker.CONFIG_KWARGS['http'], UvicornWorker.CONFIG_KWARGS['loop'])").Output()
	if got := strings.TrimSpace(string(out)); err != nil || got != "uvicorn.protocols.http.httptools_impl uvloop auto auto" {
		t.Errorf("uvicorn's auto HTTP parser and loop: %q (%v), want httptools and uvloop", got, err)
	}
	// The interpreter is Debian's, whatever python3 is first on PATH.
	out, err = exec.CommandContext(t.Context(), filepath.Join(bin, "python"), "-c",
		"import sys; print(sys.version_info[:2], sys.base_prefix)").Output()
	if err != nil || strings.TrimSpace(string(out)) != "(3, 11) /usr" {
		t.Errorf("venv python: %q (%v), want Debian's 3.11 under /usr", out, err)
	}
}
