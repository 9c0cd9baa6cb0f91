package engine_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/benchd/benchd/engine"
)

// Run a short closed-loop test against a local server and read the result.
func ExampleRun() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()

	res, err := engine.Run(context.Background(), engine.Plan{
		URL:         srv.URL + "/json",
		Connections: 4,
		Threads:     2,
		Warmup:      100 * time.Millisecond,
		Duration:    300 * time.Millisecond,
	}, nil)
	if err != nil {
		fmt.Println("run failed:", err)
		return
	}
	fmt.Println("responses, all 2xx:", res.Completed() > 0 && res.Responses[engine.Class2xx] == res.Completed())
	fmt.Println("errors:", res.TotalErrors(), "in flight:", res.InFlight)
	fmt.Println("sent = completed + errors + in flight:", res.Sent == res.Completed()+res.TotalErrors()+res.InFlight)
	fmt.Println("latency samples = responses:", res.Latency.TotalCount() == int64(res.Completed()))
	// Output:
	// responses, all 2xx: true
	// errors: 0 in flight: 0
	// sent = completed + errors + in flight: true
	// latency samples = responses: true
}

// printer is an Observer that prints the phase of each progress report.
type printer struct{}

func (printer) Progress(s engine.Snapshot) { fmt.Println("progress:", s.Phase) }

// Watch a run's progress with an Observer; Progress is called about once
// a second from one goroutine.
func ExampleObserver() {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()

	_, err := engine.Run(context.Background(), engine.Plan{
		URL:         srv.URL,
		Connections: 2,
		Duration:    1500 * time.Millisecond,
	}, printer{})
	fmt.Println("err:", err)
	// Output:
	// progress: measure
	// err: <nil>
}

// Read a wrk-style -H flag.
func ExampleParseHeader() {
	h, err := engine.ParseHeader("Authorization:  Bearer abc ")
	fmt.Printf("%q %q %v\n", h.Name, h.Value, err)
	_, err = engine.ParseHeader("no colon here")
	fmt.Println(err)
	// Output:
	// "Authorization" "Bearer abc" <nil>
	// engine: invalid header "no colon here": want "Name: value"
}
