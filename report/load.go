package report

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/benchd/benchd/store"
)

// Runs is what reports read of the run history ([store.SQLite] has it).
type Runs interface {
	Run(ctx context.Context, id string) (*store.Run, error)
	Runs(ctx context.Context, q store.RunQuery) ([]store.Run, error)
}

// LoadRun returns the stored run id of st, or with id "" the newest run
// that has ended and has scenario results (a run still "running" is in
// progress, a daemon's, or was left so by a killed benchd until the next
// start marks it aborted; a run interrupted before its first scenario
// ended has nothing to render), or the newest run when none has ended, for
// `benchd report`. where names the
// history in errors (--storage.path). A run named explicitly without
// scenario results is an error: there is nothing to render.
//
// id may be a relative reference ([ParseRunRef]): last is the newest run
// that has ended, last~N the Nth before it.
func LoadRun(ctx context.Context, st Runs, id, where string) (*store.Run, error) {
	if id == "" {
		// The newest of the last few ended runs that has results; with no
		// ended run, the newest run (one a killed benchd left running);
		// else what is wrong with the newest.
		var first error
		for back := range defaultRunLookBack {
			run, err := LoadRun(ctx, st, fmt.Sprintf("last~%d", back), where)
			switch {
			case err == nil:
				return run, nil
			case back == 0:
				first = err
			}
			if !errors.Is(err, errNoScenarios) {
				break
			}
		}
		if errors.Is(first, errNoScenarios) {
			return nil, first
		}
		runs, err := st.Runs(ctx, store.RunQuery{Limit: 1})
		if err != nil {
			return nil, err
		}
		if len(runs) == 0 {
			return nil, fmt.Errorf("no run in the history under %s", where)
		}
		return LoadRun(ctx, st, runs[0].ID, where)
	}
	if back, ok, err := ParseRunRef(id); err != nil {
		return nil, err
	} else if ok {
		resolved, err := resolveRunRef(ctx, st, back)
		if err != nil {
			return nil, err
		}
		if resolved == "" {
			return nil, fmt.Errorf("run %s: %s in the history under %s (benchd runs lists them)", id, noRun(back), where)
		}
		id = resolved
	}
	run, err := st.Run(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("run %q is not in the history under %s (benchd runs or GET /api/v1/runs lists them)", id, where)
	}
	if err != nil {
		return nil, fmt.Errorf("run %q: %w", id, err)
	}
	if len(run.Scenarios) == 0 {
		return nil, fmt.Errorf("run %s has no scenario results (outcome %s%s): give an earlier one with --run (benchd runs lists them): %w",
			run.ID, store.ShownOutcome(run.Outcome), stillRunning(run), errNoScenarios)
	}
	return run, nil
}

// errNoScenarios marks a run without scenario results.
var errNoScenarios = errors.New("nothing to render")

// defaultRunLookBack is how many ended runs LoadRun's default looks back
// over for one with scenario results.
const defaultRunLookBack = 10

// stillRunning explains a run whose outcome is running.
func stillRunning(r *store.Run) string {
	if r.Outcome != store.OutcomeRunning {
		return ""
	}
	return ": in progress, or left running by a benchd that was killed, until the next start marks it aborted"
}

// ParseRunRef parses a relative run reference: "last" (back 0), the newest
// run that has ended, or "last~N" (back N), the Nth ended run before it,
// as git's HEAD~N. ok is false for anything else, a run ID; err is set
// for a malformed last~.
func ParseRunRef(ref string) (back int, ok bool, err error) {
	if ref == "last" {
		return 0, true, nil
	}
	rest, found := strings.CutPrefix(ref, "last~")
	if !found {
		return 0, false, nil
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return 0, false, fmt.Errorf("run %q: want last, or last~N with N a count of runs back, such as last~1", ref)
	}
	return n, true, nil
}

// resolveRunRef returns the ID of the back-th newest run of st that has
// ended (skipping runs still running), or "" when there are not that many.
func resolveRunRef(ctx context.Context, st Runs, back int) (string, error) {
	q := store.RunQuery{Limit: 100}
	for {
		runs, err := st.Runs(ctx, q)
		if err != nil {
			return "", err
		}
		for _, r := range runs {
			if r.Outcome == store.OutcomeRunning {
				continue
			}
			if back == 0 {
				return r.ID, nil
			}
			back--
		}
		if len(runs) < q.Limit {
			return "", nil
		}
		q.Before = runs[len(runs)-1].Start
	}
}

// noRun says what is missing for a reference back runs back.
func noRun(back int) string {
	if back == 0 {
		return "no run has ended"
	}
	return fmt.Sprintf("fewer than %d runs have ended", back+1)
}
