package store

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/benchd/benchd/result"
)

// base is a fixed instant all test times derive from.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

// openStore opens a store in dir and closes it when the test ends.
func openStore(t *testing.T, dir string) *SQLite {
	t.Helper()
	s, err := Open(t.Context(), dir, Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// rawDB opens the database file of dir directly, for checks below the API.
func rawDB(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", dir+"/"+DBFile+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// testHistogram returns a latency histogram (microseconds) whose contents
// depend on seed, as the engine would build it.
func testHistogram(seed uint64, n int) *hdrhistogram.Histogram {
	h := hdrhistogram.New(1, 24_000_000, 3)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	for range n {
		// Log-normal-ish latencies from ~100 µs to seconds.
		v := int64(math.Exp(rng.NormFloat64()*1.2 + 8))
		_ = h.RecordValue(min(max(v, 1), 24_000_000))
	}
	return h
}

// makeScenario returns a scenario with every field set to a value derived
// from (runID, idx), so a reader can recompute what a writer saved.
func makeScenario(t testing.TB, runID string, idx int, histValues int) Scenario {
	t.Helper()
	s, err := buildScenario(runID, idx, histValues)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// buildScenario is makeScenario without a testing.TB, for the crash child.
func buildScenario(runID string, idx int, histValues int) (Scenario, error) {
	seed := uint64(idx) + 1
	for _, c := range runID {
		seed = seed*31 + uint64(c)
	}
	f := float64(idx)
	hist, err := result.EncodeHistogram(testHistogram(seed, histValues))
	if err != nil {
		return Scenario{}, err
	}
	start := base.Add(time.Duration(idx) * 11 * time.Second)
	lat := &result.Latency{Count: 999_001, Mean: 0.0123 + f/1e3, Stdev: 0.0045, Max: 1.987,
		P50: 0.010, P75: 0.014, P90: 0.021, P99: 0.095, P999: 0.5, P9999: 1.25}
	return Scenario{
		RunID: runID, Name: fmt.Sprintf("target-%d/sync/json", idx%3),
		Target: fmt.Sprintf("target-%d", idx%3), Mode: "sync", Endpoint: "json",
		Index: idx, Start: start, End: start.Add(10*time.Second + 123456789),
		Error: fmt.Sprintf("err %d", idx), Valid: idx%2 == 0, InvalidReasons: []string{"reason"},
		URL: fmt.Sprintf("http://127.0.0.1:8000/myapp/sync/json?i=%d", idx), Method: "GET", Connections: 2000 + idx, Threads: 2 + idx,
		DurationSeconds: 10 + f, TimeoutSeconds: 2.5 + f, OnTimeout: "wait",
		Measurement: result.Measurement{
			MeasuredStart: start.Add(2 * time.Second), MeasuredEnd: start.Add(12 * time.Second),
			ElapsedSeconds: 10.0001 + f,
			Sent:           1_000_003 + uint64(idx), Requests: 999_001 + uint64(idx),
			Responses: result.Classes{990_000, 3, 7_000, 1_998},
			Errors:    result.Kinds{1, 2, 3, 994 + uint64(idx), 5},
			InFlight:  7, BytesRead: 123_456_789_012 + uint64(idx), ConnectionsEstablished: 1999,
			Unexpected: 8_998, LateResponses: 990, LateResponsesPending: 4,
			LateResponseLatency: &result.Latency{Count: 990, Mean: 2.5, P50: 2.4, P99: 3.9, Max: 4.1},
			RequestsPerSecond:   99_900.125 + f, TransferBytesPerSecond: 12_345_678.5, ErrorRatio: 0.009 + f/1e6, TimeoutRatio: 0.000994 + f/1e7,
			Latency:          lat,
			ConnectLatency:   &result.Latency{Count: 2000, Mean: 0.001, P50: 0.0009, P99: 0.004, Max: 0.01},
			OpenLoop:         &result.OpenLoop{TargetRequestsPerSecond: 100_000, AchievedRequestsPerSecond: 99_950, StartedLate: 12, NotSent: 3},
			ErrorSamples:     []string{"timeout: request timed out"},
			LatencyHistogram: hist, RateHistogram: hist, ConnectLatencyHistogram: hist,
		},
		Usage: result.Usage{TargetCPUSeconds: 17.25 + f, TargetPeakRSSBytes: 512 << 20, ClientCPUSeconds: 8.5 + f, ClientPeakRSSBytes: 64<<20 + uint64(idx)},
		// Three repeats, the last without responses (no latency).
		Repeats: []result.Repeat{
			{Measurement: result.Measurement{RequestsPerSecond: 99_000.5 + f, Latency: &result.Latency{P50: 0.01, P99: 0.09}, ErrorRatio: 0.008, TimeoutRatio: 0.0009}},
			{Measurement: result.Measurement{RequestsPerSecond: 100_800.25, Latency: &result.Latency{P50: 0.011, P99: 0.1}, ErrorRatio: 0.01, TimeoutRatio: 0.001}},
			{Measurement: result.Measurement{RequestsPerSecond: 0, ErrorRatio: 1, TimeoutRatio: 1}, Usage: result.Usage{TargetCPUSeconds: 1.5}},
		},
		SchedulerLatencyP99Seconds: 0.0042,
		// The same per scenario name, so that saving runs records no
		// settings change.
		Settings: result.NewSettings(map[string]string{"connections": strconv.Itoa(idx % 3), "command": "x"}),
	}, nil
}

// diffScenario returns a description of the first field where got differs
// from want, or "" if they are equal. Times compare as instants and must
// come back in UTC; the rest compares deeply.
func diffScenario(got, want Scenario) string {
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range gv.NumField() {
		name := gv.Type().Field(i).Name
		g, w := gv.Field(i).Interface(), wv.Field(i).Interface()
		switch w := w.(type) {
		case time.Time:
			g := g.(time.Time)
			if !g.Equal(w) || (!g.IsZero() && g.Location() != time.UTC) {
				return fmt.Sprintf("%s = %v, want %v in UTC", name, g, w)
			}
		case result.Measurement:
			g := g.(result.Measurement)
			if !g.MeasuredStart.Equal(w.MeasuredStart) || !g.MeasuredEnd.Equal(w.MeasuredEnd) {
				return fmt.Sprintf("%s: measured interval %v..%v, want %v..%v", name, g.MeasuredStart, g.MeasuredEnd, w.MeasuredStart, w.MeasuredEnd)
			}
			g.MeasuredStart, g.MeasuredEnd, w.MeasuredStart, w.MeasuredEnd = time.Time{}, time.Time{}, time.Time{}, time.Time{}
			if !reflect.DeepEqual(g, w) {
				return fmt.Sprintf("%s = %+v, want %+v", name, g, w)
			}
		default:
			if !reflect.DeepEqual(g, w) {
				return fmt.Sprintf("%s = %#v, want %#v", name, g, w)
			}
		}
	}
	return ""
}

// beginRun records a running run started at start.
func beginRun(t *testing.T, s Store, id string, start time.Time) {
	t.Helper()
	got, err := s.BeginRun(t.Context(), Run{ID: id, Trigger: "test", Start: start, ConfigHash: "cfg", Version: "v0"})
	if err != nil || got != id {
		t.Fatalf("BeginRun(%s) = %q, %v", id, got, err)
	}
}

// saveScenario saves sc and fails the test on error.
func saveScenario(ctx context.Context, t *testing.T, s Store, sc Scenario) {
	t.Helper()
	if err := s.SaveScenario(ctx, sc); err != nil {
		t.Fatalf("SaveScenario(%s #%d): %v", sc.RunID, sc.Index, err)
	}
}
