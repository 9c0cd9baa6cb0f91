//go:build !unix

package config

import "io/fs"

// fileOwner does not know owners outside Unix.
func fileOwner(fs.FileInfo) (int, bool) { return 0, false }
