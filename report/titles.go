package report

import (
	"fmt"
	"io"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/result"
	"github.com/benchd/benchd/store"
)

// Titles returns the section titles of cfg for the Markdown report and
// the comparison: target names map to their titles, "/"+endpoint names to
// theirs; names without a title are absent.
func Titles(cfg *config.Config) map[string]string {
	titles := map[string]string{}
	for _, t := range cfg.Targets {
		if t.Title != "" {
			titles[t.Name] = t.Title
		}
	}
	for _, e := range cfg.Endpoints {
		if e.Title != "" {
			titles["/"+e.Name] = e.Title
		}
	}
	return titles
}

// Entries returns the Markdown report's entries of records, titled by
// titles (as [Titles] returns them; names where there is no title). The
// entries point into records.
func Entries(records []result.Scenario, titles map[string]string) []Entry {
	out := make([]Entry, len(records))
	for i := range records {
		s := &records[i]
		out[i] = Entry{Scenario: s, TargetTitle: titles[s.Target], EndpointTitle: titles["/"+s.Endpoint]}
	}
	return out
}

// WriteWrkBlocks writes each entry as "== name ==", its wrk block with
// the latency distribution (when it applied load), a "Baseline: …" line
// for each baseline segment segments starts at this entry's scenario (the
// run's segments, store.Baselines), a "Failed: reason" line when it
// failed, and an empty line: `benchd report`'s text format.
func WriteWrkBlocks(w io.Writer, entries []Entry, segments []store.Baseline) error {
	for _, e := range entries {
		fmt.Fprintln(w, BlockHeading(e.Scenario))
		if e.Ran() {
			if err := WriteWrk(w, e.Scenario, WrkOptions{Latency: true}); err != nil {
				return err
			}
		}
		for _, b := range segments {
			if b.Scenario == e.Name {
				fmt.Fprintf(w, "Baseline: a new segment starts at this run (%s)\n", b.Reason)
			}
		}
		if e.Error != "" {
			fmt.Fprintf(w, "Failed: %s\n", e.Error)
		}
		fmt.Fprintln(w)
	}
	return nil
}

// BlockHeading is the line above a scenario's wrk block in the text
// report and `benchd matrix`'s output, "== target/mode/endpoint ==",
// marked "(no request completed)" when load ran but no response came
// within the timeout: a result, not a failure, and worth a look.
func BlockHeading(s *result.Scenario) string {
	h := "== " + s.Name + " =="
	if s.Ran() && s.Requests == 0 && s.Error == "" {
		h += " (no request completed)"
	}
	return h
}
