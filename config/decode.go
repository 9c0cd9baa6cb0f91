package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// FieldError is one problem in a configuration, at one YAML path. The errors
// of [Load], [Parse] and [Config.Validate] are joins of FieldErrors; find
// them with errors.As. A FieldError is not changed after it is returned.
type FieldError struct {
	// Path is where the problem is, such as targets[2].process.ready_timeout
	// or targets[0].overrides.json; "" means the document as a whole.
	Path string
	// Line is the 1-based line of the problem in the YAML document, when the
	// decoder knows it; 0 otherwise (Validate works on decoded values).
	Line int
	// Err says what is wrong and how to fix it.
	Err error
}

// Error returns "path: problem (how to fix)", with the line appended when
// known.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	if e.Line > 0 {
		fmt.Fprintf(&b, " [line %d]", e.Line)
	}
	return b.String()
}

// Unwrap returns e.Err.
func (e *FieldError) Unwrap() error { return e.Err }

// fieldErrors are the problems found while decoding.
type fieldErrors []error

// Error joins the problems, one per line.
func (f fieldErrors) Error() string { return errors.Join(f...).Error() }

// Headers are request headers in document order. In YAML they are either a
// mapping of name to value or a list of "Name: value" strings; the list form
// may repeat a name. Values are trimmed of surrounding spaces and tabs; the
// names are checked by [Config.Validate], not while decoding.
type Headers []Header

// UnmarshalYAML decodes either form of headers.
func (h *Headers) UnmarshalYAML(n *yaml.Node) error {
	var problems []string
	bad := func(at *yaml.Node, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("line %d: column %d: ", at.Line, at.Column)+fmt.Sprintf(format, args...))
	}
	out := Headers{}
	switch n.Kind {
	case yaml.MappingNode:
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], resolveAlias(n.Content[i+1])
			if k.Kind != yaml.ScalarNode {
				bad(k, "want a header name, got a %s", kindName(k))
				continue
			}
			if first, ok := seen[k.Value]; ok {
				bad(k, "header %q given twice (first at line %d); use the list form [\"Name: value\", ...] to repeat a header", k.Value, first)
				continue
			}
			seen[k.Value] = k.Line
			if v.Kind != yaml.ScalarNode {
				bad(v, "want the value of header %q as a string, got a %s", k.Value, kindName(v))
				continue
			}
			out = append(out, Header{Name: k.Value, Value: trimOWS(v.Value)})
		}
	case yaml.SequenceNode:
		for _, item := range n.Content {
			item = resolveAlias(item)
			if item.Kind != yaml.ScalarNode {
				bad(item, "want a \"Name: value\" string, got a %s", kindName(item))
				continue
			}
			name, value, ok := strings.Cut(item.Value, ":")
			if !ok {
				bad(item, "want a \"Name: value\" string, got %q (add a colon after the header name)", item.Value)
				continue
			}
			out = append(out, Header{Name: name, Value: trimOWS(value)})
		}
	default:
		bad(n, "want a mapping of header names to values or a list of \"Name: value\" strings, got %s", describeNode(n))
	}
	if problems != nil {
		return &yaml.TypeError{Errors: problems}
	}
	*h = out
	return nil
}

// MarshalYAML encodes headers in the list form, which keeps order and
// repeated names.
func (h Headers) MarshalYAML() (any, error) {
	lines := make([]string, len(h))
	for i, x := range h {
		lines[i] = x.Name + ": " + x.Value
	}
	return lines, nil
}

// trimOWS trims HTTP optional whitespace (spaces and tabs).
func trimOWS(s string) string { return strings.Trim(s, " \t") }

func resolveAlias(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		return n.Alias
	}
	return n
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	case yaml.DocumentNode:
		return "document"
	}
	return "scalar"
}

func describeNode(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return "a " + kindName(n)
}

// spot is a node of the document and the YAML path it is at.
type spot struct {
	path      string
	line, col int
	kind      yaml.Kind
	value     string
	key       bool // the key of a mapping entry rather than a value
	used      bool // already matched to a message
}

// index lists the nodes of a document with their paths, in document order.
type index []*spot

func buildIndex(data []byte) index {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil
	}
	var ix index
	var walk func(n *yaml.Node, path string, depth int)
	walk = func(n *yaml.Node, path string, depth int) {
		if depth > 100 { // deeper than any benchd config; stop, do not recurse forever
			return
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				ix = append(ix, &spot{path: path, line: c.Line, col: c.Column, kind: c.Kind, value: c.Value})
				walk(c, path, depth+1)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := childPath(path, k.Value)
				ix = append(ix,
					&spot{path: p, line: k.Line, col: k.Column, kind: k.Kind, value: k.Value, key: true},
					&spot{path: p, line: v.Line, col: v.Column, kind: v.Kind, value: v.Value})
				walk(v, p, depth+1)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				ix = append(ix, &spot{path: p, line: c.Line, col: c.Column, kind: c.Kind, value: c.Value})
				walk(c, p, depth+1)
			}
		}
	}
	walk(&root, "", 0)
	return ix
}

