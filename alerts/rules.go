// Package alerts is the domain core of alerting: rules from a YAML file (with hot reload), the
// engine that turns measured signals into alerts, the alerts' lifecycle over an append-only log
// with its history figures, and outbound webhooks. It does no I/O on the read model: the
// integrator computes signals and passes them to Engine.Evaluate (docs/ALERTS.md).
package alerts

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"zhili/errs"
)

// Kind names what a rule watches; each kind expects its own signal (docs/ALERTS.md).
type Kind string

const (
	KindOverdue      Kind = "overdue"       // overdue cases in a region
	KindWhistleLate  Kind = "whistle_late"  // a whistle stage late
	KindResponseRate Kind = "response_rate" // a department's response rate today
	KindForecast     Kind = "forecast"      // volume above the forecast's upper band
	KindHotspot      Kind = "hotspot"       // an emerging hot spot
	KindRepeat       Kind = "repeat"        // repeat complaints at one place
	KindScan         Kind = "scan"          // a recurring space-time cluster
)

// Kinds lists every kind, in the order the docs give them.
var Kinds = []Kind{KindOverdue, KindWhistleLate, KindResponseRate, KindForecast, KindHotspot, KindRepeat, KindScan}

// Severity of a rule and its alerts.
type Severity string

const (
	Info    Severity = "info"
	Warning Severity = "warning"
	Severe  Severity = "severe"
)

// Rank orders severities: info 1, warning 2, severe 3, unknown 0.
func (s Severity) Rank() int {
	switch s {
	case Info:
		return 1
	case Warning:
		return 2
	case Severe:
		return 3
	}
	return 0
}

// Zh is the severity's Chinese name.
func (s Severity) Zh() string {
	switch s {
	case Info:
		return "提示"
	case Warning:
		return "预警"
	case Severe:
		return "严重"
	}
	return string(s)
}

// Whistle stages a whistle_late rule may name.
var Stages = []string{"signed", "contacted", "arrived", "any"}

// Hot-spot patterns a hotspot rule may name (the emerging hot-spot categories).
var Patterns = []string{"new", "intensifying", "persistent", "consecutive", "sporadic", "oscillating", "historical", "diminishing"}

// DefaultCooldown applies to a rule that gives no cooldown.
const DefaultCooldown = time.Hour

// Rule is one checked rule of the file.
type Rule struct {
	ID         string
	Name       string // zh
	NameEn     string
	Kind       Kind
	Severity   Severity
	Regions    []string // scope: region codes; empty = all
	Categories []string // filter; empty = all
	Cooldown   time.Duration
	Quiet      *Quiet // nil: no quiet hours
	Enabled    bool
	Line       int // line of the rule in its file

	// Kind-specific parameters.
	Min               float64       // overdue (count), repeat (count)
	Stage             string        // whistle_late: signed | contacted | arrived | any
	Below             float64       // response_rate: 0–1
	MinCases          int           // response_rate: the sample minimum
	Window            time.Duration // forecast, repeat
	Factor            float64       // forecast: ≥ 1 (default 1)
	Patterns          []string      // hotspot
	MinRecurrenceDays float64       // scan
}

// Quiet is a daily span of quiet hours in the deployment time zone, [From, To) in minutes after
// midnight; From > To spans midnight.
type Quiet struct {
	From, To int
	// Severe: severe alerts still fire during quiet hours (the default, quiet_severe: true).
	Severe bool
}

// In reports whether the local time t lies within the quiet hours.
func (q *Quiet) In(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	if q.From <= q.To {
		return m >= q.From && m < q.To
	}
	return m >= q.From || m < q.To
}

func (q *Quiet) String() string {
	return fmt.Sprintf("%02d:%02d-%02d:%02d", q.From/60, q.From%60, q.To/60, q.To%60)
}

// Format of a webhook's payload.
type Format string

const (
	FormatGeneric  Format = "generic"
	FormatWeCom    Format = "wecom"
	FormatDingTalk Format = "dingtalk"
)

// Webhook is one outbound target of the file's webhooks: section.
// URL and Secret never go out as JSON (a robot's key lives in its URL).
type Webhook struct {
	Name        string   `json:"name"`
	URL         string   `json:"-"`
	Format      Format   `json:"format"`
	Secret      string   `json:"-"`
	MinSeverity Severity `json:"min_severity"`      // alerts below are not sent (default info: all)
	Regions     []string `json:"regions,omitempty"` // empty = all
	Events      []Op     `json:"events"`            // default [raise]
	Line        int      `json:"line"`
}

