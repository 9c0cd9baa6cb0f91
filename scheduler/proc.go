package scheduler

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/internal/proc"
)

// Usage is the resource use of a process tree (see [proc.Usage]): CPU
// seconds, peak RSS in bytes, the number of processes.
type Usage = proc.Usage

// readyChecks are the readiness checks of a configuration's managed targets
// and services, compiled once by [Scheduler.ApplyConfig]; a run reads them
// and never parses a readiness check or loads a CA file again.
type readyChecks struct {
	targets  map[string]targetCheck // by target name; managed targets only
	services map[string]*proc.Probe // by service name
}

// targetCheck is the compiled readiness check of a managed target.
type targetCheck struct {
	probe *proc.Probe
	// tls verifies the https readiness and settle checks: the target's
	// tls_config (see readyTLS); nil is Go's default.
	tls *tls.Config
}

// url returns the readiness check as written, "" for none.
func (c targetCheck) url() string { return c.probe.String() }

// compileReady compiles the readiness checks of cfg; the errors name the
// YAML path of each check that does not parse (config.Validate refuses
// them first, so this only fails for a config built by hand).
func compileReady(cfg *config.Config) (*readyChecks, error) {
	rc := &readyChecks{targets: map[string]targetCheck{}, services: map[string]*proc.Probe{}}
	var errs []error
	for i := range cfg.Targets {
		t := &cfg.Targets[i]
		if t.Process == nil {
			continue
		}
		tc := targetCheck{tls: readyTLS(cfg, t)}
		p, err := proc.ParseProbe(t.ReadyURL(), tc.tls)
		if err != nil {
			errs = append(errs, &config.FieldError{Path: "targets[" + strconv.Itoa(i) + "].process.ready", Err: err})
			continue
		}
		tc.probe = p
		rc.targets[t.Name] = tc
	}
	for i := range cfg.Services {
		svc := &cfg.Services[i]
		p, err := proc.ParseProbe(svc.Ready, nil)
		if err != nil {
			errs = append(errs, &config.FieldError{Path: "services[" + strconv.Itoa(i) + "].ready", Err: err})
			continue
		}
		rc.services[svc.Name] = p
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("scheduler: %w", errors.Join(errs...))
	}
	return rc, nil
}
