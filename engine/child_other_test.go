//go:build !linux

package engine

import (
	"fmt"
	"os"
)

// childFileLimit is Linux only: the descriptor limit is checked on Linux.
func childFileLimit(mode string) int {
	fmt.Fprintf(os.Stderr, "child mode %q needs Linux\n", mode)
	return 2
}
