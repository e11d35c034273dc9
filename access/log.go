package access

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Entry is one line of the access log: who did what to which object. It never holds a secret:
// principals are named by their configured name.
type Entry struct {
	At        time.Time `json:"at"`
	Principal string    `json:"principal"`        // the principal's configured name
	Tenant    string    `json:"tenant,omitempty"` // its tenant, when tenants are configured
	Roles     string    `json:"roles,omitempty"`  // its roles then
	Action    string    `json:"action"`           // ActionPII, ActionExport, ActionConfig
	Object    string    `json:"object"`           // the case id, the export's route and query, the config file
	Remote    string    `json:"remote,omitempty"`
}

// Actions the access log records.
const (
	ActionPII    = "pii_read"      // a case timeline with personal fields shown
	ActionExport = "export"        // an audit exported as CSV or XLSX
	ActionConfig = "config_reload" // the access list replaced
)

// Log is the append-only access log: one JSON object a line, each written and synced before the
// action's reply is sent.
type Log struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

// OpenLog opens (creating) the log at path for appending.
func OpenLog(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	return &Log{f: f, path: path}, nil
}

// Record appends e. A nil log records nothing.
func (l *Log) Record(e Entry) error {
	if l == nil {
		return nil
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return fmt.Errorf("access log: closed")
	}
	if _, err := l.f.Write(b); err != nil {
		return fmt.Errorf("access log: %w", err)
	}
	return l.f.Sync()
}

// Tail returns the last n entries, oldest first.
func (l *Log) Tail(n int) ([]Entry, error) {
	if l == nil {
		return nil, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.Open(l.path)
	if err != nil {
		return nil, fmt.Errorf("access log: %w", err)
	}
	defer f.Close()
	// Read at most the last 4 MiB: enough for thousands of entries.
	const window = 4 << 20
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	start := max(0, st.Size()-window)
	b, err := io.ReadAll(io.NewSectionReader(f, start, st.Size()-start))
	if err != nil {
		return nil, err
	}
	if start > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	var out []Entry
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var e Entry
		if json.Unmarshal(sc.Bytes(), &e) == nil {
			out = append(out, e)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out, nil
}

// Close closes the log. Idempotent; a closed log refuses to record.
func (l *Log) Close() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
