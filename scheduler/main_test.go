package scheduler

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if a goroutine outlives them: a run,
// a process watcher or a readiness probe left behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