// find returns the first unused spot that matches, marking it used.
func (ix index) find(match func(*spot) bool) *spot {
	for _, s := range ix {
		if !s.used && match(s) {
			s.used = true
			return s
		}
	}
	for _, s := range ix { // all matches used: a second message about the same node
		if match(s) {
			return s
		}
	}
	return nil
}

var (
	reUnknownField = regexp.MustCompile(`^line (\d+): field (.*) not found in type (\S+)$`)
	reCannot       = regexp.MustCompile("^line (\\d+): cannot unmarshal (\\S+)(?: `(.*)`)? into (.+)$")
	reDuplicateKey = regexp.MustCompile(`^line (\d+): mapping key (".*") already defined at line (\d+)$`)
	reColumn       = regexp.MustCompile(`^line (\d+): column (\d+): (.*)$`)
	reLine         = regexp.MustCompile(`^line (\d+): (.*)$`)
)

// locate turns the messages of a yaml.TypeError, which carry line numbers,
// into FieldErrors with YAML paths and advice.
// Only the first maxLocated messages are located (each is a search of the
// document, so all of a 4 MiB file's would take minutes); the rest are
// counted.
func locate(data []byte, messages []string) fieldErrors {
	ix := buildIndex(data)
	errs := make(fieldErrors, 0, min(len(messages), maxLocated+1))
	for _, msg := range messages[:min(len(messages), maxLocated)] {
		errs = append(errs, locateOne(ix, msg))
	}
	if n := len(messages) - maxLocated; n > 0 {
		errs = append(errs, &FieldError{Err: fmt.Errorf("and %d more problems of the same kind, not shown (fix the ones above first)", n)})
	}
	return errs
}

// maxLocated is the most decoding problems [locate] reports one by one.
const maxLocated = 100

func locateOne(ix index, msg string) *FieldError {
	at := func(s *spot, line int, err error) *FieldError {
		if s == nil {
			return &FieldError{Line: line, Err: err}
		}
		return &FieldError{Path: s.path, Line: s.line, Err: err}
	}
	if m := reUnknownField.FindStringSubmatch(msg); m != nil {
		line, name := atoi(m[1]), m[2]
		s := ix.find(func(s *spot) bool { return s.key && s.line == line && s.value == name })
		return at(s, line, unknownKey(name, m[3]))
	}
	if m := reCannot.FindStringSubmatch(msg); m != nil {
		line, tag, value, goType := atoi(m[1]), m[2], m[3], m[4]
		s := ix.find(func(s *spot) bool {
			if s.key || s.line != line {
				return false
			}
			switch tag {
			case "!!seq":
				return s.kind == yaml.SequenceNode
			case "!!map":
				return s.kind == yaml.MappingNode
			}
			if prefix, ok := strings.CutSuffix(value, "..."); ok && len(value) == 10 {
				return s.kind == yaml.ScalarNode && strings.HasPrefix(s.value, prefix)
			}
			return s.kind == yaml.ScalarNode && s.value == value
		})
		got := "a list"
		switch {
		case tag == "!!map":
			got = "a mapping"
		case tag != "!!seq" && s != nil:
			got = strconv.Quote(s.value)
		case tag != "!!seq":
			got = strconv.Quote(value)
		}
		return at(s, line, fmt.Errorf("%s, got %s", want(goType), got))
	}
	if m := reDuplicateKey.FindStringSubmatch(msg); m != nil {
		line, first := atoi(m[1]), m[3]
		name, err := strconv.Unquote(m[2])
		if err != nil {
			name = m[2]
		}
		s := ix.find(func(s *spot) bool { return s.key && s.line == line && s.value == name })
		return at(s, line, fmt.Errorf("key %q is given twice, first at line %s (keep one)", name, first))
	}
	if m := reColumn.FindStringSubmatch(msg); m != nil {
		line, col := atoi(m[1]), atoi(m[2])
		s := ix.find(func(s *spot) bool { return s.line == line && s.col == col })
		return at(s, line, errors.New(m[3]))
	}
	if m := reLine.FindStringSubmatch(msg); m != nil {
		line := atoi(m[1])
		s := ix.find(func(s *spot) bool { return s.line == line })
		return at(s, line, errors.New(m[2]))
	}
	return &FieldError{Err: errors.New(msg)}
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n
}

