package store

import (
	"encoding/json"

	"github.com/benchd/benchd/result"
)

// figures decodes a record without its histograms ([HistoryQuery].NoHistograms):
// its fields of the histograms' JSON names hide the record's (a shallower
// field wins in encoding/json) and skip their values, which are then
// neither unquoted, nor checked as base64, nor copied.
type figures struct {
	*Scenario
	LatencyHistogram        skipped         `json:"latency_histogram"`
	RateHistogram           skipped         `json:"requests_per_second_histogram"`
	ConnectLatencyHistogram skipped         `json:"connect_latency_histogram"`
	Repeats                 []repeatFigures `json:"repeats"`
}

// repeatFigures is a repeat of [figures].
type repeatFigures struct {
	*result.Repeat
	LatencyHistogram        skipped `json:"latency_histogram"`
	RateHistogram           skipped `json:"requests_per_second_histogram"`
	ConnectLatencyHistogram skipped `json:"connect_latency_histogram"`
}

// skipped is a JSON value read past.
type skipped struct{}

// UnmarshalJSON ignores b.
func (*skipped) UnmarshalJSON([]byte) error { return nil }

// unmarshalFigures decodes the record JSON b into s, histograms left out.
func unmarshalFigures(b []byte, s *Scenario) error {
	f := figures{Scenario: s}
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	s.Repeats = nil
	if f.Repeats != nil {
		s.Repeats = make([]result.Repeat, len(f.Repeats))
		for i := range f.Repeats {
			if r := f.Repeats[i].Repeat; r != nil {
				s.Repeats[i] = *r
			}
		}
	}
	return nil
}
