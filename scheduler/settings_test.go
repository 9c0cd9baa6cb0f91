package scheduler

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/result"
)

// settingsDoc is a matrix of two managed targets from one venv, with a
// service, env variables (a map: decoded in random order) and overrides.
const settingsDoc = `
services:
  - {name: cache, command: ["{venv}/bin/cache-server", --port, "0"], ready: "tcp://127.0.0.1:1", env: {A: "1", B: "2"}}
targets:
  - name: g
    url: http://127.0.0.1:8001
    process:
      command: ["{venv}/bin/gunicorn", -w, "{nproc}", --chdir, django, proj.wsgi:application]
      env: {DJANGO_SETTINGS_MODULE: proj.settings, X: "1", Y: "2", Z: "3"}
      setup: [["{venv}/bin/python", manage.py, migrate]]
      dir: django
    services: [cache]
    overrides: {json: {connections: 700}}
  - name: h
    url: http://127.0.0.1:8002
    process: {command: ["{venv}/bin/hypercorn", proj.asgi:application], dir: django}
endpoints:
  - {name: json, path: /json, headers: {Accept: application/json, X-A: "1", X-B: "2"}}
  - {name: query, path: /query, duration: 15s, timeout: 5s}
`

// venvLayout makes a Python venv under root/venv as `python -m venv` and
// pip lay it out: pyvenv.cfg, bin/python (a symbolic link to an
// interpreter outside the venv, here a file of its own), scripts whose #!
// line names the venv's python, and .dist-info directories.
func venvLayout(t *testing.T, root string, packages ...string) string {
	t.Helper()
	venv := filepath.Join(root, "venv")
	site := filepath.Join(venv, "lib", "python3.11", "site-packages")
	for _, d := range []string{filepath.Join(venv, "bin"), site, filepath.Join(root, "django"), filepath.Join(root, "interp")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, text string) {
		if err := os.WriteFile(name, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(venv, "pyvenv.cfg"), "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n")
	write(filepath.Join(root, "interp", "python3.11"), "an interpreter\n")
	if err := os.Symlink(filepath.Join(root, "interp", "python3.11"), filepath.Join(venv, "bin", "python")); err != nil {
		t.Fatal(err)
	}
	for _, script := range []string{"gunicorn", "hypercorn", "cache-server"} {
		write(filepath.Join(venv, "bin", script), "#!"+filepath.Join(venv, "bin", "python")+"\nimport "+script+"\n"+script+".run()\n")
	}
	for _, p := range packages {
		if err := os.Mkdir(filepath.Join(site, p+".dist-info"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return venv
}

// settingsOf returns the settings every scenario of doc would carry in a
// run, with the venv laid out under root.
func settingsOf(t *testing.T, doc, root string) map[string]result.Settings {
	t.Helper()
	cfg, err := config.Parse([]byte(doc), root)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ExpandVenv(filepath.Join(root, "venv"))
	s := &Scheduler{}
	static := staticSettings(cfg)
	out := map[string]result.Settings{}
	stacks := map[string]map[string]string{}
	for _, sc := range cfg.Scenarios() {
		stack, ok := stacks[sc.Target]
		if !ok {
			stack = s.stackSettings(cfg, cfg.Target(sc.Target))
			stacks[sc.Target] = stack
		}
		out[sc.Name] = scenarioSettings(static[sc.Name], stack)
	}
	return out
}

var djangoPackages = []string{"Django-5.2.8", "gunicorn-23.0.0", "hypercorn-0.17.3"}

// TestSettingsHashStableAcrossProcesses checks that the same configuration
// gives the same settings in another process (maps decode and iterate in
// another order there) and under another directory (the venv, the
// configuration's directory).
func TestSettingsHashStableAcrossProcesses(t *testing.T) {
	if os.Getenv("BENCHD_SETTINGS_HELPER") != "" {
		return // the helper below
	}
	root := t.TempDir()
	venvLayout(t, root, djangoPackages...)
	want := settingsOf(t, settingsDoc, root)
	if len(want) != 4 {
		t.Fatalf("got %d scenarios, want 4", len(want))
	}
	for name, s := range want {
		if len(s.SettingsHash) != 16 || len(s.SettingsParts) != len(result.SettingsPartNames) {
			t.Errorf("%s: hash %q with %d parts, want 16 hex digits and %d parts", name, s.SettingsHash, len(s.SettingsParts), len(result.SettingsPartNames))
		}
		for _, p := range result.SettingsPartNames {
			if s.SettingsParts[p] == "" {
				t.Errorf("%s: part %s missing", name, p)
			}
		}
	}
	if again := settingsOf(t, settingsDoc, root); !equalSettings(again, want) {
		t.Errorf("a second computation differs:\n%v\n%v", again, want)
	}
	other := t.TempDir()
	venvLayout(t, other, djangoPackages...)
	if moved := settingsOf(t, settingsDoc, other); !equalSettings(moved, want) {
		t.Errorf("the same configuration under another directory differs:\n%v\n%v", moved, want)
	}
	for range 2 {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSettingsHashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), "BENCHD_SETTINGS_HELPER="+root)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("helper: %v", err)
		}
		line, _, _ := strings.Cut(string(out), "\n")
		var got map[string]result.Settings
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("helper output %q: %v", out, err)
		}
		if !equalSettings(got, want) {
			t.Errorf("another process computed\n%v\nwant\n%v", got, want)
		}
	}
}

