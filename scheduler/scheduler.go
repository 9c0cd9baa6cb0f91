package scheduler

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"regexp"
	"runtime/metrics"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/engine"
	"github.com/benchd/benchd/internal/callgrind"
	"github.com/benchd/benchd/internal/proc"
	"github.com/benchd/benchd/regress"
	"github.com/benchd/benchd/result"
)

// ErrRunning is returned by [Scheduler.RunOnce] and [Scheduler.TriggerNow]
// while another run is in progress.
var ErrRunning = errors.New("scheduler: a run is already in progress")

// ErrNotRunning is returned by [Scheduler.TriggerNow] when [Scheduler.Run]
// is not running.
var ErrNotRunning = errors.New("scheduler: the schedule loop is not running")

// Triggers: what started a run, as recorded in [RunInfo.Trigger].
const (
	TriggerStart    = "start"
	TriggerSchedule = "schedule"
	// TriggerManual is a run asked for through [Scheduler.TriggerNow]
	// (the API's POST /api/v1/runs).
	TriggerManual = "manual"
	// TriggerMatrix is a one-off run of `benchd matrix`.
	TriggerMatrix = "matrix"
)

// DefaultSettleTimeout bounds how long, after a scenario, a managed target
// may take to answer its readiness check promptly again before it is
// restarted for the next scenario.
const DefaultSettleTimeout = 30 * time.Second

// settleProbeTimeout is how promptly a settled target answers its
// readiness check.
const settleProbeTimeout = time.Second

// DefaultUsageInterval is how often the resource use of the target and of
// benchd is sampled during a scenario, for the peak RSS.
const DefaultUsageInterval = 500 * time.Millisecond

// Engine runs one load test. [engine.Run] is the real one; tests may use
// fakes. Run blocks until the test ends or ctx is done.
type Engine interface {
	Run(ctx context.Context, p engine.Plan) (*engine.Result, error)
}

// EngineFunc adapts a function to [Engine].
type EngineFunc func(ctx context.Context, p engine.Plan) (*engine.Result, error)

// Run calls f(ctx, p).
func (f EngineFunc) Run(ctx context.Context, p engine.Plan) (*engine.Result, error) {
	return f(ctx, p)
}

// RunInfo describes a run as it starts.
type RunInfo struct {
	// ID identifies the run: its start time in UTC, "20261129T170000Z",
	// with a "-N" suffix if two runs start in the same second (the
	// [Recorder] may raise the suffix to keep IDs unique across
	// processes).
	ID string
	// Trigger is TriggerStart, TriggerSchedule, TriggerManual or what the
	// caller of [Scheduler.RunOnce] gives (TriggerMatrix).
	Trigger string
	// Start is when the run started.
	Start time.Time
	// Scheduled is when a scheduled run was due (zero for other
	// triggers); Start - Scheduled is the schedule lag.
	Scheduled time.Time
	// Scenarios are the scenarios the run will execute, in matrix order.
	// A target's scenarios with more than one repeat run interleaved:
	// round after round, each round visiting every scenario of the
	// target that has a repeat left once, in an order shuffled per round.
	Scenarios []config.Scenario
	// Seed is the seed of that shuffle ([Options.Seed], or drawn for the
	// run): with the same seed and scenarios, a run visits them in the
	// same order.
	Seed uint64
}

// ScenarioResult is what one scenario of a run produced.
type ScenarioResult struct {
	// RunID is the [RunInfo.ID] of the run.
	RunID string
	// Scenario is the scenario as configured.
	Scenario config.Scenario
	// Index is the 0-based position of the scenario in the run; Total the
	// number of scenarios in the run.
	Index, Total int
	// Start and End bound the scenario, warm-up and grace included: from
	// the start of its first repeat to the end of its last, with the
	// repeats of the target's other scenarios interleaved in between.
	Start, End time.Time
	// Result is what the engine measured; nil when no load was applied
	// (the target or a service did not start, or the plan was invalid).
	// With more than one repeat it is their [engine.Merge].
	Result *engine.Result
	// Repeats holds each repeat's own result, in order, when the scenario
	// has more than one (config repeats); nil otherwise. A repeat cut
	// short by an error is the last one.
	Repeats []*engine.Result
	// Err says why the scenario failed; nil when it ran. A scenario whose
	// target exited during the load has both a Result and an Err.
	Err error
	// Target is the resource use of the target's process tree during the
	// scenario's repeats, warm-up included (CPU seconds used, summed over
	// the repeats; the peak RSS); zero for an unmanaged target.
	Target Usage
	// Self is benchd's own resource use during the scenario's repeats.
	Self Usage
	// SchedLatencyP99 is the 99th percentile of benchd's own Go scheduler
	// latency (runtime/metrics /sched/latencies:seconds: how long
	// goroutines waited to run) during the scenario, all repeats together;
	// a high value means the load generator itself was starved and its
	// timings are suspect.
	SchedLatencyP99 time.Duration
	// Record is the result record built from the fields above, with its
	// validity under the run's regression limits: what the run history,
	// the metrics, tracing, the reports and the detector read.
	Record *result.Scenario
	// Settings identifies the scenario's settings and its target's stack
	// in this run (docs/results.md), computed before the target started.
	Settings result.Settings
	// RepeatInstructions holds, per repeat in order, what an
	// instruction-lane scenario counted (config instructions); nil for a
	// load scenario.
	RepeatInstructions []InstructionCount
	// RepeatUsage holds, per repeat in order (one entry with a single
	// repeat; none when no load was applied), the CPU use over that
	// repeat's measured interval: the target's CPU seconds per request
	// and the foreign CPU (what the machine's other work took).
	RepeatUsage []RepeatUsage
}

