package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSubcommandHelp: a subcommand's --help lists its own flags first and
// not the daemon's; `benchd --help` and `benchd serve --help` show the
// daemon's.
func TestSubcommandHelp(t *testing.T) {
	cases := []struct {
		args []string
		// first is the first flag listed; want are listed, notWant not.
		first   string
		want    []string
		notWant []string
	}{
		{[]string{"bench", "--help"}, "--connections", []string{"--duration", "--help", "--log.level", "--config.file"}, []string{"--web.", "--storage.retention", "--run.marker"}},
		{[]string{"matrix", "--help"}, "--only", []string{"--storage.retention", "--run.marker", "--config.file", "--storage.path"}, []string{"--web."}},
		// config check takes the retention serve and matrix check the schedule against.
		{[]string{"config", "check", "--help"}, "--storage.retention", []string{"--config.file"}, []string{"--web.", "--storage.retention.size", "--run.marker"}},
		{[]string{"dashboards", "--help"}, "--out", nil, []string{"--web.", "--storage.retention", "--run.marker"}},
		{[]string{"serve", "--help"}, "--web.systemd-socket", []string{"--web.listen-address", "--web.systemd-socket", "--storage.retention", "--run.marker"}, nil},
		{[]string{"--help"}, "--help", []string{"--web.listen-address", "--storage.retention"}, nil},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(c.args, &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr.String())
			}
			out := stdout.String()
			flags := listedFlags(out)
			if len(flags) == 0 || flags[0] != c.first {
				t.Errorf("flags listed %v, want %s first:\n%s", flags, c.first, out)
			}
			for _, w := range c.want {
				if !slices.Contains(flags, w) {
					t.Errorf("help lacks %s:\n%s", w, out)
				}
			}
			for _, nw := range c.notWant {
				for _, f := range flags {
					if strings.HasPrefix(f, nw) {
						t.Errorf("help lists %s:\n%s", f, out)
					}
				}
			}
		})
	}
}

// listedFlags returns the long flags of a kingpin help text in order.
func listedFlags(help string) []string {
	var out []string
	for line := range strings.Lines(help) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		name := f[0]
		if strings.HasPrefix(name, "-") && !strings.HasPrefix(name, "--") && len(f) > 1 {
			name = f[1] // -c, --connections=10
		}
		if !strings.HasPrefix(name, "--") {
			continue
		}
		name, _, _ = strings.Cut(name, "=")
		out = append(out, strings.Replace(name, "--[no-]", "--", 1))
	}
	return out
}

// TestDaemonFlagsWithoutServe: `benchd --web.listen-address ADDR` runs the
// daemon, as README shows, though the web flags are serve's.
func TestDaemonFlagsWithoutServe(t *testing.T) {
	cfg := smallConfig(t, "@every 1h")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := benchd(ctx, t, "--web.listen-address", addr, "--config.file", cfg, "--storage.path", t.TempDir(), "--storage.retention", "1h")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	up := false
	for range 200 {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			resp.Body.Close()
			up = resp.StatusCode == http.StatusOK
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil || !up {
		t.Errorf("benchd --web.listen-address: /metrics up %v, exit %v; stderr:\n%s", up, err, stderr.String())
	}
}
