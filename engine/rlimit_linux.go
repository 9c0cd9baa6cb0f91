package engine

import (
	"fmt"
	"syscall"
)

// raiseFileLimit makes sure the soft RLIMIT_NOFILE is at least need,
// raising it up to the hard limit if it is lower. Changing it affects the
// whole process (the Go runtime has usually raised it to the hard limit at
// start already, so this rarely does anything).
func raiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("engine: read RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	if lim.Max < need {
		return fmt.Errorf("%w: RLIMIT_NOFILE hard limit is %d but the connections need %d descriptors: raise it (ulimit -Hn %d, or LimitNOFILE= for a systemd unit) or use fewer connections",
			ErrFileLimit, lim.Max, need, need)
	}
	old := lim.Cur
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("%w: RLIMIT_NOFILE soft limit is %d, the connections need %d descriptors, and raising it failed (try ulimit -n %d): %w",
			ErrFileLimit, old, need, need, err)
	}
	return nil
}
