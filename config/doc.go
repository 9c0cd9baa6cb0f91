// Package config is benchd's configuration: the YAML schema, its defaults,
// strict loading, validation and the embedded default matrix.
//
// A configuration names targets (systems under test, optionally started and
// stopped by benchd), endpoints (paths with load settings), the services the
// targets need, and one cron schedule for the whole matrix. [Config.Scenarios]
// expands it into the matrix of (target, mode, endpoint) cells, each with its
// load settings resolved, in the order a run executes them.
//
// # Loading
//
// [Load] and [Parse] apply the DefaultX values, decode strictly (unknown keys
// are errors), then call [Config.Validate], so a returned *Config is valid and
// its cron schedule compiled. Every problem is reported at once, each as a
// [*FieldError] that starts with its YAML path, for example
//
//	targets[2].process.ready_timeout: must be more than 0, got 0s (how long the server may take to start, such as 30s)
//
// [Config.Warnings] lists what is legal but probably unintended.
// docs/configuration.md documents every key.
//
// # What it does not do
//
// It starts no process and sends no request: the scheduler does that with
// what [Config.Scenarios] returns. Its file system use is reading the config
// file, stat calls in [Config.Warnings] (a managed process's dir that does
// not exist), and the path of benchd's own executable (os.Executable) for
// the {benchd} placeholder. It imports no other benchd package.
//
// # Concurrency
//
// A *Config is a plain value. Once loaded it may be read from many goroutines
// at once; [Config.Validate] is the only method that writes to it (it caches
// the compiled schedule), so do not call it concurrently with other methods.
package config
