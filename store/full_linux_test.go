package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// smallTmpfs mounts a tmpfs of the given size on a new directory; a test
// that needs one fails (with the reason) when mounting is not permitted.
func smallTmpfs(t *testing.T, size string) string {
	t.Helper()
	if testing.Short() {
		t.Skip("mounts a tmpfs")
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatalf("mount a %s tmpfs on %s (run the tests as root, or with CAP_SYS_ADMIN): %v", size, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// fillDisk writes a file into dir until the file system is full and
// returns its path; removing it frees the space.
func fillDisk(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for range 1 << 16 { // 256 MiB at most
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
	t.Fatal("the disk never filled")
	return ""
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
	filler := fillDisk(t, dir)
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
	filler := fillDisk(t, dir)
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
