package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestCheckRetention: a retention shorter than one period of the schedule
// is a problem at schedule, naming the flag; a negative one is refused; 0
// and a retention of a period or more pass.
func TestCheckRetention(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		schedule  string
		retention time.Duration
		want      string // the error, "" for none
		path      string // its YAML path
	}{
		{"@every 1h", time.Hour, "", ""},
		{"@every 1h", 59 * time.Minute, `schedule: --storage.retention 59m0s is shorter than one period (1h0m0s) of the schedule "@every 1h": every run would be deleted before the next; give at least 1h0m0s, or 0 to keep the history forever`, "schedule"},
		{"@yearly", 90 * day, `schedule: --storage.retention 2160h0m0s is shorter than one period (8760h0m0s) of the schedule "@yearly"`, "schedule"},
		{"@yearly", 365 * day, "", ""},
		{"@yearly", 0, "", ""},
		{"0 * * * *", 90 * day, "", ""},
		{"*/5 * * * *", 4 * time.Minute, "shorter than one period (5m0s)", "schedule"},
		{"@every 1h", -time.Hour, "--storage.retention -1h0m0s is negative: give a duration such as 90d, or 0 to keep the history forever", ""},
	}
	for _, tt := range tests {
		t.Run(tt.schedule+" "+tt.retention.String(), func(t *testing.T) {
			c, err := Parse([]byte("schedule: '"+tt.schedule+"'\ntargets: [{name: t, url: 'http://127.0.0.1:1'}]\nendpoints: [{name: e, path: /}]"), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			err = c.CheckRetention(tt.retention)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckRetention = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("CheckRetention = %v, want %q", err, tt.want)
			}
			switch fe, ok := errors.AsType[*FieldError](err); {
			case tt.path != "" && (!ok || fe.Path != tt.path):
				t.Errorf("CheckRetention = %#v, want a FieldError at %q", err, tt.path)
			case tt.path == "" && ok:
				t.Errorf("CheckRetention = a FieldError at %q, want no path", fe.Path)
			}
		})
	}
	// A schedule Validate refuses is not CheckRetention's to report.
	c := &Config{Schedule: "every hour"}
	if err := c.CheckRetention(time.Hour); err != nil {
		t.Errorf("CheckRetention on a bad schedule = %v, want nil", err)
	}
}