// want says what a Go type, as named in a yaml.v3 message, wants in YAML.
func want(goType string) string {
	switch goType {
	case "time.Duration", "*time.Duration":
		return "want a duration with a unit, such as 10s, 1m30s or 500ms"
	case "int", "*int":
		return "want a whole number"
	case "float64", "*float64":
		return "want a number"
	case "bool":
		return "want true or false"
	case "string", "*string":
		return "want a string"
	case "[]string":
		return "want a list of strings, such as [a, b]"
	case "[][]string":
		return "want a list of commands, each a list of strings such as [[prog, arg]]"
	case "map[string]string":
		return "want a mapping of names to strings"
	case "map[string]config.Settings":
		return "want a mapping of endpoint names to load settings"
	case "[]config.Service":
		return "want a list of services"
	case "[]config.Target":
		return "want a list of targets"
	case "[]config.Endpoint":
		return "want a list of endpoints"
	}
	if keys := knownKeys(goType); keys != nil {
		return "want a mapping with keys " + strings.Join(keys, ", ")
	}
	return "want a value of type " + goType
}

// unknownKey explains an unknown key of the struct type goType.
func unknownKey(name, goType string) error {
	keys := knownKeys(goType)
	if keys == nil {
		return fmt.Errorf("unknown key %q (remove it)", name)
	}
	if best := closest(name, keys); best != "" {
		return fmt.Errorf("unknown key %q (did you mean %q?)", name, best)
	}
	return fmt.Errorf("unknown key %q (valid keys: %s)", name, strings.Join(keys, ", "))
}

// schemaTypes are the struct types a document decodes into.
var schemaTypes = []reflect.Type{
	reflect.TypeFor[Config](),
	reflect.TypeFor[Settings](),
	reflect.TypeFor[Service](),
	reflect.TypeFor[serviceYAML](),
	reflect.TypeFor[Target](),
	reflect.TypeFor[Process](),
	reflect.TypeFor[processYAML](),
	reflect.TypeFor[Endpoint](),
	reflect.TypeFor[Expect](),
	reflect.TypeFor[SizeRange](),
	reflect.TypeFor[TLSConfig](),
	reflect.TypeFor[API](),
	reflect.TypeFor[Shards](),
}

// knownKeys returns the YAML keys of the schema struct named goType (as
// reflect names it, "config.Target"), or nil if it is not one.
func knownKeys(goType string) []string {
	for _, t := range schemaTypes {
		if t.String() == goType {
			return yamlKeys(t)
		}
	}
	return nil
}

func yamlKeys(t reflect.Type) []string {
	var keys []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case name == "-":
		case strings.Contains(opts, "inline"):
			keys = append(keys, yamlKeys(f.Type)...)
		case name == "":
			keys = append(keys, strings.ToLower(f.Name))
		default:
			keys = append(keys, name)
		}
	}
	return keys
}

// closest returns the candidate nearest to name (compared in lower case)
// that name may be a typo of, or "" if there is none: within edit
// distance 2, or 3 of a candidate of [longName] bytes or more, which
// also finds an abbreviation such as thruput for throughput. Ties go to
// the first candidate. It is the one "did you mean" of benchd: keys,
// names, scenarios and signals (of the configuration and of flags such
// as --fail-on and --threshold).
func closest(name string, candidates []string) string {
	best, bestDist := "", 0
	lower := strings.ToLower(name)
	for _, c := range candidates {
		limit := 2
		if len(c) >= longName {
			limit = 3
		}
		if d := editDistance(lower, c); d <= limit && (best == "" || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// longName is the length from which [closest] allows a third edit: in
// shorter names three edits change too much to be a typo.
const longName = 9

// editDistance is the Levenshtein distance between a and b, in bytes; long
// inputs are not compared (they are no typo of a key).
func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 30
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// reSimpleKey matches map keys written as .key in a path; others are
// written as ["key"].
var reSimpleKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// childPath returns the path of key inside the mapping at path.
func childPath(path, key string) string {
	if !reSimpleKey.MatchString(key) {
		return path + "[" + strconv.Quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// fractions reports the numbers with a fractional part given for integer
// fields of the document in data, such as repeats: 2.5, which yaml.v3
// truncates without a word. The walk follows the Go types of Config from
// the root; nodes it cannot match to a field are left to the decoder.
func fractions(data []byte) fieldErrors {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil || len(root.Content) == 0 {
		return nil
	}
	var errs fieldErrors
	var walk func(n *yaml.Node, t reflect.Type, path string, depth int)
	walk = func(n *yaml.Node, t reflect.Type, path string, depth int) {
		if depth > 100 || len(errs) >= maxLocated { // deeper than any benchd config
			return
		}
		n = resolveAlias(n)
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		switch {
		case t == reflect.TypeFor[time.Duration]():
		case isInt(t.Kind()):
			if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!float" {
				var f float64
				if n.Decode(&f) == nil && f != math.Trunc(f) {
					errs = append(errs, &FieldError{Path: path, Line: n.Line,
						Err: fmt.Errorf("want a whole number, got %q (it is not rounded; write %d or %d)", n.Value, int64(math.Floor(f)), int64(math.Ceil(f)))})
				}
			}
		case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				if f, ok := yamlField(t, k.Value); ok {
					walk(n.Content[i+1], f, childPath(path, k.Value), depth+1)
				}
			}
		case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i+1], t.Elem(), childPath(path, n.Content[i].Value), depth+1)
			}
		case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i), depth+1)
			}
		}
	}
	walk(root.Content[0], reflect.TypeFor[Config](), "", 0)
	return errs
}

