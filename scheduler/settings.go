package scheduler

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/result"
)

// The settings hash of a scenario (result.Settings, docs/results.md) has
// two halves: the static one, the canonical text of its resolved load
// settings and of its target's process, made once per configuration by
// [Scheduler.ApplyConfig]; and the stack, what the target's programs are
// (their content, the Python packages of their venv, its services' programs),
// read once per run and target before the target starts. Paths that depend
// on where benchd keeps its files (the configuration's directory, the venv,
// benchd's own executable) are written as placeholders, so the same
// configuration gives the same hash in another directory and process.

// staticSettings returns the canonical text of each static part of every
// scenario of cfg, by scenario name.
func staticSettings(cfg *config.Config) map[string]map[string]string {
	pt := newPortable(cfg)
	out := map[string]map[string]string{}
	for _, sc := range cfg.Scenarios() {
		l := sc.Load
		var headers strings.Builder
		for _, h := range l.Headers {
			fmt.Fprintf(&headers, "%q: %q\n", h.Name, h.Value)
		}
		e := sc.Expect
		expect := fmt.Sprintf("status=%v body_contains=%q", e.Status, e.BodyContains)
		if e.BodySize != nil {
			expect += fmt.Sprintf(" body_size=%d..%d", e.BodySize.Min, e.BodySize.Max)
		}
		parts := map[string]string{
			"method":      l.Method,
			"url":         sc.URL,
			"headers":     headers.String(),
			"body":        l.Body,
			"connections": strconv.Itoa(l.Connections),
			"threads":     strconv.Itoa(l.Threads),
			"duration":    l.Duration.String(),
			"timeout":     l.Timeout.String(),
			"on_timeout":  l.OnTimeout,
			"warmup":      l.Warmup.String(),
			"rate":        strconv.FormatFloat(l.Rate, 'g', -1, 64),
			"repeats":     strconv.Itoa(l.Repeats),
			"expect":      expect,
			"tls":         fmt.Sprintf("insecure_skip_verify=%t ca_file=%q", sc.TLS.InsecureSkipVerify, pt.word(sc.TLS.CAFile)),
		}
		t := cfg.Target(sc.Target)
		var p config.Process
		managed := t != nil && t.Process != nil
		if managed {
			p = *t.Process
		}
		var setup strings.Builder
		for _, cmd := range p.Setup {
			setup.WriteString(pt.command(cmd) + "\n")
		}
		parts["command"] = pt.command(p.Command)
		parts["setup"] = setup.String()
		parts["env"] = envText(p.Env, p.InheritEnv, p.EnvAllow)
		parts["dir"] = ""
		if managed {
			parts["dir"] = pt.word(cfg.ResolvePath(p.Dir))
		}
		parts["cpus"] = p.CPUs
		parts["instructions"] = ""
		if in := sc.Instructions; in != nil {
			// An instruction-lane scenario counts its requests: the load
			// settings it does not use must not start a segment.
			parts["instructions"] = fmt.Sprintf("requests=%d warmup_requests=%d connections=%d timeout=%s",
				in.Requests, in.WarmupRequests, in.Connections, in.Timeout)
			for _, unused := range []string{"connections", "threads", "duration", "timeout", "on_timeout", "warmup", "rate"} {
				parts[unused] = ""
			}
		}
		out[sc.Name] = parts
	}
	return out
}

// envText is the canonical text of an environment: the variables set,
// sorted, whether benchd's own is inherited, and which of it is kept.
// The values are in the part's hash only, never stored.
func envText(env map[string]string, inherit *bool, allow []string) string {
	var b strings.Builder
	for _, kv := range envList(env) {
		fmt.Fprintf(&b, "%q\n", kv)
	}
	fmt.Fprintf(&b, "inherit_env=%t", inherit == nil || *inherit)
	if inherit != nil && !*inherit {
		a := slices.Clone(allow)
		if a == nil {
			a = config.DefaultEnvAllow
		}
		slices.Sort(a)
		fmt.Fprintf(&b, " env_allow=%q", a)
	}
	return b.String()
}

// portable writes paths independently of where benchd keeps its files.
type portable struct {
	benchd, venv, dir string
}

