package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benchd/benchd/internal/testutil"
)

// smallTmpfs mounts a tmpfs of the given size on a new directory; a test
// that needs one fails (with the reason) when mounting is not permitted.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("mounts a tmpfs")
	}
	return testutil.SmallTmpfs(t, size)
}

// TestOpenOnFullDisk: opening an existing database on a full disk says
// "disk full" and the path, not SQLite's "disk I/O error (4874)".
func TestOpenOnFullDisk(t *testing.T) {
	dir := smallTmpfs(t, "512k")
	s, err := Open(t.Context(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	beginRun(t, s, "r", base)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	filler := testutil.FillDisk(t, dir)
	s, err = Open(t.Context(), dir, Options{})
	if err == nil {
		_ = s.Close()
		t.Fatal("Open on a full disk: no error")
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), dir) {
		t.Errorf("Open on a full disk: %q, want ErrDiskFull naming %s", err, dir)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	s = openStore(t, dir)
	if _, err := s.Run(t.Context(), "r"); err != nil {
		t.Errorf("after freeing space: %v", err)
	}
}

// TestWriteOnFullDisk: each kind of write on a full disk fails with
// ErrDiskFull and leaves nothing behind.
func TestWriteOnFullDisk(t *testing.T) {
	dir := smallTmpfs(t, "512k")
	s := openStore(t, dir)
	ctx := t.Context()
	beginRun(t, s, "r", base)
	filler := testutil.FillDisk(t, dir)
	var errs []error
	for i := range 50 { // the WAL may still take a few pages
		if err := s.SaveScenario(ctx, makeScenario(t, "r", i, 20_000)); err != nil {
			errs = append(errs, err)
			break
		}
	}
	_, err := s.BeginRun(ctx, Run{ID: "r2", Start: base.Add(1)})
	errs = append(errs, err)
	for _, err := range errs {
		if !errors.Is(err, ErrDiskFull) {
			t.Errorf("write on a full disk: %v, want ErrDiskFull", err)
		}
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if _, err := s.BeginRun(ctx, Run{ID: "r2", Start: base.Add(1)}); err != nil {
		t.Errorf("after freeing space: %v", err)
	}
}

// TestOpenReadOnlyOnFullDisk: a reader (benchd report) on a full disk,
// whose WAL index (-shm) is a stub of a few bytes that SQLite must grow,
// says "disk full" and the path, not "disk I/O error (4874)".
func TestOpenReadOnlyOnFullDisk(t *testing.T) {
	dir := smallTmpfs(t, "512k")
	s, err := Open(t.Context(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	beginRun(t, s, "r", base)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, DBFile+"-shm"), []byte("shm"), 0o644); err != nil {
		t.Fatal(err)
	}
	filler := testutil.FillDisk(t, dir)
	ro, err := Open(t.Context(), dir, Options{ReadOnly: true})
	if err == nil {
		_, err = ro.Runs(t.Context(), RunQuery{})
		_ = ro.Close()
	}
	if err == nil {
		t.Fatal("read-only Open and Runs on a full disk with a stub -shm: no error")
	}
	t.Logf("error: %v", err)
	if !errors.Is(err, ErrDiskFull) || !strings.Contains(err.Error(), "disk full ("+dir+")") {
		t.Errorf("read-only Open on a full disk: %q, want ErrDiskFull naming %s", err, dir)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	ro, err = Open(t.Context(), dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Run(t.Context(), "r"); err != nil {
		t.Errorf("after freeing space: %v", err)
	}
}
