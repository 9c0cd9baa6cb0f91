package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestConfigDocSample runs the `benchd config check` session shown in
// docs/configuration.md on cmd/benchd/testdata/docs/benchd.yml and checks
// that the doc shows the real output.
func TestConfigDocSample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	const prompt = "$ benchd config check --config.file=benchd.yml"
	_, after, ok := strings.Cut(string(doc), prompt+"\n")
	if !ok {
		t.Fatalf("docs/configuration.md has no sample starting %q", prompt)
	}
	block, _, ok := strings.Cut(after, "```")
	if !ok {
		t.Fatal("the sample's code block does not end")
	}
	// The block is indented as a list item; the output is not.
	var want strings.Builder
	indent := len(block) - len(strings.TrimLeft(block, " "))
	for line := range strings.Lines(block) {
		want.WriteString(strings.TrimPrefix(line, strings.Repeat(" ", indent)))
	}
	wantOut := strings.TrimRight(want.String(), " \n") + "\n"

	cmd := benchd(t.Context(), t, "config", "check", "--config.file=benchd.yml")
	cmd.Dir = "testdata/docs"
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if exit, ok := errors.AsType[*exec.ExitError](err); !ok || exit.ExitCode() != 1 {
		t.Errorf("exit: %v, want exit status 1", err)
	}
	if stdout.String() != wantOut {
		t.Errorf("docs/configuration.md shows\n%s\nbut benchd config check prints\n%s", wantOut, stdout.String())
	}
}
