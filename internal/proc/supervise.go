// Package proc supervises the processes benchd manages (targets, services
// and their setup steps): [Start] starts one in its own process group under
// a supervisor, with its RLIMIT_NOFILE raised and its CPU affinity set,
// waits for its readiness [Probe] (compiled once, with [ParseProbe]) and
// keeps the tail of its output; [Process.Stop] stops the whole group.
// [TreeUsage], [SelfUsage] and [Process.Usage] read CPU time and RSS from
// /proc; [PinSelf] pins benchd's own threads. It knows nothing of the
// scheduler, which decides when to start and stop what; its errors read
// "scheduler: <name>: ..." because they are the scheduler's to the user.
//
// The package also holds the supervisor that stands between benchd and
// each managed target, so that the target's whole process tree dies with
// benchd, and the record of managed process groups that lets a restarted
// benchd kill what a killed one left behind.
//
// The supervisor is benchd itself, re-executed through /proc/self/exe as
// "benchd __supervise ..." (see [Command]); the package's init function runs
// it and exits when the process was started that way, so every binary that
// links the package (benchd, and the test binaries) can supervise without
// further wiring. The subcommand is not part of the CLI and not in --help.
//
// The supervisor:
//   - marks itself a child subreaper (PR_SET_CHILD_SUBREAPER), so a target
//     process that daemonizes (double fork, setsid) is reparented to it
//     rather than to init;
//   - raises its RLIMIT_NOFILE soft limit to the hard limit if asked, so
//     the target inherits it (Go gives children the original limit back
//     unless the program calls setrlimit itself);
//   - starts the target in a process group of its own, with the inherited
//     stdout, stderr, CPU affinity, working directory and environment, and
//     stdin from /dev/null;
//   - reports on fd 3 "started PID STARTTIME\n", then "exit WAITSTATUS\n"
//     when the target leader is reaped (or "error MESSAGE\n" if it could not
//     start);
//   - when its stdin (a pipe from benchd) reaches EOF, or a SIGTERM, SIGINT
//     or SIGHUP arrives (benchd sets SIGTERM as its parent-death signal),
//     sends SIGTERM to the target's group and every remaining descendant,
//     SIGKILL after the grace (at most [OrphanGrace] when benchd died),
//     reaps them all and exits 0.
package proc

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// subcommand is the hidden argv[1] of a supervisor.
	subcommand = "__supervise"
	// markerEnv guards against an unrelated "__supervise" argument: the
	// supervisor runs only when it is also set. It is not passed on.
	markerEnv = "BENCHD_SUPERVISOR"
	// killWait bounds the wait for descendants to vanish after SIGKILL.
	killWait = 5 * time.Second
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == subcommand && os.Getenv(markerEnv) == "1" {
		os.Exit(supervise(os.Args[2:]))
	}
}

// Command returns the command that runs path (with argv, argv[0] included)
// under a supervisor: "/proc/self/exe __supervise NOFILE GRACE PATH ARGV...".
// grace is the supervisor's own SIGTERM-to-SIGKILL grace when it cleans
// up; raiseNofile asks it to raise the target's RLIMIT_NOFILE soft limit to
// the hard one. The caller sets Dir, Env (the target's; the marker is
// added here), Stdout, Stderr and SysProcAttr, gives it a pipe as Stdin (EOF
// means "clean up and exit") and the write end of a status pipe as
// ExtraFiles[0] (fd 3), read with [ReadStatus].
func Command(path string, argv []string, grace time.Duration, raiseNofile bool, env []string) *exec.Cmd {
	nofile := "0"
	if raiseNofile {
		nofile = "1"
	}
	args := append([]string{subcommand, nofile, grace.String(), path}, argv...)
	cmd := exec.Command("/proc/self/exe", args...)
	cmd.Env = append(append([]string(nil), env...), markerEnv+"=1")
	return cmd
}

// Status is one message of the supervisor's status pipe.
type Status struct {
	// Started is set by the first message: the target leader's PID (also
	// its process group ID) and its start time (field 22 of
	// /proc/PID/stat, in clock ticks since boot).
	Started   bool
	PID       int
	StartTime uint64
	// Exited is set when the target leader was reaped; WaitStatus says
	// how it ended.
	Exited     bool
	WaitStatus syscall.WaitStatus
	// Err is set when the target could not be started.
	Err error
}

