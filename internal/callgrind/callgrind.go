// Package callgrind runs a server under valgrind's callgrind tool and counts
// the instructions it executes over a bounded number of requests: the
// instruction-count lane of docs/regressions.md. [Command] wraps a
// server's command line (address-space randomisation off, instrumentation
// off at start, forked children followed), [Env] fixes Python's hash seed,
// a [Controller] switches instrumentation on and off and dumps the counts
// with callgrind_control, and [ParseDump] reads a dump file's totals.
//
// It knows nothing of the scheduler or the configuration. A Controller is
// safe for concurrent use on different processes; one process's commands
// must not interleave.
package callgrind

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Programs run by this package, looked up on PATH: Debian's valgrind
// package has both (apt-get install -y valgrind); setarch is util-linux's.
const (
	DefaultValgrind = "valgrind"
	DefaultControl  = "callgrind_control"
	Setarch         = "setarch"
)

// InstallHint is what to install when valgrind is missing.
const InstallHint = "apt-get install -y valgrind"

// Env is the environment the lane's server gets on top of its own:
// Python's hash seed fixed, so that dict and set layouts (and with them
// the instructions of a request) are the same in every run.
var Env = []string{"PYTHONHASHSEED=0"}

// DumpPrefix is the name callgrind's dump files start with in the output
// directory: DumpPrefix + "<pid>" at exit, DumpPrefix + "<pid>.<n>" for the
// n-th dump asked for by callgrind_control -d.
const DumpPrefix = "callgrind.out."

// Command returns argv run under callgrind with its dumps in outDir:
//
//	setarch -R valgrind --tool=callgrind --instr-atstart=no
//	  --trace-children=yes --callgrind-out-file=<outDir>/callgrind.out.%p argv...
//
// setarch -R turns address-space randomisation off for the valgrind
// process and everything it runs; --instr-atstart=no leaves start-up
// uncounted until [Controller.Instrument] switches it on; forked children
// are followed by valgrind anyway, --trace-children=yes follows exec too.
// valgrind "" means [DefaultValgrind]. argv is not modified.
func Command(valgrind, outDir string, argv []string) []string {
	if valgrind == "" {
		valgrind = DefaultValgrind
	}
	out := []string{Setarch, "-R", valgrind, "--tool=callgrind", "--instr-atstart=no", "--trace-children=yes",
		"--callgrind-out-file=" + filepath.Join(outDir, DumpPrefix+"%p")}
	return append(out, argv...)
}

// Check reports whether the programs the lane needs are on PATH; the error
// names the missing one and [InstallHint].
func Check(valgrind, control string) error {
	for _, p := range []string{cmpOr(valgrind, DefaultValgrind), cmpOr(control, DefaultControl), Setarch} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("callgrind: %s not found (install it: %s): %w", p, InstallHint, err)
		}
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Dump is what one callgrind dump file says about the whole program: the
// event names of its "events:" line (such as "Ir", instructions executed)
// and their totals ("summary:" or "totals:").
type Dump struct {
	PID    int
	Events []string
	Totals []uint64
}

// Event returns the total of event name (such as "Ir") and whether the
// dump has it.
func (d Dump) Event(name string) (uint64, bool) {
	for i, e := range d.Events {
		if e == name && i < len(d.Totals) {
			return d.Totals[i], true
		}
	}
	return 0, false
}

// Instructions returns the dump's instructions executed (event Ir).
func (d Dump) Instructions() (uint64, error) {
	n, ok := d.Event("Ir")
	if !ok {
		return 0, errors.New("callgrind: the dump has no Ir event")
	}
	return n, nil
}

// MaxLineBytes caps one line of a dump file that [ParseDump] reads.
const MaxLineBytes = 1 << 20

