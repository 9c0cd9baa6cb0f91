package store

import (
	"encoding/json"
	"testing"
)

// FuzzRecord feeds the record column (JSON that a hand-edited or damaged
// database may hold) to the decoder: it errors or round-trips, and the
// decoder without histograms (HistoryQuery.NoHistograms) reads the same
// record less its histograms.
func FuzzRecord(f *testing.F) {
	rec, err := json.Marshal(makeScenario(f, "r", 1, 100))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(rec))
	f.Add(`{"responses":{"2xx":1,"6xx":2}}`)
	f.Add(`{"latency_histogram":"not base64!"}`)
	f.Add(`{"repeats":[{"latency_seconds":null}]}`)
	f.Add(`null`)
	f.Fuzz(func(t *testing.T, s string) {
		var sc Scenario
		if err := json.Unmarshal([]byte(s), &sc); err != nil {
			return
		}
		// Without histograms: the same record, histograms left out.
		var fig Scenario
		if err := unmarshalFigures([]byte(s), &fig); err != nil {
			t.Fatalf("figures of %s: %v", s, err)
		}
		got, err := json.Marshal(&fig)
		if err != nil {
			t.Fatalf("re-encode the figures: %v", err)
		}
		noHist := withoutHistograms(sc)
		if want, err := json.Marshal(&noHist); err != nil || string(got) != string(want) {
			t.Fatalf("figures of %s: %s, want %s (%v)", s, got, want, err)
		}
		enc, err := json.Marshal(&sc)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		var again Scenario
		if err := json.Unmarshal(enc, &again); err != nil {
			t.Fatalf("round trip of %s: %v", enc, err)
		}
		// Compared as encoded: an empty list and none read the same.
		if enc2, err := json.Marshal(&again); err != nil || string(enc2) != string(enc) {
			t.Fatalf("round trip of %s: %s, %v", enc, enc2, err)
		}
	})
}
