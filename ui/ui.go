package ui

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/benchd/benchd/config"
	"github.com/benchd/benchd/pipeline"
	"github.com/benchd/benchd/regress"
	"github.com/benchd/benchd/store"
)

// Source is the part of the run history the UI reads; [store.SQLite]
// implements it.
type Source interface {
	Run(ctx context.Context, id string) (*store.Run, error)
	Runs(ctx context.Context, q store.RunQuery) ([]store.Run, error)
	History(ctx context.Context, scenarioName string, q store.HistoryQuery) ([]store.Scenario, error)
	Accepted(ctx context.Context, scenario string) (map[string]bool, error)
}

// DefaultSparklineRuns is how many recent runs a matrix cell's sparkline
// shows.
const DefaultSparklineRuns = 30

// Options configure a [UI] and [WriteReport].
type Options struct {
	// Store is the run history. Required.
	Store Source
	// Config returns the live configuration, read at each request: its
	// scenarios are the matrix's cells, in order, its regression section
	// the detector's options (pipeline.RegressOptions, as the daemon's
	// detector), its title the pages'. Nil means the scenarios of the
	// newest run with results (of the run, for [WriteReport]) and the
	// detector's defaults.
	Config func() *config.Config
	// Feed, when set, lists the last finished cells on the now page and
	// hands each new result to the UI, which then reads the history once,
	// at its first page (not at all for the scenarios whose history the
	// daemon's detector handed the Feed, [Feed.Loaded]): it must be among
	// the observers of the pipeline that stores the results. Nil lists
	// none, and each page reads the results stored since the previous page.
	Feed *Feed
	// Progress, when set, reports the run in progress, or the last run
	// (ok false before the first), for the now page: the Status method of
	// the pipeline.Progress among the observers of the pipeline that runs
	// the matrix. Nil shows no run.
	Progress func() (st pipeline.RunStatus, ok bool)
	// WriteEnabled reports whether the write API is on (a token or write
	// users configured), read at each request: the scenario page then
	// shows the accept form. Nil means off.
	WriteEnabled func() bool
	// Logger logs failed page renders; nil discards.
	Logger *slog.Logger
	// Now is the clock of the now page; nil means time.Now.
	Now func() time.Time
}

// UI serves the results pages. Create it with [New]; it is safe for
// concurrent use.
type UI struct {
	o     Options
	mux   *http.ServeMux
	cache *cache
	runs  *runCache
}

//go:embed templates/*.html templates/style.css
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(funcs).ParseFS(templateFS, "templates/*.html"))

// style is the stylesheet, inlined in every page (no request, no CDN).
var style = func() template.CSS {
	b, err := templateFS.ReadFile("templates/style.css")
	if err != nil {
		panic(err) // embedded: cannot happen
	}
	return template.CSS(b)
}()

