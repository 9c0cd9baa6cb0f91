//go:build !unix

package store

import (
	"fmt"
	"os"
)

// lockDir creates path and returns it open. Without flock there is no
// advisory lock: two processes must not open the same directory for writing.
func lockDir(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: open lock file %s: %w", path, err)
	}
	return f, nil
}
