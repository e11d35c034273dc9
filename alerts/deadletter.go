package alerts

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"zhili/errs"
)

// DeadLetters is the list of deliveries that failed for good. With a path it is persisted as
// JSON lines (one {"op":"dead"|"update", "delivery":…} or {"op":"resent","id":…} per line,
// fsync'ed), so it survives a restart; a torn last line is cut off with a warning.
type DeadLetters struct {
	mu      sync.Mutex
	path    string
	f       *os.File
	size    int64
	letters map[string]Delivery
	order   []string
}

type deadLine struct {
	Op       string    `json:"op"` // dead | update | resent
	ID       string    `json:"id,omitempty"`
	At       time.Time `json:"at,omitzero"`
	Delivery *Delivery `json:"delivery,omitempty"`
}

// MaxDeadLetters bounds the list: beyond it the oldest letters are forgotten (still in the file).
const MaxDeadLetters = 10000

// OpenDeadLetters opens (creating) the list at path, e.g. beside the alert log
// ("alerts.deadletters.jsonl"); "" keeps it in memory only.
func OpenDeadLetters(path string, warn func(string)) (*DeadLetters, error) {
	d := &DeadLetters{path: path, letters: map[string]Delivery{}}
	if path == "" {
		return d, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, "dead_letters", err, "dead letters "+path)
	}
	size, err := repairTail(f, path, warn)
	if err != nil {
		f.Close()
		return nil, err
	}
	d.size = size
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	r := bufio.NewReaderSize(f, 64<<10)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return nil, errs.Wrap(errs.Unavailable, "dead_letters", err, "dead letters "+path)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var l deadLine
		if err := json.Unmarshal(b, &l); err != nil {
			f.Close()
			return nil, errs.Wrap(errs.Invalid, "dead_letters", err, fmt.Sprintf("dead letters %s:%d: not an entry", path, line))
		}
		d.apply(l)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, err
	}
	d.f = f
	return d, nil
}

func (d *DeadLetters) apply(l deadLine) {
	switch l.Op {
	case "dead", "update":
		if l.Delivery == nil {
			return
		}
		if _, ok := d.letters[l.Delivery.ID]; !ok {
			d.order = append(d.order, l.Delivery.ID)
		}
		d.letters[l.Delivery.ID] = *l.Delivery
		for len(d.order) > MaxDeadLetters {
			delete(d.letters, d.order[0])
			d.order = d.order[1:]
		}
	case "resent":
		if _, ok := d.letters[l.ID]; ok {
			delete(d.letters, l.ID)
			for i, id := range d.order {
				if id == l.ID {
					d.order = append(d.order[:i], d.order[i+1:]...)
					break
				}
			}
		}
	}
}

func (d *DeadLetters) write(l deadLine) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.path != "" {
		if d.f == nil {
			return errs.E(errs.Unavailable, "dead_letters", "dead letters %s are closed", d.path)
		}
		b, err := json.Marshal(l)
		if err != nil {
			return errs.Wrap(errs.Internal, "dead_letters", err, "dead letter")
		}
		if err := appendLine(d.f, &d.size, append(b, '\n')); err != nil {
			return errs.Wrap(errs.Unavailable, "dead_letters", err, "dead letters "+d.path)
		}
	}
	d.apply(l)
	return nil
}

func (d *DeadLetters) add(x Delivery) error    { return d.write(deadLine{Op: "dead", Delivery: &x}) }
func (d *DeadLetters) update(x Delivery) error { return d.write(deadLine{Op: "update", Delivery: &x}) }
func (d *DeadLetters) remove(id string, at time.Time) error {
	return d.write(deadLine{Op: "resent", ID: id, At: at})
}

// List returns the dead letters, oldest first.
func (d *DeadLetters) List() []Delivery {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Delivery, 0, len(d.order))
	for _, id := range d.order {
		out = append(out, d.letters[id])
	}
	return out
}

// Get returns one dead letter.
func (d *DeadLetters) Get(id string) (Delivery, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	x, ok := d.letters[id]
	return x, ok
}

// Close closes the file.
func (d *DeadLetters) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	return err
}
