package proc

import (
	"math"
	"os"
	"strings"
	"testing"
)

func TestParseCPUTimes(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[int]CPUTimes
		wantErr string
	}{
		{
			name: "two CPUs, the total and other lines skipped",
			in:   "cpu  300 0 200 1000 7 0 20 16 0 0\ncpu0 100 5 100 500 3 1 10 8 0 0\ncpu1 200 0 100 500 4 0 10 8 0 0\nintr 1 2 3\nctxt 9\n",
			want: map[int]CPUTimes{
				0: {User: 1, Nice: 0.05, System: 1, Idle: 5, IOWait: 0.03, IRQ: 0.01, SoftIRQ: 0.1, Steal: 0.08},
				1: {User: 2, System: 1, Idle: 5, IOWait: 0.04, SoftIRQ: 0.1, Steal: 0.08},
			},
		},
		{
			name: "no steal column (kernel before 2.6.11)",
			in:   "cpu0 100 0 100 500 0 0 0\n",
			want: map[int]CPUTimes{0: {User: 1, System: 1, Idle: 5}},
		},
		{name: "too few values", in: "cpu0 100 0 100 500 0 0\n", wantErr: "malformed /proc/stat cpu line"},
		{name: "not a number", in: "cpu0 100 x 100 500 0 0 0 0\n", wantErr: "malformed"},
		{name: "negative", in: "cpu0 100 -1 100 500 0 0 0 0\n", wantErr: "malformed"},
		{name: "twice", in: "cpu0 1 0 1 5 0 0 0 0\ncpu0 1 0 1 5 0 0 0 0\n", wantErr: "cpu0 twice"},
		{name: "no cpu line", in: "intr 1\n", wantErr: "no cpuN line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCPUTimes([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			for cpu, w := range tt.want {
				if g := got[cpu]; g != w {
					t.Errorf("cpu%d = %+v, want %+v", cpu, g, w)
				}
			}
			// Busy is all but idle and iowait.
			w := tt.want[0]
			if b, want := got[0].Busy(), w.User+w.Nice+w.System+w.IRQ+w.SoftIRQ+w.Steal; math.Abs(b-want) > 1e-9 {
				t.Errorf("cpu0 busy %g, want %g", b, want)
			}
		})
	}
}

// TestReadCPUTimes reads this machine's /proc/stat: one entry per CPU benchd
// may run on at least, and counters that only grow.
func TestReadCPUTimes(t *testing.T) {
	a, err := ReadCPUTimes()
	if err != nil {
		t.Fatal(err)
	}
	mine, err := Affinity(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range mine {
		if _, ok := a[c]; !ok {
			t.Errorf("no times for cpu%d, which this process may run on (%v)", c, mine)
		}
	}
	// Spin a little so that the busy time grows.
	for i := 0; i < 1e8 && i >= 0; i++ {
		_ = i
	}
	b, err := ReadCPUTimes()
	if err != nil {
		t.Fatal(err)
	}
	var grew float64
	for c := range a {
		d := b[c].Sub(a[c])
		if d.Busy() < 0 || d.Idle < 0 {
			t.Errorf("cpu%d went back: %+v", c, d)
		}
		grew += d.Busy()
	}
	if grew <= 0 {
		t.Error("no CPU was busy while this test spun")
	}
}

func FuzzParseCPUTimes(f *testing.F) {
	f.Add([]byte("cpu  300 0 200 1000 7 0 20 16 0 0\ncpu0 100 5 100 500 3 1 10 8 0 0\n"))
	f.Add([]byte("cpu0 1 0 1 5 0 0 0\n"))
	f.Add([]byte("cpu9999999999999999999 1 0 1 5 0 0 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseCPUTimes(b)
		if err == nil && len(m) == 0 {
			t.Fatal("no error and no CPU")
		}
		for _, c := range m {
			if c.Busy() < 0 || c.Idle < 0 {
				t.Fatalf("negative times %+v", c)
			}
		}
	})
}
