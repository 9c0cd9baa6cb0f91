package store

import (
	"slices"
	"testing"
	"time"

	"github.com/benchd/benchd/result"
)

// settingsRow is one result of a scenario saved by TestSettingsChangeSegments.
type settingsRow struct {
	run         string
	connections string // "" saves a result without settings (an older benchd)
	command     string
}

// TestSettingsChangeSegments migrates a version 6 history holding results
// without settings, then saves results with settings, and checks that
// exactly those whose settings differ from the previous ones with settings
// start a segment, with the parts that changed as the reason; that
// human accepts read back as "accepted"; and that the queries select.
func TestSettingsChangeSegments(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	db := writerDB(t, dir)
	if _, _, err := migrate(ctx, db, migrations[:6]); err != nil {
		t.Fatal(err)
	}
	// Two old results of version 6: no settings_hash column, no
	// settings in the record.
	for i, id := range []string{"old1", "old2"} {
		start := base.Add(time.Duration(i) * time.Hour).UnixNano()
		if _, err := db.ExecContext(ctx, `INSERT INTO runs VALUES (?, 'schedule', ?, ?, 'success', 'h', 'v1', '', '')`, id, start, start+1e9); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO scenarios VALUES (?, 0, 't/-/json', 't', '-', 'json', ?, ?, '', 1, 1, '{"url":"http://x/json","connections":10}')`,
			id, start, start+1e9); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO accepts VALUES ('t/-/json', 'old2', ?)`, base.UnixNano()); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, dir)

	rows := []settingsRow{
		{"r1", "10", "gunicorn"}, // the first with settings after old ones: no split
		{"r2", "10", "gunicorn"},
		{"r3", "20", "gunicorn"}, // connections changed
		{"r4", "", ""},           // no settings: ignored
		{"r5", "20", "gunicorn"}, // same as r3, across r4
		{"r6", "30", "hypercorn"},
		{"r7", "30", "hypercorn"},
	}
	for i, r := range rows {
		start := base.Add(time.Duration(2+i) * time.Hour)
		beginRun(t, s, r.run, start)
		sc := Scenario{RunID: r.run, Name: "t/-/json", Target: "t", Mode: "-", Endpoint: "json", Start: start, End: start.Add(time.Second), Valid: true}
		if r.connections != "" {
			sc.Settings = result.NewSettings(map[string]string{"connections": r.connections, "command": r.command})
		}
		saveScenario(ctx, t, s, sc)
		// Another scenario in the same run, whose settings never change.
		other := sc
		other.Index, other.Name, other.Endpoint = 1, "t/-/query", "query"
		other.Settings = result.NewSettings(map[string]string{"connections": "5", "command": "gunicorn"})
		saveScenario(ctx, t, s, other)
		if err := s.FinishRun(ctx, r.run, start.Add(time.Minute), OutcomeSuccess, ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Accept(ctx, "t/-/json", base.Add(100*time.Hour)); err != nil { // r7
		t.Fatal(err)
	}

	got, err := s.Baselines(ctx, BaselineQuery{Scenario: "t/-/json"})
	if err != nil {
		t.Fatal(err)
	}
	type seg struct{ run, reason string }
	var segs []seg
	for _, b := range got {
		segs = append(segs, seg{b.RunID, b.Reason})
		if b.Scenario != "t/-/json" || b.At.IsZero() || b.RunStart.IsZero() {
			t.Errorf("baseline %+v: scenario, time or run start missing", b)
		}
	}
	want := []seg{
		{"old2", ReasonAccepted},
		{"r3", "settings changed: connections"},
		{"r6", "settings changed: command, connections"},
		{"r7", ReasonAccepted},
	}
	if !slices.Equal(segs, want) {
		t.Errorf("segments %v, want %v", segs, want)
	}
	acc, err := s.Accepted(ctx, "t/-/json")
	if err != nil || len(acc) != 4 || !acc["r3"] || !acc["r6"] {
		t.Errorf("Accepted = %v, %v, want old2, r3, r6, r7", acc, err)
	}
	if other, err := s.Baselines(ctx, BaselineQuery{Scenario: "t/-/query"}); err != nil || len(other) != 0 {
		t.Errorf("segments of the unchanged scenario: %v, %v", other, err)
	}
	if byRun, err := s.Baselines(ctx, BaselineQuery{RunID: "r6"}); err != nil || len(byRun) != 1 || byRun[0].Scenario != "t/-/json" {
		t.Errorf("segments of run r6: %v, %v", byRun, err)
	}
	// The hash reads back from its column, the parts from the record.
	h, err := s.History(ctx, "t/-/json", HistoryQuery{})
	if err != nil || len(h) != 9 {
		t.Fatalf("history: %d results, %v", len(h), err)
	}
	if h[0].SettingsHash != "" || h[2].SettingsHash == "" || h[2].SettingsParts["connections"] == "" ||
		h[2].Changed(result.NewSettings(map[string]string{"connections": "10", "command": "gunicorn"})) != nil {
		t.Errorf("settings read back: %+v, %+v", h[0].Settings, h[2].Settings)
	}
}
