// Package store keeps benchd's run history: every run of the matrix and every
// scenario result of that run (counts, latency percentiles, the encoded HDR
// histogram, resource use), so that reports, the HTTP API and the regression
// detector can look back in time.
//
// [Store] is the small interface the rest of benchd programs against; [SQLite]
// is its one implementation, an embedded SQLite database (modernc.org/sqlite,
// no cgo) in a single file, benchd.db, inside the storage directory. The
// package does not know about the engine, the scheduler or HTTP: a
// [Scenario] is the result record (package result) its callers build.
//
// # Life of a run
//
// [Store.BeginRun] records a run as running, [Store.SaveScenario] adds one
// scenario result per transaction as soon as it is known, and
// [Store.FinishRun] marks the run success or failed. A crash (kill -9, power
// loss) between those calls loses nothing that was saved: the scenarios
// already committed stay, whole, and the next [Open] marks the run that was
// left running as aborted. A run is never shown as finished unless FinishRun
// committed.
//
// # Crash safety
//
// The database runs in WAL mode with synchronous=FULL, so each committed
// transaction is on disk before the call returns; a failed write (full disk,
// I/O error) rolls its transaction back and returns an error. Schema
// migrations are in code, forward only, one transaction each.
//
// # Concurrency
//
// A [SQLite] is safe for concurrent use by multiple goroutines. Writes are
// serialised on one connection; reads use a small pool of their own and see
// a consistent snapshot while a write is going on. Only one process may open
// a storage directory for writing at a time (an advisory lock on
// benchd.lock); read-only opens ([Options.ReadOnly]) take no lock and may run
// beside the daemon.
package store