// wants reports whether the webhook takes the change.
func (w *Webhook) wants(c Change) bool {
	if c.Alert.Severity.Rank() < w.MinSeverity.Rank() || !slices.Contains(w.Events, c.Op) {
		return false
	}
	return len(w.Regions) == 0 || inScope(w.Regions, c.Alert.Region, c.Alert.RegionPath)
}

// RuleSet is a checked rules file.
type RuleSet struct {
	File     string
	Rules    []Rule
	Webhooks []Webhook
}

// Rule returns the rule with the id, or nil.
func (rs *RuleSet) Rule(id string) *Rule {
	for i := range rs.Rules {
		if rs.Rules[i].ID == id {
			return &rs.Rules[i]
		}
	}
	return nil
}

// Windows lists the distinct windows the enabled rules of kind ask for (forecast, repeat), so
// the integrator computes signals for exactly those windows.
func (rs *RuleSet) Windows(kind Kind) []time.Duration {
	var out []time.Duration
	for _, r := range rs.Rules {
		if r.Enabled && r.Kind == kind && r.Window > 0 && !slices.Contains(out, r.Window) {
			out = append(out, r.Window)
		}
	}
	slices.Sort(out)
	return out
}

// Check checks the rules' and webhooks' region codes and the rules' category codes against the
// deployment (nil func: not checked); the integrator refuses a set with problems, as a bad file.
func (rs *RuleSet) Check(knownRegion, knownCategory func(code string) bool) []Problem {
	var ps []Problem
	add := func(line int, field, format string, args ...any) {
		if len(ps) < MaxProblems {
			ps = append(ps, Problem{File: rs.File, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
		}
	}
	for _, r := range rs.Rules {
		for _, c := range r.Regions {
			if knownRegion != nil && !knownRegion(c) {
				add(r.Line, "rules["+r.ID+"].regions", "unknown region %q", c)
			}
		}
		for _, c := range r.Categories {
			if knownCategory != nil && !knownCategory(c) {
				add(r.Line, "rules["+r.ID+"].categories", "unknown category %q", c)
			}
		}
	}
	for _, w := range rs.Webhooks {
		for _, c := range w.Regions {
			if knownRegion != nil && !knownRegion(c) {
				add(w.Line, "webhooks["+w.Name+"].regions", "unknown region %q", c)
			}
		}
	}
	return ps
}

// Problem is one refused field of a rules file.
type Problem struct {
	File  string
	Line  int    // 0: the file as a whole
	Field string // e.g. "rules[2].min", "webhooks[0].url"; "" for the file
	Msg   string
}

func (p Problem) String() string {
	s := p.File
	if p.Line > 0 {
		s += ":" + strconv.Itoa(p.Line)
	}
	s += ": "
	if p.Field != "" {
		s += p.Field + ": "
	}
	return s + p.Msg
}

// Problems is the error of a refused rules file.
type Problems []Problem

func (ps Problems) Error() string { return errs.Lines(ps, 20) }

// MaxProblems bounds the problems reported for one file.
const MaxProblems = 200

// Limits of a rules file.
const (
	MaxRules    = 500
	MaxWebhooks = 20
	MaxIDLen    = 64
	MaxNameLen  = 64
)

//go:embed default_rules.yaml
var defaultRules []byte

// DefaultRulesYAML is the commented example file shipped with Zhili (default_rules.yaml).
func DefaultRulesYAML() []byte { return slices.Clone(defaultRules) }

// DefaultRules is the example file, parsed; the demo uses it as is.
func DefaultRules() *RuleSet {
	rs, ps := ParseRules(defaultRules, "default_rules.yaml")
	if len(ps) > 0 {
		panic("alerts: default_rules.yaml: " + Problems(ps).Error())
	}
	return rs
}

// LoadRules reads and checks a rules file; a refused file returns Problems.
func LoadRules(path string) (*RuleSet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, "rules_file", err, "alert rules "+path)
	}
	rs, ps := ParseRules(b, path)
	if len(ps) > 0 {
		return nil, Problems(ps)
	}
	return rs, nil
}

