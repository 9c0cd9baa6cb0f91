package scheduler

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/engine"
)

// TestEnginePlanExpect checks that a scenario's on_timeout and its
// endpoint's expect reach the engine plan, and that the engine's problems
// with them come back at their YAML paths.
func TestEnginePlanExpect(t *testing.T) {
	doc := `
defaults: {on_timeout: wait}
targets: [{name: t, url: "http://127.0.0.1:8080"}]
endpoints:
  - {name: a, path: /a, expect: {status: [200, 404], body_contains: ok, body_size: {min: 2, max: 100}}}
  - {name: b, path: /b, on_timeout: reconnect}
  - {name: c, path: /c, method: HEAD, expect: {body_size: {max: 100000000}}}
`
	c, err := config.Parse([]byte(doc), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		scenario  string
		onTimeout engine.TimeoutPolicy
		expect    engine.Expect
	}{
		{"t/-/a", engine.TimeoutWait, engine.Expect{Status: []int{200, 404}, BodyContains: "ok", BodyMinBytes: 2, BodyMaxBytes: 100}},
		{"t/-/b", engine.TimeoutReconnect, engine.Expect{}},
	}
	for _, tt := range tests {
		sc, _ := c.Scenario(tt.scenario)
		p := EnginePlan(sc)
		if p.OnTimeout != tt.onTimeout || !reflect.DeepEqual(p.Expect, tt.expect) {
			t.Errorf("%s: OnTimeout %q, Expect %+v; want %q, %+v", tt.scenario, p.OnTimeout, p.Expect, tt.onTimeout, tt.expect)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("%s: %v", tt.scenario, err)
		}
	}
	var got []string
	for _, err := range CheckPlans(c) {
		got = append(got, err.Error())
	}
	want := []string{
		"endpoints[2].expect.body_size.max: 100000000 is more than MaxBodyBytes 67108864, the most of a body that is read (lower it, or raise MaxBodyBytes) (scenario t/-/c)",
		"endpoints[2].expect.body_size.max: a response to HEAD has no body (remove the body checks, or use GET) (scenario t/-/c)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("CheckPlans:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, err := range CheckPlans(c) {
		if fe, ok := errors.AsType[*config.FieldError](err); !ok || fe.Path == "" {
			t.Errorf("%v is not a FieldError at a path", err)
		}
	}
}
