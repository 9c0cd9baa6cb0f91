package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/benchd/benchd/store"
)

// Alerts is the alert side of the run history: where the Alertmanager
// webhook stores what it receives and what GET /api/v1/alerts lists. The
// store package's SQLite implements it.
type Alerts interface {
	SaveAlerts(ctx context.Context, alerts []store.Alert) error
	Alerts(ctx context.Context, q store.AlertQuery) ([]store.Alert, error)
}

// Limits of an Alertmanager webhook notification.
const (
	// MaxWebhookBytes bounds the body of POST /api/v1/alertmanager/webhook:
	// 1 MiB, a few hundred alerts with their labels and annotations. A
	// larger body is refused with 413; set max_alerts in Alertmanager's
	// webhook_configs to stay under it.
	MaxWebhookBytes = 1 << 20
	// MaxWebhookAlerts bounds the alerts of one notification.
	MaxWebhookAlerts = 1000
)

// WebhookVersion is the version of Alertmanager's webhook payload that
// [DecodeWebhook] reads, the one every Alertmanager since 0.8 sends.
const WebhookVersion = "4"

// WebhookMessage is the body of an Alertmanager webhook notification
// (version 4), the fields benchd keeps. Alertmanager's own type
// (notify/webhook.Message) lives in a module that would bring Alertmanager's
// whole dependency tree into benchd for one struct; this is its JSON shape.
type WebhookMessage struct {
	// Version is "4".
	Version string `json:"version"`
	// GroupKey identifies the alert group in Alertmanager.
	GroupKey string `json:"groupKey"`
	// TruncatedAlerts counts the alerts left out by max_alerts.
	TruncatedAlerts int `json:"truncatedAlerts"`
	// Status is "firing" or "resolved": firing while any alert fires.
	Status string `json:"status"`
	// Receiver is the name of the receiver that sent it.
	Receiver string `json:"receiver"`
	// GroupLabels, CommonLabels and CommonAnnotations are the group's.
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	// ExternalURL links back to the Alertmanager.
	ExternalURL string `json:"externalURL"`
	// Alerts are the alerts of the group, at least one.
	Alerts []WebhookAlert `json:"alerts"`
}

// WebhookAlert is one alert of a [WebhookMessage].
type WebhookAlert struct {
	// Status is "firing" or "resolved".
	Status string `json:"status"`
	// Labels identify the alert; alertname among them.
	Labels map[string]string `json:"labels"`
	// Annotations are its summary, description, runbook_url...
	Annotations map[string]string `json:"annotations"`
	// StartsAt and EndsAt bound the alert; Alertmanager sends the zero
	// time (0001-01-01T00:00:00Z) for "not known", which decodes as the
	// zero time.Time.
	StartsAt time.Time `json:"startsAt"`
	EndsAt   time.Time `json:"endsAt"`
	// GeneratorURL links to the rule that raised it.
	GeneratorURL string `json:"generatorURL"`
	// Fingerprint identifies the label set.
	Fingerprint string `json:"fingerprint"`
}

// webhookJSON is the wire form: times as strings, so that a bad one is
// reported with its field.
type webhookJSON struct {
	WebhookMessage
	Alerts []webhookAlertJSON `json:"alerts"`
}

type webhookAlertJSON struct {
	WebhookAlert
	StartsAt *string `json:"startsAt"`
	EndsAt   *string `json:"endsAt"`
}

// ErrWebhookTooLarge is returned, wrapped, by [DecodeWebhook] for a body
// over [MaxWebhookBytes].
var ErrWebhookTooLarge = errors.New("api: webhook body too large")

// DecodeWebhook reads one Alertmanager webhook notification (version 4)
// from r, at most [MaxWebhookBytes] of it, and checks it: version 4, a
// status of firing or resolved on the message and on each of its 1 to
// [MaxWebhookAlerts] alerts, and times that are RFC 3339 and within the
// years 1678 to 2261 (what the run history keeps) or Alertmanager's zero
// time. Unknown fields are ignored (newer Alertmanagers add some); data
// after the JSON object is an error. Errors name the field, such as
// `alerts[2].startsAt: want an RFC 3339 time, got "yesterday"`; a body
// over the limit gives an error satisfying errors.Is(err,
// [ErrWebhookTooLarge]). The caller owns the result.
func DecodeWebhook(r io.Reader) (*WebhookMessage, error) {
	body, err := io.ReadAll(io.LimitReader(r, MaxWebhookBytes+1))
	if err != nil {
		return nil, fmt.Errorf("api: read webhook body: %w", err)
	}
	if len(body) > MaxWebhookBytes {
		return nil, fmt.Errorf("%w: over %d bytes (set max_alerts in Alertmanager's webhook_configs)", ErrWebhookTooLarge, MaxWebhookBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var w webhookJSON
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("not an Alertmanager webhook message (JSON): %w", err)
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object: send one webhook message per request")
	}
	m := w.WebhookMessage
	switch {
	case m.Version != WebhookVersion:
		return nil, fmt.Errorf("version: %q, want %q (Alertmanager's webhook payload version 4)", m.Version, WebhookVersion)
	case !alertStatus(m.Status):
		return nil, fmt.Errorf("status: %q, want firing or resolved", m.Status)
	case len(w.Alerts) == 0:
		return nil, errors.New("alerts: none: a notification carries at least one alert")
	case len(w.Alerts) > MaxWebhookAlerts:
		return nil, fmt.Errorf("alerts: %d, more than %d (set max_alerts in Alertmanager's webhook_configs)", len(w.Alerts), MaxWebhookAlerts)
	}
	m.Alerts = make([]WebhookAlert, len(w.Alerts))
	for i, a := range w.Alerts {
		at := fmt.Sprintf("alerts[%d]", i)
		if !alertStatus(a.Status) {
			return nil, fmt.Errorf("%s.status: %q, want firing or resolved", at, a.Status)
		}
		out := a.WebhookAlert
		for _, f := range []struct {
			name string
			in   *string
			out  *time.Time
		}{{"startsAt", a.StartsAt, &out.StartsAt}, {"endsAt", a.EndsAt, &out.EndsAt}} {
			if f.in == nil {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, *f.in)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: want an RFC 3339 time, got %q", at, f.name, *f.in)
			}
			if t.IsZero() {
				continue // Alertmanager's "not known"
			}
			if t.Before(minBefore) || !t.Before(maxBefore) {
				return nil, fmt.Errorf("%s.%s: %s is out of range: want a time from %s to %s", at, f.name, *f.in,
					minBefore.Format(time.RFC3339), maxBefore.Format(time.RFC3339))
			}
			*f.out = t.UTC()
		}
		m.Alerts[i] = out
	}
	return &m, nil
}