// ScenarioStart is a repeat of a scenario about to begin, as
// [Observer.ScenarioStarted] is told. A plain value.
type ScenarioStart struct {
	// RunID is the [RunInfo.ID] of the run.
	RunID string
	// Scenario is the scenario as configured.
	Scenario config.Scenario
	// Index is the 0-based position of the scenario in the run; Total the
	// number of scenarios in the run (as in [ScenarioResult]).
	Index, Total int
	// Repeat is the repeat beginning, 1 to Repeats, the scenario's
	// configured repeats (at least 1). With interleaved repeats the
	// target's other scenarios run between two repeats of one scenario.
	Repeat, Repeats int
	// Start is when the repeat begins (the target ready, settled or
	// restarted before it).
	Start time.Time
}

// CPUSecondsPerRequest returns the target's CPU seconds per completed
// request over the measured intervals of all repeats together (the sum of
// their CPU over the sum of their requests); 0 when none completed or the
// target is not managed. It is the record's cpu.target_seconds_per_request.
func (r *ScenarioResult) CPUSecondsPerRequest() float64 {
	if c := totalCPU(r.RepeatUsage); c != nil {
		return c.TargetSecondsPerRequest
	}
	return 0
}

// MaxForeignCPURatio returns the largest [RepeatUsage.ForeignCPURatio] of
// the repeats against a managed target, 0 to 1; 0 when none was measured,
// and for an unmanaged target, whose own CPU (if it runs on this machine)
// is in the foreign figure.
func (r *ScenarioResult) MaxForeignCPURatio() float64 {
	var m float64
	for _, u := range r.RepeatUsage {
		if u.Managed {
			m = max(m, u.ForeignCPURatio())
		}
	}
	return m
}

// Up reports whether the scenario applied load: a result exists and at
// least one connection was established.
func (r *ScenarioResult) Up() bool {
	return r.Result != nil && r.Result.ConnectionsEstablished > 0
}

// RunReport is the outcome of a whole run.
type RunReport struct {
	RunInfo
	// End is when the run ended.
	End time.Time
	// Results holds one entry per scenario that was attempted, in order.
	Results []*ScenarioResult
	// Err is set when the run was cut short (ctx cancelled); scenarios not
	// attempted have no entry in Results.
	Err error

	// segmentStarts is the shared start of each split scenario's segment
	// (config.Scenario.Segment) by scenario name; nil without any.
	segmentStarts map[string]time.Time
}

// Failed returns the number of scenarios that failed (Err set, not
// ErrInterrupted).
func (r *RunReport) Failed() int {
	n := 0
	for _, s := range r.Results {
		if s.Err != nil && !errors.Is(s.Err, ErrInterrupted) {
			n++
		}
	}
	return n
}

// The outcomes of a run, as [RunReport.Outcome] names them.
const (
	OutcomeSuccess = "success"
	OutcomeFailed  = "failed"
	// OutcomeInterrupted is a run stopped from outside (a signal, a
	// shutdown) before its end; benchd_runs_total counts it as failed.
	OutcomeInterrupted = "interrupted"
)

// Outcome returns OutcomeInterrupted when the run was stopped before its
// end (Err set), OutcomeSuccess when every scenario was attempted and none
// failed, and OutcomeFailed otherwise.
func (r *RunReport) Outcome() string {
	switch {
	case r.Err != nil:
		return OutcomeInterrupted
	case r.Failed() > 0 || len(r.Results) < len(r.Scenarios):
		return OutcomeFailed
	}
	return OutcomeSuccess
}

// ErrInterrupted is the error of a scenario cut short because its run was
// stopped: errors.Is(res.Err, ErrInterrupted) holds, and the message
// starts with "interrupted: ".
var ErrInterrupted = errors.New("interrupted")

