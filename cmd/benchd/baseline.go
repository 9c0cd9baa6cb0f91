package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/alecthomas/kingpin/v2"
)

// baselineFlags are the arguments of `benchd baseline accept`.
type baselineFlags struct{ scenario string }

func addBaselineFlags(c *kingpin.CmdClause, f *baselineFlags) {
	c.Arg("scenario", "Scenario whose current results become its new baseline, target/mode/endpoint.").Required().StringVar(&f.scenario)
}

// runBaselineAccept accepts a scenario's newest result as its new baseline
// in the history under --storage.path. While a daemon holds that history,
// use its API instead (POST /api/v1/baselines/{target}/{mode}/{endpoint}/accept).
func runBaselineAccept(ctx context.Context, f *flags, stdout io.Writer, logger *slog.Logger) error {
	cfg, err := loadConfig(ctx, f, logger, false)
	if err != nil {
		return err
	}
	if _, ok := cfg.Scenario(f.baseline.scenario); !ok {
		return usageError{fmt.Errorf("no scenario %q in the configuration (names are target/mode/endpoint)", f.baseline.scenario)}
	}
	st, err := openStore(ctx, f, logger, matrixStoreWait)
	if err != nil {
		return fmt.Errorf("%w (if benchd serve is running, use POST /api/v1/baselines/%s/accept)", err, f.baseline.scenario)
	}
	defer st.Close()
	runID, err := st.Accept(ctx, f.baseline.scenario, time.Now())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: baseline accepted from run %s on\n", f.baseline.scenario, runID)
	return nil
}
