package pipeline

import (
	"context"
	"errors"
	"os"
	"syscall"
)

// SignalCause is the cause ([context.Cause]) of benchd's context when a
// signal stopped it: cmd/benchd cancels its root context with one, and
// the history stores a run it cut short as "benchd was interrupted by
// SIGINT before the run finished". A SignalCause is a plain value.
type SignalCause struct {
	// Signal is the signal received.
	Signal os.Signal
}

// Error returns "stopped by " and the signal's name (SIGINT, SIGTERM).
func (c SignalCause) Error() string { return "stopped by " + c.Name() }

// Name returns the signal's name as a shell's kill -l prints it with the
// SIG prefix: SIGINT for Ctrl-C, SIGTERM; another signal's String.
func (c SignalCause) Name() string {
	switch c.Signal {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case nil:
		return "a signal"
	}
	return c.Signal.String()
}

// stopText is what the history stores as the error of a run stopped
// before its end (err is its RunReport.Err) under ctx, the run's context:
// the signal that stopped it when ctx's cause says, else that benchd
// stopped.
func stopText(ctx context.Context, err error) string {
	if !errors.Is(err, context.Canceled) {
		return err.Error()
	}
	if c, ok := errors.AsType[SignalCause](context.Cause(ctx)); ok {
		return "benchd was interrupted by " + c.Name() + " before the run finished"
	}
	return "benchd stopped before the run finished"
}