// Observer is told what the scheduler does. Methods are called from the
// goroutine executing the run (NextRun and RunSkipped from the schedule
// loop), must not block for long, and must not keep or change the values
// they are given beyond the call, except that results are immutable once
// passed and may be kept. Embed [NopObserver] to implement only some.
//
// Each method's ctx is the run's context (NextRun's and RunSkipped's, the
// one given to [Scheduler.Run]): a tracing span started from it parents
// under the caller's, and ctx.Err() tells a stage that the run is being
// stopped. RunFinished, the last ScenarioFinished and TargetChanged(down)
// of a stopped run come with ctx already done: an observer that must
// still record them uses [context.WithoutCancel].
type Observer interface {
	// RunStarted is called before the first scenario of a run.
	RunStarted(ctx context.Context, info *RunInfo)
	// TargetStarting is called before a managed target's process (its
	// setup commands first) is started.
	TargetStarting(ctx context.Context, target string)
	// TargetChanged is called when a managed target becomes ready (up) or
	// is stopped or fails to start (down).
	TargetChanged(ctx context.Context, target string, up bool)
	// TargetFailed is called when a managed target (or a service it
	// needs) fails to start, with the reason, before TargetChanged(down).
	TargetFailed(ctx context.Context, target string, err error)
	// ScenarioStarted is called when a repeat of a scenario begins: once
	// per repeat, the first before the scenario's ScenarioFinished, also
	// for a scenario that fails at once (its target did not start). A
	// scenario of a run stopped before it began gets neither.
	ScenarioStarted(ctx context.Context, s *ScenarioStart)
	// ScenarioFinished is called after each scenario, failed or not.
	ScenarioFinished(ctx context.Context, r *ScenarioResult)
	// RunFinished is called after the last scenario of a run.
	RunFinished(ctx context.Context, r *RunReport)
	// RunSkipped is called when a scheduled tick fires while a run is
	// still in progress; the tick is dropped, not queued.
	RunSkipped(ctx context.Context, at time.Time)
	// NextRun is called whenever the next scheduled run time is known.
	NextRun(ctx context.Context, at time.Time)
}

// Recorder records runs as they start: the run history, which keeps run
// IDs unique across processes.
type Recorder interface {
	// RecordRun records the run info describes (info.ID is the ID the
	// scheduler proposes) and returns the ID to use instead, or info.ID.
	// It is called from the goroutine executing the run and must not
	// block for long.
	RecordRun(info RunInfo) string
}

// Options configure a [Scheduler].
type Options struct {
	// Engine runs the load tests; nil means the real [engine.Run].
	Engine Engine
	// Observer is told of runs and results; nil means none.
	Observer Observer
	// Recorder, when set, records each run as it starts, before the
	// "run started" log and the Observer, and names the ID the run is
	// known by from then on (logs, results, observers); nil keeps the
	// proposed IDs.
	Recorder Recorder
	// Logger receives lifecycle logs; nil discards them.
	Logger *slog.Logger
	// Only, when set, restricts every run to the scenarios whose name
	// (target/mode/endpoint) it matches.
	Only *regexp.Regexp
	// UsageInterval is how often resource use is sampled during a
	// scenario; zero means DefaultUsageInterval.
	UsageInterval time.Duration
	// SettleTimeout bounds the wait, between two scenarios of a managed
	// target with an http(s) readiness check, for the target to answer
	// that check within a second again: a server still working through
	// requests that the previous scenario abandoned (timed out, or in
	// flight at its end) would otherwise slow the next scenario down. A
	// target that does not settle in time is restarted. Zero means
	// DefaultSettleTimeout; negative disables settling.
	SettleTimeout time.Duration
	// Seed, when not 0, is the seed of every run's shuffled order of
	// interleaved repeats (see [RunInfo.Seed]), to replay an order; 0
	// draws a new seed for each run.
	Seed uint64
}

// Scheduler runs the configured matrix on its schedule. It is safe for
// concurrent use; create it with [New].
type Scheduler struct {
	opts     Options
	log      *slog.Logger
	cfg      atomic.Pointer[state]
	reload   chan struct{}
	manual   chan chan error
	looping  atomic.Bool
	paused   atomic.Bool
	running  sync.Mutex
	lastID   string
	idSuffix int
	files    fileHashes // content hashes of the targets' programs
}

// state is a configuration with its compiled schedule and readiness
// checks, and the static parts of its scenarios' settings by scenario name
// (settings.go).
type state struct {
	cfg      *config.Config
	schedule cron.Schedule
	ready    *readyChecks
	settings map[string]map[string]string
}