func isInt(k reflect.Kind) bool {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// yamlField returns the type of the field of struct t that YAML key name
// decodes into, looking into inline fields.
func yamlField(t reflect.Type, name string) (reflect.Type, bool) {
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		tag, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case tag == "-":
		case strings.Contains(opts, "inline"):
			if ft, ok := yamlField(f.Type, name); ok {
				return ft, true
			}
		case tag == name || tag == "" && strings.ToLower(f.Name) == name:
			return f.Type, true
		}
	}
	return nil, false
}

// reYAMLError is yaml.v3's form of a syntax error.
var reYAMLError = regexp.MustCompile(`^yaml: (?:line \d+: )?(.*)$`)

// maxBisectBytes bounds the documents whose syntax errors [syntaxError]
// locates: each step parses a prefix again.
const maxBisectBytes = 1 << 20

// syntaxError turns yaml.v3's syntax error err about data into a FieldError
// at the line of the problem. yaml.v3 names the line where the enclosing
// list or mapping starts, 0-based, rather than the line of the problem
// (parser.fail prefers the context mark): a bad indent on line 3 comes out
// as "line 1". The problem's line is the shortest prefix of data, in whole
// lines, that fails with the same error, found by bisection. Errors of
// another form, and documents over maxBisectBytes, are returned as is.
func syntaxError(data []byte, err error) error {
	m := reYAMLError.FindStringSubmatch(err.Error())
	if m == nil || len(data) > maxBisectBytes {
		return err
	}
	lines := bytes.SplitAfter(data, []byte("\n"))
	fails := func(k int) bool { // the first k lines fail as the whole does
		var n yaml.Node
		e := yaml.Unmarshal(bytes.Join(lines[:k], nil), &n)
		return e != nil && e.Error() == err.Error()
	}
	lo, hi := 1, len(lines) // fails(hi) holds: the whole document
	for lo < hi {
		if mid := (lo + hi) / 2; fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return fieldErrors{&FieldError{Line: hi, Err: fmt.Errorf("YAML syntax error: %s (check the indentation and quoting of this line and the one before)", m[1])}}
}

// dropDuplicateKeys handles the keys that yaml.v3's type error messages
// report as given twice in a mapping (other messages are left alone).
// yaml.v3 skips such a mapping whole, so that nothing inside it is
// decoded or checked. For each of those mappings, dropDuplicateKeys
// returns a problem at each later occurrence of a key (its path and line,
// and the line of the first occurrence), and kept: data with every
// occurrence but the last of each such key blanked out, each character
// replaced by a space and line breaks kept, so that every other node keeps
// its line and column. Mappings nested in them are left to the next
// decode, which reaches them. kept is nil when the messages name no key
// given twice, or when the blanked document does not parse to the nodes
// of data without those entries (an anchor defined in a blanked entry and
// used later, a key that is not a scalar): yaml.v3's own message stands.
func dropDuplicateKeys(data []byte, messages []string) (found fieldErrors, kept []byte) {
	type keyAt struct {
		line int
		key  string
	}
	named := map[keyAt]bool{}
	for _, msg := range messages {
		if m := reDuplicateKey.FindStringSubmatch(msg); m != nil {
			key, err := strconv.Unquote(m[2])
			if err != nil {
				key = m[2]
			}
			named[keyAt{atoi(m[1]), key}] = true
		}
	}
	if len(named) == 0 {
		return nil, nil
	}
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return nil, nil
	}
	lines := lineStarts(data)
	var blank [][2]int // byte ranges of the entries to drop, in document order
	failed := false
	var walk func(n *yaml.Node, path string, depth int)
	walk = func(n *yaml.Node, path string, depth int) {
		if depth > 100 || failed { // deeper than any benchd config
			return
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path, depth+1)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, indexPath(path, i), depth+1)
			}
		case yaml.MappingNode:
			pairs := n.Content[:len(n.Content)/2*2]
			twice := false
			last, first := map[string]int{}, map[string]int{} // key -> index of its last entry, line of its first
			for i := 0; i < len(pairs); i += 2 {
				if k := pairs[i]; k.Kind == yaml.ScalarNode {
					twice = twice || named[keyAt{k.Line, k.Value}]
					last[k.Value] = i
					if _, ok := first[k.Value]; !ok {
						first[k.Value] = k.Line
					}
				}
			}
			if !twice {
				for i := 0; i < len(pairs); i += 2 {
					walk(pairs[i+1], childPath(path, pairs[i].Value), depth+1)
				}
				return
			}
			content := make([]*yaml.Node, 0, len(pairs))
			seen := map[string]bool{}
			for i := 0; i < len(pairs); i += 2 {
				k, v := pairs[i], pairs[i+1]
				if k.Kind != yaml.ScalarNode {
					content = append(content, k, v)
					continue
				}
				if seen[k.Value] {
					found = append(found, &FieldError{Path: childPath(path, k.Value), Line: k.Line,
						Err: fmt.Errorf("key %q is given twice, first at line %d (keep one)", k.Value, first[k.Value])})
				}
				seen[k.Value] = true
				if i == last[k.Value] {
					content = append(content, k, v)
					continue
				}
				// Up to the next key, which exists: the last occurrence.
				next := pairs[i+2]
				from, to := offset(data, lines, k.Line, k.Column), offset(data, lines, next.Line, next.Column)
				if from < 0 || to < from {
					failed = true
					return
				}
				blank = append(blank, [2]int{from, to})
			}
			n.Content = content
		}
	}
	walk(&root, "", 0)
	if failed || len(blank) == 0 {
		return nil, nil
	}
	slices.SortFunc(blank, func(a, b [2]int) int { return a[0] - b[0] })
	out := make([]byte, 0, len(data))
	prev := 0
	for _, r := range blank {
		if r[0] < prev { // overlapping ranges: not expected
			return nil, nil
		}
		out = append(out, data[prev:r[0]]...)
		for _, ch := range string(data[r[0]:r[1]]) {
			if ch == '\n' || ch == '\r' {
				out = append(out, byte(ch))
			} else {
				out = append(out, ' ')
			}
		}
		prev = r[1]
	}
	out = append(out, data[prev:]...)
	var check yaml.Node
	if yaml.Unmarshal(out, &check) != nil || !sameNodes(&root, &check, 0) {
		return nil, nil
	}
	return found, out
}

