package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/benchd/benchd/internal/testutil"
)

const unitFile = "systemd/benchd.service"

// verifyUnit runs systemd-analyze verify on unit (the text of
// benchd.service) with ExecStart pointing at bin, and returns its output;
// ok is false on a non-zero exit or any output (systemd-analyze only warns
// of unknown keys).
func verifyUnit(t *testing.T, unit, bin string) (out string, ok bool) {
	t.Helper()
	analyze := "/usr/bin/systemd-analyze"
	if _, err := os.Stat(analyze); err != nil {
		t.Fatalf("%s is missing: apt-get install systemd (or run scripts/setup.sh)", analyze)
	}
	if !strings.Contains(unit, "ExecStart=/usr/local/bin/benchd ") {
		t.Fatalf("%s: no ExecStart=/usr/local/bin/benchd", unitFile)
	}
	path := filepath.Join(t.TempDir(), "benchd.service")
	unit = strings.Replace(unit, "ExecStart=/usr/local/bin/benchd ", "ExecStart="+bin+" ", 1)
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := exec.CommandContext(t.Context(), analyze, "verify", "--man=no", path).CombinedOutput()
	return string(b), err == nil && len(strings.TrimSpace(string(b))) == 0
}

// TestSystemdUnit checks deploy/systemd/benchd.service with systemd-analyze
// verify against a freshly built benchd, and the settings benchd relies on.
func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	if testing.Short() {
		t.Skip("builds benchd")
	}
	bin := testutil.BuildBenchd(t, "..", t.TempDir())
	if out, ok := verifyUnit(t, unit, bin); !ok {
		t.Errorf("systemd-analyze verify %s:\n%s", unitFile, out)
	}
	// The check can fail: a misspelt key is reported.
	if out, ok := verifyUnit(t, strings.Replace(unit, "\nKillMode=", "\nKilMode=", 1), bin); ok {
		t.Errorf("systemd-analyze verify accepted a unit with KilMode=: %q", out)
	}

	settings := map[string]string{}
	for line := range strings.Lines(unit) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok && !strings.HasPrefix(k, "#") {
			settings[k] = v
		}
	}
	for _, tc := range []struct{ key, want string }{
		{"Restart", "on-failure"},
		{"KillMode", "control-group"},
		{"StateDirectory", "benchd"},
		{"NoNewPrivileges", "yes"},
		{"ProtectSystem", "strict"},
		{"ReadWritePaths", "/var/lib/benchd"},
		{"ProtectHome", "read-only"},
		{"PrivateTmp", "yes"},
	} {
		if got := settings[tc.key]; got != tc.want {
			t.Errorf("%s=%q, want %q", tc.key, got, tc.want)
		}
	}
	if !strings.Contains(settings["ExecStart"], " serve --storage.path=/var/lib/benchd") {
		t.Errorf("ExecStart=%s: want benchd serve --storage.path=/var/lib/benchd", settings["ExecStart"])
	}
	if n, err := strconv.Atoi(settings["LimitNOFILE"]); err != nil || n < 8192 {
		t.Errorf("LimitNOFILE=%s: want a number of at least 8192 (2000+ connections on each side)", settings["LimitNOFILE"])
	}
	if _, ok := settings["MemoryDenyWriteExecute"]; ok {
		t.Errorf("MemoryDenyWriteExecute is set: Python JITs and valgrind targets need writable executable memory")
	}
}