// New returns a Scheduler for cfg. It returns an error if cfg's schedule
// does not parse or the engine cannot run one of its scenarios (see
// [CheckPlans]: the error lists the problems at their YAML paths).
func New(cfg *config.Config, o Options) (*Scheduler, error) {
	if o.Engine == nil {
		o.Engine = EngineFunc(func(ctx context.Context, p engine.Plan) (*engine.Result, error) {
			return engine.Run(ctx, p, nil)
		})
	}
	if o.Observer == nil {
		o.Observer = NopObserver{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.UsageInterval <= 0 {
		o.UsageInterval = DefaultUsageInterval
	}
	if o.SettleTimeout == 0 {
		o.SettleTimeout = DefaultSettleTimeout
	}
	s := &Scheduler{opts: o, log: o.Logger, reload: make(chan struct{}, 1), manual: make(chan chan error)}
	if err := s.ApplyConfig(cfg); err != nil {
		return nil, err
	}
	return s, nil
}

// ApplyConfig makes cfg the configuration of the next run. A run in
// progress keeps the configuration it started with. It returns an error,
// and keeps the old configuration, if cfg's schedule does not parse or the
// engine cannot run one of its scenarios (see [CheckPlans]).
func (s *Scheduler) ApplyConfig(cfg *config.Config) error {
	sched, err := cfg.CronSchedule()
	if err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	if errs := CheckPlans(cfg); len(errs) > 0 {
		noun := "problems"
		if len(errs) == 1 {
			noun = "problem"
		}
		return fmt.Errorf("scheduler: the engine cannot run the config, %d %s:\n%w", len(errs), noun, errors.Join(errs...))
	}
	ready, err := compileReady(cfg)
	if err != nil {
		return err
	}
	s.cfg.Store(&state{cfg: cfg, schedule: sched, ready: ready, settings: staticSettings(cfg)})
	select {
	case s.reload <- struct{}{}:
	default:
	}
	return nil
}

// Config returns the configuration of the next run.
func (s *Scheduler) Config() *config.Config {
	return s.cfg.Load().cfg
}

// Run runs the matrix at start-up (if the configuration says so) and then
// on its schedule until ctx is done. A tick that fires while a run is in
// progress is skipped and reported to [Observer.RunSkipped]. When ctx is
// done, the run in progress is cancelled, its managed processes are
// stopped, and Run returns nil once it has ended.
func (s *Scheduler) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	s.looping.Store(true)
	defer s.looping.Store(false)
	start := func(trigger string, due time.Time) bool {
		if !s.running.TryLock() {
			return false
		}
		wg.Go(func() {
			defer s.running.Unlock()
			s.execute(ctx, trigger, due, nil)
		})
		return true
	}
	if s.cfg.Load().cfg.RunOnStart {
		start(TriggerStart, time.Time{})
	}
	for {
		st := s.cfg.Load()
		now := time.Now()
		next := nextTick(st, now)
		s.opts.Observer.NextRun(ctx, next)
		timer := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-s.reload:
			timer.Stop()
		case reply := <-s.manual:
			timer.Stop()
			if start(TriggerManual, time.Time{}) {
				reply <- nil
			} else {
				reply <- ErrRunning
			}
		case <-timer.C:
			if s.paused.Load() {
				s.log.Info("scheduled run not started: schedule paused", "scheduled_at", next)
				continue
			}
			if !start(TriggerSchedule, next) {
				s.log.Warn("scheduled run skipped: previous run still in progress", "scheduled_at", next)
				s.opts.Observer.RunSkipped(ctx, next)
			}
		}
	}
}