// ReadStatus reads the next status message; io.EOF (or another read
// error) when the supervisor is gone without saying more.
func ReadStatus(r *bufio.Reader) (Status, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return Status{}, err
	}
	return parseStatus(strings.TrimSuffix(line, "\n"))
}

// parseStatus parses one status line (without its newline).
func parseStatus(line string) (Status, error) {
	kind, rest, _ := strings.Cut(line, " ")
	switch kind {
	case "started":
		a, b, ok := strings.Cut(rest, " ")
		pid, err1 := strconv.Atoi(a)
		st, err2 := strconv.ParseUint(b, 10, 64)
		if !ok || err1 != nil || err2 != nil || pid <= 0 {
			break
		}
		return Status{Started: true, PID: pid, StartTime: st}, nil
	case "exit":
		ws, err := strconv.ParseUint(rest, 10, 32)
		if err != nil {
			break
		}
		return Status{Exited: true, WaitStatus: syscall.WaitStatus(ws)}, nil
	case "error":
		return Status{Err: errors.New(rest)}, nil
	}
	return Status{}, fmt.Errorf("proc: malformed supervisor status %q", line)
}

// supervise is the supervisor's main; it returns the exit code.
func supervise(args []string) int {
	// The target's parent-death signal is tied to the thread that forks
	// it: keep the main thread.
	runtime.LockOSThread()
	status := os.NewFile(3, "status")
	fail := func(format string, a ...any) int {
		msg := strings.ReplaceAll(fmt.Sprintf(format, a...), "\n", " ")
		if status != nil {
			fmt.Fprintf(status, "error %s\n", msg)
		}
		fmt.Fprintln(os.Stderr, "benchd supervisor:", msg)
		return 127
	}
	if len(args) < 4 {
		return fail("usage: %s NOFILE GRACE PATH ARGV0 [ARG...]", subcommand)
	}
	grace, err := time.ParseDuration(args[1])
	if err != nil {
		return fail("grace: %v", err)
	}
	path, argv := args[2], args[3:]
	os.Unsetenv(markerEnv)
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fail("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	if args[0] == "1" {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fail("getrlimit RLIMIT_NOFILE: %v", err)
		}
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return fail("setrlimit RLIMIT_NOFILE: %v", err)
		}
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	// benchd may have died before the parent-death signal was armed.
	parent := os.Getppid()
	if parent == 1 {
		return 0
	}

	cmd := exec.Command(path, argv[1:]...)
	cmd.Args = argv
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fail("%v", err)
	}
	pid := cmd.Process.Pid
	st, _ := StartTime(pid)
	fmt.Fprintf(status, "started %d %d\n", pid, st)

	eof := make(chan struct{})
	go func() {
		_, _ = bufio.NewReader(os.Stdin).WriteTo(discard{})
		close(eof)
	}()
	leaderDone := false
	reap := func() {
		for {
			var ws syscall.WaitStatus
			p, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if p <= 0 || err != nil {
				return
			}
			if p == pid && !leaderDone {
				leaderDone = true
				fmt.Fprintf(status, "exit %d\n", uint32(ws))
			}
		}
	}
	tick := time.NewTicker(time.Second) // a missed SIGCHLD costs at most a second
	defer tick.Stop()
loop:
	for {
		select {
		case s := <-sigs:
			if s == syscall.SIGCHLD {
				reap()
				continue
			}
			break loop
		case <-tick.C:
			reap()
		case <-eof:
			break loop
		}
	}
	if parentGone(parent) {
		// benchd is gone (killed): nothing waits for a graceful stop,
		// and the next benchd wants the port.
		grace = min(grace, OrphanGrace)
	}
	cleanUp(pid, grace, reap)
	return 0
}

// OrphanGrace bounds the supervisor's SIGTERM-to-SIGKILL grace when it
// cleans up because benchd died (its parent changed): the whole tree is
// gone within about this, whatever the target's stop_timeout.
const OrphanGrace = 2 * time.Second

