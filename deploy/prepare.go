package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"syscall"

	"github.com/benchd/benchd/config"
)

// PrepareDefault readies the embedded default matrix cfg for the state
// directory dir (absolute, --storage.path): it unpacks the reference
// Django project into dir/django ([UnpackDjango]) and makes dir the
// directory cfg's relative paths resolve against ([PlanDefault]). A full
// disk is named as such in the error.
func PrepareDefault(cfg *config.Config, dir string, logger *slog.Logger) error {
	djangoDir := filepath.Join(dir, "django")
	if err := UnpackDjango(djangoDir); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("unpack the reference Django project into %s (--storage.path): disk full (%s): %w", djangoDir, dir, err)
		}
		return fmt.Errorf("unpack the reference Django project into %s (--storage.path): %w", djangoDir, err)
	}
	PlanDefault(cfg, dir)
	logger.Info("using the embedded default matrix", "django_dir", djangoDir)
	return nil
}

// PlanDefault is [PrepareDefault] without writing anything, for a dry run:
// it makes dir (absolute, --storage.path) the directory the embedded
// default matrix cfg's relative paths resolve against, as they will once
// the project is unpacked, and tells cfg that benchd makes what is under
// it at start (the Django project, the write token of [MakeToken]), so that
// its warnings do not say they are missing.
func PlanDefault(cfg *config.Config, dir string) {
	cfg.UseStateDir(dir)
}

// PrepareVenv makes venv the Python venv that cfg's {venv} placeholder
// names (config.PlaceholderVenv): with makeVenv it first makes or updates
// it ([EnsureVenv]: once per requirements change, about a minute), before
// any server starts; then it expands the placeholder in cfg.
func PrepareVenv(ctx context.Context, cfg *config.Config, venv string, makeVenv bool, logger *slog.Logger) error {
	if makeVenv {
		if err := EnsureVenv(ctx, venv, logger); err != nil {
			return fmt.Errorf("make the Python venv of %s in %s (--storage.path): %w", config.PlaceholderVenv, venv, err)
		}
	}
	cfg.ExpandVenv(venv)
	return nil
}
