package engine

import (
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
)

func TestCompile(t *testing.T) {
	tests := []struct {
		name    string
		plan    Plan
		want    Plan   // the plan as run, URL, Headers and Body aside
		request string // the bytes every connection sends
	}{
		{
			name: "defaults",
			plan: Plan{URL: "http://127.0.0.1:8080/path?q=1"},
			want: Plan{
				Method: "GET", Connections: DefaultConnections, Threads: min(runtime.GOMAXPROCS(0), DefaultConnections),
				Duration: DefaultDuration, Timeout: DefaultTimeout, Grace: DefaultTimeout, ConnectTimeout: DefaultConnectTimeout, MaxBodyBytes: DefaultMaxBodyBytes,
				OnTimeout: TimeoutReconnect,
			},
			request: "GET /path?q=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
		},
		{
			name: "threads capped, grace from timeout, default port",
			plan: Plan{URL: "http://localhost", Connections: 3, Threads: 8, Timeout: 5 * time.Second},
			want: Plan{
				Method: "GET", Connections: 3, Threads: 3, Duration: DefaultDuration,
				Timeout: 5 * time.Second, Grace: 5 * time.Second, ConnectTimeout: DefaultConnectTimeout, MaxBodyBytes: DefaultMaxBodyBytes,
				OnTimeout: TimeoutReconnect,
			},
			request: "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n",
		},
		{
			name: "body, headers in order, host override",
			plan: Plan{
				URL: "http://[::1]:9000/x", Method: "PUT", Body: []byte("abc"), Connections: 1, Grace: time.Second,
				Headers: []Header{{Name: "X-B", Value: "2"}, {Name: "HOST", Value: "example.test"}, {Name: "X-A", Value: "1"}},
			},
			want: Plan{
				Method: "PUT", Connections: 1, Threads: 1, Duration: DefaultDuration,
				Timeout: DefaultTimeout, Grace: time.Second, ConnectTimeout: DefaultConnectTimeout, MaxBodyBytes: DefaultMaxBodyBytes,
				OnTimeout: TimeoutReconnect,
			},
			request: "PUT /x HTTP/1.1\r\nHost: example.test\r\nX-B: 2\r\nX-A: 1\r\nContent-Length: 3\r\n\r\nabc",
		},
		{
			name: "on timeout wait, expect kept",
			plan: Plan{URL: "http://127.0.0.1/", Connections: 1, OnTimeout: TimeoutWait, Expect: Expect{Status: []int{204}, BodyMaxBytes: 9}},
			want: Plan{
				Method: "GET", Connections: 1, Threads: 1, Duration: DefaultDuration, Timeout: DefaultTimeout, Grace: DefaultTimeout,
				ConnectTimeout: DefaultConnectTimeout, MaxBodyBytes: DefaultMaxBodyBytes,
				OnTimeout: TimeoutWait, Expect: Expect{Status: []int{204}, BodyMaxBytes: 9},
			},
			request: "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, err := compile(tt.plan)
			if err != nil {
				t.Fatal(err)
			}
			got := tg.plan
			got.URL, got.Headers, got.Body = "", nil, nil
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("plan as run %+v, want %+v", got, tt.want)
			}
			if string(tg.request) != tt.request {
				t.Errorf("request %q, want %q", tg.request, tt.request)
			}
		})
	}
}

func TestErrorSamples(t *testing.T) {
	tg, err := compile(Plan{URL: "http://127.0.0.1/"})
	if err != nil {
		t.Fatal(err)
	}
	r := newRunner(tg)
	for i := range 2 * MaxErrorSamples {
		r.addSample(KindRead, fmt.Errorf("failure %d", i/2)) // each message twice
	}
	r.addSample(KindTimeout, errors.New("i/o timeout"))
	if len(r.samples) != MaxErrorSamples {
		t.Fatalf("%d samples, want %d: %q", len(r.samples), MaxErrorSamples, r.samples)
	}
	for i, s := range r.samples {
		if want := fmt.Sprintf("read: failure %d", i); s != want {
			t.Errorf("sample %d is %q, want %q", i, s, want)
		}
	}
}
