package callgrind

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParseDump(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		events   []string
		totals   []uint64
		pid      int
		err      string
	}{
		{name: "summary", in: "# callgrind format\nversion: 1\npid: 42\nevents: Ir\nsummary: 102212980\n\nfn=(1) x\n0 5\ntotals: 1\n", events: []string{"Ir"}, totals: []uint64{102212980}, pid: 42},
		{name: "totals only", in: "version: 1\nevents: Ir Dr\nfn=(1) x\n0 5 1\ntotals: 7 3\n", events: []string{"Ir", "Dr"}, totals: []uint64{7, 3}},
		{name: "fewer totals than events", in: "events: Ir Dr\nsummary: 9\n", events: []string{"Ir", "Dr"}, totals: []uint64{9, 0}},
		{name: "no events", in: "version: 1\nsummary: 9\n", err: "summary before the events line"},
		{name: "empty", in: "", err: "no events line"},
		{name: "no totals", in: "events: Ir\nfn=(1) x\n", err: "no summary or totals"},
		{name: "too many totals", in: "events: Ir\nsummary: 1 2\n", err: "2 totals for 1 events"},
		{name: "bad number", in: "events: Ir\nsummary: -1\n", err: `total "-1" is not a count`},
		{name: "bad pid", in: "pid: x\nevents: Ir\nsummary: 1\n", err: `pid "x"`},
		{name: "two events lines", in: "events: Ir\nevents: Dr\nsummary: 1\n", err: "a second events line"},
		{name: "empty events", in: "events: \nsummary: 1\n", err: "no event names"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDump(strings.NewReader(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(d.Events, tt.events) || !slices.Equal(d.Totals, tt.totals) || d.PID != tt.pid {
				t.Errorf("got %+v, want events %v totals %v pid %d", d, tt.events, tt.totals, tt.pid)
			}
		})
	}
}

// TestParseDumpFile reads a dump valgrind 3.19 wrote (its header, cut).
func TestParseDumpFile(t *testing.T) {
	f, err := os.Open("testdata/callgrind.out.1234.1")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := ParseDump(f)
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.Instructions()
	if err != nil || n != 102212980 || d.PID != 15199 {
		t.Errorf("Instructions() = %d, %v; pid %d; want 102212980, pid 15199", n, err, d.PID)
	}
	if _, err := (Dump{Events: []string{"Dr"}, Totals: []uint64{1}}).Instructions(); err == nil {
		t.Error("a dump without Ir has instructions")
	}
}

func TestNewestDump(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"callgrind.out.7", "callgrind.out.7.2", "callgrind.out.7.10", "callgrind.out.77.11", "callgrind.out.7.x"} {
		if err := os.WriteFile(dir+"/"+name, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	got, err := newestDump(dir, 7)
	if err != nil || !strings.HasSuffix(got, "/callgrind.out.7.10") {
		t.Errorf("newestDump = %q, %v; want callgrind.out.7.10", got, err)
	}
	if _, err := newestDump(dir, 8); err == nil {
		t.Error("a dump of pid 8")
	}
}

func TestCommand(t *testing.T) {
	argv := []string{"gunicorn", "-w", "1"}
	got := Command("", "/tmp/d", argv)
	want := []string{"setarch", "-R", "valgrind", "--tool=callgrind", "--instr-atstart=no", "--trace-children=yes",
		"--callgrind-out-file=/tmp/d/callgrind.out.%p", "gunicorn", "-w", "1"}
	if !slices.Equal(got, want) || len(argv) != 3 {
		t.Errorf("Command = %q, want %q", got, want)
	}
}

// FuzzParseDump: any input parses or fails without a panic; a parsed dump
// has as many totals as events.
func FuzzParseDump(f *testing.F) {
	if b, err := os.ReadFile("testdata/callgrind.out.1234.1"); err == nil {
		f.Add(string(b))
	}
	f.Add("events: Ir Dr\nsummary: 9 1\n")
	f.Add("events: Ir\ntotals: 18446744073709551615\n")
	f.Add("pid: 1\nevents: Ir\n")
	f.Fuzz(func(t *testing.T, in string) {
		d, err := ParseDump(strings.NewReader(in))
		if err == nil && (len(d.Events) == 0 || len(d.Totals) != len(d.Events)) {
			t.Errorf("parsed %+v from %q", d, in)
		}
	})
}