// TriggerNow starts a run of the whole matrix now, in the background of
// [Scheduler.Run], and returns once it has started. It returns
// [ErrRunning] while a run is in progress, [ErrNotRunning] when Run is not
// running, or ctx's error. A paused schedule does not stop it.
func (s *Scheduler) TriggerNow(ctx context.Context) error {
	if !s.looping.Load() {
		return ErrNotRunning
	}
	reply := make(chan error, 1)
	select {
	case s.manual <- reply:
		return <-reply
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Pause stops scheduled runs from starting until [Scheduler.Resume]; a run
// in progress goes on, and runs triggered by hand still start.
func (s *Scheduler) Pause() { s.paused.Store(true) }

// Resume lets scheduled runs start again after [Scheduler.Pause].
func (s *Scheduler) Resume() { s.paused.Store(false) }

// Paused reports whether the schedule is paused.
func (s *Scheduler) Paused() bool { return s.paused.Load() }

// Running reports whether a run is in progress.
func (s *Scheduler) Running() bool {
	if s.running.TryLock() {
		s.running.Unlock()
		return false
	}
	return true
}

// RunOnce runs the matrix now, restricted to the scenarios only matches
// (all when nil, and always within [Options.Only]), and returns its report.
// It blocks until the run ends; cancelling ctx cancels the run, stops its
// processes and returns the partial report. It returns [ErrRunning] if a
// run is already in progress.
func (s *Scheduler) RunOnce(ctx context.Context, trigger string, only *regexp.Regexp) (*RunReport, error) {
	if !s.running.TryLock() {
		return nil, ErrRunning
	}
	defer s.running.Unlock()
	return s.execute(ctx, trigger, time.Time{}, only), nil
}

// Scenarios returns the scenarios a run would execute now: those of the
// configuration's shard ([config.Config.ShardScenarios]; all of them
// without sharding), restricted by only (nil for all) and [Options.Only].
func (s *Scheduler) Scenarios(only *regexp.Regexp) []config.Scenario {
	var out []config.Scenario
	for _, sc := range s.cfg.Load().cfg.ShardScenarios() {
		if s.opts.Only != nil && !s.opts.Only.MatchString(sc.Name) {
			continue
		}
		if only != nil && !only.MatchString(sc.Name) {
			continue
		}
		out = append(out, sc)
	}
	return out
}

// newRunID returns a run ID for a run starting at t; s.running is held.
func (s *Scheduler) newRunID(t time.Time) string {
	id := t.UTC().Format("20060102T150405Z")
	if strings.HasPrefix(s.lastID, id) {
		s.idSuffix++
		s.lastID = fmt.Sprintf("%s-%d", id, s.idSuffix)
		return s.lastID
	}
	s.idSuffix = 0
	s.lastID = id
	return id
}

// cutSuffix splits a run ID "BASE-N" into BASE and N.
func cutSuffix(id string) (string, int, bool) {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return id, 0, false
	}
	n, err := strconv.Atoi(id[i+1:])
	if err != nil || n <= 0 {
		return id, 0, false
	}
	return id[:i], n, true
}

// execute performs one run with the current configuration; s.running is held.
func (s *Scheduler) execute(ctx context.Context, trigger string, due time.Time, only *regexp.Regexp) *RunReport {
	st := s.cfg.Load()
	scenarios := s.Scenarios(only)
	start := time.Now()
	seed := s.opts.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	rep := &RunReport{RunInfo: RunInfo{ID: s.newRunID(start), Trigger: trigger, Start: start, Scheduled: due, Scenarios: scenarios, Seed: seed}}
	rep.segmentStarts = SegmentStarts(scenarios, due, start, st.cfg.Shards.Slack())
	if s.opts.Recorder != nil {
		if id := s.opts.Recorder.RecordRun(rep.RunInfo); id != "" && id != rep.ID {
			rep.ID = id
			s.lastID = id // the next run in this second proposes a higher suffix
			if _, n, ok := cutSuffix(id); ok {
				s.idSuffix = n
			}
		}
	}
	log := s.log.With("run_id", rep.ID)
	log.Info("run started", "trigger", trigger, "scenarios", len(scenarios), "seed", seed)
	s.opts.Observer.RunStarted(ctx, &rep.RunInfo)

	svcs := &services{cfg: st.cfg, ready: st.ready, log: log, running: map[string]*proc.Process{}, failed: map[string]error{}}
	defer svcs.stopAll()

	for i := 0; i < len(scenarios); {
		j := i
		for j < len(scenarios) && scenarios[j].Target == scenarios[i].Target {
			j++
		}
		if ctx.Err() != nil {
			break
		}
		s.runTarget(ctx, log, st, svcs, rep, scenarios[i:j], i)
		i = j
	}
	rep.Err = ctx.Err()
	rep.End = time.Now()
	log.Info("run finished", "outcome", rep.Outcome(), "failed_scenarios", rep.Failed(),
		"duration_seconds", rep.End.Sub(rep.Start).Seconds())
	s.opts.Observer.RunFinished(ctx, rep)
	return rep
}

// runTarget runs the scenarios of one target, all consecutive in the
// matrix, starting its services and managed process first and always
// stopping the process afterwards.
func (s *Scheduler) runTarget(ctx context.Context, log *slog.Logger, st *state, svcs *services, rep *RunReport, group []config.Scenario, offset int) {
	name := group[0].Target
	cfg := st.cfg
	t := cfg.Target(name)
	tr := &targetRun{s: s, cfg: cfg, target: t, log: log.With("target", name), ready: st.ready.targets[name]}
	if err := svcs.ensure(ctx, t.Services); err != nil {
		tr.err = fmt.Errorf("scheduler: target %s: %w", name, err)
	}
	defer tr.stop(ctx)
	stack := s.stackSettings(cfg, t) // before the start: what the target will run
	tr.start(ctx)

	// Repeats are interleaved: round after round, each visiting every
	// scenario of the target that has a repeat left, in an order shuffled
	// per round, so that a slow minute of the machine spreads over all
	// of them. Each scenario's result is reported after its last repeat.
	runs := make([]*scenarioRun, len(group))
	rounds := 0
	for k, sc := range group {
		runs[k] = &scenarioRun{
			res: &ScenarioResult{RunID: rep.ID, Scenario: sc, Index: offset + k, Total: len(rep.Scenarios),
				Settings: scenarioSettings(st.settings[sc.Name], stack)},
			repeats: max(sc.Load.Repeats, 1),
		}
		rounds = max(rounds, runs[k].repeats)
	}
	order := newRoundOrder(rep.Seed, name, rounds)
	var finished []*ScenarioResult
	visited := false
rounds:
	for round := range rounds {
		for _, k := range order.next(runs, round) {
			if ctx.Err() != nil {
				break rounds
			}
			sr := runs[k]
			tr.prepare(ctx, visited)
			visited = true
			now := time.Now()
			if sr.res.Start.IsZero() {
				sr.res.Start = now
			}
			s.opts.Observer.ScenarioStarted(ctx, &ScenarioStart{RunID: rep.ID, Scenario: sr.res.Scenario,
				Index: sr.res.Index, Total: sr.res.Total, Repeat: round + 1, Repeats: sr.repeats, Start: now})
			switch {
			case tr.err != nil:
				sr.res.Err, sr.done = tr.err, true
			case sr.res.Scenario.Instructions != nil:
				s.countInstructions(ctx, tr, sr)
			default:
				if at, ok := rep.segmentStarts[sr.res.Scenario.Name]; ok && len(sr.rs) == 0 {
					tr.waitSegmentStart(ctx, sr.res.Scenario, at)
				}
				s.runRepeat(ctx, tr.proc, svcs.processes(), sr)
			}
			sr.res.End = time.Now()
			if sr.done {
				finished = append(finished, s.finishScenario(ctx, tr.log, ValidityOptions(tr.cfg), sr))
			}
		}
	}
	// A run stopped between rounds still reports what its begun
	// scenarios measured.
	for _, sr := range runs {
		if !sr.done && !sr.res.Start.IsZero() {
			sr.done = true
			finished = append(finished, s.finishScenario(ctx, tr.log, ValidityOptions(tr.cfg), sr))
		}
	}
	slices.SortFunc(finished, func(a, b *ScenarioResult) int { return a.Index - b.Index })
	rep.Results = append(rep.Results, finished...)
}

// finishScenario merges the repeats of a scenario whose last repeat has
// run (or that failed, or whose run was stopped), logs it and tells the
// Observer.
func (s *Scheduler) finishScenario(ctx context.Context, log *slog.Logger, o regress.ValidityOptions, sr *scenarioRun) *ScenarioResult {
	sr.merge()
	res := sr.res
	scLog := log.With("scenario", res.Scenario.Name)
	switch {
	case res.Err != nil && ctx.Err() != nil:
		res.Err = fmt.Errorf("%w: %w", ErrInterrupted, res.Err)
		scLog.Info("scenario interrupted", "err", res.Err)
	case res.Err != nil:
		scLog.Error("scenario failed", "err", res.Err)
	default:
		// Nothing completed (nothing listens, every request failed or
		// timed out) is a result, not a failure, but worth a look.
		attrs := []any{"requests_per_second", res.Result.RequestsPerSecond(),
			"requests", res.Result.Completed(), "errors", res.Result.TotalErrors(),
			"timeouts", res.Result.Errors[engine.KindTimeout], "unexpected", res.Result.Unexpected,
			"sched_latency_p99_seconds", res.SchedLatencyP99.Seconds(),
			"max_repeat_foreign_cpu_ratio", res.MaxForeignCPURatio()}
		if c := res.CPUSecondsPerRequest(); c > 0 {
			attrs = append(attrs, "target_cpu_seconds_per_request", c)
		}
		if n := res.InstructionsPerRequest(); n > 0 {
			attrs = append(attrs, "instructions_per_request", n)
		}
		if res.Result.Completed() == 0 {
			scLog.Warn("scenario finished without a completed request", attrs...)
		} else {
			scLog.Info("scenario finished", attrs...)
		}
	}
	res.Record = res.BuildRecord(o)
	s.opts.Observer.ScenarioFinished(ctx, res)
	return res
}

// targetRun is the life of one target within a run: start → ready →
// (scenario, settle)* → stop, restarting the managed process when it died
// or did not settle. It is used by one goroutine.
type targetRun struct {
	s      *Scheduler
	cfg    *config.Config
	target *config.Target
	log    *slog.Logger
	ready  targetCheck // the readiness and settle checks, compiled
	// proc is the running managed process; nil when the target is not
	// managed, not started yet, stopped, or failed to start.
	proc *proc.Process
	// err says why the target cannot run scenarios (a service or the
	// process did not start); once set it stays for the rest of the run.
	err error
	// callgrindDir is where an instruction lane's process writes its
	// callgrind dumps while it runs; "" for a load target.
	callgrindDir string
}

// start starts the managed process, unless the target is unmanaged or
// cannot run; a failure sets tr.err.
func (tr *targetRun) start(ctx context.Context) {
	if tr.err != nil || tr.target.Process == nil {
		return
	}
	obs, name := tr.s.opts.Observer, tr.target.Name
	obs.TargetStarting(ctx, name)
	spec := processSpec(tr.cfg, tr.target, tr.ready, tr.log)
	var err error
	if tr.target.Instructions != nil {
		spec, err = tr.laneSpec(spec)
	}
	var p *proc.Process
	if err == nil {
		p, err = proc.Start(ctx, spec)
	}
	if err != nil {
		tr.removeCallgrindDir()
		tr.err = err
		if ctx.Err() != nil {
			return // cancelled, not failed
		}
		tr.log.Error("target failed to start", "err", err)
		obs.TargetFailed(ctx, name, err)
		obs.TargetChanged(ctx, name, false)
		return
	}
	tr.proc = p
	tr.log.Info("target ready", "pid", p.PID())
	obs.TargetChanged(ctx, name, true)
}

// laneSpec returns spec run under callgrind, with a new dump directory
// in tr.callgrindDir; the error names what to install when valgrind is
// missing.
func (tr *targetRun) laneSpec(spec proc.Spec) (proc.Spec, error) {
	if err := callgrind.Check("", callgrindControl); err != nil {
		return spec, fmt.Errorf("scheduler: target %s: %w", tr.target.Name, err)
	}
	dir, err := makeCallgrindDir()
	if err != nil {
		return spec, err
	}
	tr.callgrindDir = dir
	return laneProcessSpec(spec, dir), nil
}

// removeCallgrindDir removes the lane's dump directory, if any.
func (tr *targetRun) removeCallgrindDir() {
	if tr.callgrindDir == "" {
		return
	}
	if err := os.RemoveAll(tr.callgrindDir); err != nil {
		tr.log.Warn("remove callgrind output", "err", err)
	}
	tr.callgrindDir = ""
}

// stop stops the managed process if it runs, even when ctx is done.
func (tr *targetRun) stop(ctx context.Context) {
	if tr.proc == nil {
		return
	}
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	if err := tr.proc.Stop(stopCtx); err != nil {
		tr.log.Warn("target stop", "err", err)
	}
	tr.removeCallgrindDir()
	tr.proc = nil
	tr.s.opts.Observer.TargetChanged(ctx, tr.target.Name, false)
}

// prepare readies the target for a scenario: a process that died (during
// the previous scenario) or, after one (afterScenario), does not settle is
// started afresh.
func (tr *targetRun) prepare(ctx context.Context, afterScenario bool) {
	if tr.proc == nil {
		return
	}
	select {
	case <-tr.proc.Exited():
		tr.log.Warn("target exited, restarting", "err", tr.proc.ExitErr())
	default:
		if !afterScenario || tr.settle(ctx) || ctx.Err() != nil {
			return
		}
		tr.log.Warn("target did not settle after the previous scenario, restarting", "settle_timeout", tr.s.opts.SettleTimeout)
	}
	tr.stop(ctx)
	tr.start(ctx)
}

// settle reports whether the target answers its readiness check promptly
// again ([Scheduler.settle]).
func (tr *targetRun) settle(ctx context.Context) bool {
	return tr.s.settle(ctx, tr.log, tr.ready.url(), tr.ready.tls)
}

// settle waits until the http(s) readiness URL of a managed target answers
// (verified with tlsConfig, nil meaning Go's default)
// 2xx within settleProbeTimeout, for at most Options.SettleTimeout. It
// reports whether the target settled; a readiness check that is not over
// HTTP, or settling switched off, counts as settled.
func (s *Scheduler) settle(ctx context.Context, log *slog.Logger, readyURL string, tlsConfig *tls.Config) bool {
	if s.opts.SettleTimeout < 0 || !strings.HasPrefix(readyURL, "http") {
		return true
	}
	client := &http.Client{Timeout: settleProbeTimeout, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true, TLSClientConfig: tlsConfig}}
	defer client.CloseIdleConnections()
	start := time.Now()
	deadline := start.Add(s.opts.SettleTimeout)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, readyURL, nil)
		if err != nil {
			return true
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				if waited := time.Since(start); waited > settleProbeTimeout {
					log.Info("target settled", "waited_seconds", waited.Seconds())
				}
				return true
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
	return false
}

