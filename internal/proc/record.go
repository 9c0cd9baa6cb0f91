package proc

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// RecordFile is the name of the record of live managed process groups
// under --storage.path.
const RecordFile = "managed-processes"

// leftoverGrace is the SIGTERM-to-SIGKILL grace given to leftovers.
const leftoverGrace = 2 * time.Second

// Entry names one managed process group for good: PIDs are recycled, so
// each PID goes with its start time (clock ticks since boot, field 22 of
// /proc/PID/stat).
type Entry struct {
	Name            string // "target hypercorn-asyncio"; no spaces are kept
	PGID            int    // the target leader's PID and process group
	Start           uint64 // start time of the leader
	Supervisor      int    // PID of its supervisor
	SupervisorStart uint64
}

var records struct {
	mu      sync.Mutex
	path    string // "" until Track
	entries map[Entry]bool
	log     *slog.Logger
}

// Track kills the leftovers of a previous benchd recorded in
// dir/managed-processes (each recorded group still alive, and its
// supervisor: SIGTERM, SIGKILL after 2 s), logging each at warn level, and
// from then on records every group started by [Record] in that file until
// it is forgotten. The file holds one line per group: "PGID START
// SUPERVISOR SUPERVISOR_START NAME". Call it once, after taking the
// storage lock, so that two benchds never share the file. A group that
// left its process group and session and whose supervisor was SIGKILLed
// cannot be found (only cgroups could).
func Track(dir string, log *slog.Logger) error {
	path := filepath.Join(dir, RecordFile)
	old, err := readRecords(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		log.Warn("cannot read the record of managed processes; leftovers of a previous benchd are not killed", "path", path, "err", err)
	}
	for _, e := range old {
		killLeftover(e, log)
	}
	records.mu.Lock()
	defer records.mu.Unlock()
	records.path, records.entries, records.log = path, map[Entry]bool{}, log
	return writeRecordsLocked()
}

// Record adds e to the record (a no-op before Track) and returns the
// function that removes it once the group is stopped.
func Record(e Entry) (forget func()) {
	e.Name = strings.Join(strings.Fields(e.Name), "_")
	records.mu.Lock()
	defer records.mu.Unlock()
	if records.path == "" {
		return func() {}
	}
	records.entries[e] = true
	writeLogged()
	return func() {
		records.mu.Lock()
		defer records.mu.Unlock()
		delete(records.entries, e)
		writeLogged()
	}
}

func writeLogged() {
	if err := writeRecordsLocked(); err != nil {
		records.log.Warn("cannot update the record of managed processes", "path", records.path, "err", err)
	}
}

// writeRecordsLocked replaces the file atomically (temp file, rename).
func writeRecordsLocked() error {
	var b strings.Builder
	for e := range records.entries {
		fmt.Fprintf(&b, "%d %d %d %d %s\n", e.PGID, e.Start, e.Supervisor, e.SupervisorStart, e.Name)
	}
	tmp := records.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, records.path)
}

// readRecords reads the record file; malformed lines are skipped.
func readRecords(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Entry
	sc := bufio.NewScanner(f)
	for sc.Scan() && len(out) < 10000 {
		if e, ok := parseRecord(sc.Text()); ok {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}

// parseRecord parses one line of the record file.
func parseRecord(line string) (Entry, bool) {
	f := strings.Fields(line)
	if len(f) != 5 {
		return Entry{}, false
	}
	pgid, err1 := strconv.Atoi(f[0])
	start, err2 := strconv.ParseUint(f[1], 10, 64)
	sup, err3 := strconv.Atoi(f[2])
	supStart, err4 := strconv.ParseUint(f[3], 10, 64)
	if errors.Join(err1, err2, err3, err4) != nil || pgid <= 1 || sup <= 1 {
		return Entry{}, false
	}
	return Entry{Name: f[4], PGID: pgid, Start: start, Supervisor: sup, SupervisorStart: supStart}, true
}

// killLeftover kills what is left of e: the members of its group started
// no earlier than its leader (a recycled group ID has a younger or
// different leader), its supervisor if it still runs, and the
// supervisor's descendants.
func killLeftover(e Entry, log *slog.Logger) {
	if s, err := readStat(e.PGID); err == nil && s.startTime != e.Start {
		return // the PID now names another process, and so the group
	}
	var pids []int
	if s, err := readStat(e.Supervisor); err == nil && s.startTime == e.SupervisorStart {
		pids = append(pids, e.Supervisor)
		pids = append(pids, descendants(e.Supervisor)...)
	}
	pids = append(pids, groupMembers(e.PGID, e.Start)...)
	if len(pids) == 0 {
		return
	}
	log.Warn("killing processes left behind by a previous benchd", "process", e.Name, "pgid", e.PGID, "pids", pids)
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGTERM)
	}
	deadline := time.Now().Add(leftoverGrace)
	for time.Now().Before(deadline) && anyLive(pids) {
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range pids {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
}

// anyLive reports whether a process of pids is alive (not a zombie).
func anyLive(pids []int) bool {
	for _, p := range pids {
		if s, err := readStat(p); err == nil && s.state != 'Z' && s.state != 'X' {
			return true
		}
	}
	return false
}
