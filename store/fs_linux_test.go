package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// mountTmpfs mounts a tmpfs with the given flags and options on a new
// temporary directory and unmounts it when the test ends. It needs root (or
// CAP_SYS_ADMIN); without it the test is skipped.
func mountTmpfs(t *testing.T, flags uintptr, options string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", flags, options); err != nil {
		t.Skipf("cannot mount a tmpfs on %s (needs root): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// readOnlyDir returns an empty directory in which nothing can be created:
// mode 0555 for an ordinary user, a read-only tmpfs for root (who ignores
// permission bits).
func readOnlyDir(t *testing.T) string {
	t.Helper()
	if os.Geteuid() != 0 {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Chmod(dir, 0o755) })
		return dir
	}
	return mountTmpfs(t, syscall.MS_RDONLY, "size=64k")
}

func TestOpenReadOnlyDirectory(t *testing.T) {
	ro := readOnlyDir(t)
	tests := []struct {
		name    string
		dir     string
		wantMsg string // the path the error must name
	}{
		{"storage directory is read-only", ro, filepath.Join(ro, LockFile)},
		{"parent is read-only", filepath.Join(ro, "data"), filepath.Join(ro, "data")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Open(t.Context(), tc.dir, Options{})
			if err == nil {
				_ = s.Close()
				t.Fatal("no error")
			}
			if !strings.HasPrefix(err.Error(), "store: ") || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not name %s", err, tc.wantMsg)
			}
			if !errors.Is(err, syscall.EROFS) && !errors.Is(err, os.ErrPermission) {
				t.Errorf("error %q is neither EROFS nor a permission error", err)
			}
			t.Logf("error: %v", err)
		})
	}
}

// TestFullDisk fills a small file system: the save that does not fit must
// fail with an error and leave nothing behind, every earlier save must stay
// whole, and after space is freed the database opens clean and takes writes.
func TestFullDisk(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := mountTmpfs(t, 0, "size=256k")
	ctx := t.Context()
	s, err := Open(ctx, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	beginRun(t, s, "full", base)
	saved := 0
	var saveErr error
	for i := range 500 {
		if saveErr = s.SaveScenario(ctx, makeScenario(t, "full", i, 20_000)); saveErr != nil {
			break
		}
		saved++
	}
	if saveErr == nil {
		t.Fatal("500 scenarios fit in 256 KiB: the disk never filled")
	}
	t.Logf("saved %d scenarios, then: %v", saved, saveErr)
	if saved == 0 || !strings.HasPrefix(saveErr.Error(), "store: save scenario") || !strings.Contains(saveErr.Error(), "full") {
		t.Errorf("saved %d, error %q: want some saves, then a store error saying the disk is full", saved, saveErr)
	}
	r, err := s.Run(ctx, "full")
	if err != nil {
		t.Fatalf("Run on a full disk: %v", err)
	}
	if len(r.Scenarios) != saved || r.Outcome != OutcomeRunning {
		t.Errorf("on a full disk the run shows %d scenarios and outcome %q, want %d and running", len(r.Scenarios), r.Outcome, saved)
	}

	// Free space (grow the file system), as an operator would: the open
	// store takes writes again, starting with the one that failed.
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT, "size=16m"); err != nil {
		t.Fatalf("remount larger: %v", err)
	}
	saveScenario(ctx, t, s, makeScenario(t, "full", saved, 20_000))
	saved++
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = openStore(t, dir)
	checkIntegrity(t, s)
	r, err = s.Run(ctx, "full")
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != OutcomeAborted || len(r.Scenarios) != saved {
		t.Fatalf("after reopen: outcome %q, %d scenarios, want aborted and %d", r.Outcome, len(r.Scenarios), saved)
	}
	for i, sc := range r.Scenarios {
		if d := diffScenario(sc, makeScenario(t, "full", i, 20_000)); d != "" {
			t.Errorf("scenario %d after the disk filled: %s", i, d)
		}
	}
	beginRun(t, s, "after", base.Add(1))
	saveScenario(ctx, t, s, makeScenario(t, "after", 0, 20_000))
}
