package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// clockTicksPerSecond is USER_HZ, the unit of the CPU times in
// /proc/PID/stat. The kernel fixes it at 100 on every Linux architecture Go
// supports, whatever CONFIG_HZ is, so it is not read with sysconf (which
// would need cgo).
const clockTicksPerSecond = 100

// Usage is the resource use of a process or a process tree at one instant,
// as the kernel reports it in /proc. A Usage is a plain value: it may be
// copied and compared.
type Usage struct {
	// CPUSeconds is the user plus system CPU time, in seconds, consumed so
	// far by the live processes counted (utime+stime of /proc/PID/stat).
	// It is cumulative per process, so it drops when a process of the tree
	// exits; the difference of two samples is the CPU used in between as
	// long as the tree did not change. Resolution is 10 ms.
	CPUSeconds float64
	// ReapedCPUSeconds is the user plus system CPU time, in seconds, of
	// descendants that have exited and were waited for by a process of the
	// tree (cutime+cstime of /proc/PID/stat). CPUSeconds+ReapedCPUSeconds
	// only grows while the root lives, also across worker restarts.
	// SelfUsage leaves it zero.
	ReapedCPUSeconds float64
	// RSSBytes is the sum of the resident set sizes (VmRSS of
	// /proc/PID/status) of the live processes counted, in bytes. Pages
	// shared between processes (copy-on-write after fork) count once per
	// process, so the sum over-states the memory the tree really holds.
	RSSBytes uint64
	// Processes is the number of live (not zombie) processes counted.
	Processes int
}

// TreeUsage returns the resource use of the process pid and all its live
// descendants, found through the parent links (ppid) of /proc/*/stat.
// Processes that left the tree (orphans reparented to init or a subreaper)
// are not counted. It reads /proc once per call (a few milliseconds with
// hundreds of processes) and is safe for concurrent use.
//
// The error wraps [os.ErrNotExist] when pid does not exist; a process of
// the tree that exits during the scan is skipped.
func TreeUsage(pid int) (Usage, error) {
	u, err := treeUsage(pid, 0, 0)
	if err != nil {
		return Usage{}, fmt.Errorf("scheduler: usage of pid %d: %w", pid, err)
	}
	return u, nil
}

// SelfUsage returns the resource use of the calling process (benchd
// itself): CPU time from getrusage(RUSAGE_SELF), RSS from VmRSS of
// /proc/self/status. Children are not included. It is safe for concurrent
// use.
func SelfUsage() (Usage, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Usage{}, fmt.Errorf("scheduler: self usage: getrusage: %w", err)
	}
	rss, err := readRSSBytes("self")
	if err != nil {
		return Usage{}, fmt.Errorf("scheduler: self usage: %w", err)
	}
	return Usage{
		CPUSeconds: timevalSeconds(ru.Utime) + timevalSeconds(ru.Stime),
		RSSBytes:   rss,
		Processes:  1,
	}, nil
}

func timevalSeconds(tv syscall.Timeval) float64 {
	return float64(tv.Sec) + float64(tv.Usec)/1e6
}

// procStat holds the fields of /proc/PID/stat that benchd uses.
type procStat struct {
	pid   int
	state byte // R, S, D, Z, T...
	ppid  int
	pgrp  int
	// CPU times in clock ticks (USER_HZ).
	utime, stime, cutime, cstime uint64
}

// live reports whether the process still runs: a zombie (Z) or dead (X)
// entry has exited and only waits to be reaped.
func (s procStat) live() bool {
	return s.state != 'Z' && s.state != 'X'
}

// errProcStat reports a /proc/PID/stat line that does not parse.
var errProcStat = errors.New("malformed /proc stat line")