// ParseRules checks a rules file's content; file names it in problems. The file fails closed:
// with any problem it returns nil and every problem found (at most MaxProblems), by line.
func ParseRules(data []byte, file string) (*RuleSet, []Problem) {
	p := &ruleParser{file: file, ids: map[string]int{}, names: map[string]int{}}
	rs := p.parse(bytes.TrimPrefix(data, []byte("\uFEFF")))
	if len(p.probs) > 0 {
		slices.SortStableFunc(p.probs, func(a, b Problem) int { return a.Line - b.Line })
		return nil, p.probs
	}
	rs.File = file
	return rs, nil
}

type ruleParser struct {
	file  string
	probs []Problem
	ids   map[string]int // rule id → line of its first entry
	names map[string]int // webhook name → line
}

// unique checks a rule id or webhook name against the entries before it, valid or not.
func (e *entry) unique(seen map[string]int, field, v string, line int) {
	if first, dup := seen[v]; dup {
		e.fail(line, field, "%s %q given twice (first at line %d)", field, v, first)
	} else {
		seen[v] = line
	}
}

func (p *ruleParser) add(line int, field, format string, args ...any) {
	if len(p.probs) < MaxProblems {
		p.probs = append(p.probs, Problem{File: p.file, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
}

func (p *ruleParser) parse(b []byte) *RuleSet {
	rs := &RuleSet{}
	if !utf8.Valid(b) {
		p.add(0, "", "not UTF-8: save the file as UTF-8")
		return rs
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		p.add(0, "", "not YAML: %v", err)
		return rs
	}
	if len(doc.Content) == 0 {
		return rs // an empty file: no rules, no webhooks
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		p.add(root.Line, "", "the file must be a mapping with rules: and webhooks:")
		return rs
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value != "rules" && k.Value != "webhooks" {
			p.add(k.Line, k.Value, "unknown section (rules, webhooks)")
			continue
		}
		if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
			continue
		}
		if v.Kind != yaml.SequenceNode {
			p.add(v.Line, k.Value, "must be a list of entries")
			continue
		}
		limit := MaxRules
		if k.Value == "webhooks" {
			limit = MaxWebhooks
		}
		if len(v.Content) > limit {
			p.add(v.Line, k.Value, "%d entries, at most %d", len(v.Content), limit)
			continue
		}
		for j, item := range v.Content {
			field := fmt.Sprintf("%s[%d]", k.Value, j)
			if item.Kind != yaml.MappingNode {
				p.add(item.Line, field, "must be a mapping")
				continue
			}
			if k.Value == "rules" {
				if r, ok := p.rule(field, item); ok {
					rs.Rules = append(rs.Rules, r)
				}
			} else if w, ok := p.webhook(field, item); ok {
				rs.Webhooks = append(rs.Webhooks, w)
			}
		}
	}
	return rs
}

// entry holds one mapping's fields by name, with their nodes.
type entry struct {
	p      *ruleParser
	prefix string
	keys   map[string]*yaml.Node
	lines  map[string]int
	line   int // the mapping's line, for fields that are missing
	ok     bool
}

func (p *ruleParser) entry(prefix string, n *yaml.Node, allowed []string) *entry {
	e := &entry{p: p, prefix: prefix, keys: map[string]*yaml.Node{}, lines: map[string]int{}, line: n.Line, ok: true}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(allowed, k.Value) {
			e.fail(k.Line, k.Value, "unknown field (allowed: %s)", strings.Join(allowed, ", "))
			continue
		}
		if _, dup := e.keys[k.Value]; dup {
			e.fail(k.Line, k.Value, "given twice")
			continue
		}
		e.keys[k.Value] = v
		e.lines[k.Value] = k.Line
	}
	return e
}

func (e *entry) fail(line int, field, format string, args ...any) {
	e.ok = false
	if line == 0 {
		line = e.line
	}
	e.p.add(line, e.prefix+"."+field, format, args...)
}

func (e *entry) has(name string) bool { _, ok := e.keys[name]; return ok }

// str returns a scalar field ("" when absent).
func (e *entry) str(name string, required bool) (string, int) {
	v, ok := e.keys[name]
	if !ok {
		if required {
			e.fail(0, name, "required")
		}
		return "", 0
	}
	if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
		e.fail(v.Line, name, "must be one value")
		return "", v.Line
	}
	s := strings.TrimSpace(v.Value)
	if s == "" && required {
		e.fail(v.Line, name, "must not be empty")
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		e.fail(v.Line, name, "holds a control character")
	}
	return s, v.Line
}

