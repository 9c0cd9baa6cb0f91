package scheduler

import (
	"os"
	"slices"
	"time"

	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/internal/proc"
)

// RepeatUsage is the CPU use of one repeat of a scenario over exactly the
// engine's measured interval ([engine.Result] Start to End: warm-up and
// grace excluded), from /proc. CPU times have the kernel's 10 ms
// resolution. A RepeatUsage is a plain value; it may be copied.
type RepeatUsage struct {
	// Start and End bound the sampled window: the measured interval, as
	// the engine reports it through [engine.Trace]; the whole engine call
	// for an engine that does not (a test fake) or a run cancelled in its
	// warm-up.
	Start, End time.Time
	// Requests is the number of responses the repeat completed in its
	// measured interval ([engine.Result.Completed]).
	Requests uint64
	// Managed is true when the target is a managed process, whose tree's
	// CPU is TargetCPUSeconds. An unmanaged target's CPU, when it runs on
	// this machine, cannot be told from other work and is part of the
	// foreign figures.
	Managed bool
	// TargetCPUSeconds is the user+system CPU time, in seconds, of the
	// managed target's process tree in the window, reaped children
	// included; 0 for an unmanaged target.
	TargetCPUSeconds float64
	// SelfCPUSeconds is benchd's own user+system CPU time in the window,
	// in seconds: the load generator's.
	SelfCPUSeconds float64
	// ServicesCPUSeconds is the user+system CPU time, in seconds, of the
	// process trees of the run's services running in the window.
	ServicesCPUSeconds float64
	// CPUs is the number of CPUs considered: those benchd or the target
	// may run on (their CPU affinity; every CPU when neither is pinned).
	// 0 when /proc/stat could not be read: the machine fields are then 0.
	CPUs int
	// BusyCPUSeconds is the time, in CPU-seconds, the considered CPUs
	// were busy in the window, whoever used them: user, nice, system,
	// irq, softirq and steal of /proc/stat.
	BusyCPUSeconds float64
	// StealCPUSeconds is the part of BusyCPUSeconds a hypervisor gave to
	// other machines (steal of /proc/stat), in CPU-seconds.
	StealCPUSeconds float64
	// IRQCPUSeconds is the part of BusyCPUSeconds spent in interrupts
	// (irq and softirq of /proc/stat), in CPU-seconds. A kernel that
	// accounts interrupt time apart (CONFIG_IRQ_TIME_ACCOUNTING, Debian's)
	// charges it to no process, so the loopback network work of the load
	// itself is part of the foreign figure.
	IRQCPUSeconds float64
}

// WindowSeconds returns End - Start in seconds.
func (u RepeatUsage) WindowSeconds() float64 { return u.End.Sub(u.Start).Seconds() }

// capacity returns the CPU-seconds the considered CPUs had in the window.
func (u RepeatUsage) capacity() float64 { return u.WindowSeconds() * float64(u.CPUs) }

// ForeignCPUSeconds returns the CPU-seconds of the considered CPUs that
// neither benchd, the target's tree nor the services used: BusyCPUSeconds
// - SelfCPUSeconds - TargetCPUSeconds - ServicesCPUSeconds, clamped at 0
// (the counters are read a few microseconds apart and tick at 10 ms).
// Steal counts as foreign. A service running on CPUs outside the
// considered ones still has its time subtracted, which understates the
// foreign use.
func (u RepeatUsage) ForeignCPUSeconds() float64 {
	return max(0, u.BusyCPUSeconds-u.SelfCPUSeconds-u.TargetCPUSeconds-u.ServicesCPUSeconds)
}

// ForeignCPURatio returns ForeignCPUSeconds as a share of the considered
// CPUs' capacity in the window (window seconds × CPUs), 0 to 1: 0.5 on
// two CPUs is one CPU's worth of other work. 0 when not measured.
func (u RepeatUsage) ForeignCPURatio() float64 {
	if c := u.capacity(); c > 0 {
		return min(1, u.ForeignCPUSeconds()/c)
	}
	return 0
}

// StealRatio returns StealCPUSeconds as a share of the considered CPUs'
// capacity in the window, 0 to 1; 0 when not measured.
func (u RepeatUsage) StealRatio() float64 {
	if c := u.capacity(); c > 0 {
		return min(1, max(0, u.StealCPUSeconds/c))
	}
	return 0
}

