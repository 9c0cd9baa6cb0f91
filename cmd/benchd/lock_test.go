package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benchd/benchd/internal/testutil"
	"github.com/benchd/benchd/store"
)

// TestHeldHistory: a benchd started while another process holds the run
// history waits for it instead of failing (a daemon started during a
// `benchd matrix`, a start right after a kill -9), and a matrix that gives
// up waiting says its run is not recorded.
func TestHeldHistory(t *testing.T) {
	if testing.Short() {
		t.Skip("runs benchd")
	}
	storage := filepath.Join(t.TempDir(), "data")
	holder, err := store.Open(t.Context(), storage, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = holder.Close() })
	cfg := smallConfig(t, "@every 1h")

	t.Run("matrix gives up after a while and runs unrecorded", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		var stderr testutil.SyncBuffer
		cmd := benchd(ctx, t, "matrix", "--config.file", cfg, "--storage.path", storage)
		cmd.Stderr = &stderr
		begin := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("matrix: %v\n%s", err, stderr.String())
		}
		if took := time.Since(begin); took < matrixStoreWait-time.Second {
			t.Errorf("matrix gave up waiting after %v, want about %v", took, matrixStoreWait)
		}
		for _, want := range []string{"the run history is held by another benchd: waiting for it", "this run is not recorded", "(not recorded): 2 scenarios"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
			}
		}
	})

	t.Run("serve waits until the history is free", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		web := freePort(t)
		var stderr testutil.SyncBuffer
		cmd := benchd(ctx, t, "serve", "--config.file", cfg, "--storage.path", storage, "--web.listen-address", fmt.Sprintf("127.0.0.1:%d", web))
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		})
		healthz := fmt.Sprintf("http://127.0.0.1:%d/healthz", web)
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			if strings.Contains(stderr.String(), "waiting for it") {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if cmd.ProcessState != nil || !strings.Contains(stderr.String(), "waiting for it") {
			t.Fatalf("serve did not wait for the held history:\n%s", stderr.String())
		}
		if err := holder.Close(); err != nil {
			t.Fatal(err)
		}
		deadline = time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(healthz)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("serve did not come up after the history was freed:\n%s", stderr.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.Contains(stderr.String(), "run history opened") {
			t.Errorf("stderr lacks %q:\n%s", "run history opened", stderr.String())
		}
	})
}

// TestInvalidResultSaysWhy: a result the detector will not use (here benchd
// itself counts as starved: max_scheduler_latency 1ns) says so in the log,
// with the reason, instead of only valid=false in the history.
func TestInvalidResultSaysWhy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs benchd")
	}
	cfg := smallConfig(t, "@every 1h")
	b, err := os.ReadFile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, append(b, "regression: {max_scheduler_latency: 1ns}\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := benchd(ctx, t, "matrix", "--config.file", cfg, "--storage.path", t.TempDir(), "--only", "t/-/a").CombinedOutput()
	if err != nil {
		t.Fatalf("matrix: %v\n%s", err, out)
	}
	for _, want := range []string{`msg="result left out of the regression detector's baselines and tests"`, "scenario=t/-/a", "reasons=[scheduler_latency]"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
