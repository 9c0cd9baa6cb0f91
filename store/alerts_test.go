package store

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
)

func TestAlerts(t *testing.T) {
	dir := t.TempDir()
	s := openStore(t, dir)
	ctx := t.Context()
	alert := func(at time.Duration, status, name, target string) Alert {
		return Alert{
			Received: base.Add(at), Receiver: "ticket", GroupKey: `{}:{alertname="` + name + `"}`, Status: status, Name: name,
			Labels:      map[string]string{"alertname": name, "target": target, "severity": "warning"},
			Annotations: map[string]string{"summary": "s " + name},
			StartsAt:    base.Add(at - time.Minute), EndsAt: base.Add(at + 4*time.Minute),
			Fingerprint: "f" + target, GeneratorURL: "http://127.0.0.1:9090/graph",
		}
	}
	first := []Alert{
		alert(0, AlertFiring, "BenchdThroughputRegression", "b"),
		alert(0, AlertFiring, "BenchdLatencyRegression", "b"),
	}
	if err := s.SaveAlerts(ctx, first); err != nil {
		t.Fatal(err)
	}
	resolved := alert(time.Hour, AlertResolved, "BenchdThroughputRegression", "b")
	resolved.Labels, resolved.Annotations, resolved.StartsAt, resolved.EndsAt = nil, nil, time.Time{}, time.Time{}
	if err := s.SaveAlerts(ctx, []Alert{resolved}); err != nil {
		t.Fatal(err)
	}
	// A bad alert in a notification stores none of it.
	bad := []Alert{alert(2*time.Hour, AlertFiring, "X", "a"), alert(2*time.Hour, "pending", "Y", "a")}
	if err := s.SaveAlerts(ctx, bad); err == nil || !strings.Contains(err.Error(), `alert 1: status "pending" is not firing or resolved`) {
		t.Errorf("SaveAlerts with a pending alert: %v", err)
	}
	if err := s.SaveAlerts(ctx, []Alert{{Status: AlertFiring}}); err == nil || !strings.Contains(err.Error(), "no receive time") {
		t.Errorf("SaveAlerts without a time: %v", err)
	}

	names := func(as []Alert) string {
		var out []string
		for _, a := range as {
			out = append(out, a.Status+" "+a.Name)
		}
		return strings.Join(out, ", ")
	}
	tests := []struct {
		name string
		q    AlertQuery
		want string
	}{
		{"all, newest first", AlertQuery{}, "resolved BenchdThroughputRegression, firing BenchdLatencyRegression, firing BenchdThroughputRegression"},
		{"limit", AlertQuery{Limit: 1}, "resolved BenchdThroughputRegression"},
		{"since", AlertQuery{Since: base.Add(time.Minute)}, "resolved BenchdThroughputRegression"},
		{"until is exclusive", AlertQuery{Until: base.Add(time.Hour)}, "firing BenchdLatencyRegression, firing BenchdThroughputRegression"},
		{"name", AlertQuery{Name: "BenchdLatencyRegression"}, "firing BenchdLatencyRegression"},
		{"status", AlertQuery{Status: AlertResolved}, "resolved BenchdThroughputRegression"},
		{"none", AlertQuery{Name: "Nope"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.Alerts(ctx, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Fatal("nil slice")
			}
			if names(got) != tt.want {
				t.Errorf("Alerts(%+v) = %s, want %s", tt.q, names(got), tt.want)
			}
		})
	}

	// Every field comes back, from a read-only open too (beside the daemon).
	ro, err := Open(ctx, dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	got, err := ro.Alerts(ctx, AlertQuery{Until: base.Add(time.Minute)})
	if err != nil || len(got) != 2 {
		t.Fatalf("Alerts = %v, %v", got, err)
	}
	w, g := first[0], got[1]
	if g.ID == 0 || got[0].ID <= g.ID || !g.Received.Equal(w.Received) || g.Received.Location() != time.UTC ||
		g.Receiver != w.Receiver || g.GroupKey != w.GroupKey || g.Status != w.Status || g.Name != w.Name ||
		!maps.Equal(g.Labels, w.Labels) || !maps.Equal(g.Annotations, w.Annotations) ||
		!g.StartsAt.Equal(w.StartsAt) || !g.EndsAt.Equal(w.EndsAt) || g.Fingerprint != w.Fingerprint || g.GeneratorURL != w.GeneratorURL {
		t.Errorf("round trip:\n got %+v\nwant %+v", g, w)
	}
	last, err := ro.Alerts(ctx, AlertQuery{Limit: 1})
	if err != nil || len(last) != 1 || last[0].Labels == nil || len(last[0].Labels) != 0 || !last[0].StartsAt.IsZero() {
		t.Errorf("alert saved without labels and times: %+v, %v", last, err)
	}
	if err := ro.SaveAlerts(ctx, first); !errors.Is(err, ErrReadOnly) {
		t.Errorf("SaveAlerts read-only: %v, want ErrReadOnly", err)
	}

	// Retention prunes alerts by their receive time.
	if _, err := s.Prune(ctx, base.Add(30*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Alerts(ctx, AlertQuery{}); err != nil || names(got) != "resolved BenchdThroughputRegression" {
		t.Errorf("after Prune: %s, %v", names(got), err)
	}
}