func newPortable(cfg *config.Config) portable {
	exe, _ := executable()
	return portable{benchd: exe, venv: cfg.VenvDir(), dir: cfg.Dir}
}

// executable is os.Executable, replaceable in tests.
var executable = os.Executable

// word replaces benchd's executable, the venv's directory and the
// configuration's directory in w with {benchd}, {venv} and {dir}.
func (pt portable) word(w string) string {
	if pt.benchd != "" && w == pt.benchd {
		return config.PlaceholderBenchd
	}
	if pt.venv != "" {
		w = strings.ReplaceAll(w, pt.venv, config.PlaceholderVenv)
	}
	if pt.dir != "" {
		w = strings.ReplaceAll(w, pt.dir, "{dir}")
	}
	return w
}

func (pt portable) command(cmd []string) string {
	words := make([]string, len(cmd))
	for i, w := range cmd {
		words[i] = strconv.Quote(pt.word(w))
	}
	return strings.Join(words, " ")
}

// stackSettings returns the stack parts of target t's scenarios:
// "executable" (the identity of its program), "packages" (its venv's) and
// "services" (their settings and programs). It reads files: call it once
// per run and target. Errors are part of the text (a program that is not
// found has no identity, and the target fails to start anyway).
func (s *Scheduler) stackSettings(cfg *config.Config, t *config.Target) map[string]string {
	pt := newPortable(cfg)
	parts := map[string]string{"executable": "", "packages": "", "services": ""}
	if t.Process != nil && len(t.Process.Command) > 0 {
		path, err := lookProgram(t.Process.Command[0], cfg.ResolvePath(t.Process.Dir))
		parts["executable"] = s.programIdentity(pt, path, err)
		if err == nil {
			parts["packages"] = venvPackages(path)
		}
	}
	var svcs strings.Builder
	for _, name := range t.Services {
		svc := cfg.Service(name)
		if svc == nil {
			continue
		}
		fmt.Fprintf(&svcs, "%q command=%s env=%s cpus=%q", name, pt.command(svc.Command),
			envText(svc.Env, svc.InheritEnv, svc.EnvAllow), svc.CPUs)
		if len(svc.Command) > 0 {
			path, err := lookProgram(svc.Command[0], cfg.ResolvePath(svc.Dir))
			fmt.Fprintf(&svcs, " executable=%s packages=%s", s.programIdentity(pt, path, err), shortText(venvPackages(path)))
		}
		svcs.WriteString("\n")
	}
	parts["services"] = svcs.String()
	return parts
}

// shortText is a hash of a long text, so that a part made of several
// texts stays short.
func shortText(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:8])
}

// lookProgram resolves a command's program as the process supervisor
// does: in PATH without a slash, else relative to dir.
func lookProgram(name, dir string) (string, error) {
	if !strings.Contains(name, "/") {
		return exec.LookPath(name)
	}
	if !filepath.IsAbs(name) && dir != "" {
		name = filepath.Join(dir, name)
	}
	return name, nil
}

// programIdentity is the identity of the program at path: the sha256 of
// its content and, for a script, of its content without the #! line
// (which names the venv's path) and of its interpreter's identity, one
// level deep. benchd's own executable is "{benchd}": its upgrades are not
// a change of the target's stack.
func (s *Scheduler) programIdentity(pt portable, path string, err error) string {
	if err != nil {
		return "not found"
	}
	if pt.word(path) == config.PlaceholderBenchd {
		return config.PlaceholderBenchd
	}
	id, interp := s.files.identity(path)
	if interp == "" {
		return id
	}
	ipath, err := lookProgram(interp, "")
	if err != nil {
		return id + " interpreter=not found"
	}
	if pt.word(ipath) == config.PlaceholderBenchd {
		return id + " interpreter=" + config.PlaceholderBenchd
	}
	iid, _ := s.files.identity(ipath)
	return id + " interpreter=" + iid
}

// fileHashes caches the content hashes of programs by path, size,
// modification time and inode, so that a run hashes a large binary only
// when it changed. It is safe for concurrent use.
type fileHashes struct {
	mu sync.Mutex
	m  map[fileKey]fileHash
}

type fileKey struct {
	path  string
	size  int64
	mtime time.Time
	ino   uint64
}

