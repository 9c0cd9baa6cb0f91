package deploy

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"log/slog"
	"os"
)

// MakeToken writes a random bearer token (32 bytes, hex) into path, mode
// 0600, unless the file exists: the embedded default matrix's write API
// token, which Alertmanager's shipped configuration reads too. The file
// is synced before it is used, so a crash cannot leave it empty.
func MakeToken(path string, logger *slog.Logger) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	_, err = f.WriteString(hex.EncodeToString(b) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path) // an empty token file would stop the next start
		return err
	}
	logger.Info("made the write API token of the embedded default matrix", "file", path)
	return nil
}
