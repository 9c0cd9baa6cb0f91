package report

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/benchd/benchd/config"
)

// WritePlan prints the scenarios (as `benchd matrix --dry-run` does) of a
// run with their load settings and the time the load takes
// ([config.Scenario.EstimatedDuration]: warm-up, duration and one timeout
// of grace per repeat; an instruction lane's requests at 0.5 s each). It then
// names what that leaves out, from cfg (nil: unknown): starting the
// managed targets of plan (their setup commands, then up to their
// ready_timeout each, and again after a restart), their settle between
// scenarios and the services they need; those depend on the target and
// are not estimated.
func WritePlan(w io.Writer, plan []config.Scenario, cfg *config.Config) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "scenario\tconnections\tthreads\twarmup\tduration\ttimeout\ton_timeout\trate\trepeats\turl")
	var total time.Duration
	managed, services := map[string]int{}, map[string]bool{}
	for _, sc := range plan {
		l := sc.Load
		if in := sc.Instructions; in != nil {
			// An instruction lane's scenario: requests counted under
			// callgrind, not a timed load.
			fmt.Fprintf(tw, "%s\t%d\t-\t%d requests\t%d requests\t%s\t-\tcallgrind\t%d\t%s\n", sc.Name, in.Connections,
				max(in.WarmupRequests, 0), in.Requests, in.Timeout, l.Repeats, sc.URL)
		} else {
			rate := "closed loop"
			if l.Rate > 0 {
				rate = strconv.FormatFloat(math.Round(l.Rate*1000)/1000, 'f', -1, 64) + "/s" // a segment's share: 0.667/s, not 16 digits
			}
			threads := "GOMAXPROCS"
			if l.Threads > 0 {
				threads = strconv.Itoa(l.Threads)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", sc.Name, l.Connections, threads, l.Warmup, l.Duration, l.Timeout, l.OnTimeout, rate, l.Repeats, sc.URL)
		}
		total += sc.EstimatedDuration()
		if t := targetOf(cfg, sc.Target); t != nil && t.Process != nil {
			managed[t.Name] += max(l.Repeats, 1)
			for _, s := range t.Services {
				services[s] = true
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	lane := ""
	for _, sc := range plan {
		if sc.Instructions != nil {
			lane = "; 0.5 s a request under callgrind"
			break
		}
	}
	fmt.Fprintf(w, "\n%s: %s of load (warm-up, duration and one timeout of grace per repeat%s)\n", Plural(len(plan), "scenario"), total, lane)
	if len(managed) == 0 {
		_, err := fmt.Fprintln(w, "no managed target: the run takes about that")
		return err
	}
	settles := 0
	for _, n := range managed {
		settles += n - 1 // between two load tests of the target
	}
	out := []string{fmt.Sprintf("starting %s (setup commands, then until ready)", Plural(len(managed), "managed target"))}
	if settles > 0 {
		out = append(out, fmt.Sprintf("%d settles (a managed target quiet again between two of its load tests)", settles))
	}
	if len(services) > 0 {
		out = append(out, "starting "+Plural(len(services), "service"))
	}
	_, err := fmt.Fprintf(w, "not counted, so the run takes longer: %s\n", strings.Join(out, ", "))
	return err
}

// targetOf returns cfg's target name, or nil.
func targetOf(cfg *config.Config, name string) *config.Target {
	if cfg == nil {
		return nil
	}
	return cfg.Target(name)
}

// Plural returns "1 scenario" or "N scenarios" (English plurals in -s only).
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