func alertStatus(s string) bool { return s == store.AlertFiring || s == store.AlertResolved }

// alertmanagerWebhook serves POST /api/v1/alertmanager/webhook: it
// records each alert of the notification in the run history and counts
// it. 200 once stored; 400 for a body that is not a version 4 message,
// 413 for one over MaxWebhookBytes, 500 when the history cannot store it
// (Alertmanager then retries).
func (s *Server) alertmanagerWebhook(w http.ResponseWriter, r *http.Request) {
	if s.opts.Alerts == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no run history: benchd runs without a store"})
		return
	}
	m, err := DecodeWebhook(http.MaxBytesReader(w, r.Body, MaxWebhookBytes+1))
	if err != nil {
		code := http.StatusBadRequest
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok || errors.Is(err, ErrWebhookTooLarge) {
			code = http.StatusRequestEntityTooLarge
		}
		writeJSON(w, code, map[string]string{"error": "alertmanager webhook: " + err.Error()})
		return
	}
	now := time.Now().UTC()
	if s.opts.Now != nil {
		now = s.opts.Now().UTC()
	}
	alerts := make([]store.Alert, len(m.Alerts))
	for i, a := range m.Alerts {
		alerts[i] = store.Alert{
			Received: now, Receiver: m.Receiver, GroupKey: m.GroupKey, Status: a.Status, Name: a.Labels["alertname"],
			Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt, EndsAt: a.EndsAt,
			Fingerprint: a.Fingerprint, GeneratorURL: a.GeneratorURL,
		}
	}
	if err := s.opts.Alerts.SaveAlerts(r.Context(), alerts); err != nil {
		s.log.Error("api: store alert notification", "receiver", m.Receiver, "alerts", len(alerts), "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "storing the notification in the run history failed"})
		return
	}
	if s.opts.AlertReceived != nil {
		for _, a := range alerts {
			s.opts.AlertReceived(a.Status, a.Name)
		}
	}
	s.log.Info("alert notification received", "receiver", m.Receiver, "status", m.Status, "alerts", len(alerts),
		"truncated_alerts", m.TruncatedAlerts)
	writeJSON(w, http.StatusOK, map[string]any{"status": "stored", "alerts": len(alerts)})
}

// parseAlertQuery parses the query of GET /api/v1/alerts: limit (1 to
// 1000), since and until (RFC 3339), alertname, status (firing or
// resolved). Its errors name the parameter.
func parseAlertQuery(v url.Values) (store.AlertQuery, error) {
	n, err := parseLimit(v)
	if err != nil {
		return store.AlertQuery{}, err
	}
	q := store.AlertQuery{Limit: n, Name: v.Get("alertname"), Status: v.Get("status")}
	if q.Status != "" && !alertStatus(q.Status) {
		return store.AlertQuery{}, fmt.Errorf("status: %q, want firing or resolved", q.Status)
	}
	for _, p := range []struct {
		name string
		out  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		s := v.Get(p.name)
		if s == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return store.AlertQuery{}, fmt.Errorf("%s: want an RFC 3339 time such as 2026-11-29T17:00:00Z", p.name)
		}
		if t.Before(minBefore) || t.After(maxBefore) {
			return store.AlertQuery{}, fmt.Errorf("%s: %s is out of range: want a time from %s to %s", p.name, s,
				minBefore.Format(time.RFC3339), maxBefore.Format(time.RFC3339))
		}
		*p.out = t
	}
	return q, nil
}

// listAlerts serves GET /api/v1/alerts: the alerts received, newest first.
func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request) {
	if s.opts.Alerts == nil {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no run history: benchd runs without a store"})
		return
	}
	q, err := parseAlertQuery(r.URL.Query())
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	list, err := s.opts.Alerts.Alerts(r.Context(), q)
	if err != nil {
		s.log.Error("api: list alerts", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "reading the run history failed"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"alerts": list})
}
