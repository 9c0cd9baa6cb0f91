package store

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// OpenWaitRetryInterval is how often [OpenWait] tries a held history again.
const OpenWaitRetryInterval = 500 * time.Millisecond

// OpenWait is [Open], except that while another benchd holds the history
// ([ErrInUse]) it waits up to wait (negative: until ctx is done), trying
// again every OpenWaitRetryInterval and logging the wait once to
// o.Logger: a daemon started while a `benchd matrix` runs, or a start
// right after a kill -9 whose process is still going away, then opens it
// instead of failing. It returns Open's last error, unwrapped, when the
// wait is over or ctx is done.
func OpenWait(ctx context.Context, dir string, o Options, wait time.Duration) (*SQLite, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	deadline := time.Now().Add(wait)
	for logged := false; ; logged = true {
		st, err := Open(ctx, dir, o)
		if err == nil {
			if logged {
				logger.Info("run history opened", "path", dir)
			}
			return st, nil
		}
		if !errors.Is(err, ErrInUse) || (wait >= 0 && time.Now().Add(OpenWaitRetryInterval).After(deadline)) {
			return nil, err
		}
		if !logged {
			limit := "until stopped"
			if wait >= 0 {
				limit = wait.String()
			}
			logger.Warn("the run history is held by another benchd: waiting for it", "path", dir, "wait", limit)
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(OpenWaitRetryInterval):
		}
	}
}
