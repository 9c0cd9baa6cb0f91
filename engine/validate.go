package engine

import (
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// FieldProblem is one problem of a [Plan]: the field at fault and what is
// wrong with it, with the fix where there is one.
type FieldProblem struct {
	// Field names the Plan field as written in Go: "URL", "Connections",
	// "Headers[2]" (the index into Plan.Headers), "CAFile".
	Field string
	// Message says what is wrong and how to fix it, without the field name,
	// such as "must not be negative, got -1".
	Message string
}

// String returns "Field: Message".
func (p FieldProblem) String() string { return p.Field + ": " + p.Message }

// PlanError lists every problem of a [Plan] that [Plan.Validate] or [Run]
// found, in the order of the Plan's fields. It wraps [ErrInvalidPlan].
// Callers with their own vocabulary (a YAML path, a flag name) map each
// FieldProblem.Field to it.
type PlanError struct {
	Problems []FieldProblem
}

// Error returns "engine: invalid plan: " and the problems, separated by "; ".
func (e *PlanError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidPlan.Error())
	b.WriteString(": ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns [ErrInvalidPlan].
func (e *PlanError) Unwrap() error { return ErrInvalidPlan }

// Validate reports whether [Run] can run p, with the defaults of the zero
// fields applied. It returns nil or a [*PlanError] listing every problem:
//   - URL: required; an absolute http:// or https:// URL with a host, a TCP
//     port (1–65535; 80 or 443 when absent), no white space and no user
//     information;
//   - Method: an HTTP token;
//   - Headers[i]: an HTTP token name and a value without control characters
//     or surrounding white space; Host not empty; no Content-Length or
//     Transfer-Encoding (the engine frames Body itself);
//   - Connections, Threads, MaxBodyBytes and every duration: not negative;
//   - Rate: finite, not negative;
//   - OnTimeout: "", TimeoutReconnect or TimeoutWait;
//   - Expect.Status[i]: from 100 to 599; Expect.BodyMinBytes and
//     Expect.BodyMaxBytes: not negative, the maximum (when set) at least
//     the minimum and at most MaxBodyBytes; no body check with HEAD;
//   - CAFile: readable and holding at least one PEM certificate (also on
//     an http:// URL, where it and InsecureSkipVerify are not used).
//
// Validate reads CAFile; it sends nothing. Zero values are valid: they
// select the DefaultX values (callers that treat an explicit zero as a
// typo check that themselves).
func (p Plan) Validate() error {
	_, err := check(p)
	return err
}

// checked is what check learns from a valid plan.
type checked struct {
	u    *url.URL
	addr string // host:port to dial
	host string // the Host header
	tls  bool
	ca   *x509.CertPool // from CAFile, nil for the system roots
}

// check is Validate; it also returns what compile needs of a valid plan.
func check(p Plan) (*checked, error) {
	var probs []FieldProblem
	bad := func(field, format string, args ...any) {
		probs = append(probs, FieldProblem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	c := &checked{}

	u, err := url.Parse(p.URL)
	switch {
	case p.URL == "":
		bad("URL", "is required (an absolute URL such as http://127.0.0.1:8000/path)")
	case err != nil:
		bad("URL", "%v (write it as http://host:port/path)", unwrapURLError(err))
	case strings.ContainsAny(p.URL, " \t\r\n"):
		bad("URL", "contains white space: %q (percent-encode it, a space as %%20)", p.URL)
	case u.Scheme != "http" && u.Scheme != "https":
		bad("URL", "must be an absolute http:// or https:// URL, got %q (write it as http://host:port/path)", p.URL)
	case u.Hostname() == "":
		bad("URL", "has no host: %q (write it as http://host:port/path)", p.URL)
	case u.User != nil:
		bad("URL", "user info is not supported: %q (send an Authorization header instead)", u.Redacted())
	default:
		c.u = u
		c.tls = u.Scheme == "https"
		c.host = u.Host
		port := u.Port()
		if port == "" {
			port = "80"
			if c.tls {
				port = "443"
			}
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			bad("URL", "port %q is not a TCP port (1 to 65535)", port)
		}
		c.addr = net.JoinHostPort(u.Hostname(), port)
	}

	method := p.Method
	if method == "" {
		method = DefaultMethod
	}
	if !validToken(method) {
		bad("Method", "%q is not a valid HTTP method (a token such as GET or POST)", p.Method)
	}
	for i, h := range p.Headers {
		field := "Headers[" + strconv.Itoa(i) + "]"
		if err := checkHeader(h); err != nil {
			bad(field, "%v", err)
			continue
		}
		switch {
		case strings.EqualFold(h.Name, "Host") && h.Value == "":
			bad(field, "Host must not be empty (remove it to send the URL's host)")
		case strings.EqualFold(h.Name, "Host"):
			c.host = h.Value
		case strings.EqualFold(h.Name, "Content-Length"), strings.EqualFold(h.Name, "Transfer-Encoding"):
			bad(field, "%s is set by the engine from the body (remove the header)", h.Name)
		}
	}

	for _, n := range []struct {
		field string
		v     int
	}{{"Connections", p.Connections}, {"Threads", p.Threads}} {
		if n.v < 0 {
			bad(n.field, "must not be negative, got %d", n.v)
		}
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"Warmup", p.Warmup}, {"Duration", p.Duration}, {"Timeout", p.Timeout}, {"ConnectTimeout", p.ConnectTimeout}, {"Grace", p.Grace}} {
		if d.v < 0 {
			bad(d.field, "must not be negative, got %s", d.v)
		}
	}
	if p.Rate < 0 || math.IsNaN(p.Rate) || math.IsInf(p.Rate, 0) {
		bad("Rate", "must be a finite number of requests per second, zero (closed loop) or more, got %v", p.Rate)
	}
	if p.MaxBodyBytes < 0 {
		bad("MaxBodyBytes", "must not be negative, got %d", p.MaxBodyBytes)
	}

	switch p.OnTimeout {
	case "", TimeoutReconnect, TimeoutWait:
	default:
		bad("OnTimeout", "%q is not a timeout policy (want %q or %q)", p.OnTimeout, TimeoutReconnect, TimeoutWait)
	}
	checkExpect(&p, method, bad)

	if p.CAFile != "" {
		if pool, msg := loadCA(p.CAFile); msg != "" {
			bad("CAFile", "%s", msg)
		} else {
			c.ca = pool
		}
	}

	if len(probs) > 0 {
		return nil, &PlanError{Problems: probs}
	}
	return c, nil
}

// checkExpect adds the problems of p.Expect to bad.
func checkExpect(p *Plan, method string, bad func(field, format string, args ...any)) {
	e := &p.Expect
	for i, code := range e.Status {
		if code < 100 || code > 599 {
			bad("Expect.Status["+strconv.Itoa(i)+"]", "%d is not an HTTP status code (give one from 100 to 599)", code)
		}
	}
	capBytes := p.MaxBodyBytes
	if capBytes <= 0 {
		capBytes = DefaultMaxBodyBytes
	}
	switch {
	case e.BodyMinBytes < 0:
		bad("Expect.BodyMinBytes", "must not be negative, got %d", e.BodyMinBytes)
	case e.BodyMinBytes > capBytes:
		bad("Expect.BodyMinBytes", "%d is more than MaxBodyBytes %d, the most of a body that is read (raise MaxBodyBytes)", e.BodyMinBytes, capBytes)
	}
	switch {
	case e.BodyMaxBytes < 0:
		bad("Expect.BodyMaxBytes", "must not be negative, got %d", e.BodyMaxBytes)
	case e.BodyMaxBytes > capBytes:
		bad("Expect.BodyMaxBytes", "%d is more than MaxBodyBytes %d, the most of a body that is read (lower it, or raise MaxBodyBytes)", e.BodyMaxBytes, capBytes)
	case e.BodyMaxBytes > 0 && e.BodyMaxBytes < e.BodyMinBytes:
		bad("Expect.BodyMaxBytes", "%d is less than Expect.BodyMinBytes %d (no body could pass)", e.BodyMaxBytes, e.BodyMinBytes)
	}
	if strings.EqualFold(method, "HEAD") && e.checksBody() {
		field := "Expect.BodyContains"
		switch {
		case e.BodyContains != "":
		case e.BodyMinBytes != 0:
			field = "Expect.BodyMinBytes"
		default:
			field = "Expect.BodyMaxBytes"
		}
		bad(field, "a response to HEAD has no body (remove the body checks, or use GET)")
	}
}

// loadCA reads the PEM certificates of file into a pool; on failure it
// returns the reason and the fix.
func loadCA(file string) (*x509.CertPool, string) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Sprintf("cannot read the CA certificates: %v (give a readable PEM file)", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, file + " holds no PEM certificate (want -----BEGIN CERTIFICATE----- blocks)"
	}
	return pool, ""
}

// unwrapURLError drops url.Error's "parse <url>:" prefix, which repeats the
// URL the message quotes anyway.
func unwrapURLError(err error) error {
	ue := &url.Error{}
	if errors.As(err, &ue) {
		return fmt.Errorf("%q: %w", ue.URL, ue.Err)
	}
	return err
}
