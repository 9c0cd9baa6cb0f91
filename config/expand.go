package config

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

// Placeholders in the commands of managed processes and services, replaced
// when a configuration is loaded ([Load], [Parse], [Default]).
const (
	// PlaceholderBenchd, as a whole command word (process.command,
	// process.setup or a service's command), is replaced by the absolute
	// path of the running benchd executable (os.Executable), so that a
	// service such as `{benchd} upstream` runs this very binary wherever it
	// is installed. Inside a longer word it is left alone.
	PlaceholderBenchd = "{benchd}"
	// PlaceholderNproc, anywhere in a word of those commands, is replaced
	// by the number of CPUs the process may use: the size of its cpus list
	// when it has one, else runtime.NumCPU() (the CPUs benchd itself could
	// use when it started). The default matrix starts {nproc} workers.
	PlaceholderNproc = "{nproc}"
	// PlaceholderVenv, anywhere in a word of those commands, stands for the
	// Python virtual environment benchd makes for the reference Django
	// target, <storage.path>/venv: {venv}/bin/gunicorn is its gunicorn.
	// Loading leaves it in place, since the venv's directory is a flag and
	// not part of the file; the caller sees it with [Config.UsesVenv],
	// makes the venv and replaces it with [Config.ExpandVenv] before any
	// process starts. The default matrix runs every server from {venv}.
	PlaceholderVenv = "{venv}"
)

// MaxCPU is the highest CPU number a cpus list may name: the kernel's
// affinity masks (CPU_SETSIZE) hold 1024 CPUs.
const MaxCPU = 1023

// ParseCPUList parses a CPU list in the kernel's format (cpuset(7), taskset
// -c): comma-separated CPU numbers and inclusive ranges, such as "0",
// "0-1" or "0,2-3". It returns the CPUs in increasing order without
// repeats; "" is an error, as are numbers above [MaxCPU], empty items and
// ranges whose end is below their start.
func ParseCPUList(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty CPU list")
	}
	var cpus []int
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		lo, hi, isRange := strings.Cut(item, "-")
		first, err := parseCPU(lo)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", item, err)
		}
		last := first
		if isRange {
			if last, err = parseCPU(hi); err != nil {
				return nil, fmt.Errorf("%q: %w", item, err)
			}
			if last < first {
				return nil, fmt.Errorf("%q: the range ends before it starts", item)
			}
		}
		for c := first; c <= last; c++ {
			cpus = append(cpus, c)
		}
	}
	slices.Sort(cpus)
	return slices.Compact(cpus), nil
}

func parseCPU(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a CPU number", s)
	}
	if n > MaxCPU {
		return 0, fmt.Errorf("CPU %d is above %d", n, MaxCPU)
	}
	return n, nil
}

// checkCPUs checks a cpus key; "" (unset) is fine.
func checkCPUs(k *checker, path, cpus string) {
	if cpus == "" {
		return
	}
	if _, err := ParseCPUList(cpus); err != nil {
		k.add(path, "%w (want a CPU list such as \"0\", \"0-1\" or \"0,2-3\")", err)
	}
}

// executable is os.Executable, replaceable in tests.
var executable = os.Executable

// expand replaces the placeholders in the commands of c's processes and
// services. It returns a problem for each {benchd} it cannot resolve.
func (c *Config) expand() []error {
	k := &checker{}
	var self string
	var selfErr error
	resolved := false
	benchd := func(path string) (string, bool) {
		if !resolved {
			self, selfErr = executable()
			resolved = true
		}
		if selfErr != nil {
			k.add(path, "%s: cannot find benchd's own executable: %w", PlaceholderBenchd, selfErr)
			return "", false
		}
		return self, true
	}
	nproc := func(cpus string) string {
		if list, err := ParseCPUList(cpus); err == nil {
			return strconv.Itoa(len(list))
		}
		return strconv.Itoa(runtime.NumCPU())
	}
	expandCommand := func(path string, cmd []string, cpus string) []string {
		if !slices.ContainsFunc(cmd, func(w string) bool { return strings.Contains(w, "{") }) {
			return cmd
		}
		out := slices.Clone(cmd) // the decoded slice may be shared through YAML aliases
		for i, w := range out {
			if w == PlaceholderBenchd {
				if exe, ok := benchd(indexPath(path, i)); ok {
					out[i] = exe
				}
				continue
			}
			out[i] = strings.ReplaceAll(w, PlaceholderNproc, nproc(cpus))
		}
		return out
	}
	for i := range c.Services {
		s := &c.Services[i]
		s.Command = expandCommand(indexPath("services", i)+".command", s.Command, s.CPUs)
	}
	for i := range c.Targets {
		p := c.Targets[i].Process
		if p == nil {
			continue
		}
		pp := indexPath("targets", i) + ".process"
		p.Command = expandCommand(pp+".command", p.Command, p.CPUs)
		if len(p.Setup) > 0 {
			setup := make([][]string, len(p.Setup))
			for j, cmd := range p.Setup {
				setup[j] = expandCommand(indexPath(pp+".setup", j), cmd, p.CPUs)
			}
			p.Setup = setup
		}
	}
	return k.problems()
}

// UsesVenv reports whether a command of a process or service holds
// [PlaceholderVenv].
func (c *Config) UsesVenv() bool {
	uses := false
	c.eachCommand(func(cmd []string) []string {
		uses = uses || slices.ContainsFunc(cmd, func(w string) bool { return strings.Contains(w, PlaceholderVenv) })
		return cmd
	})
	return uses
}

// ExpandVenv replaces [PlaceholderVenv] in every word of the commands of
// c's processes and services with dir, the venv's directory (such as
// /var/lib/benchd/venv, no trailing slash).
func (c *Config) ExpandVenv(dir string) {
	if c.UsesVenv() {
		c.venv = dir
	}
	c.eachCommand(func(cmd []string) []string {
		if !slices.ContainsFunc(cmd, func(w string) bool { return strings.Contains(w, PlaceholderVenv) }) {
			return cmd
		}
		out := slices.Clone(cmd) // the slice may be shared through YAML aliases
		for i, w := range out {
			out[i] = strings.ReplaceAll(w, PlaceholderVenv, dir)
		}
		return out
	})
}

// VenvDir returns the directory [Config.ExpandVenv] replaced
// [PlaceholderVenv] with; "" when the configuration names no venv or it
// was not expanded.
func (c *Config) VenvDir() string { return c.venv }

// eachCommand replaces each command of c's services and processes
// (command and setup) with fn's result.
func (c *Config) eachCommand(fn func(cmd []string) []string) {
	for i := range c.Services {
		c.Services[i].Command = fn(c.Services[i].Command)
	}
	for i := range c.Targets {
		p := c.Targets[i].Process
		if p == nil {
			continue
		}
		p.Command = fn(p.Command)
		if len(p.Setup) > 0 {
			setup := make([][]string, len(p.Setup))
			for j, cmd := range p.Setup {
				setup[j] = fn(cmd)
			}
			p.Setup = setup
		}
	}
}
