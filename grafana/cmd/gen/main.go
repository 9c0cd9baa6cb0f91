// Command gen writes benchd's Grafana dashboards as JSON.
//
//	go run ./grafana/cmd/gen [-out grafana/dashboards]
//
// It is what `go generate ./grafana` runs; the output is committed.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/benchd/benchd/grafana"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	out := fs.String("out", "grafana/dashboards", "directory to write the dashboard JSON files into")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := grafana.Write(*out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}
