package store

import (
	"errors"
	"fmt"
	"path/filepath"
	"syscall"

	"modernc.org/sqlite"
)

// SQLite result codes (https://www.sqlite.org/rescode.html) that mean the
// file system is out of space or failing.
const (
	sqliteIOErr = 10 // SQLITE_IOERR; extended codes keep it in the low byte
	sqliteFull  = 13 // SQLITE_FULL
)

// lowSpaceBytes is the free space below which an I/O error is taken for a
// full disk: SQLite reports a failed write into its WAL index (-shm) or a
// short write as SQLITE_IOERR_*, not SQLITE_FULL, and the driver does not
// pass the errno on.
const lowSpaceBytes = 256 << 10

// classify wraps err with ErrDiskFull when it says, or the file system of
// the database shows, that the disk is full; other errors come back as
// they are.
func (s *SQLite) classify(err error) error {
	if err == nil || errors.Is(err, ErrDiskFull) {
		return err
	}
	if diskFull(err, filepath.Dir(s.path)) {
		return fmt.Errorf("%w (%s): %w", ErrDiskFull, filepath.Dir(s.path), err)
	}
	return err
}

// diskFull reports whether err is SQLITE_FULL or ENOSPC, or an SQLite I/O
// error while the file system holding dir has less than lowSpaceBytes free.
func diskFull(err error, dir string) bool {
	if errors.Is(err, syscall.ENOSPC) {
		return true
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case sqliteFull:
		return true
	case sqliteIOErr:
		free, ok := freeBytes(dir)
		return ok && free < lowSpaceBytes
	}
	return false
}
