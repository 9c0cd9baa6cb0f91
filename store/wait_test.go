package store

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestOpenWait: while another holder has the history, OpenWait waits and
// logs it once; it opens the history once released, and gives up with
// ErrInUse when the wait is over.
func TestOpenWait(t *testing.T) {
	dir := t.TempDir()
	held, err := Open(t.Context(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := OpenWait(t.Context(), dir, Options{}, 0); !errors.Is(err, ErrInUse) {
		t.Fatalf("OpenWait with no wait: %v, want ErrInUse", err)
	}
	if d := time.Since(start); d > OpenWaitRetryInterval {
		t.Errorf("OpenWait with no wait took %s", d)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	released := make(chan error, 1)
	go func() {
		time.Sleep(2 * OpenWaitRetryInterval)
		released <- held.Close()
	}()
	st, err := OpenWait(t.Context(), dir, Options{Logger: logger}, 30*time.Second)
	if err != nil {
		t.Fatalf("OpenWait after the holder closed: %v", err)
	}
	defer st.Close()
	if err := <-released; err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	if strings.Count(out, "held by another benchd") != 1 || !strings.Contains(out, "wait=30s") || !strings.Contains(out, "run history opened") {
		t.Errorf("log:\n%s\nwant one waiting line (wait=30s) and the open", out)
	}
}