// New returns the UI of o. It panics if o.Store is nil.
func New(o Options) *UI {
	if o.Store == nil {
		panic("ui: no store")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	u := &UI{o: o, mux: http.NewServeMux(), cache: newCache(), runs: newRunCache()}
	if o.Feed != nil {
		u.cache.live = true
		o.Feed.listen(u.cache.add)
		o.Feed.listenLoaded(u.cache.load)
	}
	u.mux.HandleFunc("GET /{$}", u.matrix)
	u.mux.Handle("GET /ui/{$}", http.RedirectHandler("/", http.StatusMovedPermanently)) // the matrix is the root
	u.mux.HandleFunc("GET /ui/scenario/{target}/{mode}/{endpoint}", u.scenario)
	u.mux.HandleFunc("GET /ui/run/{id}", u.run)
	u.mux.HandleFunc("GET /ui/run/{id}/latency/{target}/{mode}/{endpoint}", u.latency)
	u.mux.HandleFunc("GET /ui/now", u.now)
	return u
}

// ServeHTTP serves the pages: GET /, /ui/scenario/{target}/{mode}/{endpoint},
// /ui/run/{id} and /ui/now, and the run page's latency plots,
// /ui/run/{id}/latency/{target}/{mode}/{endpoint} (image/svg+xml); 404 for
// anything else.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.mux.ServeHTTP(w, r) }

// ScenarioPath returns the path of scenario's page (name is
// target/mode/endpoint), where the api server sends a browser back after
// an accepted baseline.
func ScenarioPath(name string) string {
	parts := strings.SplitN(name, "/", 3)
	for i := range parts {
		parts[i] = url.PathEscape(parts[i])
	}
	return "/ui/scenario/" + strings.Join(parts, "/")
}

// RunPath returns the path of the run page of id.
func RunPath(id string) string { return "/ui/run/" + url.PathEscape(id) }

func (u *UI) matrix(w http.ResponseWriter, r *http.Request) {
	snap, err := load(r.Context(), u.o, u.cache)
	if err != nil {
		u.fail(w, err)
		return
	}
	u.render(w, "matrix", &page{Title: u.title(), Nav: "matrix", Matrix: snap.matrix(links{})})
}

func (u *UI) scenario(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("target") + "/" + r.PathValue("mode") + "/" + r.PathValue("endpoint")
	v, err := scenarioView(r.Context(), u.o, u.cache, name)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	v.AcceptPath = ""
	if !v.NoResult && u.o.WriteEnabled != nil && u.o.WriteEnabled() {
		v.AcceptPath = "/api/v1/baselines/" + strings.TrimPrefix(ScenarioPath(name), "/ui/scenario/") + "/accept"
	}
	v.Accepted = r.URL.Query().Get("accepted")
	u.render(w, "scenario", &page{Title: u.title(), Nav: "scenario", Scenario: v})
}

func (u *UI) run(w http.ResponseWriter, r *http.Request) {
	v, err := runView(r.Context(), u.o.Store, r.PathValue("id"), links{}, u.runs)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, "ui: no run "+r.PathValue("id")+" in the history", http.StatusNotFound)
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	u.runs.put(v.ID, v.hist)
	u.render(w, "run", &page{Title: u.title(), Nav: "run", Run: v})
}

