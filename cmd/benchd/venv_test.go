package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benchd/benchd/internal/djangotest"
)

// TestLoadConfigVenv checks {venv} in loadConfig: the default matrix's
// servers run from <storage.path>/venv, which is made only when asked
// (not for a dry run), and a user's config without {venv} makes none.
func TestLoadConfigVenv(t *testing.T) {
	shared := filepath.Dir(djangotest.VenvBin(t))
	log := slog.New(slog.DiscardHandler)

	t.Run("default matrix, dry run", func(t *testing.T) {
		storage := t.TempDir()
		cfg, err := loadConfig(t.Context(), &flags{storagePath: storage}, log, false)
		if err != nil {
			t.Fatal(err)
		}
		venv := filepath.Join(storage, "venv")
		for _, tg := range cfg.Targets {
			if !strings.HasPrefix(tg.Process.Command[0], venv+"/bin/") {
				t.Errorf("%s: command %q does not run from %s", tg.Name, tg.Process.Command, venv)
			}
		}
		if _, err := os.Stat(venv); err == nil {
			t.Errorf("%s was made without prepare", venv)
		}
	})

	t.Run("default matrix, venv current", func(t *testing.T) {
		// A venv that is current is used as it is: the shared one, linked in.
		storage := t.TempDir()
		if err := os.Symlink(shared, filepath.Join(storage, "venv")); err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		cfg, err := loadConfig(t.Context(), &flags{storagePath: storage}, slog.New(slog.NewTextHandler(&logs, nil)), true)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(logs.String(), "making the reference Django target's Python venv") {
			t.Errorf("a current venv was made again:\n%s", logs.String())
		}
		for _, tg := range cfg.Targets {
			for _, cmd := range append([][]string{tg.Process.Command}, tg.Process.Setup...) {
				if _, err := os.Stat(cmd[0]); err != nil {
					t.Errorf("%s: %v", tg.Name, err)
				}
			}
		}
	})

	t.Run("own config without {venv}", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "benchd.yml")
		if err := os.WriteFile(file, []byte(`
targets:
  - {name: a, url: "http://127.0.0.1:8000", process: {command: [/usr/bin/python3, -m, http.server]}}
endpoints:
  - {name: root, path: /}
`), 0o644); err != nil {
			t.Fatal(err)
		}
		storage := t.TempDir()
		if _, err := loadConfig(t.Context(), &flags{configFile: file, storagePath: storage}, log, true); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(storage, "venv")); err == nil {
			t.Error("a venv was made for a config that does not use {venv}")
		}
	})

	t.Run("own config with {venv}, no storage path", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "benchd.yml")
		if err := os.WriteFile(file, []byte(`
targets:
  - {name: a, url: "http://127.0.0.1:8000", process: {command: ["{venv}/bin/gunicorn", app:application]}}
endpoints:
  - {name: root, path: /}
`), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := loadConfig(t.Context(), &flags{configFile: file}, log, true)
		if err == nil || !strings.Contains(err.Error(), "--storage.path is empty") || !strings.Contains(err.Error(), "{venv}") {
			t.Errorf("err = %v, want one naming --storage.path and {venv}", err)
		}
	})
}
