package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestLoadBad loads every testdata/*.bad.yml and checks that each expected
// problem is reported, at its path, in one error.
func TestLoadBad(t *testing.T) {
	tests := []struct {
		file string
		// problems is how many problems the error lists; 0 for an error
		// that is not a list of problems (a YAML syntax error).
		problems int
		want     []string
	}{
		{"unknown-key.bad.yml", 6, []string{
			`verbose: unknown key "verbose" (valid keys: schedule, run_on_start, title, defaults, services, targets, endpoints, cpus, api, regression, shards) [line 2]`,
			`services[0].readyness: unknown key "readyness" (valid keys: name, command, dir, env, inherit_env, env_allow, ready, ready_timeout, cpus) [line 7]`,
			`targets[0].procss: unknown key "procss" (did you mean "process"?) [line 11]`,
			`targets[1].process.ready_timout: unknown key "ready_timout" (did you mean "ready_timeout"?) [line 17]`,
			`targets[1].overrides.root.connectons: unknown key "connectons" (did you mean "connections"?) [line 19]`,
			`endpoints[0].conections: unknown key "conections" (did you mean "connections"?) [line 23]`,
		}},
		{"bad-regression.bad.yml", 6, []string{
			`regression.max_foreign_cpu: 1.5 is not a share of 0 to 1`,
			`regression.max_late_ratio: 2 is above 1`,
			`regression.confirm: -1 is negative`,
			`regression.min_effect.latency_p95: unknown signal (use one of throughput, latency_p50, latency_p99, error_ratio, timeout_ratio, cpu_per_request, instructions_per_request)`,
			`regression.min_effect.throughput: -0.1: want a relative change of zero or more`,
			`regression.fdr: 1.5 is outside [0, 1)`,
		}},
		{"bad-instructions.bad.yml", 8, []string{
			`targets[0].instructions: needs targets[].process`,
			`targets[0].instructions.endpoints[1]: no endpoint is named "jsn" (did you mean "json"?)`,
			`targets[0].instructions.endpoints[2]: endpoint "json" is listed twice`,
			`targets[0].instructions.requests: -1 is outside 1 to 100000`,
			`targets[0].instructions.warmup_requests: -2 is outside -1 (none) to 100000`,
			`targets[0].instructions.connections: 50 is outside 1 to 8`,
			`targets[0].instructions.timeout: -1s is negative`,
			`targets[1].instructions.endpoints: is required`,
		}},
		{"bad-thresholds.bad.yml", 7, []string{
			`defaults.thresholds.latency_p99: want a latency with a unit, such as 250ms or 1.5s, got "250" [line 2]`,
			`defaults.thresholds.timeout_ratio: 1.5 is outside [0, 1)`,
			`targets[0].overrides.root.thresholds.throughput: 0 requests/s: a minimum throughput must be more than 0 (such as 1000; leave the threshold out for none) [line 7]`,
			`endpoints[0].thresholds.latncy_p50: unknown signal "latncy_p50" (did you mean "latency_p50"?) [line 12]`,
			`endpoints[0].thresholds.error_ratio: 1 is outside [0, 1)`,
			`endpoints[0].thresholds.latency_p50: want the threshold of latency_p50 as one value, got a list [line 14]`,
			`endpoints[1].thresholds: want a mapping of signals to thresholds, such as {latency_p99: 250ms, timeout_ratio: 0.01}, got "0.01" [line 17]`,
		}},
		{"bad-duration.bad.yml", 4, []string{
			`defaults.duration: want a duration with a unit, such as 10s, 1m30s or 500ms, got "10 seconds" [line 3]`,
			`defaults.timeout: want a duration with a unit, such as 10s, 1m30s or 500ms, got "5" [line 4]`,
			`targets[0].process.ready_timeout: want a duration with a unit, such as 10s, 1m30s or 500ms, got "1d" [line 10]`,
			`endpoints[0].warmup: want a duration with a unit, such as 10s, 1m30s or 500ms, got a list [line 14]`,
		}},
		// defaults.warmup -1s is the engine's to report: the plan table
		// in cmd/benchd.
		{"bad-duration-range.bad.yml", 5, []string{
			`services[0].ready_timeout: must be more than 0, got -5s`,
			`targets[0].process.ready_timeout: must be more than 0, got 0s`,
			`targets[0].process.stop_timeout: must be more than 0, got -3s`,
			`endpoints[0].duration: must be more than 0, got 0s`,
			`endpoints[0].timeout: must be more than 0, got 0s`,
		}},
		{"bad-cron.bad.yml", 1, []string{
			// The cron parser's own reason, then how to fix it.
			`schedule: invalid cron spec "61 * * * *": end of range (61) above maximum (59)`,
			`or a descriptor such as @hourly or @every 30m)`,
		}},
		{"every-negative.bad.yml", 1, []string{`schedule: "@every -30m": the interval must be at least 1s, got -30m0s`}},
		{"never-fires.bad.yml", 1, []string{`schedule: cron spec "0 0 30 2 *" never fires`}},
		{"duplicate-name.bad.yml", 4, []string{
			`services[1].name: "redis" is already the name of services[0] (names must be unique)`,
			`targets[0].services[1]: service "redis" is listed twice`,
			`targets[1].name: "local" is already the name of targets[0]`,
			`endpoints[1].name: "root" is already the name of endpoints[0]`,
		}},
		{"unknown-override.bad.yml", 3, []string{
			`targets[0].overrides.jsn: no endpoint is named "jsn" (did you mean "json"?)`,
			`targets[0].overrides.nothing_like_it: no endpoint is named "nothing_like_it" (endpoints: root, json)`,
			`targets[0].overrides.root.connections: must be at least 1, got 0`,
		}},
		{"unknown-service.bad.yml", 2, []string{
			`targets[0].services[0]: no service is named "reddis" (did you mean "redis"?)`,
			`targets[0].services[1]: no service is named "postgres" (services: redis)`,
		}},
		{"mode-without-modes.bad.yml", 4, []string{
			`endpoints[0].path: "/myapp/{mode}/json" has {mode}, but target "plain" has no modes to put there (give targets[0] modes`,
			`endpoints[1].modes: target "plain" has no modes, so it cannot run an endpoint restricted to modes`,
			`endpoints[2].modes[0]: "asnyc" is not a mode of any target (did you mean "async"?)`,
		}},
		{"bad-names.bad.yml", 10, []string{
			`title: "two\nlines" contains a line break`,
			`services[0].name: is required`,
			`targets[0].name: "Gunicorn" is not a valid name (use lower-case letters`,
			`targets[0].modes[0]: "Sync" is not a valid mode`,
			`targets[0].modes[1]: "a/b" is not a valid mode`,
			`targets[0].modes[3]: mode "sync" is listed twice`,
			`targets[1].name: is required`,
			`endpoints[0].name: "-json" is not a valid name`,
			`endpoints[1].name: "json query" is not a valid name`,
			`endpoints[2].title: "two\nlines" contains a line break`,
		}},
		{"bad-shards.bad.yml", 1, []string{
			`shards.count: 1001 is not a shard count of 1 to 1000`,
		}},
		{"bad-split.bad.yml", 3, []string{
			`shards.start_slack: -1s is not a slack of 0 to 24h0m0s`,
			`endpoints[0].split: scenario t/-/few has 3 connections, fewer than the 4 shards: each shard's segment needs one (raise connections, or remove split)`,
			`endpoints[1].split: scenario t/-/rep has repeats 2: a split scenario runs once per run, on every shard at once (remove split, or set repeats to 1)`,
		}},
		{"bad-api.bad.yml", 3, []string{
			`api.write_users[1]: is empty (write a user name of basic_auth_users in --web.config.file, or remove the item)`,
			`api.write_users[2]: "bob:x": a basic-auth user name cannot contain ':' or a line break`,
			`api.write_users[3]: user "alice" is listed twice (remove one)`,
		}},
		{"bad-url.bad.yml", 7, []string{
			`targets[0].url: "ftp://127.0.0.1/" is not an absolute http:// or https:// URL`,
			`targets[1].url: "127.0.0.1:8080" is not an absolute URL (write it as http://host:port)`,
			`targets[2].url: "http:///path" has no host`,
			`targets[3].url: "http://127.0.0.1:8080/?a=b" has a query or fragment`,
			`targets[4].url: "http://user:xxxxx@127.0.0.1:8080" has user information`,
			`targets[5].url: is required`,
			`targets[6].url: "http://[::1" is not a valid URL: missing ']' in host`,
		}},
		{"bad-cpus.bad.yml", 4, []string{
			`cpus: "1-0": the range ends before it starts (want a CPU list such as "0", "0-1" or "0,2-3")`,
			`services[0].cpus: "x": "x" is not a CPU number`,
			`targets[0].process.cpus: "": "" is not a CPU number`,
			`targets[1].process.cpus: "1024": CPU 1024 is above 1023`,
		}},
		{"bad-ready.bad.yml", 7, []string{
			`services[0].ready: is required (tcp://host:port or an http:// or https:// URL)`,
			`services[1].ready: "tcp://127.0.0.1" needs a host and a port`,
			`services[2].ready: "tcp://127.0.0.1:99999" has port "99999", not a number from 1 to 65535`,
			`services[3].ready: "tcp://127.0.0.1:6379/x" has more than host and port`,
			`services[4].ready: "/healthz" is not a readiness check (want tcp://host:port or an http:// or https:// URL)`,
			`targets[0].process.ready: "healthz" is not a readiness check (want a path on the target URL such as /healthz`,
			`targets[1].process.ready: "http:///healthz" has no host`,
		}},
		// What the engine can run (method and header syntax, negative
		// threads and warm-up, rates) is the engine's check, run by
		// cmd/benchd through LoadWith: see the plan table there, which
		// loads this file too.
		{"bad-load.bad.yml", 7, []string{
			`defaults.connections: must be at least 1, got 0`,
			`defaults.repeats: must be from 1 (run once) to 100, got 0`,
			`endpoints[0].repeats: must be from 1 (run once) to 100, got 101`,
			`endpoints[0].threads: 8 threads is more than 4 connections (set in endpoints[0].connections)`,
			`endpoints[1].connections: 2000000 is more than 1000000`,
			`endpoints[1].duration: 25h0m0s is more than 24h0m0s`,
			`targets[0].overrides.huge.method: is empty (remove it to send GET`,
		}},
		// A body check on HEAD and a bound above the engine's body cap
		// are the engine's to report: the plan table in cmd/benchd.
		{"bad-expect.bad.yml", 7, []string{
			`defaults.on_timeout: "retry" is not a timeout policy: use reconnect (close the connection and open a new one, the default) or wait (keep it, idle, until the late answer arrives)`,
			`endpoints[0].expect.status[1]: 99 is not an HTTP status code (give one from 100 to 599, such as 200 or 301)`,
			`endpoints[0].expect.status[2]: 600 is not an HTTP status code`,
			`endpoints[0].expect.status[3]: 200 is listed twice (also at endpoints[0].expect.status[0]; keep one)`,
			`endpoints[0].expect.body_size.max: 10 is less than min 20: no body could pass (swap them?)`,
			`endpoints[1].expect.body_size: sets no bound (give min, max or both in bytes, or remove it)`,
			`endpoints[2].expect.body_size.min: must not be negative, got -1`,
		}},
		{"bad-expect-type.bad.yml", 2, []string{
			`endpoints[0].expect.status[0]: want a whole number, got "ok" [line 9]`,
			`endpoints[0].expect.body_size: `,
		}},
		{"bad-path.bad.yml", 5, []string{
			`endpoints[0].path: "myapp/json" does not start with / (write it as /myapp/json)`,
			`endpoints[1].path: "/myapp/{target}/json" has braces other than {mode}`,
			`endpoints[2].path: "/my app" contains a space or control character at byte 3`,
			`endpoints[3].path: "/page#top" has a #fragment`,
			`endpoints[4].path: is required`,
		}},
		{"bad-env.bad.yml", 5, []string{
			`services[0].env_allow: has no effect while inherit_env is true (the default): the whole environment is inherited; set inherit_env: false or remove env_allow`,
			`targets[0].process.env_allow[1]: variable name is empty`,
			`targets[0].process.env_allow[2]: variable name "HOME=/root" contains '=' or NUL (give the name only, such as PATH; values go in env)`,
			`targets[0].process.env_allow[3]: variable "PATH" is listed twice (remove one)`,
			`targets[1].process.env_allow: has no effect while inherit_env is true (the default)`,
		}},
		{"bad-command.bad.yml", 5, []string{
			`services[0].command: is required (the program and its arguments, run without a shell`,
			`targets[0].process.command[0]: the program is empty`,
			`targets[0].process.env[""]: variable name is empty`,
			`targets[0].process.env["A=B"]: variable name "A=B" contains '=' or NUL`,
			`targets[0].process.setup[1]: is required`,
		}},
		{"bad-headers.bad.yml", 4, []string{
			`endpoints[0].headers[0]: want a "Name: value" string, got "Accept application/json" (add a colon after the header name) [line 5]`,
			`endpoints[0].headers[1]: want a "Name: value" string, got a list [line 5]`,
			`endpoints[1].headers.Accept: want the value of header "Accept" as a string, got a list [line 8]`,
			`endpoints[2].headers: want a mapping of header names to values or a list of "Name: value" strings, got "Accept: */*" [line 11]`,
		}},
		{"wrong-type.bad.yml", 5, []string{
			`run_on_start: want true or false, got "maybe" [line 1]`,
			`targets[0].modes: want a list of strings, such as [a, b], got "sync" [line 5]`,
			`targets[0].process: want a mapping with keys command, dir, env, inherit_env, env_allow, setup, ready, ready_timeout, stop_timeout, cpus, got a list [line 6]`,
			`targets[0].overrides: want a mapping of endpoint names to load settings, got a list [line 7]`,
			`endpoints: want a list of endpoints, got "root" [line 8]`,
		}},
		// yaml.v3 truncates 2.5 to 2 in an int field without a word.
		{"fraction.bad.yml", 4, []string{
			`defaults.repeats: want a whole number, got "2.5" (it is not rounded; write 2 or 3) [line 2]`,
			`targets[0].overrides.root.threads: want a whole number, got "1.5" (it is not rounded; write 1 or 2) [line 7]`,
			`endpoints[0].connections: want a whole number, got "4.7" (it is not rounded; write 4 or 5) [line 11]`,
			`regression.confirm: want a whole number, got "1.2" (it is not rounded; write 1 or 2) [line 15]`,
		}},
		{"duplicate-key.bad.yml", 1, []string{`targets[0].url: key "url" is given twice, first at line 3 (keep one) [line 4]`}},
		// yaml.v3 skips a mapping with a key given twice, the document's
		// too, hiding every problem inside: each is reported.
		{"duplicate-key-form.bad.yml", 6, []string{
			`schedule: key "schedule" is given twice, first at line 2 (keep one) [line 4]`,
			`targets[0].url: key "url" is given twice, first at line 7 (keep one) [line 9]`,
			`endpoints[0].path: key "path" is given twice, first at line 11 (keep one) [line 11]`,
			`run_on_start: want true or false, got "maybe" [line 3]`,
			`targets[0].procss: unknown key "procss" (did you mean "process"?) [line 8]`,
			`endpoints[0].conections: unknown key "conections" (did you mean "connections"?) [line 11]`,
		}},
		// With no other problem of form, the content is checked too, as
		// the key's last occurrence gives it.
		{"duplicate-key-problems.bad.yml", 5, []string{
			`targets[0].url: key "url" is given twice, first at line 5 (keep one) [line 6]`,
			`endpoints[1].path: key "path" is given twice, first at line 10 (keep one) [line 12]`,
			`targets[0].url: "127.0.0.1:8081" is not an absolute URL`,
			`endpoints[0].connections: must be at least 1, got 0`,
			`endpoints[1].duration: must be more than 0, got 0s`,
		}},
		// yaml.v3 says "line 1" (the line before the list, 0-based).
		{"syntax.bad.yml", 1, []string{"YAML syntax error: did not find expected '-' indicator (check the indentation and quoting of this line and the one before) [line 3]"}},
		{"syntax-scanner.bad.yml", 1, []string{"YAML syntax error: found character that cannot start any token (check the indentation and quoting of this line and the one before) [line 4]"}},
		{"empty.bad.yml", 2, []string{
			`targets: at least one target is required`,
			`endpoints: at least one endpoint is required`,
		}},
		{"two-docs.bad.yml", 1, []string{`more than one YAML document: the second starts here (remove it and its ---, or move it to a file of its own) [line 3]`}},
		// The second document is reported with the first one's problems,
		// which it used to hide.
		{"two-docs-problems.bad.yml", 3, []string{
			`targets[0].url: "127.0.0.1:8080" is not an absolute URL`,
			`endpoints[0].connections: must be at least 1, got 0`,
			`more than one YAML document: the second starts here (remove it and its ---, or move it to a file of its own) [line 3]`,
		}},
		{"two-docs-form.bad.yml", 2, []string{
			`run_on_start: want true or false, got "maybe" [line 2]`,
			`more than one YAML document: the second starts here (remove it and its ---, or move it to a file of its own) [line 5]`,
		}},
		{"many-problems.bad.yml", 8, []string{
			`schedule: invalid cron spec "every hour": expected exactly 5 fields, found 2`,
			`defaults.connections: must be at least 1, got -1`,
			`services[0].ready_timeout: must be more than 0, got 0s`,
			`targets[0].services[0]: no service is named "cache" (services: redis)`,
			`targets[0].overrides.nope: no endpoint is named "nope" (endpoints: json)`,
			`targets[1].name: "web" is already the name of targets[0]`,
			`endpoints[0].path: "/{mode}/json" has {mode}, but target "web" has no modes to put there (give targets[0] modes`,
			`endpoints[0].path: "/{mode}/json" has {mode}, but target "web" has no modes to put there (give targets[1] modes`,
		}},
	}
	listed := map[string]bool{}
	for _, tt := range tests {
		listed[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			c, err := Load(path)
			if err == nil {
				t.Fatalf("Load(%s) = %+v, nil; want an error", path, c)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "config: "+path+": ") {
				t.Errorf("error does not start with %q:\n%s", "config: "+path+": ", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error lacks %q; got:\n%s", w, msg)
				}
			}
			fields := fieldErrorsOf(err)
			if len(fields) != tt.problems {
				t.Errorf("got %d problems, want %d:\n%s", len(fields), tt.problems, msg)
			}
			// Each problem is one line of the message, after the header.
			if tt.problems > 0 && strings.Count(msg, "\n") != tt.problems {
				t.Errorf("got %d lines of problems, want %d:\n%s", strings.Count(msg, "\n"), tt.problems, msg)
			}
		})
	}
	files, err := filepath.Glob("testdata/*.bad.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !listed[filepath.Base(f)] {
			t.Errorf("%s has no case in TestLoadBad", f)
		}
	}
}

