package pipeline

import (
	"crypto/sha256"
	"encoding/hex"

	"gopkg.in/yaml.v3"

	"github.com/benchd/benchd/config"
)

// ConfigHash returns a short hash of cfg's effective content, so that runs
// of different configurations can be told apart.
func ConfigHash(cfg *config.Config) string {
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}
