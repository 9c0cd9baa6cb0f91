package engine

import (
	"errors"
	"fmt"
	"slices"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Merge combines the results of repeats of one plan, run one after the
// other, into one result as if their measured intervals were one: counters
// and Elapsed are summed (so RequestsPerSecond is total completed requests
// over total measured time, the mean of equal-length repeats), histograms
// are merged, ConnectionsEstablished is the largest, Start is the first
// repeat's and End the last one's, and error samples are kept up to
// [MaxErrorSamples], first seen first. Plan is the first result's with
// Duration the sum of the repeats' (so that a wrk report of the merged
// result reads "Running 30s test" for three repeats of 10 s).
//
// The inputs are not modified. Merge returns an error if rs is empty,
// holds nil, or mixes plans (different URL, method, connections, duration,
// timeout or rate).
func Merge(rs ...*Result) (*Result, error) {
	if len(rs) == 0 {
		return nil, errors.New("engine: merge: no results")
	}
	if slices.Contains(rs, nil) {
		return nil, errors.New("engine: merge: nil result")
	}
	first := rs[0]
	out := &Result{
		Plan:                   first.Plan,
		Start:                  first.Start,
		End:                    rs[len(rs)-1].End,
		ConnectionsEstablished: first.ConnectionsEstablished,
	}
	var err error
	merge := func(dst **hdrhistogram.Histogram, src *hdrhistogram.Histogram) {
		if src == nil {
			return
		}
		if *dst == nil {
			*dst = hdrhistogram.Import(src.Export())
			return
		}
		// Merge drops values above the destination's range and says how
		// many; same-plan repeats share the range, so none should be.
		if dropped := (*dst).Merge(src); dropped > 0 && err == nil {
			err = fmt.Errorf("engine: merge: %d values outside the histogram range", dropped)
		}
	}
	out.Plan.Duration = 0
	for i, r := range rs {
		out.Plan.Duration += r.Plan.Duration
		p, q := r.Plan, first.Plan
		if p.URL != q.URL || p.Method != q.Method || p.Connections != q.Connections ||
			p.Duration != q.Duration || p.Timeout != q.Timeout || p.Rate != q.Rate {
			return nil, fmt.Errorf("engine: merge: result %d ran another plan (%s %s, %d connections, %s) than result 0 (%s %s, %d connections, %s)",
				i, p.Method, p.URL, p.Connections, p.Duration, q.Method, q.URL, q.Connections, q.Duration)
		}
		out.Elapsed += r.Elapsed
		out.Sent += r.Sent
		for c := range r.Responses {
			out.Responses[c] += r.Responses[c]
		}
		for k := range r.Errors {
			out.Errors[k] += r.Errors[k]
		}
		out.InFlight += r.InFlight
		out.BytesRead += r.BytesRead
		out.StartedLate += r.StartedLate
		out.Unexpected += r.Unexpected
		out.LateResponses += r.LateResponses
		out.LateResponsesPending += r.LateResponsesPending
		out.ConnectionsEstablished = max(out.ConnectionsEstablished, r.ConnectionsEstablished)
		merge(&out.Latency, r.Latency)
		merge(&out.LatencyUncorrected, r.LatencyUncorrected)
		merge(&out.ConnectLatency, r.ConnectLatency)
		merge(&out.LateResponseLatency, r.LateResponseLatency)
		merge(&out.RequestsPerSecondSamples, r.RequestsPerSecondSamples)
		for _, s := range r.ErrorSamples {
			if len(out.ErrorSamples) < MaxErrorSamples && !slices.Contains(out.ErrorSamples, s) {
				out.ErrorSamples = append(out.ErrorSamples, s)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}
