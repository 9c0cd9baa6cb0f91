// Package regress decides, from the history of per-run summaries of each
// scenario, whether a scenario has regressed, and finds where a series shifted.
//
// It is pure statistics: series in, verdicts out. It does no I/O, keeps no
// state between calls and imports no other benchd package but the result
// record it reads signals from ([Signal.Value]). Its caller (the pipeline
// package's Detector, which keeps the series as results pass) calls
// [Detect] after every run and hands the verdicts to the exporters and the
// API.
//
// # Method
//
// The unit is the run: one value per scenario, signal and run (requests per
// second, latency p50 and p99, error ratio, timeout ratio), never individual
// requests. After every run, [Detect] compares, for each series, the newest
// Confirm valid runs with a baseline of up to BaselineRuns valid runs before
// them. The baseline starts after the last run a human accepted
// ([Point].Accepted) or after the last change point towards the better
// direction that has enough runs behind it, and it ends before the first
// change point towards the worse direction, so that a regression keeps its
// pre-regression baseline until someone accepts it. The comparison is on
// log values, against the baseline's median and noise (the larger of its
// MAD and standard deviation): by default the least worse of the newest
// runs, with the chance that that many null runs all lie at least that far
// out ([MethodLeastWorse]); or their mean with a Student t reference
// ([MethodRobustZ]); or a Mann-Whitney U test ([MethodMannWhitney], from
// golang.org/x/perf/benchmath). A series regresses
// when, at once: the Benjamini-Hochberg adjusted p-value across all tests of
// the call is at most Options.FDR; the median of the newest runs is worse than
// the baseline median by at least the signal's minimum effect (relative) and
// by at least its absolute floor; and every one of the newest runs is worse
// than the baseline median, by at least that floor (confirmation). Invalid runs ([Point].Valid false,
// see [Validity]) stay in the history but are excluded from baselines, tests
// and change points, so they never trigger.
//
// [ChangePoints] is a windowed E-Divisive means pass with Student's t-test as
// the significance test, after Hunter (Fleming et al., ICPE 2023) and Apache
// Otava. It is implemented here because no Go library provides it.
//
// docs/regressions.md gives the sources of the defaults, the measured noise
// of this machine and the detection rates it allows.
//
// # Concurrency
//
// Every function is safe for concurrent use; none keeps or modifies the
// slices and maps passed to it.
package regress