// TestDuplicateKeys: a key given twice is reported at each later
// occurrence, with every other problem, whatever the mapping's style, the
// file's line breaks or the characters before the key; where the entry
// cannot be dropped (an anchor used later), yaml.v3's own report stands.
func TestDuplicateKeys(t *testing.T) {
	const target = "targets: [{name: t, url: 'http://127.0.0.1:1'}]\n"
	tests := []struct {
		name string
		yaml string
		want []string // each a problem, in the error's order
	}{
		{"three times", "targets: [{name: t, url: 'http://127.0.0.1:1', name: u, name: v}]\nendpoints: [{name: e, path: /}]", []string{
			`targets[0].name: key "name" is given twice, first at line 1 (keep one) [line 1]`,
			`targets[0].name: key "name" is given twice, first at line 1 (keep one) [line 1]`,
		}},
		{"in a key given twice", "targets:\n  - {name: t, url: 'http://127.0.0.1:1'}\ntargets:\n  - name: t\n    url: http://127.0.0.1:1\n    url: http://127.0.0.1:2\nendpoints: [{name: e, path: /}]", []string{
			`targets: key "targets" is given twice, first at line 1 (keep one) [line 3]`,
			`targets[0].url: key "url" is given twice, first at line 5 (keep one) [line 6]`,
		}},
		{"first key of a list item", target + "endpoints:\n  - path: /\n    name: e\n    path: /x\n    zzz: 1", []string{
			`endpoints[0].path: key "path" is given twice, first at line 3 (keep one) [line 5]`,
			`endpoints[0].zzz: unknown key "zzz" (valid keys: `,
		}},
		{"CRLF", "targets:\r\n  - name: t\r\n    url: http://127.0.0.1:1\r\n    url: http://127.0.0.1:2\r\nendpoints:\r\n  - {name: e, path: /, zzz: 1}\r\n", []string{
			`targets[0].url: key "url" is given twice, first at line 3 (keep one) [line 4]`,
			`endpoints[0].zzz: unknown key "zzz" (valid keys: `,
		}},
		{"characters of several bytes before", target + "endpoints: [{title: \"é → ü\", name: e, path: /, path: /x, zzz: 1}]", []string{
			`endpoints[0].path: key "path" is given twice, first at line 2 (keep one) [line 2]`,
			`endpoints[0].zzz: unknown key "zzz" (valid keys: `,
		}},
		{"byte order mark", "\xef\xbb\xbfendpoints: [{name: e, path: /, path: /x, zzz: 1}]\n" + target, []string{
			`endpoints[0].path: key "path" is given twice, first at line 1 (keep one) [line 1]`,
			`endpoints[0].zzz: unknown key "zzz" (valid keys: `,
		}},
		{"headers keep their own report", target + "endpoints: [{name: e, path: /, path: /x, headers: {A: b, A: c}}]", []string{
			`endpoints[0].path: key "path" is given twice, first at line 2 (keep one) [line 2]`,
			`endpoints[0].headers.A: header "A" given twice (first at line 2); use the list form`,
		}},
		{"anchor used later", "title: &t x\ntitle: y\n" + target + "endpoints: [{name: e, path: /, title: *t}]", []string{
			`title: key "title" is given twice, first at line 1 (keep one) [line 2]`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), t.TempDir())
			if err == nil {
				t.Fatal("Parse = nil error, want the problems")
			}
			got := fieldErrorsOf(err)
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(got), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(got[i].Error(), w) {
					t.Errorf("problem %d = %q, want it to start with %q", i, got[i].Error(), w)
				}
			}
		})
	}
}

