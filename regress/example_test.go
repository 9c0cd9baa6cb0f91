package regress_test

import (
	"fmt"

	"github.com/benchd/benchd/regress"
)

func ExampleDetect() {
	// Twenty runs around 2000 requests per second, then three at 1500.
	var pts []regress.Point
	for i := range 23 {
		v := 2000 + float64(i%5-2)*20
		if i >= 20 {
			v = 1500 + float64(i%3)*10
		}
		pts = append(pts, regress.Point{RunID: fmt.Sprint("run-", i), Value: v, Valid: true})
	}
	key := regress.SeriesKey{Scenario: "gunicorn-gevent/sync/json", Signal: regress.SignalThroughput}
	for _, v := range regress.Detect(map[regress.SeriesKey][]regress.Point{key: pts}, regress.Options{}) {
		fmt.Printf("%s %s regressed=%v change=%+.0f%% baseline=%.0f current=%.0f n=%d\n",
			v.Scenario, v.Signal, v.Regressed, 100*v.ChangeRatio, v.BaselineMedian, v.Current, v.BaselineN)
	}
	// Output:
	// gunicorn-gevent/sync/json throughput regressed=true change=-24% baseline=2000 current=1510 n=20
}

func ExampleChangePoints() {
	values := []float64{10, 11, 10, 9, 10, 11, 10, 10, 9, 11, 15, 16, 15, 14, 15, 16, 15, 15}
	for _, c := range regress.ChangePoints(values, regress.CPOptions{}) {
		fmt.Printf("shift at %d: %.1f -> %.1f\n", c.Index, c.Before, c.After)
	}
	// Output:
	// shift at 10: 10.1 -> 15.1
}
