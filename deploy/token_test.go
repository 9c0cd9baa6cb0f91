package deploy

import (
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestMakeToken: the embedded default matrix's token file is made once,
// mode 0600, with a random token; an existing file is kept as it is.
func TestMakeToken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchd.token")
	log := slog.New(slog.DiscardHandler)
	if err := MakeToken(path, log); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || !regexp.MustCompile(`^[0-9a-f]{64}\n$`).Match(first) {
		t.Errorf("token file mode %v, content %q; want 0600 and 64 hex digits", fi.Mode().Perm(), first)
	}
	if err := MakeToken(path, log); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(path); string(again) != string(first) {
		t.Errorf("a second start replaced the token")
	}
	other := filepath.Join(t.TempDir(), "b.token")
	if err := MakeToken(other, log); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(other); string(b) == string(first) {
		t.Error("two token files hold the same token")
	}
	if err := MakeToken(filepath.Join(t.TempDir(), "missing", "x"), log); err == nil {
		t.Error("no error for a directory that does not exist")
	}
}
