package alerts

import (
	"bytes"
	"context"
	"crypto/sha256"
	"os"
	"sync"
	"time"

	"zhili/clock"
	"zhili/errs"
)

// WatchOptions configure a Watcher.
type WatchOptions struct {
	Interval time.Duration // how often Run polls the file's mtime and size; default 5 s
	Clock    clock.Clock   // stamps Status; default clock.Real
	// OnChange receives every new rule set that parsed clean (e.g. Engine.SetRules and
	// Notifier.SetWebhooks). Called from Reload/Check, never concurrently.
	OnChange func(*RuleSet)
	// OnError receives a refused reload (Problems or the read error); the last good set stays.
	OnError func(error)
	// Check adds the deployment's checks to a parsed set (e.g. RuleSet.Check with the region
	// tree and the catalogue); any problem refuses the file.
	Check func(*RuleSet) []Problem
}

// WatchStatus tells what the watcher holds.
type WatchStatus struct {
	File      string    `json:"file"`
	Rules     int       `json:"rules"`
	Webhooks  int       `json:"webhooks"`
	LoadedAt  time.Time `json:"loaded_at"`            // when the set in force was loaded
	CheckedAt time.Time `json:"checked_at"`           // the last reload attempt
	LastError string    `json:"last_error,omitempty"` // the last refused reload; "" after a good one
	Problems  []Problem `json:"problems,omitempty"`   // its problems, when the file was refused
}

// Watcher holds the rules of one file and swaps in a new set only when the file parses clean;
// a bad file keeps the last good set and is reported (OnError, Status).
type Watcher struct {
	path string
	opt  WatchOptions

	reloadMu sync.Mutex // one reload at a time, so OnChange is never concurrent
	mu       sync.Mutex
	rules    *RuleSet
	digest   [32]byte
	stat     fileStamp
	status   WatchStatus
}

type fileStamp struct {
	mod  time.Time
	size int64
}

// NewWatcher loads the file; a file that cannot be read or parsed is an error (the process
// should refuse to start, as with every other config file).
func NewWatcher(path string, opt WatchOptions) (*Watcher, error) {
	if opt.Interval <= 0 {
		opt.Interval = 5 * time.Second
	}
	if opt.Clock == nil {
		opt.Clock = clock.Real{}
	}
	w := &Watcher{path: path, opt: opt, status: WatchStatus{File: path}}
	st, b, err := w.read()
	if err != nil {
		return nil, err
	}
	rs, ps := w.parse(b)
	if len(ps) > 0 {
		return nil, Problems(ps)
	}
	now := opt.Clock.Now()
	w.rules, w.digest, w.stat = rs, sha256.Sum256(b), st
	w.status.Rules, w.status.Webhooks, w.status.LoadedAt, w.status.CheckedAt = len(rs.Rules), len(rs.Webhooks), now, now
	return w, nil
}

func (w *Watcher) read() (fileStamp, []byte, error) {
	fi, err := os.Stat(w.path)
	if err != nil {
		return fileStamp{}, nil, errs.Wrap(errs.Invalid, "rules_file", err, "alert rules "+w.path)
	}
	b, err := os.ReadFile(w.path)
	if err != nil {
		return fileStamp{}, nil, errs.Wrap(errs.Invalid, "rules_file", err, "alert rules "+w.path)
	}
	return fileStamp{fi.ModTime(), fi.Size()}, b, nil
}

func (w *Watcher) parse(b []byte) (*RuleSet, []Problem) {
	rs, ps := ParseRules(b, w.path)
	if len(ps) == 0 && w.opt.Check != nil {
		if ps = w.opt.Check(rs); len(ps) > 0 {
			rs = nil
		}
	}
	return rs, ps
}

// Rules returns the set in force.
func (w *Watcher) Rules() *RuleSet {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.rules
}

// Status returns what the watcher holds and its last reload's outcome.
func (w *Watcher) Status() WatchStatus {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.status
	s.Problems = append([]Problem(nil), s.Problems...)
	return s
}

// Reload reads the file now (the process calls it on SIGHUP). A clean file with a new content
// becomes the set in force (OnChange); a refused one leaves it and returns the error
// (Problems for a bad file). The same content again changes nothing.
func (w *Watcher) Reload() error {
	w.reloadMu.Lock()
	defer w.reloadMu.Unlock()
	now := w.opt.Clock.Now()
	st, b, err := w.read()
	var ps []Problem
	var rs *RuleSet
	if err == nil {
		if rs, ps = w.parse(b); len(ps) > 0 {
			err = Problems(ps)
		}
	}
	w.mu.Lock()
	w.status.CheckedAt = now
	if err != nil {
		if st != (fileStamp{}) {
			w.stat = st // a refused file is not retried until it changes again
		}
		w.status.LastError, w.status.Problems = err.Error(), ps
		w.mu.Unlock()
		if w.opt.OnError != nil {
			w.opt.OnError(err)
		}
		return err
	}
	w.stat = st
	w.status.LastError, w.status.Problems = "", nil
	d := sha256.Sum256(b)
	if bytes.Equal(d[:], w.digest[:]) {
		w.mu.Unlock()
		return nil
	}
	w.rules, w.digest = rs, d
	w.status.Rules, w.status.Webhooks, w.status.LoadedAt = len(rs.Rules), len(rs.Webhooks), now
	w.mu.Unlock()
	if w.opt.OnChange != nil {
		w.opt.OnChange(rs)
	}
	return nil
}

// Check reloads when the file's mtime or size changed since the last reload; it reports
// whether it reloaded. A file that vanished is reported once and the set kept.
func (w *Watcher) Check() (bool, error) {
	fi, err := os.Stat(w.path)
	w.mu.Lock()
	changed := err != nil || fileStamp{fi.ModTime(), fi.Size()} != w.stat
	if err != nil && w.stat == (fileStamp{}) {
		changed = false // already reported
	}
	if err != nil {
		w.stat = fileStamp{}
	}
	w.mu.Unlock()
	if !changed {
		return false, nil
	}
	return true, w.Reload()
}

// Run polls the file every Interval until ctx ends.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.opt.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Check()
		}
	}
}
