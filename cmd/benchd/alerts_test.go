package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/benchd/benchd/report"
	"github.com/benchd/benchd/store"
)

// TestReportAlerts: benchd report --alerts lists the alerts received from
// the run's start to the next run's start (the newest run: until now), as
// text and as JSON, from the history the webhook writes.
func TestReportAlerts(t *testing.T) {
	dir, cfg, ids := twoRuns(t)
	st, err := store.Open(t.Context(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := st.Run(t.Context(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	second, err := st.Run(t.Context(), ids[1])
	if err != nil {
		t.Fatal(err)
	}
	alert := func(at time.Time, status, name, target string) store.Alert {
		return store.Alert{Received: at, Receiver: "ticket", Status: status, Name: name,
			Labels:      map[string]string{"alertname": name, "target": target, "mode": "sync", "endpoint": "json", "signal": "throughput"},
			Annotations: map[string]string{"summary": "Throughput regression in a benchd scenario."}}
	}
	for _, a := range []store.Alert{
		alert(first.Start.Add(-time.Second), store.AlertFiring, "BeforeBoth", "x"),
		alert(first.Start, store.AlertFiring, "BenchdThroughputRegression", "b"),
		alert(second.Start.Add(-time.Nanosecond), store.AlertResolved, "BenchdThroughputRegression", "b"),
		alert(second.Start, store.AlertFiring, "DuringTheSecond", "a"),
	} {
		if err := st.SaveAlerts(t.Context(), []store.Alert{a}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	listAlerts := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := runWith(t.Context(), append([]string{"report", "--config.file", cfg, "--storage.path", dir, "--alerts"}, args...), &stdout, &stderr); code != 0 {
			t.Fatalf("report --alerts %v: exit %d; stderr:\n%s", args, code, stderr.String())
		}
		return stdout.String()
	}
	out := listAlerts("--run", ids[0])
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[0], "to "+second.Start.Format(time.RFC3339)+" (the next run)") ||
		!strings.Contains(lines[2], "firing    BenchdThroughputRegression  ticket    b/sync/json throughput  Throughput regression") ||
		!strings.Contains(lines[3], "resolved  BenchdThroughputRegression") {
		t.Errorf("report --alerts --run %s:\n%s", ids[0], out)
	}
	var doc report.RunAlerts
	if err := json.Unmarshal([]byte(listAlerts("--format", "json")), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.RunID != ids[1] || doc.Until != nil || len(doc.Alerts) != 1 || doc.Alerts[0].Name != "DuringTheSecond" || doc.Alerts[0].Labels["target"] != "a" {
		t.Errorf("report --alerts --format json (the newest run, until now): %+v", doc)
	}
	var stdout, stderr bytes.Buffer
	if code := runWith(t.Context(), []string{"report", "--storage.path", dir, "--alerts", "--summary"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "--alerts cannot go with") {
		t.Errorf("--alerts --summary: exit %d, stderr %q; want 2 and the reason", code, stderr.String())
	}
}
