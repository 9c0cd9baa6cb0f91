package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// matrixYAML is a valid document with targets × endpoints scenarios.
func matrixYAML(targets, endpoints int) string {
	var b strings.Builder
	b.WriteString("targets:\n")
	for i := range targets {
		fmt.Fprintf(&b, "  - {name: t%d, url: \"http://127.0.0.1:8000\"}\n", i)
	}
	b.WriteString("endpoints:\n")
	for i := range endpoints {
		fmt.Fprintf(&b, "  - {name: e%d, path: /e%d}\n", i, i)
	}
	return b.String()
}

// TestLoadLimits checks that a file over MaxConfigBytes and a matrix over
// MaxScenarios are refused with ErrTooLarge, before the file is decoded.
func TestLoadLimits(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A sparse 50 MB file: refused by its size, without reading it.
	sparse := filepath.Join(dir, "sparse.yml")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(50 << 20); err != nil {
		t.Fatal(err)
	}
	f.Close()
	cases := []struct {
		name, path string
		want       string // "" means valid
	}{
		{"50 MB file", sparse, "50.0 MiB, the limit is 4194304 bytes (MaxConfigBytes, 4 MiB)"},
		{"4 MiB + 1 byte", write("over.yml", matrixYAML(1, 1)+"#"+strings.Repeat("x", MaxConfigBytes)), "4.0 MiB, the limit is 4194304 bytes"},
		{"a device with no size", "/dev/zero", "/dev/zero: too large: more than 4 MiB"},
		{"10,000 scenarios", write("max.yml", matrixYAML(100, 100)), ""},
		{"10,100 scenarios", write("many.yml", matrixYAML(101, 100)), "101 targets and 100 endpoints make more than 10000 scenarios (MaxScenarios)"},
		{"10,002 with modes", write("modes.yml", "targets: [{name: t, url: \"http://127.0.0.1:1\", modes: [a, b]}]\nendpoints:\n"+endpointsYAML(5001)), "1 target with 2 modes and 5001 endpoints make more than 10000"},
		{"200 modes", write("modes200.yml", "targets: [{name: t, url: \"http://127.0.0.1:1\", modes: ["+modesYAML(200)+"]}]\nendpoints:\n"+modeEndpointsYAML(51)),
			"1 target with 200 modes and 51 endpoints make more than 10000 scenarios"},
		{"2 targets with modes", write("modes2.yml", "targets: [{name: t, url: \"http://127.0.0.1:1\", modes: ["+modesYAML(100)+"]}, {name: u, url: \"http://127.0.0.1:1\", modes: ["+modesYAML(100)+"]}]\nendpoints:\n"+modeEndpointsYAML(51)),
			"2 targets with 200 modes in all and 51 endpoints make"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, err := Load(c.path)
			took := time.Since(start)
			if c.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) || !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Load = %v, want ErrTooLarge containing %q", err, c.want)
			}
			if took > 5*time.Second {
				t.Errorf("refusing it took %s", took)
			}
		})
	}
	if _, err := Parse([]byte(matrixYAML(1, 1)+"#"+strings.Repeat("x", MaxConfigBytes)), ""); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Parse of more than MaxConfigBytes = %v, want ErrTooLarge", err)
	}
}

// modesYAML is a flow list of n modes: m0, m1, ...
func modesYAML(n int) string {
	ms := make([]string, n)
	for i := range ms {
		ms[i] = fmt.Sprintf("m%d", i)
	}
	return strings.Join(ms, ", ")
}

// modeEndpointsYAML is n endpoints whose path takes the mode.
func modeEndpointsYAML(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "  - {name: e%d, path: \"/p%d/{mode}\"}\n", i, i)
	}
	return b.String()
}

func endpointsYAML(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "  - {name: e%d, path: /e%d}\n", i, i)
	}
	return b.String()
}

// TestManyProblems checks that a huge wrong file gets a bounded list of
// problems with a count of the rest, not one message per line.
func TestManyProblems(t *testing.T) {
	var unknown, refs strings.Builder
	unknown.WriteString("targets:\n")
	for i := range 5000 {
		fmt.Fprintf(&unknown, "  - {name: t%d, url: \"http://127.0.0.1:8000\", x%d: 1}\n", i, i)
	}
	refs.WriteString("services:\n")
	for i := range 2000 {
		fmt.Fprintf(&refs, "  - {name: s%d, command: [x], ready: \"tcp://127.0.0.1:1\"}\n", i)
	}
	refs.WriteString("targets:\n")
	for i := range 2000 {
		fmt.Fprintf(&refs, "  - {name: t%d, url: \"http://127.0.0.1:8000\", services: [nosuch%d]}\n", i, i)
	}
	refs.WriteString("endpoints: [{name: e, path: /}]\n")
	for _, c := range []struct{ name, doc, more string }{
		{"unknown keys", unknown.String(), "and 4900 more problems"},
		{"unknown services", refs.String(), "and 1900 more problems"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.doc), "")
			if err == nil {
				t.Fatal("Parse accepted it")
			}
			msg := err.Error()
			if !strings.Contains(msg, c.more) || strings.Count(msg, "\n") > maxProblems+2 || len(msg) > 64<<10 {
				t.Errorf("%d lines, %d bytes, want at most %d problems ending %q:\n%.2000s", strings.Count(msg, "\n"), len(msg), maxProblems, c.more, msg)
			}
		})
	}
}

// TestCountScenarios checks that countScenarios, which does not build the
// matrix, counts the cells Scenarios builds, valid config or not.
func TestCountScenarios(t *testing.T) {
	docs := []string{
		matrixYAML(3, 4),
		"targets: [{name: a, url: 'http://h', modes: [sync, async]}, {name: b, url: 'http://h'}]\n" +
			"endpoints: [{name: x, path: '/{mode}'}, {name: y, path: /, modes: [async]}, {name: z, path: /z}]",
		"targets: [{name: a, url: 'http://h', modes: [m, m, n]}]\nendpoints: [{name: x, path: /, modes: [m, m]}, {name: y, path: /, modes: [n, o]}, {name: z, path: /}]",
		"targets: [{name: a, url: 'http://h'}]\nendpoints: [{name: x, path: /, modes: [m]}, {name: y, path: '/{mode}'}]",
		"targets: [{name: a, url: 'http://h', modes: [m]}]\nendpoints: []",
	}
	for i, doc := range docs {
		c := &Config{}
		if _, _, err := decode([]byte(doc), c); err != nil {
			t.Fatalf("doc %d: %v", i, err)
		}
		if got, want := c.countScenarios(math.MaxInt), len(c.cells()); got != want {
			t.Errorf("doc %d: countScenarios = %d, cells = %d", i, got, want)
		}
	}
}