// TestSettingsHashHelper prints the settings of settingsDoc under the
// directory BENCHD_SETTINGS_HELPER names, for the test above.
func TestSettingsHashHelper(t *testing.T) {
	root := os.Getenv("BENCHD_SETTINGS_HELPER")
	if root == "" {
		return
	}
	b, err := json.Marshal(settingsOf(t, settingsDoc, root))
	if err != nil {
		t.Fatal(err)
	}
	os.Stdout.Write(append(b, '\n'))
}

func equalSettings(a, b map[string]result.Settings) bool {
	if len(a) != len(b) {
		return false
	}
	for k, s := range a {
		if s.SettingsHash != b[k].SettingsHash || len(s.Changed(b[k])) != 0 {
			return false
		}
	}
	return true
}

// TestSettingsHashPerScenario checks which scenarios' settings each edit
// of the configuration or of the venv changes, and which parts it names.
func TestSettingsHashPerScenario(t *testing.T) {
	tests := []struct {
		name string
		doc  func(string) string
		// venv edits the venv laid out under root.
		venv func(t *testing.T, venv string)
		// changed maps each scenario whose settings change to the parts
		// named; the others must keep their hash.
		changed map[string][]string
	}{
		{
			name:    "another endpoint's connections",
			doc:     func(d string) string { return strings.Replace(d, "duration: 15s", "duration: 15s, connections: 50", 1) },
			changed: map[string][]string{"g/-/query": {"connections"}, "h/-/query": {"connections"}},
		},
		{
			name:    "one target's override",
			doc:     func(d string) string { return strings.Replace(d, "connections: 700", "connections: 2000", 1) },
			changed: map[string][]string{"g/-/json": {"connections"}},
		},
		{
			name: "another target's command",
			doc: func(d string) string {
				return strings.Replace(d, "proj.asgi:application]", "proj.asgi:application, -w, \"4\"]", 1)
			},
			changed: map[string][]string{"h/-/json": {"command"}, "h/-/query": {"command"}},
		},
		{
			name:    "an env value",
			doc:     func(d string) string { return strings.Replace(d, `Y: "2"`, `Y: "3"`, 1) },
			changed: map[string][]string{"g/-/json": {"env"}, "g/-/query": {"env"}},
		},
		{
			name:    "a service's env",
			doc:     func(d string) string { return strings.Replace(d, `B: "2"`, `B: "5"`, 1) },
			changed: map[string][]string{"g/-/json": {"services"}, "g/-/query": {"services"}},
		},
		{
			name:    "a header",
			doc:     func(d string) string { return strings.Replace(d, `X-B: "2"`, `X-B: "3"`, 1) },
			changed: map[string][]string{"g/-/json": {"headers"}, "h/-/json": {"headers"}},
		},
		{
			name: "the order of env keys and headers as written",
			doc: func(d string) string {
				d = strings.Replace(d, `X: "1", Y: "2", Z: "3"`, `Z: "3", X: "1", Y: "2"`, 1)
				return d
			},
		},
		{
			name: "a package upgrade",
			venv: func(t *testing.T, venv string) {
				site := filepath.Join(venv, "lib", "python3.11", "site-packages")
				if err := os.Rename(filepath.Join(site, "Django-5.2.8.dist-info"), filepath.Join(site, "Django-5.2.9.dist-info")); err != nil {
					t.Fatal(err)
				}
			},
			// The service runs from the venv too: its packages are part
			// of the target's services.
			changed: map[string][]string{
				"g/-/json": {"packages", "services"}, "g/-/query": {"packages", "services"},
				"h/-/json": {"packages"}, "h/-/query": {"packages"},
			},
		},
		{
			name: "a new version of one program",
			venv: func(t *testing.T, venv string) {
				if err := os.WriteFile(filepath.Join(venv, "bin", "hypercorn"), []byte("#!"+venv+"/bin/python\nimport hypercorn2\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			changed: map[string][]string{"h/-/json": {"executable"}, "h/-/query": {"executable"}},
		},
		{
			name: "a new interpreter",
			venv: func(t *testing.T, venv string) {
				if err := os.WriteFile(filepath.Join(filepath.Dir(venv), "interp", "python3.11"), []byte("another interpreter\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			changed: map[string][]string{
				"g/-/json": {"executable", "services"}, "g/-/query": {"executable", "services"},
				"h/-/json": {"executable"}, "h/-/query": {"executable"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			venv := venvLayout(t, root, djangoPackages...)
			before := settingsOf(t, settingsDoc, root)
			doc := settingsDoc
			if tt.doc != nil {
				doc = tt.doc(doc)
				if doc == settingsDoc && tt.name != "" {
					t.Fatal("the edit did not apply")
				}
			}
			if tt.venv != nil {
				tt.venv(t, venv)
			}
			after := settingsOf(t, doc, root)
			for name, b := range before {
				got := after[name].Changed(b)
				want := tt.changed[name]
				if !slices.Equal(got, want) {
					t.Errorf("%s: changed parts %v, want %v", name, got, want)
				}
				if (after[name].SettingsHash != b.SettingsHash) != (len(want) > 0) {
					t.Errorf("%s: hash %s → %s", name, b.SettingsHash, after[name].SettingsHash)
				}
			}
		})
	}
}

// TestRecordCarriesSettings checks that a run's result records carry the
// settings hash, the same in two runs of one configuration.
func TestRecordCarriesSettings(t *testing.T) {
	cfg, err := config.Parse([]byte(`
run_on_start: false
targets: [{name: t, url: "http://127.0.0.1:1"}]
endpoints: [{name: a, path: /a, duration: 1s, warmup: 0s}, {name: b, path: /b, duration: 1s, warmup: 0s}]
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	eng := EngineFunc(func(_ context.Context, p engine.Plan) (*engine.Result, error) {
		return &engine.Result{Plan: p}, nil
	})
	s, err := New(cfg, Options{Engine: eng, SettleTimeout: -1})
	if err != nil {
		t.Fatal(err)
	}
	var hashes [2][]string
	for i := range hashes {
		rep, err := s.RunOnce(t.Context(), "test", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rep.Results {
			hashes[i] = append(hashes[i], r.Record.SettingsHash)
		}
	}
	if len(hashes[0]) != 2 || hashes[0][0] == "" || hashes[0][0] == hashes[0][1] || !slices.Equal(hashes[0], hashes[1]) {
		t.Errorf("settings hashes of two runs: %v, want two distinct non-empty ones, the same in both runs", hashes)
	}
}

// TestSettingsDefaultMatrix: every scenario of the embedded default
// matrix gets every part, and no two scenarios share a hash.
func TestSettingsDefaultMatrix(t *testing.T) {
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	cfg.Dir = root
	cfg.ExpandVenv(venvLayout(t, root, djangoPackages...))
	static := staticSettings(cfg)
	s := &Scheduler{}
	seen := map[string]string{}
	for _, sc := range cfg.Scenarios() {
		set := scenarioSettings(static[sc.Name], s.stackSettings(cfg, cfg.Target(sc.Target)))
		if len(set.SettingsParts) != len(result.SettingsPartNames) {
			t.Errorf("%s: %d parts, want %d", sc.Name, len(set.SettingsParts), len(result.SettingsPartNames))
		}
		if other, ok := seen[set.SettingsHash]; ok {
			t.Errorf("%s and %s share the hash %s", sc.Name, other, set.SettingsHash)
		}
		seen[set.SettingsHash] = sc.Name
	}
	if len(seen) < 40 {
		t.Errorf("%d scenarios, want the default matrix's", len(seen))
	}
}

// TestShebangInterpreter checks the interpreter named by a script's #!
// line, a file benchd reads but does not write.
func TestShebangInterpreter(t *testing.T) {
	for line, want := range map[string]string{
		"#!/srv/venv/bin/python\n":                  "/srv/venv/bin/python",
		"#! /usr/bin/python3 -u\n":                  "/usr/bin/python3",
		"#!/usr/bin/env python3\n":                  "python3",
		"#!/usr/bin/env -S PYTHONPATH=x python3 -u": "python3",
		"#!/usr/bin/env\n":                          "",
		"#!\n":                                      "",
		"\x7fELF":                                   "",
	} {
		if got := shebangInterpreter([]byte(line)); got != want {
			t.Errorf("shebangInterpreter(%q) = %q, want %q", line, got, want)
		}
	}
}

// FuzzShebangInterpreter: any first line gives no interpreter or one word
// of it, never one with spaces, and pyvenv.cfg parsing never panics.
func FuzzShebangInterpreter(f *testing.F) {
	for _, s := range []string{"#!/usr/bin/env python3\n", "#!/x/bin/python", "version = 3.11.2\n", "#!" + strings.Repeat("a", 600)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := shebangInterpreter([]byte(s))
		if strings.ContainsAny(got, " \t\n") || (got != "" && !strings.Contains(s[:min(len(s), maxShebang)], got)) {
			t.Fatalf("shebangInterpreter(%q) = %q", s, got)
		}
		if v := pyvenvVersion(s); strings.Contains(v, "\n") {
			t.Fatalf("pyvenvVersion(%q) = %q", s, v)
		}
	})
}

// TestSettingsLaneIgnoresLoad: an instruction lane's scenario counts its
// requests, so a change of the load settings it does not use (a default's
// connections, duration, warm-up) starts no segment there, while the load
// scenarios of the same endpoint change; a change of its counted requests
// does.
func TestSettingsLaneIgnoresLoad(t *testing.T) {
	const doc = `
defaults: {connections: 20, duration: 10s, warmup: 2s}
targets:
  - {name: g, url: "http://127.0.0.1:8001", process: {command: [/bin/true]}}
  - name: lane
    url: http://127.0.0.1:8002
    process: {command: [/bin/true]}
    instructions: {endpoints: [json], requests: 100}
endpoints:
  - {name: json, path: /json}
`
	root := t.TempDir()
	venvLayout(t, root, djangoPackages...)
	before := settingsOf(t, doc, root)
	if _, ok := before["lane/-/json"]; !ok || len(before) != 2 {
		t.Fatalf("scenarios %v, want g/-/json and lane/-/json", slices.Collect(maps.Keys(before)))
	}
	for _, c := range []struct {
		edit    func(string) string
		changed map[string][]string
	}{
		{func(d string) string {
			return strings.Replace(d, "connections: 20, duration: 10s, warmup: 2s", "connections: 50, duration: 5s, warmup: 1s", 1)
		},
			map[string][]string{"g/-/json": {"connections", "duration", "warmup"}}},
		{func(d string) string { return strings.Replace(d, "requests: 100", "requests: 200", 1) },
			map[string][]string{"lane/-/json": {"instructions"}}},
	} {
		after := settingsOf(t, c.edit(doc), root)
		for name, b := range before {
			if got := after[name].Changed(b); !slices.Equal(got, c.changed[name]) {
				t.Errorf("%s: changed parts %v, want %v", name, got, c.changed[name])
			}
		}
	}
}
