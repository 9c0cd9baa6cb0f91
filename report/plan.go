package report

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/benchd/benchd/config"
)

// WritePlan prints the scenarios (as `benchd matrix --dry-run` does) of a run with their load settings and the
// least time the run takes: warm-up, duration and one timeout of grace per
// repeat of each scenario (starting targets and services comes on top).
func WritePlan(w io.Writer, plan []config.Scenario) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tconnections\tthreads\twarmup\tduration\ttimeout\trate\trepeats\turl")
	var total time.Duration
	for _, sc := range plan {
		l := sc.Load
		rate := "closed loop"
		if l.Rate > 0 {
			rate = fmt.Sprintf("%g/s", l.Rate)
		}
		threads := "GOMAXPROCS"
		if l.Threads > 0 {
			threads = strconv.Itoa(l.Threads)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", sc.Name, l.Connections, threads, l.Warmup, l.Duration, l.Timeout, rate, l.Repeats, sc.URL)
		total += time.Duration(l.Repeats) * (l.Warmup + l.Duration + l.Timeout)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\n%s, at least %s\n", Plural(len(plan), "scenario"), total)
	return err
}

// Plural returns "1 scenario" or "N scenarios" (English plurals in -s only).
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