// latency serves the latency plot of a scenario of a run, an image of the
// run page.
func (u *UI) latency(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	name := r.PathValue("target") + "/" + r.PathValue("mode") + "/" + r.PathValue("endpoint")
	svg, err := u.runs.plot(r.Context(), u.o.Store, id, name)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if err != nil {
		u.fail(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, max-age=86400") // a stored result never changes
	_, _ = io.WriteString(w, string(svg))
}

func (u *UI) now(w http.ResponseWriter, _ *http.Request) {
	var st pipeline.RunStatus
	ok := false
	if u.o.Progress != nil {
		st, ok = u.o.Progress()
	}
	var recent []FinishedCell
	if u.o.Feed != nil {
		recent = u.o.Feed.Recent()
	}
	v := nowView(st, ok, recent, u.o.Now())
	u.render(w, "now", &page{Title: u.title(), Nav: "now", Now: v, Refresh: v.Running})
}

func (u *UI) title() string { return title(u.o) }

// title is the configuration's title, or "benchd".
func title(o Options) string {
	if o.Config != nil {
		if c := o.Config(); c != nil && c.Title != "" {
			return c.Title
		}
	}
	return "benchd"
}

// regressOptions are the detector's options of o's configuration.
func regressOptions(o Options) regress.Options {
	if o.Config != nil {
		if c := o.Config(); c != nil {
			return pipeline.RegressOptions(c)
		}
	}
	return regress.Options{}
}

func (u *UI) fail(w http.ResponseWriter, err error) {
	u.o.Logger.Error("ui: page failed", "err", err)
	http.Error(w, "ui: "+err.Error(), http.StatusInternalServerError)
}

// render executes the template name into a buffer first, so that a failed
// render answers 500 rather than half a page.
func (u *UI) render(w http.ResponseWriter, name string, p *page) {
	var b strings.Builder
	p.Style = style
	if err := pages.ExecuteTemplate(&b, name, p); err != nil {
		u.fail(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'")
	_, _ = io.WriteString(w, b.String())
}

// page is what every template reads: one of Matrix, Scenario, Run and Now
// is set.
type page struct {
	Title    string
	Nav      string
	Style    template.CSS
	Refresh  bool
	Static   bool // the file of WriteReport: no navigation to other pages
	Matrix   *matrixView
	Scenario *scenarioPage
	Run      *runPage
	Now      *nowPage
}

// links builds the pages' links: to the served pages, or, in the report
// file, to anchors within it (Static).
type links struct{ Static bool }

func (l links) scenario(name string) string {
	if l.Static {
		return "#" + anchor(name)
	}
	return ScenarioPath(name)
}

func (l links) run(id string) string {
	if l.Static {
		return "#run"
	}
	return RunPath(id)
}

// anchor is the HTML id of a scenario's section in a run page.
func anchor(name string) string { return "s-" + strings.NewReplacer("/", "-", " ", "_").Replace(name) }

// Verdict words, shown in the matrix and on the scenario page.
const (
	VerdictRegression = "regression"
	VerdictOK         = "ok"
	VerdictInvalid    = "invalid"
	VerdictUntested   = "untested"
)

// snapshot is what the pages read: each scenario's recent history, its
// accepted baselines, its verdicts and the names in matrix order.
type snapshot struct {
	names    []string
	hist     map[string][]summary // oldest first
	accepted map[string]map[string]bool
	verdicts map[string][]regress.Verdict
}

// load brings c up to date with the history of every scenario (the newest
// regress.DefaultMaxHistory results, what the detector tests) and the
// verdicts over it.
func load(ctx context.Context, o Options, c *cache) (*snapshot, error) {
	names, err := scenarioNames(ctx, o)
	if err != nil {
		return nil, err
	}
	return c.refresh(ctx, o, names)
}

// scenarioNames returns the configured names (of this shard's scenarios:
// config.Config.ShardScenarios), else those of the newest runs (up to 20),
// in the order they ran.
func scenarioNames(ctx context.Context, o Options) ([]string, error) {
	if o.Config != nil {
		if c := o.Config(); c != nil {
			var names []string
			for _, sc := range c.ShardScenarios() {
				names = append(names, sc.Name)
			}
			if len(names) > 0 {
				return names, nil
			}
		}
	}
	runs, err := o.Store.Runs(ctx, store.RunQuery{Limit: 20})
	if err != nil {
		return nil, fmt.Errorf("runs: %w", err)
	}
	var names []string
	seen := map[string]bool{}
	for _, r := range runs {
		run, err := o.Store.Run(ctx, r.ID)
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", r.ID, err)
		}
		for i := range run.Scenarios {
			if n := run.Scenarios[i].Name; !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
		if len(names) > 0 {
			break // the newest run with results names the matrix
		}
	}
	return names, nil
}

// verdictOf sums up a scenario's verdicts and its newest result in one
// word: regression when a signal is a confirmed regression, else invalid
// when the newest result may not be used (failed, contended), else ok when
// a signal was tested, else untested; why says it in words.
func verdictOf(vs []regress.Verdict, newest *summary) (word, why string) {
	var reg []string
	tested := false
	for _, v := range vs {
		if v.Regressed {
			reg = append(reg, fmt.Sprintf("%s %+.1f%%", v.Signal, 100*v.ChangeRatio))
		}
		tested = tested || v.Tested
	}
	switch {
	case len(reg) > 0:
		return VerdictRegression, strings.Join(reg, ", ")
	case newest != nil && !newest.Valid:
		return VerdictInvalid, newest.why()
	case tested:
		return VerdictOK, "no signal regressed"
	}
	why = "no result yet"
	for _, v := range vs {
		if v.Reason != "" {
			why = v.Reason
			break
		}
	}
	return VerdictUntested, why
}

// finite reports whether v is a number to show.
func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

var funcs = template.FuncMap{
	"verdictWords": func() []string { return []string{VerdictRegression, VerdictInvalid, VerdictOK, VerdictUntested} },
	"scenarioPath": ScenarioPath,
}