// list returns a list field (one scalar or a list of scalars; nil when absent).
func (e *entry) list(name string) ([]string, int) {
	v, ok := e.keys[name]
	if !ok || v.Tag == "!!null" {
		return nil, 0
	}
	if v.Kind == yaml.ScalarNode {
		s := strings.TrimSpace(v.Value)
		if s == "" {
			e.fail(v.Line, name, "entries must be non-empty values")
			return nil, v.Line
		}
		return []string{s}, v.Line
	}
	if v.Kind != yaml.SequenceNode {
		e.fail(v.Line, name, "must be a list")
		return nil, v.Line
	}
	var out []string
	for _, c := range v.Content {
		if c.Kind != yaml.ScalarNode || strings.TrimSpace(c.Value) == "" {
			e.fail(c.Line, name, "entries must be non-empty values")
			continue
		}
		s := strings.TrimSpace(c.Value)
		if slices.Contains(out, s) {
			e.fail(c.Line, name, "%q given twice", s)
			continue
		}
		out = append(out, s)
	}
	return out, v.Line
}

// num returns a number field; present reports whether it was given.
func (e *entry) num(name string, required bool) (x float64, present bool, line int) {
	s, line := e.str(name, required)
	if s == "" {
		return 0, false, line
	}
	x, err := strconv.ParseFloat(s, 64)
	if err != nil || x != x || x > 1e12 || x < -1e12 {
		e.fail(line, name, "%q is not a number", s)
		return 0, false, line
	}
	return x, true, line
}

// dur returns a duration field: Go form (90m, 1h30m) or whole days (7d).
func (e *entry) dur(name string, required bool) (time.Duration, bool, int) {
	s, line := e.str(name, required)
	if s == "" {
		return 0, false, line
	}
	d, err := parseDuration(s)
	if err != nil {
		e.fail(line, name, "%v", err)
		return 0, false, line
	}
	return d, true, line
}

func parseDuration(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days <= 0 || days > 3650 {
			return 0, fmt.Errorf("%q: whole days from 1d to 3650d", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 30m, 3h, 7d)", s)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be positive", s)
	}
	return d, nil
}

func (e *entry) boolean(name string, def bool) bool {
	s, line := e.str(name, false)
	switch s {
	case "":
		return def
	case "true", "yes", "on":
		return true
	case "false", "no", "off":
		return false
	}
	e.fail(line, name, "%q: true or false", s)
	return def
}

// text checks an id or a name.
func (e *entry) text(name, v string, line, max int, blanks bool) {
	if n := utf8.RuneCountInString(v); n > max {
		e.fail(line, name, "%d characters long, at most %d", n, max)
	}
	if !blanks && strings.IndexFunc(v, unicode.IsSpace) >= 0 {
		e.fail(line, name, "%q holds a blank", v)
	}
}

var ruleFields = []string{"id", "name", "name_en", "kind", "severity", "regions", "categories", "cooldown",
	"quiet", "quiet_severe", "enabled", "min", "stage", "below", "min_cases", "window", "factor", "patterns",
	"min_recurrence_days"}

// DefaultForecastMin is the fewest cases a forecast rule calls a surge when its file says none.
const DefaultForecastMin = 5

// kindParams lists the parameters each kind takes (any other is refused).
var kindParams = map[Kind][]string{
	KindOverdue:      {"min"},
	KindWhistleLate:  {"stage"},
	KindResponseRate: {"below", "min_cases"},
	KindForecast:     {"window", "factor", "min"},
	KindHotspot:      {"patterns"},
	KindRepeat:       {"min", "window"},
	KindScan:         {"min_recurrence_days"},
}

// named returns the prefix of an entry's problems: section[name] when its name field is a
// plain value, else section[index].
func named(prefix, section, field string, n *yaml.Node) string {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k, v := n.Content[i], n.Content[i+1]; k.Value == field && v.Kind == yaml.ScalarNode && strings.TrimSpace(v.Value) != "" {
			return section + "[" + strings.TrimSpace(v.Value) + "]"
		}
	}
	return prefix
}