// fieldErrorsOf returns the FieldErrors joined in err.
func fieldErrorsOf(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		// A tree walk of its own: errors.As would look through the wrapping
		// this function must see.
		if fe, ok := err.(*FieldError); ok { //nolint:errorlint // the node itself, not its chain
			out = append(out, fe)
			return
		}
		switch u := err.(type) { //nolint:errorlint // the node itself, not its chain
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			if e := u.Unwrap(); e != nil {
				walk(e)
			}
		}
	}
	walk(err)
	return out
}

func TestValidateReturnsFieldErrors(t *testing.T) {
	c := &Config{
		Schedule:  "@every 1h",
		Targets:   []Target{{Name: "t", URL: "http://127.0.0.1:1", Process: &Process{Command: []string{"x"}}}},
		Endpoints: []Endpoint{{Name: "e", Path: "/"}},
	}
	err := c.Validate()
	// Built by hand: the process durations were not defaulted by decoding.
	want := []string{"targets[0].process.ready_timeout", "targets[0].process.stop_timeout"}
	var got []string
	for _, fe := range fieldErrorsOf(err) {
		got = append(got, fe.Path)
		if !errors.Is(err, fe) {
			t.Errorf("errors.Is(err, %v) = false", fe)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Validate() paths = %q, want %q (err %v)", got, want, err)
	}
	c.Targets[0].Process.ReadyTimeout, c.Targets[0].Process.StopTimeout = time.Second, time.Second
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() after fix = %v", err)
	}
}

