// Package deploy holds the reference Django target that benchd loads by
// default: the project in deploy/django, embedded with go:embed so that the
// binary works outside the repository. (The deploy directory also holds
// provisioning files for Prometheus, Alertmanager, Grafana, systemd and
// Kubernetes; those are not embedded.)
//
// The Django project is served by gunicorn+gevent (WSGI, sync views only),
// gunicorn with the uvicorn worker, and hypercorn with the asyncio or uvloop
// worker (ASGI), installed from PyPI into a virtual environment with the
// exact versions and hashes of django/requirements.txt; DESIGN.md lists the
// exact command lines. [UnpackDjango] writes the project into a directory
// before a run and [EnsureVenv] makes the venv (once per requirements
// change); [SharedVenv] is the venv the tests share. The package holds no
// state: its functions are safe for concurrent use.
package deploy

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// djangoFiles is the Django project. The patterns name files, not
// directories: a directory pattern would skip __init__.py (names starting with
// "_" are left out), and "all:" would also take __pycache__, *.pyc and a
// developer's db.sqlite3. A new kind of file in the project needs a pattern
// here; TestDjangoEmbedMatchesDisk fails until it has one.
//
//go:embed django/manage.py django/requirements.in django/requirements.txt
//go:embed django/proj/*.py
//go:embed django/myapp/*.py
//go:embed django/myapp/migrations/*.py
//go:embed django/myapp/management/*.py
//go:embed django/myapp/management/commands/*.py
//go:embed django/myapp/templates/myapp/*.html
var djangoFiles embed.FS

// djangoRoot is the directory inside djangoFiles that holds the project.
const djangoRoot = "django"

// UnpackDjango writes the embedded Django project (manage.py, proj/, myapp/)
// into dir, creating dir and its parents as needed (mode 0755), so that the
// servers can be started with dir as their working directory.
//
// Each file is written to a temporary file in its destination directory and
// renamed over the old one, so a server starting meanwhile sees either the
// old or the new version of a file, never a partial one. Project files that
// exist are overwritten; other files are left alone, in particular the SQLite
// database db.sqlite3 and files that an older version of the project had but
// this one does not. manage.py is written with mode 0755, the others 0644.
//
// UnpackDjango returns an error, prefixed "deploy: ", if dir is empty or a
// file cannot be written; files written before the failure stay in place.
// Concurrent calls for the same dir are safe and leave complete files.
func UnpackDjango(dir string) error {
	if dir == "" {
		return errors.New("deploy: unpack django: empty directory name")
	}
	root, err := fs.Sub(djangoFiles, djangoRoot)
	if err != nil {
		return fmt.Errorf("deploy: unpack django: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("deploy: unpack django: %w", err)
	}
	err = fs.WalkDir(root, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		data, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if path.Base(name) == "manage.py" {
			mode = 0o755
		}
		return writeFileAtomic(dst, data, mode)
	})
	if err != nil {
		return fmt.Errorf("deploy: unpack django into %s: %w", dir, err)
	}
	return nil
}

// writeFileAtomic writes data to a temporary file beside dst, sets its mode,
// and renames it over dst. The temporary file is removed on failure.
func writeFileAtomic(dst string, data []byte, mode fs.FileMode) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}