func (p *ruleParser) rule(prefix string, n *yaml.Node) (Rule, bool) {
	e := p.entry(named(prefix, "rules", "id", n), n, ruleFields)
	r := Rule{Line: n.Line, Enabled: true}
	var line int
	r.ID, line = e.str("id", true)
	if r.ID != "" {
		e.text("id", r.ID, line, MaxIDLen, false)
		e.unique(p.ids, "id", r.ID, line)
	}
	r.Name, line = e.str("name", true)
	e.text("name", r.Name, line, MaxNameLen, true)
	r.NameEn, line = e.str("name_en", false)
	e.text("name_en", r.NameEn, line, MaxNameLen, true)
	kind, kline := e.str("kind", true)
	r.Kind = Kind(kind)
	if kind != "" && !slices.Contains(Kinds, r.Kind) {
		e.fail(kline, "kind", "unknown kind %q (%s)", kind, kindNames())
	}
	sev, line := e.str("severity", true)
	r.Severity = Severity(sev)
	if sev != "" && r.Severity.Rank() == 0 {
		e.fail(line, "severity", "%q: info, warning or severe", sev)
	}
	r.Regions, _ = e.list("regions")
	r.Categories, _ = e.list("categories")
	r.Cooldown = DefaultCooldown
	if d, ok, _ := e.dur("cooldown", false); ok {
		r.Cooldown = d
	}
	if q, line := e.str("quiet", false); q != "" {
		from, to, err := parseQuiet(q)
		if err != nil {
			e.fail(line, "quiet", "%v", err)
		} else {
			r.Quiet = &Quiet{From: from, To: to, Severe: e.boolean("quiet_severe", true)}
		}
	} else if e.has("quiet_severe") {
		e.fail(e.lines["quiet_severe"], "quiet_severe", "applies only with quiet:")
	}
	r.Enabled = e.boolean("enabled", true)

	// Kind-specific parameters: those of another kind are refused, the kind's own checked.
	if own, known := kindParams[r.Kind]; known {
		for _, name := range ruleFields[slices.Index(ruleFields, "min"):] {
			if e.has(name) && !slices.Contains(own, name) {
				e.fail(e.lines[name], name, "not a parameter of kind %s (it takes %s)", r.Kind, strings.Join(own, ", "))
			}
		}
		p.params(e, &r, n.Line)
	}
	return r, e.ok
}

func kindNames() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// params reads and checks the kind's parameters.
func (p *ruleParser) params(e *entry, r *Rule, line int) {
	need := func(name string) bool {
		if !e.has(name) {
			e.fail(line, name, "required for kind %s", r.Kind)
			return false
		}
		return true
	}
	switch r.Kind {
	case KindOverdue, KindRepeat:
		if need("min") {
			x, ok, l := e.num("min", true)
			if ok && (x < 1 || x != float64(int64(x))) {
				e.fail(l, "min", "%v: a whole count ≥ 1", x)
			}
			r.Min = x
		}
		if r.Kind == KindRepeat && need("window") {
			r.Window, _, _ = e.dur("window", true)
		}
	case KindWhistleLate:
		r.Stage = "any"
		if s, l := e.str("stage", false); s != "" {
			if !slices.Contains(Stages, s) {
				e.fail(l, "stage", "%q: signed, contacted, arrived or any", s)
			}
			r.Stage = s
		}
	case KindResponseRate:
		if need("below") {
			x, ok, l := e.num("below", true)
			if ok && (x <= 0 || x > 1) {
				e.fail(l, "below", "%v: a rate above 0 and at most 1 (e.g. 0.8)", x)
			}
			r.Below = x
		}
		r.MinCases = 1
		if x, ok, l := e.num("min_cases", false); ok {
			if x < 1 || x != float64(int64(x)) {
				e.fail(l, "min_cases", "%v: a whole count ≥ 1", x)
			}
			r.MinCases = int(x)
		}
	case KindForecast:
		if need("window") {
			r.Window, _, _ = e.dur("window", true)
		}
		// A surge is at least min cases (default DefaultForecastMin): at night a band of [0, 0]
		// would make one case a surge.
		r.Min = DefaultForecastMin
		if x, ok, l := e.num("min", false); ok {
			if x < 1 || x != float64(int64(x)) {
				e.fail(l, "min", "%v: a whole count ≥ 1", x)
			}
			r.Min = x
		}
		r.Factor = 1
		if x, ok, l := e.num("factor", false); ok {
			if x < 1 || x > 100 {
				e.fail(l, "factor", "%v: from 1 to 100", x)
			}
			r.Factor = x
		}
	case KindHotspot:
		if need("patterns") {
			ps, l := e.list("patterns")
			if len(ps) == 0 {
				e.fail(l, "patterns", "name at least one pattern (%s)", strings.Join(Patterns, ", "))
			}
			for _, s := range ps {
				if !slices.Contains(Patterns, s) {
					e.fail(l, "patterns", "unknown pattern %q (%s)", s, strings.Join(Patterns, ", "))
				}
			}
			r.Patterns = ps
		}
	case KindScan:
		if need("min_recurrence_days") {
			x, ok, l := e.num("min_recurrence_days", true)
			if ok && x <= 0 {
				e.fail(l, "min_recurrence_days", "%v: a number of days > 0", x)
			}
			r.MinRecurrenceDays = x
		}
	}
}

