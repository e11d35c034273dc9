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

// Op is a lifecycle transition.
type Op string

const (
	OpRaise Op = "raise"
	OpAck   Op = "ack"
	OpClose Op = "close"
	// OpWatch is a watch mark: the engine was evaluating at At (coverage.go; kept in a log
	// of its own, Options.Marks).
	OpWatch Op = "watch"
)

// Entry is one line of the alert log: a raise (with the alert as raised) or a transition of
// an alert raised before, with who and when; or one line of the watch marks.
type Entry struct {
	Op    Op        `json:"op"`
	ID    string    `json:"id"`
	At    time.Time `json:"at"`
	Who   string    `json:"who,omitempty"`
	Note  string    `json:"note,omitempty"`
	Alert *Alert    `json:"alert,omitempty"` // raise only
	Start bool      `json:"start,omitempty"` // watch only: the first mark of a process
}

// Log is the append-only alert log. Append is durable on return (the file log fsyncs);
// entries are never changed or removed. Replay calls fn with every entry in append order and
// stops at fn's first error, returning it. Both are safe for concurrent use.
type Log interface {
	Append(e Entry) error
	Replay(fn func(Entry) error) error
	Close() error
}

var (
	_ Log = (*MemoryLog)(nil)
	_ Log = (*FileLog)(nil)
)

// MemoryLog keeps entries in memory (tests, demos without a data directory).
type MemoryLog struct {
	mu      sync.Mutex
	entries []Entry
}

// NewMemoryLog returns an empty in-memory log.
func NewMemoryLog() *MemoryLog { return &MemoryLog{} }

func (m *MemoryLog) Append(e Entry) error {
	if e.Alert != nil {
		a := e.Alert.clone()
		e.Alert = &a
	}
	m.mu.Lock()
	m.entries = append(m.entries, e)
	m.mu.Unlock()
	return nil
}

func (m *MemoryLog) Replay(fn func(Entry) error) error {
	m.mu.Lock()
	es := append([]Entry(nil), m.entries...)
	m.mu.Unlock()
	for _, e := range es {
		if e.Alert != nil {
			a := e.Alert.clone()
			e.Alert = &a
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

func (m *MemoryLog) Close() error { return nil }

// FileLog is the log as a file of JSON lines, one entry per line, fsync'ed on every append.
// A torn last line (a crash in the middle of a write) is cut off when the file is opened and
// reported through warn; a bad line anywhere else refuses the file.
type FileLog struct {
	mu   sync.Mutex
	path string
	f    *os.File
	size int64 // bytes of whole lines
}

// OpenFileLog opens (creating) the log at path. warn receives the torn-line warning (nil:
// dropped).
func OpenFileLog(path string, warn func(msg string)) (*FileLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, errs.Wrap(errs.Unavailable, "alert_log", err, "alert log "+path)
	}
	size, err := repairTail(f, path, warn)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &FileLog{path: path, f: f, size: size}, nil
}

// appendLine writes one line and syncs it; on failure it cuts the file back to size, so a
// partial write never becomes a bad line in the middle of the file.
func appendLine(f *os.File, size *int64, b []byte) error {
	_, err := f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if err != nil {
		if f.Truncate(*size) == nil {
			f.Seek(*size, io.SeekStart)
		}
		return err
	}
	*size += int64(len(b))
	return nil
}

// repairTail cuts a last line that has no newline or is not JSON, positions the file at its
// end and returns its size.
func repairTail(f *os.File, path string, warn func(string)) (int64, error) {
	b, err := io.ReadAll(f)
	if err != nil {
		return 0, errs.Wrap(errs.Unavailable, "alert_log", err, "alert log "+path)
	}
	end := len(b)
	body := b
	if n := len(body); n > 0 && body[n-1] == '\n' {
		body = body[:n-1]
	}
	start := bytes.LastIndexByte(body, '\n') + 1
	last := body[start:]
	torn := len(b) > 0 && b[len(b)-1] != '\n'
	if !torn && len(bytes.TrimSpace(last)) > 0 {
		var e Entry
		torn = json.Unmarshal(last, &e) != nil
	}
	if torn {
		end = start
		if warn != nil {
			warn(fmt.Sprintf("%s: torn last line (%d bytes) skipped after a crash", path, len(b)-start))
		}
		if err := f.Truncate(int64(end)); err != nil {
			return 0, errs.Wrap(errs.Unavailable, "alert_log", err, "alert log "+path)
		}
		if err := f.Sync(); err != nil {
			return 0, errs.Wrap(errs.Unavailable, "alert_log", err, "alert log "+path)
		}
	}
	_, err = f.Seek(int64(end), io.SeekStart)
	return int64(end), err
}

func (l *FileLog) Append(e Entry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return errs.Wrap(errs.Internal, "alert_log", err, "alert log entry")
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errs.E(errs.Unavailable, "alert_log", "alert log %s is closed", l.path)
	}
	if err := appendLine(l.f, &l.size, b); err != nil {
		return errs.Wrap(errs.Unavailable, "alert_log", err, "alert log "+l.path)
	}
	return nil
}

func (l *FileLog) Replay(fn func(Entry) error) error {
	f, err := os.Open(l.path)
	if err != nil {
		return errs.Wrap(errs.Unavailable, "alert_log", err, "alert log "+l.path)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 64<<10)
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if err == io.EOF {
			return nil // a last line without newline was written after Open: not yet whole
		}
		if err != nil {
			return errs.Wrap(errs.Unavailable, "alert_log", err, "alert log "+l.path)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		var e Entry
		if err := json.Unmarshal(b, &e); err != nil {
			return errs.Wrap(errs.Invalid, "alert_log", err, fmt.Sprintf("alert log %s:%d: not an entry", l.path, line))
		}
		if err := fn(e); err != nil {
			return err
		}
	}
}

func (l *FileLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
