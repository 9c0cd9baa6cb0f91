package engine

import (
	"errors"
	"math"
	"strings"
	"syscall"
	"testing"
)

func TestRaiseFileLimit(t *testing.T) {
	var orig syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
		t.Fatal(err)
	}
	if orig.Max < 2048 || orig.Max > math.MaxInt32 {
		t.Skipf("hard RLIMIT_NOFILE %d out of the range this test handles", orig.Max)
	}
	t.Cleanup(func() {
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &orig); err != nil {
			t.Errorf("restore RLIMIT_NOFILE: %v", err)
		}
	})

	t.Run("raises the soft limit", func(t *testing.T) {
		low := orig
		low.Cur = 1024
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
			t.Fatal(err)
		}
		if err := raiseFileLimit(2000); err != nil {
			t.Fatal(err)
		}
		var now syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &now); err != nil {
			t.Fatal(err)
		}
		if now.Cur < 2000 {
			t.Errorf("soft limit %d after raising for 2000", now.Cur)
		}
	})
	t.Run("above the hard limit", func(t *testing.T) {
		// Run checks the limit before dialling anything, so the URL is never used.
		res, err := Run(t.Context(), Plan{URL: "http://127.0.0.1:1/", Connections: int(orig.Max)}, nil)
		if !errors.Is(err, ErrFileLimit) || !strings.Contains(err.Error(), "RLIMIT_NOFILE") || !strings.Contains(err.Error(), "ulimit") {
			t.Fatalf("err %v, want ErrFileLimit naming RLIMIT_NOFILE and ulimit", err)
		}
		if res != nil {
			t.Errorf("result for a plan that cannot run")
		}
	})
}