// processSpec returns the spec of a target's managed process; ready is its
// compiled readiness check.
func processSpec(cfg *config.Config, t *config.Target, ready targetCheck, log *slog.Logger) proc.Spec {
	p := t.Process
	return proc.Spec{
		Name:         "target " + t.Name,
		Command:      p.Command,
		Dir:          cfg.ResolvePath(p.Dir),
		Env:          envList(p.Env),
		CleanEnv:     p.CleanEnv(),
		EnvAllow:     p.EnvAllow,
		Setup:        p.Setup,
		Ready:        ready.probe,
		ReadyTimeout: p.ReadyTimeout,
		StopTimeout:  p.StopTimeout,
		CPUs:         p.CPUs,
		Logger:       log,
	}
}

// envList turns an environment map into sorted KEY=VALUE pairs.
func envList(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// services starts the services of one run on demand and stops them at its end.
type services struct {
	cfg     *config.Config
	ready   *readyChecks
	log     *slog.Logger
	running map[string]*proc.Process
	failed  map[string]error
}

// ensure starts each named service not yet started in this run. A service
// that failed once in the run is not tried again: its error is returned.
func (v *services) ensure(ctx context.Context, names []string) error {
	for _, name := range names {
		if _, ok := v.running[name]; ok {
			continue
		}
		if err, ok := v.failed[name]; ok {
			return err
		}
		svc := v.cfg.Service(name)
		if svc == nil {
			err := fmt.Errorf("scheduler: service %s is not configured", name)
			v.failed[name] = err
			return err
		}
		p, err := proc.Start(ctx, proc.Spec{
			Name:         "service " + name,
			Command:      svc.Command,
			Dir:          v.cfg.ResolvePath(svc.Dir),
			Env:          envList(svc.Env),
			CleanEnv:     svc.CleanEnv(),
			EnvAllow:     svc.EnvAllow,
			Ready:        v.ready.services[name],
			ReadyTimeout: svc.ReadyTimeout,
			CPUs:         svc.CPUs,
			Logger:       v.log.With("service", name),
		})
		if err != nil {
			v.log.Error("service failed to start", "service", name, "err", err)
			v.failed[name] = err
			return err
		}
		v.log.Info("service ready", "service", name, "pid", p.PID())
		v.running[name] = p
	}
	return nil
}

// processes returns the services running in the run, in no order.
func (v *services) processes() []*proc.Process {
	out := make([]*proc.Process, 0, len(v.running))
	for _, p := range v.running {
		out = append(out, p)
	}
	return out
}

// stopAll stops every service started in the run.
func (v *services) stopAll() {
	for name, p := range v.running {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := p.Stop(ctx); err != nil {
			v.log.Warn("service stop", "service", name, "err", err)
		}
		cancel()
	}
}

// sampler measures the resource use of a target tree and of benchd during
// a scenario: CPU seconds used between start and stop, and the peak RSS
// seen by periodic samples.
type sampler struct {
	proc       *proc.Process
	target0    Usage
	self0      Usage
	peakTarget uint64
	peakSelf   uint64
	lastTarget Usage // the last successful sample of the target
	done       chan struct{}
	wg         sync.WaitGroup
}

func startSampler(proc *proc.Process, every time.Duration) *sampler {
	s := &sampler{proc: proc, done: make(chan struct{})}
	s.sample(true)
	s.wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.sample(false)
			}
		}
	})
	return s
}

