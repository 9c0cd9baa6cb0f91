package report

import (
	"context"
	"errors"
	"fmt"

	"github.com/benchd/benchd/store"
)

// Runs is what reports read of the run history ([store.SQLite] has it).
type Runs interface {
	Run(ctx context.Context, id string) (*store.Run, error)
	Runs(ctx context.Context, q store.RunQuery) ([]store.Run, error)
}

// LoadRun returns the stored run id of st, or with id "" the newest run
// that has ended (a run still "running" is in progress, a daemon's, or was
// left so by a killed benchd until the next start marks it aborted), for
// `benchd report`. where names the history in errors (--storage.path).
// A run without scenario results is an error: there is nothing to render.
func LoadRun(ctx context.Context, st Runs, id, where string) (*store.Run, error) {
	if id == "" {
		runs, err := st.Runs(ctx, store.RunQuery{Limit: 20})
		if err != nil {
			return nil, err
		}
		if len(runs) == 0 {
			return nil, fmt.Errorf("no run in the history under %s", where)
		}
		id = runs[0].ID
		for _, r := range runs {
			if r.Outcome != store.OutcomeRunning {
				id = r.ID
				break
			}
		}
	}
	run, err := st.Run(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("run %q is not in the history under %s (GET /api/v1/runs or benchd report lists the runs)", id, where)
	}
	if err != nil {
		return nil, fmt.Errorf("run %q: %w", id, err)
	}
	if len(run.Scenarios) == 0 {
		return nil, fmt.Errorf("run %s has no scenario results (outcome %s%s): give an earlier one with --run (GET /api/v1/runs lists them)", run.ID, run.Outcome, stillRunning(run))
	}
	return run, nil
}

// stillRunning explains a run whose outcome is running.
func stillRunning(r *store.Run) string {
	if r.Outcome != store.OutcomeRunning {
		return ""
	}
	return ": in progress, or left running by a benchd that was killed, until the next start marks it aborted"
}
