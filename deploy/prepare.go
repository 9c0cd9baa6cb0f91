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
// directory cfg's relative paths resolve against. A full disk is named as
// such in the error.
func PrepareDefault(cfg *config.Config, dir string, logger *slog.Logger) error {
	djangoDir := filepath.Join(dir, "django")
	if err := UnpackDjango(djangoDir); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("unpack the reference Django project into %s (--storage.path): disk full (%s): %w", djangoDir, dir, err)
		}
		return fmt.Errorf("unpack the reference Django project into %s (--storage.path): %w", djangoDir, err)
	}
	cfg.Dir = dir
	logger.Info("using the embedded default matrix", "django_dir", djangoDir)
	return nil
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
