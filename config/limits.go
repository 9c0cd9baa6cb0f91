package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Limits on a configuration's size, checked by [Load] and [Parse] before the
// expensive work, so that a wrong file (a log, a dump) is refused in
// milliseconds rather than decoded for minutes.
const (
	// MaxConfigBytes is the largest configuration file accepted: 4 MiB. The
	// embedded default matrix is a few KiB.
	MaxConfigBytes = 4 << 20
	// MaxScenarios is the most scenarios a matrix may have; a run over
	// 10,000 scenarios of even 10 s each takes more than a day.
	MaxScenarios = 10_000
)

// ErrTooLarge marks a configuration refused for its size: more than
// [MaxConfigBytes] bytes, or more than [MaxScenarios] scenarios. Test with
// errors.Is.
var ErrTooLarge = errors.New("too large")

// readLimited reads the file at path, refusing one over MaxConfigBytes:
// first by its size (a stat, before reading), then by what is read, for
// files whose size stat does not know (pipes, /dev/stdin, a growing file).
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > MaxConfigBytes {
		return nil, tooLarge(path, fi.Size())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > MaxConfigBytes {
		return nil, tooLarge(path, -1)
	}
	return data, nil
}

// tooLarge is the error for a document over MaxConfigBytes; size < 0 means
// unknown (more than the limit was read).
func tooLarge(name string, size int64) error {
	got := "more than 4 MiB"
	if size >= 0 {
		got = fmt.Sprintf("%.1f MiB", float64(size)/(1<<20))
	}
	if name != "" {
		name += ": "
	}
	return fmt.Errorf("%s%w: %s, the limit is %d bytes (MaxConfigBytes, 4 MiB); a benchd configuration is a few KiB: check that this is the right file",
		name, ErrTooLarge, got, MaxConfigBytes)
}

// checkScenarioCount returns a problem if c's matrix has more than
// MaxScenarios scenarios. It counts them without building them: targets ×
// their modes × endpoints, the same cells as [Config.Scenarios], in time
// linear in the number of targets, endpoints and modes.
func (c *Config) checkScenarioCount() error {
	n := c.countScenarios(MaxScenarios)
	if n <= MaxScenarios {
		return nil
	}
	modes := 0
	for i := range c.Targets {
		modes += len(c.Targets[i].Modes)
	}
	targets := plural(len(c.Targets), "target")
	if modes > 0 {
		targets += " with " + plural(modes, "mode")
		if len(c.Targets) > 1 {
			targets += " in all"
		}
	}
	return &FieldError{Err: fmt.Errorf("%w: %s and %s make more than %d scenarios (MaxScenarios); split the matrix over several configurations, or give endpoints modes: so that each runs on fewer targets",
		ErrTooLarge, targets, plural(len(c.Endpoints), "endpoint"), MaxScenarios)}
}

// plural returns "1 target", "2 targets".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// countScenarios returns how many cells c.cells would make, or a number
// above limit as soon as the count passes it.
func (c *Config) countScenarios(limit int) int {
	noModes, noModesNoPlaceholder := 0, 0
	withMode := map[string]int{} // mode -> endpoints whose modes list it
	for i := range c.Endpoints {
		ep := &c.Endpoints[i]
		if len(ep.Modes) == 0 {
			noModes++
			if !strings.Contains(ep.Path, "{mode}") {
				noModesNoPlaceholder++
			}
			continue
		}
		for j, m := range ep.Modes {
			if !slices.Contains(ep.Modes[:j], m) {
				withMode[m]++
			}
		}
	}
	n := 0
	for i := range c.Targets {
		t := &c.Targets[i]
		if t.Instructions != nil {
			// An instruction lane has its listed endpoints only.
			for j := range c.Endpoints {
				if ep := &c.Endpoints[j]; slices.Contains(t.Instructions.Endpoints, ep.Name) {
					n += len(scenarioModes(t, ep))
				}
			}
			if n > limit {
				return n
			}
			continue
		}
		if len(t.Modes) == 0 {
			n += noModesNoPlaceholder
		}
		for _, m := range t.Modes { // as scenarioModes: a repeated target mode counts twice
			n += noModes + withMode[m]
			if n > limit {
				return n
			}
		}
		if n > limit {
			return n
		}
	}
	return n
}
