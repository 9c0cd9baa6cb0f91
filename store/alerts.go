package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// Alert statuses, as Alertmanager sends them and [Alert.Status] holds.
const (
	// AlertFiring is the status of an alert that is active.
	AlertFiring = "firing"
	// AlertResolved is the status of an alert that has ended.
	AlertResolved = "resolved"
)

// DefaultAlertsLimit is the number of alerts [Store.Alerts] returns when
// [AlertQuery.Limit] is zero or negative.
const DefaultAlertsLimit = 100

// Alert is one alert of an Alertmanager webhook notification, as received.
// Times are returned in UTC; a zero time means "not given" (omitted in
// JSON). Its JSON form is the one of the API (GET /api/v1/alerts) and of
// `benchd report --alerts`. An Alert is a plain value: it may be copied;
// copies share the maps.
type Alert struct {
	// ID is assigned by [Store.SaveAlerts], increasing in the order alerts
	// are saved; it is ignored when saving.
	ID int64 `json:"id"`
	// Received is when benchd received the notification. Required.
	Received time.Time `json:"received"`
	// Receiver is the Alertmanager receiver that sent it, such as
	// "ticket".
	Receiver string `json:"receiver"`
	// GroupKey is Alertmanager's key of the group the notification is
	// for.
	GroupKey string `json:"group_key,omitempty"`
	// Status is AlertFiring or AlertResolved.
	Status string `json:"status"`
	// Name is the alert's alertname label (also in Labels).
	Name string `json:"alertname"`
	// Labels and Annotations are the alert's, as sent; nil reads back as
	// an empty map.
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	// StartsAt and EndsAt bound the alert as Alertmanager saw it; EndsAt
	// of a firing alert is when it will resolve unless renewed.
	StartsAt time.Time `json:"starts_at,omitzero"`
	EndsAt   time.Time `json:"ends_at,omitzero"`
	// Fingerprint identifies the alert's label set in Alertmanager.
	Fingerprint string `json:"fingerprint,omitempty"`
	// GeneratorURL links to the rule in Prometheus.
	GeneratorURL string `json:"generator_url,omitempty"`
}

// AlertQuery selects alerts for [Store.Alerts].
type AlertQuery struct {
	// Limit is the most alerts returned (the newest ones); zero or
	// negative means DefaultAlertsLimit.
	Limit int
	// Since and Until, when not zero, keep the alerts received at or after
	// Since and strictly before Until.
	Since, Until time.Time
	// Name and Status, when not empty, keep the alerts with that alertname
	// and status.
	Name, Status string
}

// SaveAlerts implements [Store.SaveAlerts].
func (s *SQLite) SaveAlerts(ctx context.Context, alerts []Alert) (err error) {
	if s.writer == nil {
		return fmt.Errorf("store: save alerts: %w", ErrReadOnly)
	}
	if len(alerts) == 0 {
		return nil
	}
	rows := make([][]any, len(alerts))
	for i, a := range alerts {
		if a.Status != AlertFiring && a.Status != AlertResolved {
			return fmt.Errorf("store: save alerts: alert %d: status %q is not %s or %s", i, a.Status, AlertFiring, AlertResolved)
		}
		if a.Received.IsZero() {
			return fmt.Errorf("store: save alerts: alert %d: no receive time", i)
		}
		var ts [3]any
		for j, t := range []time.Time{a.Received, a.StartsAt, a.EndsAt} {
			if ts[j], err = timeArg(t); err != nil {
				return fmt.Errorf("store: save alerts: alert %d: %w", i, err)
			}
		}
		labels, err := encodeLabels(a.Labels)
		if err != nil {
			return fmt.Errorf("store: save alerts: alert %d: %w", i, err)
		}
		annotations, err := encodeLabels(a.Annotations)
		if err != nil {
			return fmt.Errorf("store: save alerts: alert %d: %w", i, err)
		}
		rows[i] = []any{ts[0], a.Receiver, a.GroupKey, a.Status, a.Name, labels, annotations, ts[1], ts[2], a.Fingerprint, a.GeneratorURL}
	}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: save alerts: %w", s.classify(err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error that made us roll back is the one to report
		}
	}()
	for _, args := range rows {
		if _, err := tx.ExecContext(ctx, `INSERT INTO alerts (received_unix_nano, receiver, group_key, status, alertname,
			labels, annotations, starts_unix_nano, ends_unix_nano, fingerprint, generator_url)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...); err != nil {
			return fmt.Errorf("store: save alerts: %w", s.classify(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: save alerts: commit: %w", s.classify(err))
	}
	return nil
}

// Alerts implements [Store.Alerts].
func (s *SQLite) Alerts(ctx context.Context, q AlertQuery) ([]Alert, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultAlertsLimit
	}
	since, until := int64(math.MinInt64), int64(math.MaxInt64)
	if !q.Since.IsZero() {
		v, err := timeArg(q.Since)
		if err != nil {
			return nil, fmt.Errorf("store: list alerts: since: %w", err)
		}
		since = v.(int64)
	}
	if !q.Until.IsZero() {
		v, err := timeArg(q.Until)
		if err != nil {
			return nil, fmt.Errorf("store: list alerts: until: %w", err)
		}
		until = v.(int64)
	}
	rows, err := s.reader.QueryContext(ctx, `SELECT id, received_unix_nano, receiver, group_key, status, alertname,
			labels, annotations, starts_unix_nano, ends_unix_nano, fingerprint, generator_url
		FROM alerts
		WHERE received_unix_nano >= ? AND received_unix_nano < ? AND (? = '' OR alertname = ?) AND (? = '' OR status = ?)
		ORDER BY received_unix_nano DESC, id DESC LIMIT ?`,
		since, until, q.Name, q.Name, q.Status, q.Status, limit)
	if err != nil {
		return nil, fmt.Errorf("store: list alerts: %w", err)
	}
	defer rows.Close()
	out := []Alert{}
	for rows.Next() {
		var (
			a                   Alert
			received            int64
			starts, ends        sql.NullInt64
			labels, annotations string
		)
		if err := rows.Scan(&a.ID, &received, &a.Receiver, &a.GroupKey, &a.Status, &a.Name,
			&labels, &annotations, &starts, &ends, &a.Fingerprint, &a.GeneratorURL); err != nil {
			return nil, fmt.Errorf("store: list alerts: %w", err)
		}
		a.Received = time.Unix(0, received).UTC()
		a.StartsAt, a.EndsAt = timeOf(starts), timeOf(ends)
		if a.Labels, err = decodeLabels(labels); err != nil {
			return nil, fmt.Errorf("store: list alerts: alert %d: labels: %w", a.ID, err)
		}
		if a.Annotations, err = decodeLabels(annotations); err != nil {
			return nil, fmt.Errorf("store: list alerts: alert %d: annotations: %w", a.ID, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: list alerts: %w", err)
	}
	return out, nil
}

// encodeLabels stores a label map as a JSON object ("{}" for nil).
func encodeLabels(m map[string]string) (string, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode labels: %w", err)
	}
	return string(b), nil
}

// decodeLabels is the inverse of encodeLabels.
func decodeLabels(s string) (map[string]string, error) {
	m := map[string]string{}
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}
