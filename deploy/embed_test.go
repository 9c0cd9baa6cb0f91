package deploy

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// diskDjangoFiles lists the project files under django/ on disk, slash
// separated, leaving out what must never be embedded (bytecode caches and
// SQLite databases, which .gitignore also ignores).
func diskDjangoFiles(t *testing.T) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(djangoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if d.Name() == "__pycache__" {
				return filepath.SkipDir
			}
			return nil
		}
		if isIgnoredDjangoFile(d.Name()) {
			return nil
		}
		rel, err := filepath.Rel(djangoRoot, p)
		if err != nil {
			return err
		}
		names = append(names, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", djangoRoot, err)
	}
	slices.Sort(names)
	return names
}

func isIgnoredDjangoFile(name string) bool {
	return strings.HasSuffix(name, ".pyc") || strings.Contains(name, ".sqlite3")
}

func embeddedDjangoFiles(t *testing.T) []string {
	t.Helper()
	var names []string
	err := fs.WalkDir(djangoFiles, djangoRoot, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			names = append(names, strings.TrimPrefix(p, djangoRoot+"/"))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk embedded files: %v", err)
	}
	slices.Sort(names)
	return names
}

func TestDjangoEmbedMatchesDisk(t *testing.T) {
	embedded := embeddedDjangoFiles(t)
	disk := diskDjangoFiles(t)
	if !slices.Equal(embedded, disk) {
		t.Fatalf("embedded files differ from deploy/django on disk (add a go:embed pattern?)\nembedded: %q\ndisk:     %q", embedded, disk)
	}
	for _, want := range []string{
		"manage.py",
		"proj/__init__.py",
		"proj/settings.py",
		"proj/wsgi.py",
		"proj/asgi.py",
		"myapp/__init__.py",
		"myapp/migrations/__init__.py",
		"myapp/migrations/0001_initial.py",
		"myapp/management/commands/seed_rows.py",
		"myapp/templates/myapp/rows.html",
	} {
		if !slices.Contains(embedded, want) {
			t.Errorf("%s is not embedded", want)
		}
	}
	for _, name := range embedded {
		if strings.Contains(name, "__pycache__") || isIgnoredDjangoFile(filepath.Base(name)) {
			t.Errorf("%s is embedded but must not be", name)
		}
	}
}

func TestUnpackDjango(t *testing.T) {
	names := embeddedDjangoFiles(t)
	db := []byte("SQLite format 3\x00 pretend database")
	tests := []struct {
		name string
		// prepare runs on the destination before UnpackDjango and returns it.
		prepare func(t *testing.T, dir string) string
	}{
		{
			name:    "new nested directory",
			prepare: func(_ *testing.T, dir string) string { return filepath.Join(dir, "a", "b", "django") },
		},
		{
			name: "existing project is overwritten, database kept",
			prepare: func(t *testing.T, dir string) string {
				if err := UnpackDjango(dir); err != nil {
					t.Fatal(err)
				}
				for name, data := range map[string][]byte{
					"proj/settings.py":       []byte("broken = True\n"),
					"myapp/migrations/x.txt": []byte("left alone\n"),
					"db.sqlite3":             db,
				} {
					if err := os.WriteFile(filepath.Join(dir, filepath.FromSlash(name)), data, 0o600); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.Remove(filepath.Join(dir, "proj", "wsgi.py")); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(filepath.Join(dir, "manage.py"), 0o600); err != nil {
					t.Fatal(err)
				}
				return dir
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := tt.prepare(t, t.TempDir())
			if err := UnpackDjango(dir); err != nil {
				t.Fatalf("UnpackDjango(%q): %v", dir, err)
			}
			for _, name := range names {
				want, err := fs.ReadFile(djangoFiles, djangoRoot+"/"+name)
				if err != nil {
					t.Fatal(err)
				}
				dst := filepath.Join(dir, filepath.FromSlash(name))
				got, err := os.ReadFile(dst)
				if err != nil {
					t.Errorf("read unpacked %s: %v", name, err)
					continue
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s: unpacked content differs from the embedded file", name)
				}
				info, err := os.Stat(dst)
				if err != nil {
					t.Fatal(err)
				}
				wantMode := fs.FileMode(0o644)
				if name == "manage.py" {
					wantMode = 0o755
				}
				if info.Mode().Perm() != wantMode {
					t.Errorf("%s: mode %v, want %v", name, info.Mode().Perm(), wantMode)
				}
			}
			// Nothing but project files and the files the test left behind.
			err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if strings.HasSuffix(d.Name(), ".tmp") {
					t.Errorf("temporary file left behind: %s", p)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(filepath.Join(dir, "db.sqlite3")); err == nil {
				if !bytes.Equal(got, db) {
					t.Error("db.sqlite3 was modified")
				}
				if _, err := os.Stat(filepath.Join(dir, "myapp", "migrations", "x.txt")); err != nil {
					t.Errorf("a file that is not part of the project was removed: %v", err)
				}
			} else if !os.IsNotExist(err) {
				t.Fatal(err)
			}
		})
	}
}

func TestUnpackDjangoErrors(t *testing.T) {
	tests := []struct {
		name string
		dir  func(t *testing.T) string
	}{
		{name: "empty dir", dir: func(*testing.T) string { return "" }},
		{
			name: "dir is a file",
			dir: func(t *testing.T) string {
				p := filepath.Join(t.TempDir(), "file")
				if err := os.WriteFile(p, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			},
		},
		{
			name: "project directory is a file",
			dir: func(t *testing.T) string {
				dir := t.TempDir()
				if err := os.WriteFile(filepath.Join(dir, "proj"), nil, 0o644); err != nil {
					t.Fatal(err)
				}
				return dir
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := UnpackDjango(tt.dir(t))
			if err == nil {
				t.Fatal("UnpackDjango succeeded, want an error")
			}
			if !strings.HasPrefix(err.Error(), "deploy: ") {
				t.Errorf("error %q lacks the %q prefix", err, "deploy: ")
			}
		})
	}
}