// parseProcStat parses the contents of /proc/PID/stat. The command name
// (field 2) is in parentheses and may itself hold spaces and parentheses,
// so the remaining fields start after the last ')'.
func parseProcStat(b []byte) (procStat, error) {
	open := bytes.IndexByte(b, '(')
	closing := bytes.LastIndexByte(b, ')')
	if open < 1 || closing < open {
		return procStat{}, errProcStat
	}
	pid, err := strconv.Atoi(string(bytes.TrimSpace(b[:open])))
	if err != nil {
		return procStat{}, errProcStat
	}
	// After ')': state(3) ppid(4) pgrp(5) session(6) tty_nr(7) tpgid(8)
	// flags(9) minflt(10) cminflt(11) majflt(12) cmajflt(13) utime(14)
	// stime(15) cutime(16) cstime(17) ...
	f := bytes.Fields(b[closing+1:])
	if len(f) < 15 || len(f[0]) != 1 {
		return procStat{}, errProcStat
	}
	s := procStat{pid: pid, state: f[0][0]}
	ints := []*int{&s.ppid, &s.pgrp}
	for i, dst := range ints {
		v, err := strconv.Atoi(string(f[1+i]))
		if err != nil {
			return procStat{}, errProcStat
		}
		*dst = v
	}
	ticks := []*uint64{&s.utime, &s.stime, &s.cutime, &s.cstime}
	for i, dst := range ticks {
		// cutime and cstime are signed longs in the kernel, never negative.
		v, err := strconv.ParseInt(string(f[11+i]), 10, 64)
		if err != nil || v < 0 {
			return procStat{}, errProcStat
		}
		*dst = uint64(v)
	}
	return s, nil
}

// readProcStat reads /proc/PID/stat; the error wraps os.ErrNotExist when
// the process is gone.
func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	s, err := parseProcStat(b)
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return s, nil
}

// scanProcs reads /proc/*/stat of every process. Processes that exit
// during the scan are left out.
func scanProcs() ([]procStat, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read /proc: %w", err)
	}
	out := make([]procStat, 0, len(names))
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil || pid <= 0 {
			continue
		}
		s, err := readProcStat(pid)
		if err != nil {
			continue // exited meanwhile, or a kernel quirk: not ours
		}
		out = append(out, s)
	}
	return out, nil
}

// treeUsage sums the use of root and its descendants and, when pgid > 0,
// of every process in process group pgid (which finds group members whose
// parent died). root must exist unless pgid > 0. When sup > 0 (a
// supervisor of root, see [Command]), its other descendants count too
// (processes that left the group and were reparented to it), and so does
// the CPU time of the descendants it reaped, but not its own use.
func treeUsage(root, pgid, sup int) (Usage, error) {
	procs, err := scanProcs()
	if err != nil {
		return Usage{}, err
	}
	children := make(map[int][]int, len(procs))
	byPID := make(map[int]procStat, len(procs))
	for _, s := range procs {
		byPID[s.pid] = s
		children[s.ppid] = append(children[s.ppid], s.pid)
	}
	member := make(map[int]bool)
	if _, ok := byPID[root]; ok {
		queue := []int{root}
		if _, ok := byPID[sup]; ok && sup > 0 {
			queue = append(queue, children[sup]...)
		}
		for len(queue) > 0 {
			pid := queue[0]
			queue = queue[1:]
			if member[pid] {
				continue
			}
			member[pid] = true
			queue = append(queue, children[pid]...)
		}
	} else if pgid <= 0 {
		return Usage{}, fmt.Errorf("no process %d: %w", root, os.ErrNotExist)
	}
	if pgid > 0 {
		for _, s := range procs {
			if s.pgrp == pgid {
				member[s.pid] = true
			}
		}
	}
	var u Usage
	var ticks, reaped uint64
	for pid := range member {
		s := byPID[pid]
		// A zombie's own CPU time is not yet in its parent's cutime:
		// count it until it is reaped.
		ticks += s.utime + s.stime
		reaped += s.cutime + s.cstime
		if !s.live() {
			continue
		}
		rss, err := readRSSBytes(strconv.Itoa(pid))
		if err != nil {
			continue // exited since the scan
		}
		u.RSSBytes += rss
		u.Processes++
	}
	if s, ok := byPID[sup]; ok && sup > 0 && !member[sup] {
		reaped += s.cutime + s.cstime
	}
	u.CPUSeconds = float64(ticks) / clockTicksPerSecond
	u.ReapedCPUSeconds = float64(reaped) / clockTicksPerSecond
	return u, nil
}

// readRSSBytes returns VmRSS of /proc/<pid>/status in bytes; pid may be
// "self". Kernel threads and zombies have no VmRSS line: 0.
func readRSSBytes(pid string) (uint64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	return parseVmRSS(b)
}

// parseVmRSS extracts VmRSS ("VmRSS:\t  1234 kB") from /proc/PID/status,
// in bytes; 0 if the line is absent.
func parseVmRSS(b []byte) (uint64, error) {
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("VmRSS:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0, fmt.Errorf("malformed VmRSS line %q", bytes.TrimSpace(line))
		}
		kib, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed VmRSS line %q: %w", bytes.TrimSpace(line), err)
		}
		return kib << 10, nil
	}
	return 0, nil
}