func TestLoadGood(t *testing.T) {
	tests := []struct {
		file      string
		scenarios []string
		check     func(t *testing.T, c *Config)
	}{
		{
			file:      "minimal.good.yml",
			scenarios: []string{"local/-/root"},
			check: func(t *testing.T, c *Config) {
				if c.Schedule != DefaultSchedule || c.RunOnStart != DefaultRunOnStart || c.Title != DefaultTitle {
					t.Errorf("schedule, run_on_start, title = %q, %v, %q; want the defaults", c.Schedule, c.RunOnStart, c.Title)
				}
				want := LoadSpec{Method: DefaultMethod, Connections: DefaultConnections, Threads: DefaultThreads,
					Duration: DefaultDuration, Timeout: DefaultTimeout, OnTimeout: OnTimeoutReconnect, Warmup: DefaultWarmup, Rate: DefaultRate}
				s := c.Scenarios()[0]
				if !loadEqual(s.Load, want) {
					t.Errorf("load = %+v, want the built-in defaults %+v", s.Load, want)
				}
				if s.URL != "http://127.0.0.1:8080/" || s.Mode != NoMode {
					t.Errorf("URL, mode = %q, %q", s.URL, s.Mode)
				}
				if c.Targets[0].Process != nil || c.Targets[0].ReadyURL() != "" {
					t.Errorf("unmanaged target has process %+v", c.Targets[0].Process)
				}
			},
		},
		{
			file: "precedence.good.yml",
			scenarios: []string{
				"alpha/sync/get", "alpha/async/get", "alpha/sync/post", "alpha/async/post", "alpha/sync/sync_only",
				"beta/async/get", "beta/async/post",
			},
			check: func(t *testing.T, c *Config) {
				if c.RunOnStart {
					t.Error("run_on_start: false was not kept")
				}
				s, err := c.CronSchedule()
				if err != nil {
					t.Fatal(err)
				}
				if got := s.Next(scheduleEpoch); got != scheduleEpoch.Add(30*time.Minute) {
					t.Errorf("@every 30m: next = %v", got)
				}
			},
		},
		{
			// The lane has no modes: the endpoints it does not count are
			// no error ({mode}, modes) and no warning.
			file:      "lane.good.yml",
			scenarios: []string{"web/async/plain", "web/async/moded", "web/async/async_only", "lane/-/plain"},
			check: func(t *testing.T, c *Config) {
				if s, _ := c.Scenario("lane/-/plain"); s.Instructions == nil {
					t.Error("lane/-/plain is no instruction-lane scenario")
				}
			},
		},
		{
			file:      "placeholders.good.yml",
			scenarios: []string{"pinned/-/root", "free/-/root"},
			check: func(t *testing.T, c *Config) {
				exe, err := os.Executable()
				if err != nil {
					t.Fatal(err)
				}
				nproc := strconv.Itoa(runtime.NumCPU())
				for _, tt := range []struct {
					path      string
					got, want []string
				}{
					// {nproc} is the size of the cpus list where there is one.
					{"services[0].command", c.Services[0].Command, []string{exe, "upstream", "--listen-address", "127.0.0.1:8090", "--workers=2"}},
					{"targets[0].process.command", c.Targets[0].Process.Command, []string{"/usr/bin/gunicorn", "-w", "3", "--name=x{benchd}", "33"}},
					{"targets[0].process.setup[0]", c.Targets[0].Process.Setup[0], []string{exe, "config", "check"}},
					{"targets[0].process.setup[1]", c.Targets[0].Process.Setup[1], []string{"/bin/true", "3"}},
					// {venv} is left for the caller's ExpandVenv.
					{"targets[1].process.command", c.Targets[1].Process.Command, []string{"{venv}/bin/gunicorn", "-w", nproc, "--pythonpath={venv}/lib"}},
				} {
					if !slices.Equal(tt.got, tt.want) {
						t.Errorf("%s = %q, want %q", tt.path, tt.got, tt.want)
					}
				}
				if !c.UsesVenv() {
					t.Error("UsesVenv() = false")
				}
				c.ExpandVenv("/srv/v")
				if got, want := c.Targets[1].Process.Command, []string{"/srv/v/bin/gunicorn", "-w", nproc, "--pythonpath=/srv/v/lib"}; !slices.Equal(got, want) {
					t.Errorf("after ExpandVenv: targets[1].process.command = %q, want %q", got, want)
				}
				if got, want := c.Targets[1].Process.Setup[0], []string{"/srv/v/bin/python", "x.py"}; !slices.Equal(got, want) {
					t.Errorf("after ExpandVenv: targets[1].process.setup[0] = %q, want %q", got, want)
				}
				if got := c.Targets[0].Process.Command[0]; got != "/usr/bin/gunicorn" || c.UsesVenv() {
					t.Errorf("after ExpandVenv: targets[0].process.command[0] = %q, UsesVenv() = %v", got, c.UsesVenv())
				}
				if c.CPUs != "3" || c.Services[0].CPUs != "0,2" || c.Targets[0].Process.CPUs != "0-1,3" || c.Targets[1].Process.CPUs != "" {
					t.Errorf("cpus %q, %q, %q, %q", c.CPUs, c.Services[0].CPUs, c.Targets[0].Process.CPUs, c.Targets[1].Process.CPUs)
				}
			},
		},
		{
			file:      "full.good.yml",
			scenarios: seedCells(t),
			check: func(t *testing.T, c *Config) {
				if got := c.Targets[0].Process.ReadyTimeout; got != DefaultReadyTimeout {
					t.Errorf("ready_timeout unset = %v, want %v", got, DefaultReadyTimeout)
				}
				if got := c.Targets[3].Process.StopTimeout; got != 3*time.Second {
					t.Errorf("stop_timeout = %v, want 3s", got)
				}
				if got := c.Targets[0].Process.StopTimeout; got != DefaultStopTimeout {
					t.Errorf("stop_timeout unset = %v, want %v", got, DefaultStopTimeout)
				}
				if got := c.Service("redis").ReadyTimeout; got != DefaultReadyTimeout {
					t.Errorf("service ready_timeout unset = %v", got)
				}
				if got := c.Service("upstream").Env["PYTHONUNBUFFERED"]; got != "1" {
					t.Errorf("service env = %q", got)
				}
				if got := c.Service("redis").Command; !slices.Equal(got, []string{"redis-server", "--port", "6379", "--save", ""}) {
					t.Errorf("redis command = %q", got)
				}
				if c.Service("nope") != nil || c.Target("nope") != nil || c.Endpoint("nope") != nil {
					t.Error("lookup of an unknown name returned non-nil")
				}
				if got := c.ResolvePath(c.Targets[0].Process.Dir); got != filepath.Join(c.Dir, "django") {
					t.Errorf("ResolvePath(django) = %q", got)
				}
				if got := c.ResolvePath(c.Targets[3].Process.Dir); got != "/srv/django" {
					t.Errorf("ResolvePath(/srv/django) = %q", got)
				}
				checkSeed(t, c)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			c, err := Load(path)
			if err != nil {
				t.Fatalf("Load(%s): %v", path, err)
			}
			wantDir, err := filepath.Abs("testdata")
			if err != nil {
				t.Fatal(err)
			}
			if c.Dir != wantDir {
				t.Errorf("Dir = %q, want %q", c.Dir, wantDir)
			}
			// The files describe a deployment (/srv/django, ./django)
			// whose directories do not exist here: that warning alone is
			// expected.
			var w []string
			for _, s := range c.Warnings() {
				if !strings.Contains(s, "does not exist, so the process cannot start") {
					w = append(w, s)
				}
			}
			if len(w) > 0 {
				t.Errorf("Warnings() = %q, want none", w)
			}
			var names []string
			for _, s := range c.Scenarios() {
				names = append(names, s.Name)
			}
			if !slices.Equal(names, tt.scenarios) {
				t.Errorf("scenarios:\n got %q\nwant %q", names, tt.scenarios)
			}
			tt.check(t, c)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.yml")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load(absent) = %v, want fs.ErrNotExist", err)
	}
	if !strings.HasPrefix(err.Error(), "config: ") {
		t.Errorf("error %q lacks the config: prefix", err)
	}
}

// TestLoadRelativeDir checks that Dir is the absolute directory of the file
// whatever the working directory.
func TestLoadRelativeDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/minimal.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conf", "benchd.yml"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	c, err := Load("conf/benchd.yml")
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, "conf")
	if c.Dir != want {
		t.Errorf("Dir = %q, want %q", c.Dir, want)
	}
	for _, tt := range []struct{ in, want string }{
		{"", want},
		{"django", filepath.Join(want, "django")},
		{"../x", filepath.Join(dir, "x")},
		{"/abs", "/abs"},
	} {
		if got := c.ResolvePath(tt.in); got != tt.want {
			t.Errorf("ResolvePath(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestPrecedence checks each setting's layers: built-in default, defaults,
// endpoint, target override.
func TestPrecedence(t *testing.T) {
	c, err := Load("testdata/precedence.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	json := []Header{{"Accept", "application/json"}}
	tests := []struct {
		scenario   string
		url        string
		want       LoadSpec
		thresholds map[string]float64
	}{
		{
			// defaults over built-in: connections, duration, headers.
			scenario: "alpha/sync/get",
			url:      "http://127.0.0.1:8001/base/sync/get?q=1",
			want: LoadSpec{Method: "GET", Headers: append(json, Header{"X-Layer", "defaults"}), Connections: 100,
				Duration: 5 * time.Second, Timeout: DefaultTimeout, OnTimeout: DefaultOnTimeout, Warmup: DefaultWarmup},
			thresholds: map[string]float64{"timeout_ratio": 0.05, "latency_p99": 1},
		},
		{
			// endpoint over defaults; the endpoint's X-Layer replaces the
			// defaults' and its value is trimmed.
			scenario: "beta/async/post",
			url:      "https://localhost:8002/async/post",
			want: LoadSpec{Method: "POST", Body: `{"a": 1}`, Connections: 100, Threads: 2, Duration: 5 * time.Second,
				Timeout: 1500 * time.Millisecond, OnTimeout: OnTimeoutWait, Rate: 250.5,
				Headers: append(json, Header{"Content-Type", "application/json"}, Header{"X-Layer", "endpoint"})},
			// Thresholds merge signal by signal.
			thresholds: map[string]float64{"timeout_ratio": 0.05, "latency_p99": 0.3, "throughput": 1500},
		},
		{
			// target override over endpoint: connections, and headers
			// merged case-insensitively (x-layer replaces X-Layer); a name
			// repeated in the list form is kept twice.
			scenario: "alpha/async/post",
			url:      "http://127.0.0.1:8001/base/async/post",
			want: LoadSpec{Method: "POST", Body: `{"a": 1}`, Connections: 7, Threads: 2, Duration: 5 * time.Second,
				Timeout: 1500 * time.Millisecond, OnTimeout: OnTimeoutReconnect, Rate: 250.5,
				Headers: append(json, Header{"Content-Type", "application/json"},
					Header{"x-layer", "alpha"}, Header{"X-Extra", "1"}, Header{"X-Extra", "2"})},
			thresholds: map[string]float64{"timeout_ratio": 0.05, "latency_p99": 0.3, "throughput": 50},
		},
		{
			scenario: "alpha/sync/sync_only",
			url:      "http://127.0.0.1:8001/base/sync/only",
			want: LoadSpec{Method: "GET", Headers: append(json, Header{"X-Layer", "defaults"}), Connections: 100,
				Duration: 5 * time.Second, Timeout: DefaultTimeout, OnTimeout: DefaultOnTimeout, Warmup: DefaultWarmup},
			thresholds: map[string]float64{"timeout_ratio": 0.05, "latency_p99": 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			s, ok := c.Scenario(tt.scenario)
			if !ok {
				t.Fatalf("no scenario %q", tt.scenario)
			}
			if s.URL != tt.url {
				t.Errorf("URL = %q, want %q", s.URL, tt.url)
			}
			if !loadEqual(s.Load, tt.want) {
				t.Errorf("load:\n got %+v\nwant %+v", s.Load, tt.want)
			}
			got := map[string]float64{}
			for sig, th := range s.Thresholds {
				if th.Signal != sig {
					t.Errorf("thresholds[%s] is of signal %s", sig, th.Signal)
				}
				got[sig] = th.Value
			}
			if !maps.Equal(got, tt.thresholds) {
				t.Errorf("thresholds = %v, want %v", got, tt.thresholds)
			}
		})
	}
	if _, ok := c.Scenario("beta/sync/sync_only"); ok {
		t.Error("sync_only runs on beta, which has no sync mode")
	}
	// Resolving must not change the layers it reads.
	if got := c.Defaults.Thresholds; len(got) != 2 {
		t.Errorf("defaults thresholds changed to %+v", got)
	}
	if got := c.Defaults.Headers; len(got) != 2 || got[1] != (Header{"X-Layer", "defaults"}) {
		t.Errorf("defaults headers changed to %+v", got)
	}
}

func loadEqual(a, b LoadSpec) bool {
	return a.Method == b.Method && slices.Equal(a.Headers, b.Headers) && a.Body == b.Body &&
		a.Connections == b.Connections && a.Threads == b.Threads && a.Duration == b.Duration &&
		a.Timeout == b.Timeout && a.OnTimeout == b.OnTimeout && a.Warmup == b.Warmup && a.Rate == b.Rate
}

func TestScenarioModes(t *testing.T) {
	tests := []struct {
		name         string
		target, ep   []string
		path         string
		want         []string
		wantWarnings int
	}{
		{"both empty", nil, nil, "/x", []string{NoMode}, 0},
		{"endpoint all", []string{"sync", "async"}, nil, "/{mode}", []string{"sync", "async"}, 0},
		{"target order kept", []string{"sync", "async"}, []string{"async", "sync"}, "/{mode}", []string{"sync", "async"}, 0},
		{"filter", []string{"sync", "async"}, []string{"async"}, "/{mode}", []string{"async"}, 0},
		{"filtered away", []string{"sync"}, []string{"async"}, "/{mode}", nil, 0},
		{"no placeholder", []string{"sync", "async"}, nil, "/x", []string{"sync", "async"}, 1},
		{"endpoint modes, target none", nil, []string{"sync"}, "/x", nil, 0},
		{"placeholder, no modes", nil, nil, "/{mode}", nil, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := &Target{Name: "t", URL: "http://127.0.0.1:1", Modes: tt.target}
			ep := &Endpoint{Name: "e", Path: tt.path, Modes: tt.ep}
			if got := scenarioModes(tg, ep); !slices.Equal(got, tt.want) {
				t.Errorf("scenarioModes = %q, want %q", got, tt.want)
			}
			c := &Config{Targets: []Target{*tg}, Endpoints: []Endpoint{*ep}}
			if got := len(c.Scenarios()); got != len(tt.want) {
				t.Errorf("%d scenarios, want %d", got, len(tt.want))
			}
			if got := len(c.Warnings()); got != tt.wantWarnings {
				t.Errorf("Warnings() = %q, want %d", c.Warnings(), tt.wantWarnings)
			}
		})
	}
}

func TestWarnings(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		token *tokenFile // written as token in the config's directory
		want  []string
	}{
		{
			name: "timeout longer than duration",
			yaml: "defaults: {duration: 1s}\ntargets: [{name: t, url: 'http://127.0.0.1:1'}]\nendpoints: [{name: e, path: /, timeout: 3s}]",
			want: []string{"endpoints[0].timeout: timeout 3s is longer than duration 1s (set in defaults.duration): requests still running"},
		},
		{
			name: "short duration, built-in timeout",
			yaml: "targets: [{name: t, url: 'http://127.0.0.1:1'}]\nendpoints: [{name: e, path: /, duration: 1s}]",
			want: []string{"endpoints[0].duration: timeout 2s is longer than duration 1s (set in endpoints[0].duration)"},
		},
		{
			name: "many connections",
			yaml: "targets: [{name: t, url: 'http://127.0.0.1:1', overrides: {e: {connections: 20000}}}]\nendpoints: [{name: e, path: /}]",
			want: []string{"targets[0].overrides.e.connections: 20000 connections need as many file descriptors (RLIMIT_NOFILE)"},
		},
		{
			name: "tls_config on an http target",
			yaml: "targets: [{name: t, url: 'http://127.0.0.1:1', tls_config: {ca_file: ca.pem}}]\nendpoints: [{name: e, path: /}]",
			want: []string{"targets[0].tls_config: the target url http://127.0.0.1:1 is http://, so tls_config has no effect"},
		},
		{
			name: "insecure_skip_verify",
			yaml: "targets: [{name: t, url: 'https://127.0.0.1:1', tls_config: {insecure_skip_verify: true}}]\nendpoints: [{name: e, path: /}]",
			want: []string{"targets[0].tls_config.insecure_skip_verify: the server certificate is not verified"},
		},
		{
			name: "lower-case method",
			yaml: "defaults: {method: post}\ntargets: [{name: t, url: 'http://127.0.0.1:1'}]\nendpoints: [{name: e, path: /}]",
			want: []string{`defaults.method: "post" is not upper case; methods are case-sensitive and servers expect "POST"`},
		},
		{
			name: "remote target",
			yaml: "targets: [{name: t, url: 'http://example.com'}]\nendpoints: [{name: e, path: /}]",
			want: []string{"targets[0].url: example.com is not a loopback address: benchd will send load to another machine"},
		},
		{
			name: "unused service",
			yaml: "services: [{name: s, command: [/bin/true], ready: 'tcp://127.0.0.1:1'}]\ntargets: [{name: t, url: 'http://[::1]:1'}]\nendpoints: [{name: e, path: /}]",
			want: []string{`services[0]: no target lists service "s", so it is never started`},
		},
		{
			name: "override without scenario",
			yaml: "targets: [{name: t, url: 'http://127.0.0.1:1', modes: [sync], overrides: {e: {connections: 5}}}, {name: u, url: 'http://127.0.0.1:2', modes: [async]}]\nendpoints: [{name: e, path: '/{mode}', modes: [async]}]",
			want: []string{`targets[0].overrides.e: endpoint "e" has no scenario on this target (its modes [async] are not among [sync]), so the override has no effect`},
		},
		{
			name: "override of an endpoint a lane does not count",
			yaml: "targets: [{name: t, url: 'http://127.0.0.1:1', process: {command: [/bin/true]}, instructions: {endpoints: [e]}, overrides: {f: {connections: 5}}}]\nendpoints: [{name: e, path: /}, {name: f, path: /f}]",
			want: []string{`targets[0].overrides.f: the instruction lane counts only its instructions.endpoints [e], so this override of endpoint "f" has no effect`},
		},
		{
			name: "lane with modes, endpoint it does not count without {mode}",
			yaml: "targets: [{name: t, url: 'http://127.0.0.1:1', modes: [sync, async], process: {command: [/bin/true]}, instructions: {endpoints: [e]}}]\nendpoints: [{name: e, path: '/{mode}/e'}, {name: f, path: /f}]",
		},
		{
			name: "schedule faster than a run",
			yaml: "schedule: '@every 1m'\ndefaults: {duration: 50s}\ntargets: [{name: t, url: 'http://127.0.0.1:1'}]\nendpoints: [{name: e, path: /}, {name: f, path: /f}]",
			want: []string{"schedule: runs may start 1m0s apart, but one run of the matrix takes at least 1m48s"},
		},
		{
			name: "cron schedule faster than a run",
			yaml: "schedule: '*/5 * * * *'\ndefaults: {duration: 301s}\ntargets: [{name: t, url: 'http://127.0.0.1:1'}]\nendpoints: [{name: e, path: /}]",
			want: []string{"schedule: runs may start 5m0s apart, but one run of the matrix takes at least 5m5s"},
		},
		{
			name: "process directory missing",
			yaml: "services: [{name: s, command: [/bin/true], dir: /nonexistent-benchd-dir, ready: 'tcp://127.0.0.1:2'}]\ntargets: [{name: t, url: 'http://127.0.0.1:1', services: [s], process: {command: [/bin/true], dir: django}}]\nendpoints: [{name: e, path: /}]",
			want: []string{"targets[0].process.dir: ", "services[0].dir: /nonexistent-benchd-dir does not exist, so the process cannot start"},
		},
		{
			name: "program missing or not executable",
			yaml: "services: [{name: s, command: [benchd-no-such-program, -x], ready: 'tcp://127.0.0.1:2'}]\ntargets: [{name: t, url: 'http://127.0.0.1:1', services: [s], process: {command: [./server.sh], setup: [[/bin/true], [/nonexistent/migrate]]}}]\nendpoints: [{name: e, path: /}]",
			want: []string{
				`targets[0].process.command[0]: {dir}/server.sh is not executable, so the process cannot start (chmod +x it)`,
				`targets[0].process.setup[1][0]: /nonexistent/migrate does not exist, so the process cannot start; install it or fix the path`,
				`services[0].command[0]: program "benchd-no-such-program" is not in PATH (`,
			},
		},
		{
			name: "nothing to warn about",
			yaml: "schedule: '*/5 * * * *'\ntargets: [{name: t, url: 'http://localhost:1'}]\nendpoints: [{name: e, path: /}]",
		},
		{
			name:  "token file private",
			yaml:  "api: {token_file: token}\ntargets: [{name: t, url: 'http://localhost:1'}]\nendpoints: [{name: e, path: /}]",
			token: &tokenFile{mode: 0o600, uid: os.Geteuid()},
		},
		{
			name:  "token file readable by others",
			yaml:  "api: {token_file: token}\ntargets: [{name: t, url: 'http://localhost:1'}]\nendpoints: [{name: e, path: /}]",
			token: &tokenFile{mode: 0o644, uid: os.Geteuid()},
			want:  []string{"api.token_file: {dir}/token is readable or writable by group or others (mode 0644), and the token can drive the write API: run chmod 600 {dir}/token"},
		},
		{
			name:  "token file owned by another user",
			yaml:  "api: {token_file: token}\ntargets: [{name: t, url: 'http://localhost:1'}]\nendpoints: [{name: e, path: /}]",
			token: &tokenFile{mode: 0o600, uid: 65534},
			want:  []string{"api.token_file: {dir}/token is owned by uid 65534, not by the user reading it"},
		},
		{
			name:  "token file empty",
			yaml:  "api: {token_file: token}\ntargets: [{name: t, url: 'http://localhost:1'}]\nendpoints: [{name: e, path: /}]",
			token: &tokenFile{mode: 0o600, uid: os.Geteuid(), content: []byte(" \n")},
			want:  []string{"api.token_file: {dir}/token is empty: benchd serve refuses to start with it"},
		},
		{
			name: "token file missing",
			yaml: "api: {token_file: /nonexistent-benchd-token}\ntargets: [{name: t, url: 'http://localhost:1'}]\nendpoints: [{name: e, path: /}]",
			want: []string{"api.token_file: /nonexistent-benchd-token does not exist: benchd serve refuses to start without it"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			// A script that is there but not executable.
			if err := os.WriteFile(filepath.Join(dir, "server.sh"), []byte("#!/bin/sh\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			if tt.token != nil {
				tt.token.write(t, filepath.Join(dir, "token"))
			}
			c, err := Parse([]byte(tt.yaml), dir)
			if err != nil {
				t.Fatal(err)
			}
			for i := range tt.want {
				tt.want[i] = strings.ReplaceAll(tt.want[i], "{dir}", dir)
			}
			if got := c.Warnings(); !matchAll(got, tt.want) {
				t.Errorf("Warnings():\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

// tokenFile is a token file to write with a mode and an owner.
type tokenFile struct {
	mode fs.FileMode
	uid  int
	// content is the token file's content; nil means a token.
	content []byte
}

func (f *tokenFile) write(t *testing.T, path string) {
	t.Helper()
	content := f.content
	if content == nil {
		content = []byte("s3cret\n")
	}
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, f.mode); err != nil {
		t.Fatal(err)
	}
	if f.uid != os.Geteuid() {
		if err := os.Chown(path, f.uid, -1); err != nil {
			t.Fatalf("chown to uid %d (the test needs root): %v", f.uid, err)
		}
	}
}

// matchAll reports whether each got[i] starts with want[i], and they have the
// same length.
func matchAll(got, want []string) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if !strings.HasPrefix(got[i], want[i]) {
			return false
		}
	}
	return true
}

func TestCronSchedule(t *testing.T) {
	tests := []struct {
		spec string
		want []time.Time // the next activations after scheduleEpoch
	}{
		{"0 * * * *", []time.Time{scheduleEpoch.Add(time.Hour), scheduleEpoch.Add(2 * time.Hour)}},
		{"@hourly", []time.Time{scheduleEpoch.Add(time.Hour), scheduleEpoch.Add(2 * time.Hour)}},
		{"@every 30m", []time.Time{scheduleEpoch.Add(30 * time.Minute), scheduleEpoch.Add(time.Hour)}},
		{"CRON_TZ=Europe/Paris 0 0 * * *", []time.Time{time.Date(2025, 1, 1, 23, 0, 0, 0, time.UTC), time.Date(2025, 1, 2, 23, 0, 0, 0, time.UTC)}},
		{"15 3 * * 1", []time.Time{time.Date(2025, 1, 6, 3, 15, 0, 0, time.UTC), time.Date(2025, 1, 13, 3, 15, 0, 0, time.UTC)}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			c := &Config{Schedule: tt.spec}
			s, err := c.CronSchedule() // not validated: compiled on demand
			if err != nil {
				t.Fatal(err)
			}
			at := scheduleEpoch
			for _, want := range tt.want {
				at = s.Next(at)
				if !at.Equal(want) {
					t.Fatalf("next = %v, want %v", at, want)
				}
			}
		})
	}
	c := &Config{Schedule: "every day"}
	if _, err := c.CronSchedule(); err == nil || !strings.HasPrefix(err.Error(), `config: schedule "every day": `) {
		t.Errorf("CronSchedule(bad) = %v", err)
	}
}

func TestReadyURL(t *testing.T) {
	tests := []struct {
		url, ready, want string
	}{
		{"http://127.0.0.1:8000", "/healthz", "http://127.0.0.1:8000/healthz"},
		{"http://127.0.0.1:8000/base/", "/healthz", "http://127.0.0.1:8000/base/healthz"},
		{"http://127.0.0.1:8000", "", "tcp://127.0.0.1:8000"},
		{"http://127.0.0.1", "", "tcp://127.0.0.1:80"},
		{"https://[::1]", "", "tcp://[::1]:443"},
		{"http://127.0.0.1:8000", "tcp://127.0.0.1:9000", "tcp://127.0.0.1:9000"},
		{"http://127.0.0.1:8000", "http://127.0.0.1:9000/up", "http://127.0.0.1:9000/up"},
	}
	for _, tt := range tests {
		t.Run(tt.url+" "+tt.ready, func(t *testing.T) {
			tg := &Target{URL: tt.url, Process: &Process{Ready: tt.ready}}
			if got := tg.ReadyURL(); got != tt.want {
				t.Errorf("ReadyURL() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestHeadersYAML(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       Headers
	}{
		{"mapping keeps order", "{B: 2, A: ' 1 '}", Headers{{"B", "2"}, {"A", "1"}}},
		{"list", `["B: 2", "A:1", "A: x: y"]`, Headers{{"B", "2"}, {"A", "1"}, {"A", "x: y"}}},
		{"empty mapping", "{}", Headers{}},
		{"null value", "{A: }", Headers{{"A", ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Headers
			if err := yaml.Unmarshal([]byte(tt.yaml), &h); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(h, tt.want) || h == nil {
				t.Fatalf("got %#v, want %#v", h, tt.want)
			}
			out, err := yaml.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			var back Headers
			if err := yaml.Unmarshal(out, &back); err != nil {
				t.Fatalf("unmarshal of %q: %v", out, err)
			}
			if !slices.Equal(back, h) {
				t.Errorf("round trip through %q = %#v, want %#v", out, back, h)
			}
		})
	}
}

// TestMarshalRoundTrip checks that a Config marshalled to YAML loads back into
// the same matrix, for every good file and the default.
func TestMarshalRoundTrip(t *testing.T) {
	files, err := filepath.Glob("testdata/*.good.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(files, "default.yml") {
		t.Run(f, func(t *testing.T) {
			c, err := Load(f)
			if err != nil {
				t.Fatal(err)
			}
			out, err := yaml.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Parse(out, c.Dir)
			if err != nil {
				t.Fatalf("Parse(Marshal(%s)): %v\n%s", f, err, out)
			}
			sameMatrix(t, c, back)
		})
	}
}

func sameMatrix(t *testing.T, a, b *Config) {
	t.Helper()
	x, y := a.Scenarios(), b.Scenarios()
	if len(x) != len(y) {
		t.Fatalf("%d scenarios, then %d", len(x), len(y))
	}
	for i := range x {
		if x[i].Name != y[i].Name || x[i].URL != y[i].URL || !loadEqual(x[i].Load, y[i].Load) {
			t.Fatalf("scenario %d: %+v, then %+v", i, x[i], y[i])
		}
	}
	if a.Schedule != b.Schedule || a.RunOnStart != b.RunOnStart {
		t.Errorf("schedule %q %v, then %q %v", a.Schedule, a.RunOnStart, b.Schedule, b.RunOnStart)
	}
	for i := range a.Targets {
		if a.Targets[i].ReadyURL() != b.Targets[i].ReadyURL() {
			t.Errorf("targets[%d] ready %q, then %q", i, a.Targets[i].ReadyURL(), b.Targets[i].ReadyURL())
		}
	}
}

// TestDocsExample loads the example of docs/configuration.md, so the
// reference cannot drift from the code.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Example\n")
	if !ok {
		t.Fatal("no ## Example section")
	}
	_, block, ok := strings.Cut(section, "```yaml\n")
	if !ok {
		t.Fatal("no yaml block in ## Example")
	}
	block, _, _ = strings.Cut(block, "```")
	dir := t.TempDir()
	// The example runs the reference Django project "next to this file".
	if err := os.Mkdir(filepath.Join(dir, "django"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := Parse([]byte(block), dir)
	if err != nil {
		t.Fatal(err)
	}
	if w := c.Warnings(); len(w) > 0 {
		t.Errorf("Warnings() = %q", w)
	}
	want := []string{
		"gunicorn-gevent/sync/home", "gunicorn-gevent/sync/search",
		"staging/sync/home", "staging/async/home", "staging/sync/search", "staging/async/search", "staging/async/create",
	}
	var got []string
	for _, s := range c.Scenarios() {
		got = append(got, s.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("scenarios:\n got %q\nwant %q", got, want)
	}
	// The matrix the text under the example lists.
	for _, name := range want {
		if !strings.Contains(section, "`"+name+"`") {
			t.Errorf("the text under the example does not list %s", name)
		}
	}
	if s, _ := c.Scenario("gunicorn-gevent/sync/search"); s.Load.Connections != 50 || s.Load.Duration != time.Minute {
		t.Errorf("search on gunicorn-gevent: %+v", s.Load)
	}
	if s, _ := c.Scenario("staging/async/create"); s.Load.Rate != 100 || s.Load.Method != http.MethodPost || len(s.Load.Headers) != 2 {
		t.Errorf("create: %+v", s.Load)
	}
}

// TestDocsEveryKey checks that docs/configuration.md documents every YAML key
// of the schema.
func TestDocsEveryKey(t *testing.T) {
	doc, err := os.ReadFile("../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range schemaTypes {
		for _, key := range yamlKeys(typ) {
			if !strings.Contains(string(doc), "\n"+key+":") && !strings.Contains(string(doc), "[ "+key+":") {
				t.Errorf("key %s of %s is not documented", key, typ)
			}
		}
	}
}

func TestParseCPUList(t *testing.T) {
	tests := []struct {
		in      string
		want    []int
		wantErr string
	}{
		{in: "0", want: []int{0}},
		{in: "0-1", want: []int{0, 1}},
		{in: "3,0-1", want: []int{0, 1, 3}},
		{in: " 1 , 1-2 ", want: []int{1, 2}},
		{in: "1023", want: []int{1023}},
		{in: "", wantErr: "empty CPU list"},
		{in: "a", wantErr: `"a": "a" is not a CPU number`},
		{in: "-1", wantErr: `"-1": "" is not a CPU number`},
		{in: "2-1", wantErr: `"2-1": the range ends before it starts`},
		{in: "0-1024", wantErr: `"0-1024": CPU 1024 is above 1023`},
		{in: "1,", wantErr: `"": "" is not a CPU number`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseCPUList(tt.in)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("ParseCPUList(%q) = %v, %v; want error %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("ParseCPUList(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

// TestExpandNoExecutable checks that a {benchd} benchd cannot resolve is a
// problem at its path, and that a file without it loads all the same.
func TestExpandNoExecutable(t *testing.T) {
	saved := executable
	t.Cleanup(func() { executable = saved })
	executable = func() (string, error) { return "", errors.New("no /proc") }

	_, err := Load("testdata/placeholders.good.yml")
	want := []string{
		`services[0].command[0]: {benchd}: cannot find benchd's own executable: no /proc`,
		`targets[0].process.setup[0][0]: {benchd}: cannot find benchd's own executable: no /proc`,
	}
	var got []string
	for _, fe := range fieldErrorsOf(err) {
		got = append(got, fe.Error())
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
	if _, err := Load("testdata/full.good.yml"); err != nil {
		t.Errorf("a file without {benchd}: %v", err)
	}
}

// TestScenarioSources checks the YAML path of each value of a scenario,
// through the layers, and the target's TLS settings with ca_file resolved.
func TestScenarioSources(t *testing.T) {
	doc := `
defaults: {headers: {X-A: "1", X-B: "2"}, timeout: 3s}
targets:
  - name: t
    url: https://127.0.0.1:8443
    tls_config: {ca_file: certs/ca.pem}
    overrides: {e: {headers: ["X-B: 3"], rate: 10}}
endpoints:
  - {name: e, path: /x, method: POST, headers: {X-C: "4"}}
`
	c, err := Parse([]byte(doc), "/etc/benchd")
	if err != nil {
		t.Fatal(err)
	}
	sc, ok := c.Scenario("t/-/e")
	if !ok {
		t.Fatal("no scenario t/-/e")
	}
	want := Sources{
		URL: "targets[0].url", Path: "endpoints[0].path",
		Method: "endpoints[0].method", Timeout: "defaults.timeout", Rate: "targets[0].overrides.e.rate",
		// X-A from defaults, X-C from the endpoint, X-B overridden last.
		Headers: []string{"defaults.headers[0]", "endpoints[0].headers[0]", "targets[0].overrides.e.headers[0]"},
		TLS:     "targets[0].tls_config",
	}
	if !reflect.DeepEqual(sc.Sources, want) {
		t.Errorf("sources\n%+v, want\n%+v", sc.Sources, want)
	}
	if got := fmt.Sprint(sc.Load.Headers); got != "[{X-A 1} {X-C 4} {X-B 3}]" {
		t.Errorf("headers %s", got)
	}
	if sc.TLS != (TLSConfig{CAFile: "/etc/benchd/certs/ca.pem"}) {
		t.Errorf("TLS %+v, want ca_file resolved against the config's directory", sc.TLS)
	}
}

// TestScenarioExpect checks that on_timeout is layered as timeout is, and
// that each scenario gets a copy of its endpoint's expect with its path.
func TestScenarioExpect(t *testing.T) {
	doc := `
defaults: {on_timeout: wait}
targets:
  - {name: t, url: "http://127.0.0.1:8080", modes: [sync, async], overrides: {b: {on_timeout: reconnect}}}
endpoints:
  - name: a
    path: /{mode}/a
    expect: {status: [200, 301], body_contains: '"ok": true', body_size: {min: 10, max: 100000}}
  - {name: b, path: /b}
`
	c, err := Parse([]byte(doc), "/etc/benchd")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, onTimeout, onTimeoutFrom string
		expect                         Expect
		expectFrom                     string
	}{
		{"t/sync/a", OnTimeoutWait, "defaults.on_timeout",
			Expect{Status: []int{200, 301}, BodyContains: `"ok": true`, BodySize: &SizeRange{Min: 10, Max: 100000}}, "endpoints[0].expect"},
		{"t/async/a", OnTimeoutWait, "defaults.on_timeout",
			Expect{Status: []int{200, 301}, BodyContains: `"ok": true`, BodySize: &SizeRange{Min: 10, Max: 100000}}, "endpoints[0].expect"},
		{"t/sync/b", OnTimeoutReconnect, "targets[0].overrides.b.on_timeout", Expect{}, ""},
	}
	for _, tt := range tests {
		sc, ok := c.Scenario(tt.name)
		if !ok {
			t.Fatalf("no scenario %s", tt.name)
		}
		if sc.Load.OnTimeout != tt.onTimeout || sc.Sources.OnTimeout != tt.onTimeoutFrom {
			t.Errorf("%s: on_timeout %q from %q, want %q from %q", tt.name, sc.Load.OnTimeout, sc.Sources.OnTimeout, tt.onTimeout, tt.onTimeoutFrom)
		}
		if !reflect.DeepEqual(sc.Expect, tt.expect) || sc.Sources.Expect != tt.expectFrom {
			t.Errorf("%s: expect %+v from %q, want %+v from %q", tt.name, sc.Expect, sc.Sources.Expect, tt.expect, tt.expectFrom)
		}
	}
	// A scenario's expect is a copy: changing it changes neither the
	// config nor the next call's.
	sc, _ := c.Scenario("t/sync/a")
	sc.Expect.Status[0], sc.Expect.BodySize.Max = 404, 1
	again, _ := c.Scenario("t/sync/a")
	if again.Expect.Status[0] != 200 || again.Expect.BodySize.Max != 100000 || c.Endpoints[0].Expect.Status[0] != 200 {
		t.Errorf("scenarios share their expect: %+v", again.Expect)
	}
}

// TestInstructionsResolved: unset instruction settings take their
// defaults, warmup_requests -1 means none, and a lane target has
// scenarios for its listed endpoints only, each carrying the resolved
// settings.
func TestInstructionsResolved(t *testing.T) {
	for _, tt := range []struct {
		in, want Instructions
	}{
		{Instructions{}, Instructions{Requests: DefaultInstructionRequests, WarmupRequests: DefaultInstructionWarmupRequests, Connections: DefaultInstructionConnections, Timeout: DefaultInstructionTimeout}},
		{Instructions{Requests: 7, WarmupRequests: -1, Connections: 2, Timeout: time.Second}, Instructions{Requests: 7, Connections: 2, Timeout: time.Second}},
	} {
		if got := tt.in.Resolved(); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%+v.Resolved() = %+v, want %+v", tt.in, got, tt.want)
		}
	}
	c, err := Parse([]byte(`
targets:
  - name: lane
    url: http://127.0.0.1:1
    process: {command: [/bin/true]}
    instructions: {endpoints: [b], requests: 10}
  - {name: load, url: "http://127.0.0.1:2"}
endpoints:
  - {name: a, path: /a}
  - {name: b, path: /b}
`), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range c.Scenarios() {
		names = append(names, s.Name)
		if (s.Instructions != nil) != (s.Target == "lane") || s.Instructions != nil && s.Instructions.Requests != 10 {
			t.Errorf("%s: instructions %+v", s.Name, s.Instructions)
		}
	}
	if want := []string{"lane/-/b", "load/-/a", "load/-/b"}; !slices.Equal(names, want) {
		t.Errorf("scenarios %q, want %q", names, want)
	}
}

// TestUseStateDir: what benchd makes under its state directory at start
// (the default matrix's Django project and token) is no warning while it
// is missing; a missing directory elsewhere still is.
func TestUseStateDir(t *testing.T) {
	doc := []byte(`
api: {token_file: benchd.token}
targets:
  - {name: t, url: "http://127.0.0.1:1", process: {command: [/bin/true], dir: django}}
  - {name: u, url: "http://127.0.0.1:2", process: {command: [/bin/true], dir: /nonexistent-benchd-dir}}
endpoints: [{name: e, path: /}]
`)
	dir := t.TempDir()
	c, err := Parse(doc, "")
	if err != nil {
		t.Fatal(err)
	}
	c.Dir = dir
	if got := len(c.Warnings()); got != 3 {
		t.Errorf("with Dir set: %d warnings, want 3 (two directories, the token): %q", got, c.Warnings())
	}
	c.UseStateDir(dir)
	want := []string{"targets[1].process.dir: /nonexistent-benchd-dir does not exist"}
	if got := c.Warnings(); !matchAll(got, want) {
		t.Errorf("after UseStateDir: Warnings() = %q, want %q", got, want)
	}
	if c.Dir != dir {
		t.Errorf("Dir = %q, want %q", c.Dir, dir)
	}
}
