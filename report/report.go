package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/benchd/benchd/result"
)

// Entry is one scenario of a run, as the Markdown report shows it: the
// record, and the titles that head its sections (empty: the names).
type Entry struct {
	*result.Scenario
	TargetTitle, EndpointTitle string
}

// WriteMarkdown writes entries in the layout of the seed document
// (config/testdata/seed-django-workers-results.md): "# title" (none when
// title is ""), then per
// target "## title", per endpoint "### title", per mode "#### Sync" or
// "#### Async", and the wrk block in a bash fence. Entries must be in
// matrix order (target, endpoint, mode); a failed scenario gets a
// "Failed: reason" line after its block, or instead of it when no load
// was applied.
func WriteMarkdown(w io.Writer, title string, entries []Entry) error {
	var b strings.Builder
	if title != "" {
		fmt.Fprintf(&b, "# %s\n", title)
	}
	var target, endpoint string
	for _, e := range entries {
		if e.Target != target {
			target, endpoint = e.Target, ""
			fmt.Fprintf(&b, "## %s\n\n", or(e.TargetTitle, e.Target))
		}
		if e.Endpoint != endpoint {
			endpoint = e.Endpoint
			fmt.Fprintf(&b, "### %s\n", or(e.EndpointTitle, e.Endpoint))
		}
		if e.Mode != "-" && e.Mode != "" {
			fmt.Fprintf(&b, "#### %s\n", strings.ToUpper(e.Mode[:1])+e.Mode[1:])
		}
		b.WriteString("\n")
		if e.Ran() {
			b.WriteString("```bash\n")
			if err := WriteWrk(&b, e.Scenario, WrkOptions{}); err != nil {
				return err
			}
			b.WriteString("```\n\n")
		}
		if e.Error != "" {
			fmt.Fprintf(&b, "Failed: %s\n\n", e.Error)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// WriteJSON writes s as one indented JSON record (docs/results.md).
func WriteJSON(w io.Writer, s *result.Scenario) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(s)
}

// WriteScenariosJSON writes a run's records as an indented JSON array.
func WriteScenariosJSON(w io.Writer, list []result.Scenario) error {
	if list == nil {
		list = []result.Scenario{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(list)
}