// sample reads current use; first records the baseline.
func (s *sampler) sample(first bool) (target, self Usage) {
	if s.proc != nil {
		// Once the target has exited its tree cannot be read: keep the
		// last sample, so the CPU it used before dying still counts.
		target = s.lastTarget
		if u, err := s.proc.Usage(); err == nil {
			target, s.lastTarget = u, u
		}
	}
	if u, err := proc.SelfUsage(); err == nil {
		self = u
	}
	if first {
		s.target0, s.self0 = target, self
	}
	s.peakTarget = max(s.peakTarget, target.RSSBytes)
	s.peakSelf = max(s.peakSelf, self.RSSBytes)
	return target, self
}

// stop ends sampling and returns CPU seconds used and peak RSS.
func (s *sampler) stop() (target, self Usage) {
	close(s.done)
	s.wg.Wait()
	t, me := s.sample(false)
	// Live plus reaped CPU only grows while the leader lives, also when a
	// worker exits (its time moves to its parent's reaped total).
	treeCPU := func(u Usage) float64 { return u.CPUSeconds + u.ReapedCPUSeconds }
	target = Usage{CPUSeconds: max(0, treeCPU(t)-treeCPU(s.target0)), RSSBytes: s.peakTarget}
	self = Usage{CPUSeconds: max(0, me.CPUSeconds-s.self0.CPUSeconds), RSSBytes: s.peakSelf}
	if s.proc == nil {
		target = Usage{}
	}
	return target, self
}

