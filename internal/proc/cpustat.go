package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// CPUTimes is the time one CPU spent in each state since boot, from its
// "cpuN" line of /proc/stat, in seconds (the kernel counts USER_HZ ticks:
// 10 ms resolution). Guest time is part of User and Nice, as the kernel
// counts it, and is not kept apart.
type CPUTimes struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal float64
}

// Busy returns the seconds the CPU was not idle: User + Nice + System + IRQ
// + SoftIRQ + Steal (time a hypervisor gave to another machine counts as
// busy: this machine could not use it). IOWait is idle time.
func (t CPUTimes) Busy() float64 {
	return t.User + t.Nice + t.System + t.IRQ + t.SoftIRQ + t.Steal
}

// Sub returns t - u, field by field.
func (t CPUTimes) Sub(u CPUTimes) CPUTimes {
	return CPUTimes{
		User: t.User - u.User, Nice: t.Nice - u.Nice, System: t.System - u.System, Idle: t.Idle - u.Idle,
		IOWait: t.IOWait - u.IOWait, IRQ: t.IRQ - u.IRQ, SoftIRQ: t.SoftIRQ - u.SoftIRQ, Steal: t.Steal - u.Steal,
	}
}

// errCPUStat reports a /proc/stat cpu line that does not parse.
var errCPUStat = errors.New("malformed /proc/stat cpu line")

// ReadCPUTimes returns the times of every online CPU, by CPU number, from
// /proc/stat. It is safe for concurrent use. The error wraps the read's
// error, or says which line does not parse.
func ReadCPUTimes() (map[int]CPUTimes, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return nil, fmt.Errorf("scheduler: cpu times: %w", err)
	}
	m, err := parseCPUTimes(b)
	if err != nil {
		return nil, fmt.Errorf("scheduler: cpu times: %w", err)
	}
	return m, nil
}

// parseCPUTimes parses the "cpuN user nice system idle iowait irq softirq
// steal ..." lines of /proc/stat; the "cpu" line of all CPUs together and
// every other line are skipped. Kernels before 2.6.11 have no steal column
// (it is then 0); fewer than 7 values is an error.
func parseCPUTimes(b []byte) (map[int]CPUTimes, error) {
	out := map[int]CPUTimes{}
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("cpu"))
		if !ok || len(rest) == 0 || rest[0] < '0' || rest[0] > '9' {
			continue
		}
		f := bytes.Fields(rest)
		cpu, err := strconv.Atoi(string(f[0]))
		if err != nil || cpu < 0 || len(f) < 8 {
			return nil, fmt.Errorf("%w %q", errCPUStat, bytes.TrimSpace(line))
		}
		var v [8]float64
		for i := range v {
			if 1+i >= len(f) {
				break
			}
			n, err := strconv.ParseUint(string(f[1+i]), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%w %q", errCPUStat, bytes.TrimSpace(line))
			}
			v[i] = float64(n) / clockTicksPerSecond
		}
		if _, dup := out[cpu]; dup {
			return nil, fmt.Errorf("%w: cpu%d twice", errCPUStat, cpu)
		}
		out[cpu] = CPUTimes{User: v[0], Nice: v[1], System: v[2], Idle: v[3], IOWait: v[4], IRQ: v[5], SoftIRQ: v[6], Steal: v[7]}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no cpuN line", errCPUStat)
	}
	return out, nil
}

// Affinity returns the CPUs process (or thread) pid may run on, in
// increasing order; pid 0 means the calling thread. The error wraps the
// kernel's (ESRCH: no such process).
func Affinity(pid int) ([]int, error) {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(pid, &set); err != nil {
		return nil, fmt.Errorf("scheduler: CPU affinity of %d: %w", pid, err)
	}
	var cpus []int
	for c := 0; c < len(set)*64 && len(cpus) < set.Count(); c++ {
		if set.IsSet(c) {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}
