package logging

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/common/promslog"
)

// TestLogRoundsFloats: benchd's logger writes floats with 4 significant
// digits, in a record's attributes, in With's and in groups; other values
// as they are.
func TestLogRoundsFloats(t *testing.T) {
	var buf bytes.Buffer
	logger := New(&promslog.Config{Writer: &buf})
	logger.With("duration_seconds", 12.345678).WithGroup("g").Info("scenario finished",
		"requests_per_second", 666.6666666666666, "p99_seconds", 0.000262144, "big", 123456789.0,
		"requests", 2000, "name", "3.14159", slog.Group("inner", "ratio", 0.123456), "f32", float32(1.23456))
	got := buf.String()
	for _, want := range []string{
		"duration_seconds=12.35", "g.requests_per_second=666.7", "g.p99_seconds=0.0002621", "g.big=1.235e+08",
		"g.requests=2000", "g.name=3.14159", "g.inner.ratio=0.1235", "g.f32=1.235",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %s:\n%s", want, got)
		}
	}
	if strings.Contains(got, "source=logging.go") || !strings.Contains(got, "source=logging_test.go") {
		t.Errorf("source is not the caller's:\n%s", got)
	}
}