// parentGone reports whether the supervisor's parent (benchd) has died or
// is dying. Its stdin's EOF can come before the reparenting, since a dying
// process closes its files early in its exit: then the parent still is the
// parent, in its exit (PF_EXITING) or a zombie.
func parentGone(parent int) bool {
	if os.Getppid() != parent {
		return true
	}
	st, err := readStat(parent)
	return err != nil || st.flags&pfExiting != 0 || st.state == 'Z' || st.state == 'X'
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// cleanUp sends SIGTERM to group pgid and every descendant of the
// supervisor, SIGKILL to what is left after grace, and reaps until no
// child is left or killWait has passed after the SIGKILL.
func cleanUp(pgid int, grace time.Duration, reap func()) {
	kill := func(sig syscall.Signal) {
		_ = syscall.Kill(-pgid, sig)
		for _, p := range descendants(os.Getpid()) {
			_ = syscall.Kill(p, sig)
		}
	}
	waitNone := func(d time.Duration) bool {
		deadline := time.Now().Add(d)
		for {
			reap()
			if len(descendants(os.Getpid())) == 0 && !groupLive(pgid) {
				return true
			}
			if time.Now().After(deadline) {
				return false
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	kill(syscall.SIGTERM)
	if waitNone(grace) {
		return
	}
	kill(syscall.SIGKILL)
	waitNone(killWait)
}

// stat holds the fields of /proc/PID/stat used here.
type stat struct {
	state     byte
	ppid      int
	pgrp      int
	flags     uint64 // the kernel's PF_* flags
	startTime uint64
}

// pfExiting is the kernel's PF_EXITING flag (include/linux/sched.h): the
// process is in its exit.
const pfExiting = 0x4

// readStat reads /proc/PID/stat.
func readStat(pid int) (stat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return stat{}, err
	}
	return parseStat(b)
}

// parseStat parses /proc/PID/stat: the fields after the command name,
// which is in parentheses and may hold any byte, start after the last ')'.
func parseStat(b []byte) (stat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return stat{}, errors.New("malformed /proc stat line")
	}
	// state(3) ppid(4) pgrp(5) session(6) tty_nr(7) tpgid(8) flags(9) ... starttime(22)
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return stat{}, errors.New("malformed /proc stat line")
	}
	ppid, err1 := strconv.Atoi(string(f[1]))
	pgrp, err2 := strconv.Atoi(string(f[2]))
	flags, err3 := strconv.ParseUint(string(f[6]), 10, 64)
	st, err4 := strconv.ParseUint(string(f[19]), 10, 64)
	if err := errors.Join(err1, err2, err3, err4); err != nil {
		return stat{}, fmt.Errorf("malformed /proc stat line: %w", err)
	}
	return stat{state: f[0][0], ppid: ppid, pgrp: pgrp, flags: flags, startTime: st}, nil
}

// StartTime returns the start time of pid, in clock ticks since boot
// (field 22 of /proc/PID/stat); with the PID it names one process for
// good, as the kernel recycles PIDs. The error wraps os.ErrNotExist when
// pid does not exist.
func StartTime(pid int) (uint64, error) {
	s, err := readStat(pid)
	return s.startTime, err
}

// allStats reads /proc/*/stat, keyed by PID.
func allStats() map[int]stat {
	names, _ := os.ReadDir("/proc")
	out := make(map[int]stat, len(names))
	for _, e := range names {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if s, err := readStat(pid); err == nil {
			out[pid] = s
		}
	}
	return out
}

// descendants lists the live descendants of root.
func descendants(root int) []int {
	children := map[int][]int{}
	stats := allStats()
	for pid, s := range stats {
		children[s.ppid] = append(children[s.ppid], pid)
	}
	var out []int
	queue := children[root]
	for len(queue) > 0 && len(out) < 100000 {
		p := queue[0]
		queue = queue[1:]
		if s := stats[p]; s.state != 'Z' && s.state != 'X' {
			out = append(out, p)
		}
		queue = append(queue, children[p]...)
	}
	return out
}

// groupLive reports whether process group pgid has a live (not zombie)
// member.
func groupLive(pgid int) bool {
	return len(groupMembers(pgid, 0)) > 0
}

// groupMembers lists the live members of group pgid started at or after
// start (clock ticks since boot).
func groupMembers(pgid int, start uint64) []int {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return nil
	}
	var out []int
	for pid, s := range allStats() {
		if s.pgrp == pgid && s.state != 'Z' && s.state != 'X' && s.startTime >= start {
			out = append(out, pid)
		}
	}
	return out
}
