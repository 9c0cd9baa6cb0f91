// Package logging builds benchd's logger: promslog's (--log.level,
// --log.format) with float attributes rounded for reading, and a handler
// that leaves out what `benchd matrix` already prints.
package logging

import (
	"context"
	"log/slog"
	"math"
	"strconv"

	"github.com/prometheus/common/promslog"
)

// logFloatDigits is how many significant digits a float keeps in the log:
// requests_per_second=666.7, not 666.6666666666666.
const logFloatDigits = 4

// New returns promslog's logger of c, with float attributes rounded to
// logFloatDigits significant digits.
func New(c *promslog.Config) *slog.Logger {
	return slog.New(roundFloats{promslog.New(c).Handler()})
}

// roundFloats rounds the float attributes of records (and of With and
// groups) before its handler writes them.
type roundFloats struct{ slog.Handler }

func (h roundFloats) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(roundAttr(a))
		return true
	})
	return h.Handler.Handle(ctx, out)
}

func (h roundFloats) WithAttrs(as []slog.Attr) slog.Handler {
	rounded := make([]slog.Attr, len(as))
	for i, a := range as {
		rounded[i] = roundAttr(a)
	}
	return roundFloats{h.Handler.WithAttrs(rounded)}
}

func (h roundFloats) WithGroup(name string) slog.Handler {
	return roundFloats{h.Handler.WithGroup(name)}
}

func roundAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindFloat64:
		return slog.Float64(a.Key, roundFloat(v.Float64()))
	case slog.KindGroup:
		g := v.Group()
		rounded := make([]any, len(g))
		for i, x := range g {
			rounded[i] = roundAttr(x)
		}
		return slog.Group(a.Key, rounded...)
	case slog.KindAny:
		if f, ok := v.Any().(float32); ok {
			return slog.Float64(a.Key, roundFloat(float64(f)))
		}
	}
	return a
}

// roundFloat rounds f to logFloatDigits significant digits; NaN and the
// infinities stay as they are.
func roundFloat(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return f
	}
	r, err := strconv.ParseFloat(strconv.FormatFloat(f, 'g', logFloatDigits, 64), 64)
	if err != nil {
		return f
	}
	return r
}

// WithoutErrors returns h without its error records: under `benchd
// matrix` each of the scheduler's is a scenario's failure (its target or a
// service did not start, the engine failed), which the progress line on
// stderr and the report on stdout already show.
func WithoutErrors(h slog.Handler) slog.Handler { return progressReported{h} }

// progressReported is [WithoutErrors]' handler.
type progressReported struct{ slog.Handler }

func (h progressReported) Enabled(ctx context.Context, l slog.Level) bool {
	return l < slog.LevelError && h.Handler.Enabled(ctx, l)
}

func (h progressReported) WithAttrs(as []slog.Attr) slog.Handler {
	return progressReported{h.Handler.WithAttrs(as)}
}

func (h progressReported) WithGroup(name string) slog.Handler {
	return progressReported{h.Handler.WithGroup(name)}
}