// parseQuiet reads "HH:MM-HH:MM".
func parseQuiet(s string) (from, to int, err error) {
	a, b, ok := strings.Cut(s, "-")
	if ok {
		from, err = parseClock(strings.TrimSpace(a))
		if err == nil {
			to, err = parseClock(strings.TrimSpace(b))
		}
	}
	if !ok || err != nil {
		return 0, 0, fmt.Errorf("%q: quiet hours as HH:MM-HH:MM (e.g. 22:00-07:00)", s)
	}
	if from == to {
		return 0, 0, fmt.Errorf("%q: an empty span", s)
	}
	return from, to, nil
}

func parseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 || len(m) != 2 {
		return 0, fmt.Errorf("bad time")
	}
	return hh*60 + mm, nil
}

var webhookFields = []string{"name", "url", "format", "secret", "min_severity", "regions", "events"}

func (p *ruleParser) webhook(prefix string, n *yaml.Node) (Webhook, bool) {
	e := p.entry(named(prefix, "webhooks", "name", n), n, webhookFields)
	w := Webhook{Line: n.Line, Format: FormatGeneric, MinSeverity: Info, Events: []Op{OpRaise}}
	var line int
	w.Name, line = e.str("name", true)
	if w.Name != "" {
		e.text("name", w.Name, line, MaxNameLen, true)
		e.unique(p.names, "name", w.Name, line)
	}
	if f, l := e.str("format", false); f != "" {
		w.Format = Format(f)
		if !slices.Contains([]Format{FormatGeneric, FormatWeCom, FormatDingTalk}, w.Format) {
			e.fail(l, "format", "%q: generic, wecom or dingtalk", f)
		}
	}
	w.Secret, _ = e.str("secret", false)
	if w.Format == FormatGeneric && w.Secret == "" {
		e.fail(n.Line, "secret", "required for format generic (the receiver checks the signature)")
	}
	if w.Format == FormatWeCom && w.Secret != "" {
		e.fail(e.lines["secret"], "secret", "a wecom robot is not signed: its key lives in the url")
	}
	u, uline := e.str("url", true)
	w.URL = u
	if u != "" {
		pu, err := url.Parse(u)
		switch {
		case err != nil || pu.Host == "" || (pu.Scheme != "http" && pu.Scheme != "https"):
			e.fail(uline, "url", "%q: an http or https url", u)
		case w.Format == FormatWeCom && pu.Query().Get("key") == "":
			e.fail(uline, "url", "a wecom robot url carries its key (…/cgi-bin/webhook/send?key=…)")
		case w.Format == FormatDingTalk && pu.Query().Get("access_token") == "":
			e.fail(uline, "url", "a dingtalk robot url carries its access_token (…/robot/send?access_token=…)")
		}
	}
	if s, l := e.str("min_severity", false); s != "" {
		w.MinSeverity = Severity(s)
		if w.MinSeverity.Rank() == 0 {
			e.fail(l, "min_severity", "%q: info, warning or severe", s)
		}
	}
	w.Regions, _ = e.list("regions")
	if evs, l := e.list("events"); evs != nil {
		w.Events = nil
		for _, s := range evs {
			if op := Op(s); op == OpRaise || op == OpAck || op == OpClose {
				w.Events = append(w.Events, op)
			} else {
				e.fail(l, "events", "%q: raise, ack or close", s)
			}
		}
	}
	return w, e.ok
}
