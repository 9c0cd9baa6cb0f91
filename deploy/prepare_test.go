package deploy

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benchd/benchd/config"
)

// TestPrepareDefault: the embedded default matrix gets its Django project
// under the state directory, resolves paths there, and (without making
// the venv) names the venv's directory instead of the placeholder.
func TestPrepareDefault(t *testing.T) {
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log := slog.New(slog.DiscardHandler)
	if err := PrepareDefault(cfg, dir, log); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "django", "manage.py")); err != nil {
		t.Errorf("Django project not unpacked: %v", err)
	}
	if cfg.Dir != dir {
		t.Errorf("cfg.Dir = %q, want %q", cfg.Dir, dir)
	}
	if !cfg.UsesVenv() {
		t.Fatal("the default matrix names no venv: this test needs one that does")
	}
	venv := filepath.Join(dir, "venv")
	if err := PrepareVenv(t.Context(), cfg, venv, false, log); err != nil {
		t.Fatal(err)
	}
	if cfg.UsesVenv() {
		t.Errorf("placeholder %s still in the configuration after PrepareVenv", config.PlaceholderVenv)
	}
	if _, err := os.Stat(venv); err == nil {
		t.Errorf("PrepareVenv without makeVenv made %s", venv)
	}
	if err := PrepareDefault(cfg, filepath.Join(dir, "django", "manage.py"), log); err == nil {
		t.Error("no error unpacking under a file")
	}
}

// TestPlanDefault: a dry run's preparation writes nothing into the state
// directory, resolves paths there as PrepareDefault does, and the
// configuration does not warn of the project or token a run makes there.
func TestPlanDefault(t *testing.T) {
	cfg, err := config.Default()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	PlanDefault(cfg, dir)
	if entries, err := os.ReadDir(dir); err != nil || len(entries) > 0 {
		t.Errorf("PlanDefault wrote into %s: %v, %v", dir, entries, err)
	}
	if cfg.Dir != dir {
		t.Errorf("cfg.Dir = %q, want %q", cfg.Dir, dir)
	}
	for _, w := range cfg.Warnings() {
		if strings.Contains(w, dir) {
			t.Errorf("warning about what a run makes under %s: %s", dir, w)
		}
	}
}