// ParseDump reads a callgrind dump (callgrind's "callgrind format") up to
// its totals: the "pid:", "events:" and "summary:" header lines, or a
// "totals:" line when no summary came first. The header must say
// "# callgrind format" or have a "version:" line before the events. Each
// total is a decimal count; there may be fewer totals than events (the
// rest are 0) but not more. Errors: no events line, no totals, a malformed
// number, a line above [MaxLineBytes].
func ParseDump(r io.Reader) (Dump, error) {
	var d Dump
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	haveEvents := false
	for line := 1; sc.Scan(); line++ {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch key {
		case "pid":
			pid, err := strconv.Atoi(val)
			if err != nil || pid <= 0 {
				return Dump{}, fmt.Errorf("callgrind: line %d: pid %q is not a process ID", line, val)
			}
			d.PID = pid
		case "events":
			if haveEvents {
				return Dump{}, fmt.Errorf("callgrind: line %d: a second events line", line)
			}
			d.Events = strings.Fields(val)
			if len(d.Events) == 0 {
				return Dump{}, fmt.Errorf("callgrind: line %d: no event names", line)
			}
			haveEvents = true
		case "summary", "totals":
			if !haveEvents {
				return Dump{}, fmt.Errorf("callgrind: line %d: %s before the events line", line, key)
			}
			f := strings.Fields(val)
			if len(f) > len(d.Events) {
				return Dump{}, fmt.Errorf("callgrind: line %d: %d totals for %d events", line, len(f), len(d.Events))
			}
			d.Totals = make([]uint64, len(d.Events))
			for i, s := range f {
				n, err := strconv.ParseUint(s, 10, 64)
				if err != nil {
					return Dump{}, fmt.Errorf("callgrind: line %d: total %q is not a count", line, s)
				}
				d.Totals[i] = n
			}
			return d, nil
		}
	}
	if err := sc.Err(); err != nil {
		return Dump{}, fmt.Errorf("callgrind: read dump: %w", err)
	}
	if !haveEvents {
		return Dump{}, errors.New("callgrind: not a callgrind dump: no events line")
	}
	return Dump{}, errors.New("callgrind: the dump has no summary or totals line")
}

// Controller sends commands to processes running under callgrind.
type Controller struct {
	// Program is callgrind_control; "" means [DefaultControl].
	Program string
	// Dir is the output directory given to [Command], where dumps are
	// written.
	Dir string
}

// run runs callgrind_control with args; the error carries its output.
func (c *Controller) run(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, cmpOr(c.Program, DefaultControl), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("callgrind: %s %s: %w: %s", cmd.Path, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	// callgrind_control exits 0 even when no process matched the pid.
	if !bytes.Contains(out, []byte("OK.")) {
		return fmt.Errorf("callgrind: %s %s: no callgrind process answered: %s", cmd.Path, strings.Join(args, " "), bytes.TrimSpace(out))
	}
	return nil
}

// Zero zeroes the counts of process pid (callgrind_control -z). ctx bounds
// the wait for callgrind's answer.
func (c *Controller) Zero(ctx context.Context, pid int) error {
	return c.run(ctx, "-z", strconv.Itoa(pid))
}

// Instrument switches the instrumentation of process pid on or off
// (callgrind_control -i on|off).
func (c *Controller) Instrument(ctx context.Context, pid int, on bool) error {
	state := "off"
	if on {
		state = "on"
	}
	return c.run(ctx, "-i", state, strconv.Itoa(pid))
}

// Dump makes process pid write its counts since the last zero or dump
// (callgrind_control -d) and returns that dump, read from the newest
// dump file of pid in Dir.
func (c *Controller) Dump(ctx context.Context, pid int) (Dump, error) {
	if err := c.run(ctx, "-d", strconv.Itoa(pid)); err != nil {
		return Dump{}, err
	}
	path, err := newestDump(c.Dir, pid)
	if err != nil {
		return Dump{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return Dump{}, fmt.Errorf("callgrind: %w", err)
	}
	defer f.Close()
	d, err := ParseDump(f)
	if err != nil {
		return Dump{}, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// newestDump returns the path of pid's dump file with the highest part
// number in dir.
func newestDump(dir string, pid int) (string, error) {
	prefix := DumpPrefix + strconv.Itoa(pid) + "."
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("callgrind: %w", err)
	}
	best, bestN := "", 0
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(rest); err == nil && n > bestN {
			best, bestN = e.Name(), n
		}
	}
	if best == "" {
		return "", fmt.Errorf("callgrind: no dump of pid %d in %s", pid, dir)
	}
	return filepath.Join(dir, best), nil
}