// CPUSecondsPerRequest returns TargetCPUSeconds / Requests, in seconds; 0
// when no request completed or the target is not managed.
func (u RepeatUsage) CPUSecondsPerRequest() float64 {
	if u.Requests == 0 {
		return 0
	}
	return u.TargetCPUSeconds / float64(u.Requests)
}

// cpuSample is the cumulative CPU counters at one instant.
type cpuSample struct {
	at       time.Time
	target   float64 // the target tree's CPU seconds, reaped included
	self     float64
	services float64
	machine  map[int]proc.CPUTimes // nil when /proc/stat was not read
}

// cpuWindow samples the CPU counters at the bounds of one repeat's
// measured window (see [RepeatUsage]). Its methods are called from one
// goroutine at a time (the engine's trace goroutine, then the caller once
// the engine has returned).
type cpuWindow struct {
	target   *proc.Process
	services []*proc.Process
	cpus     []int // the CPUs considered
	lastTree float64
	start    cpuSample
	end      cpuSample
	ended    bool
}

// newCPUWindow returns a window over the CPUs benchd or target (nil for an
// unmanaged one) may run on, with its start sampled now.
func newCPUWindow(target *proc.Process, services []*proc.Process) *cpuWindow {
	w := &cpuWindow{target: target, services: services}
	cpus, _ := proc.Affinity(os.Getpid())
	if target != nil {
		if tc, err := proc.Affinity(target.PID()); err == nil {
			cpus = append(cpus, tc...)
		}
	}
	slices.Sort(cpus)
	w.cpus = slices.Compact(cpus)
	w.start = w.sample()
	return w
}

// sample reads the counters now.
func (w *cpuWindow) sample() cpuSample {
	s := cpuSample{at: time.Now()}
	if w.target != nil {
		// Once the target has exited its tree cannot be read: keep the
		// last reading, so the CPU it used before dying still counts.
		if u, err := w.target.Usage(); err == nil {
			w.lastTree = u.CPUSeconds + u.ReapedCPUSeconds
		}
		s.target = w.lastTree
	}
	if u, err := proc.SelfUsage(); err == nil {
		s.self = u.CPUSeconds
	}
	for _, p := range w.services {
		if u, err := p.Usage(); err == nil {
			s.services += u.CPUSeconds + u.ReapedCPUSeconds
		}
	}
	if m, err := proc.ReadCPUTimes(); err == nil {
		s.machine = m
	}
	return s
}

// trace returns the engine hooks that move the window's bounds to the
// measured interval's.
func (w *cpuWindow) trace() *engine.Trace {
	return &engine.Trace{
		MeasureStart: func(time.Time) { w.start = w.sample() },
		MeasureEnd: func(time.Time) {
			w.end = w.sample()
			w.ended = true
		},
	}
}

// usage ends the window (now, unless the engine ended it) and returns
// what was used in it; requests is the repeat's completed count.
func (w *cpuWindow) usage(requests uint64) RepeatUsage {
	if !w.ended {
		w.end = w.sample()
	}
	a, b := w.start, w.end
	u := RepeatUsage{
		Start: a.at, End: b.at, Requests: requests, Managed: w.target != nil,
		TargetCPUSeconds:   max(0, b.target-a.target),
		SelfCPUSeconds:     max(0, b.self-a.self),
		ServicesCPUSeconds: max(0, b.services-a.services),
	}
	if a.machine == nil || b.machine == nil {
		return u
	}
	cpus := w.cpus
	if len(cpus) == 0 { // affinity unknown: every CPU
		for c := range a.machine {
			cpus = append(cpus, c)
		}
	}
	for _, c := range cpus {
		t0, ok0 := a.machine[c]
		t1, ok1 := b.machine[c]
		if !ok0 || !ok1 {
			continue // offline
		}
		d := t1.Sub(t0)
		u.CPUs++
		u.BusyCPUSeconds += max(0, d.Busy())
		u.StealCPUSeconds += max(0, d.Steal)
		u.IRQCPUSeconds += max(0, d.IRQ+d.SoftIRQ)
	}
	return u
}