// schedLatencies is the name of the Go runtime's scheduler latency histogram.
const schedLatencies = "/sched/latencies:seconds"

// readSchedLatencies returns a snapshot of the scheduler latency histogram.
func readSchedLatencies() *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: schedLatencies}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64Histogram {
		return nil
	}
	return s[0].Value.Float64Histogram()
}

// schedLatencyP99 returns the 99th percentile of the latencies recorded
// between two snapshots, as the upper bound of its bucket; 0 when unknown.
func schedLatencyP99(before, after *metrics.Float64Histogram) time.Duration {
	var acc schedAccum
	acc.add(before, after)
	return acc.p99()
}

// NopObserver is an [Observer] that does nothing. Embed it to implement
// only the methods an observer needs; the zero value is ready.
type NopObserver struct{}

// RunStarted does nothing.
func (NopObserver) RunStarted(context.Context, *RunInfo) {}

// TargetStarting does nothing.
func (NopObserver) TargetStarting(context.Context, string) {}

// TargetChanged does nothing.
func (NopObserver) TargetChanged(context.Context, string, bool) {}

// TargetFailed does nothing.
func (NopObserver) TargetFailed(context.Context, string, error) {}

// ScenarioStarted does nothing.
func (NopObserver) ScenarioStarted(context.Context, *ScenarioStart) {}

// ScenarioFinished does nothing.
func (NopObserver) ScenarioFinished(context.Context, *ScenarioResult) {}

// RunFinished does nothing.
func (NopObserver) RunFinished(context.Context, *RunReport) {}

// RunSkipped does nothing.
func (NopObserver) RunSkipped(context.Context, time.Time) {}

// NextRun does nothing.
func (NopObserver) NextRun(context.Context, time.Time) {}