// lineStarts returns the byte offset of each line of data: 0, then the
// offset after each \n.
func lineStarts(data []byte) []int {
	starts := []int{0}
	for i, b := range data {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

// utf8BOM is the byte order mark yaml.v3 skips at the start of a document,
// without counting it as a column.
var utf8BOM = []byte("\xef\xbb\xbf")

// offset returns the byte offset in data of the 1-based line and column
// of a yaml.v3 node (it counts columns in characters), or -1 if there is
// no such place; lines are data's [lineStarts].
func offset(data []byte, lines []int, line, col int) int {
	if line < 1 || line > len(lines) || col < 1 {
		return -1
	}
	i := lines[line-1]
	if line == 1 && bytes.HasPrefix(data, utf8BOM) {
		i += len(utf8BOM)
	}
	for range col - 1 {
		if i >= len(data) || data[i] == '\n' {
			return -1
		}
		_, size := utf8.DecodeRune(data[i:])
		i += size
	}
	return i
}

// sameNodes reports whether the trees a and b hold the same nodes: kind,
// tag, value, anchor and children, and the same line and column for all
// but mappings and documents (whose place is that of their first entry,
// which [dropDuplicateKeys] may have dropped).
func sameNodes(a, b *yaml.Node, depth int) bool {
	if depth > 100 {
		return true
	}
	if a.Kind != b.Kind || a.Tag != b.Tag || a.Value != b.Value || a.Anchor != b.Anchor || len(a.Content) != len(b.Content) {
		return false
	}
	if a.Kind != yaml.MappingNode && a.Kind != yaml.DocumentNode && (a.Line != b.Line || a.Column != b.Column) {
		return false
	}
	for i := range a.Content {
		if !sameNodes(a.Content[i], b.Content[i], depth+1) {
			return false
		}
	}
	return true
}