type fileHash struct{ id, interp string }

// maxShebang bounds the #! line read of a script.
const maxShebang = 512

// identity returns "sha256:<16 hex digits>" of the file at path (symbolic
// links followed) and, when it is a script, its interpreter as its #! line
// names it (the program after /usr/bin/env); on an error, its text.
func (c *fileHashes) identity(path string) (id, interp string) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "unreadable", ""
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "unreadable", ""
	}
	key := fileKey{path: real, size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		key.ino = st.Ino
	}
	c.mu.Lock()
	h, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return h.id, h.interp
	}
	h = hashProgram(real)
	c.mu.Lock()
	if c.m == nil {
		c.m = map[fileKey]fileHash{}
	}
	c.m[key] = h
	c.mu.Unlock()
	return h.id, h.interp
}

func hashProgram(path string) fileHash {
	f, err := os.Open(path)
	if err != nil {
		return fileHash{id: "unreadable"}
	}
	defer f.Close()
	r := bufio.NewReader(f)
	var h fileHash
	if head, _ := r.Peek(2); bytes.Equal(head, []byte("#!")) {
		line, _ := r.ReadSlice('\n') // the #! line is left out of the hash
		h.interp = shebangInterpreter(line)
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, r); err != nil {
		return fileHash{id: "unreadable"}
	}
	h.id = "sha256:" + hex.EncodeToString(sum.Sum(nil)[:8])
	return h
}

// shebangInterpreter returns the interpreter a script's first line
// names: the program after #! (at most maxShebang bytes are read), or
// after /usr/bin/env and its options; "" for none.
func shebangInterpreter(line []byte) string {
	if len(line) > maxShebang {
		line = line[:maxShebang]
	}
	rest, ok := bytes.CutPrefix(line, []byte("#!"))
	if !ok {
		return ""
	}
	words := strings.Fields(string(rest))
	if len(words) == 0 {
		return ""
	}
	if filepath.Base(words[0]) != "env" {
		return words[0]
	}
	for _, w := range words[1:] {
		if !strings.HasPrefix(w, "-") && !strings.Contains(w, "=") {
			return w
		}
	}
	return ""
}

// pyvenvVersion returns the Python version a pyvenv.cfg gives (its
// version or version_info key, as `python -m venv` writes it), "" for none.
func pyvenvVersion(cfg string) string {
	for line := range strings.SplitSeq(cfg, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if k = strings.TrimSpace(k); ok && (k == "version" || k == "version_info") {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// venvPackages returns what a Python virtual environment holds, when
// program lives in one (its directory's parent has a pyvenv.cfg): the
// Python version of pyvenv.cfg, then the installed distributions, one
// "name-version" a line, sorted, as their .dist-info (and .egg-info)
// directory names in lib/python*/site-packages give them: what `pip
// freeze` lists, read without starting Python. "" outside a venv.
func venvPackages(program string) string {
	root := filepath.Dir(filepath.Dir(program))
	cfg, err := os.ReadFile(filepath.Join(root, "pyvenv.cfg"))
	if err != nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "python %s\n", pyvenvVersion(string(cfg)))
	var dists []string
	sites, _ := filepath.Glob(filepath.Join(root, "lib", "python*", "site-packages"))
	for _, site := range sites {
		entries, err := os.ReadDir(site)
		if err != nil {
			continue
		}
		for _, e := range entries {
			name := e.Name()
			if base, ok := strings.CutSuffix(name, ".dist-info"); ok {
				dists = append(dists, strings.ToLower(base))
			} else if base, ok := strings.CutSuffix(name, ".egg-info"); ok {
				dists = append(dists, strings.ToLower(base))
			}
		}
	}
	slices.Sort(dists)
	for _, d := range dists {
		b.WriteString(d + "\n")
	}
	return b.String()
}

// scenarioSettings returns the settings of scenario sc of a run: its
// static parts and its target's stack parts.
func scenarioSettings(static map[string]string, stack map[string]string) result.Settings {
	parts := make(map[string]string, len(static)+len(stack))
	maps.Copy(parts, static)
	maps.Copy(parts, stack)
	return result.NewSettings(parts)
}
