// Package dashboard is the read model: live topics (snapshots and deltas) built from the
// aggregator's updates, the hub that fans them out to screens, and period queries.
package dashboard

import (
	"net/url"
	"strings"

	"zhili/errs"
)

// Topic is a parsed topic name: <kind>:<region>[:<window>[:<key>=<value>...]].
type Topic struct {
	Name   string // the full name as subscribed
	Kind   string // overview, cases, hotspots, whistles, ...
	Region string // region code or "root"
	Window string // 1h 24h 7d 30d today, or "" when the kind has none
	// Options are the key=value segments after the window (values percent-decoded), for the
	// kinds that take them (TopicOptions); nil when none.
	Options map[string]string
}

// TopicOptions lists the options each kind takes after its window: hotspots:<region>:<window>
// takes cat=<category> and per=<denominator> (docs/LIVE.md).
var TopicOptions = map[string][]string{"hotspots": {"cat", "per"}}

// Windows are the topic windows of the contract.
var Windows = map[string]bool{"1h": true, "24h": true, "7d": true, "30d": true, "today": true}

// ParseTopic splits and checks a topic name. It does not know which kinds exist.
func ParseTopic(name string) (Topic, error) {
	if len(name) == 0 || len(name) > 200 {
		return Topic{}, errs.E(errs.Invalid, "topic", "topic must be 1-200 characters")
	}
	parts := strings.Split(name, ":")
	if len(parts) < 2 || len(parts) > 3 && len(TopicOptions[parts[0]]) == 0 || parts[0] == "" || parts[1] == "" {
		return Topic{}, errs.E(errs.Invalid, "topic", "topic must be <kind>:<region>[:<window>]")
	}
	t := Topic{Name: name, Kind: parts[0], Region: parts[1]}
	if len(parts) >= 3 {
		if !Windows[parts[2]] {
			return Topic{}, errs.E(errs.Invalid, "topic.window", "unknown window %q (1h, 24h, 7d, 30d, today)", parts[2])
		}
		t.Window = parts[2]
	}
	for _, seg := range parts[min(len(parts), 3):] {
		k, raw, ok := strings.Cut(seg, "=")
		known := false
		for _, o := range TopicOptions[t.Kind] {
			known = known || o == k
		}
		if !ok || !known {
			return Topic{}, errs.E(errs.Invalid, "topic.option", "%q: %s topics take the options %s as key=value after the window",
				seg, t.Kind, strings.Join(TopicOptions[t.Kind], ", "))
		}
		v, err := url.PathUnescape(raw)
		if err != nil || v == "" {
			return Topic{}, errs.E(errs.Invalid, "topic.option", "%q: empty or badly escaped value", seg)
		}
		if _, dup := t.Options[k]; dup {
			return Topic{}, errs.E(errs.Invalid, "topic.option", "option %q given twice", k)
		}
		if t.Options == nil {
			t.Options = map[string]string{}
		}
		t.Options[k] = v
	}
	return t, nil
}

// Source opens the live topics of one kind. The hub calls it under its own lock, never
// concurrently for the same topic.
type Source interface {
	// Open validates t and returns its live state. Errors are *errs.Error with code
	// UnknownTopic, Invalid or Forbidden.
	Open(t Topic) (TopicState, error)
}

// TopicState is one open topic. The hub calls its methods from one goroutine at a time.
type TopicState interface {
	// Snapshot returns the full state as of the last Advance (not newer), so that a snapshot
	// followed by the next delta is always consistent. The value is JSON-encoded by the hub.
	Snapshot() any
	// Advance brings the published state up to date and returns what changed since the last
	// call, or changed=false when nothing did. Called once per tick.
	Advance() (delta any, changed bool)
	// Close releases the topic when its last subscriber leaves.
	Close()
}
