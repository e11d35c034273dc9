package alerts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testLog is the conformance suite every Log passes; reopen returns the log as a new process
// would see it (the same log for the in-memory one).
func testLog(t *testing.T, open func() Log, reopen func(Log) Log) {
	l := open()
	var none int
	if err := l.Replay(func(Entry) error { none++; return nil }); err != nil || none != 0 {
		t.Fatalf("a new log replays %d entries, %v", none, err)
	}
	a := &Alert{ID: "20261204-000001", RuleID: "r", Region: "A", RaisedAt: t0, Title: "城关镇 超期工单 12 件", Detail: map[string]string{"k": "v"}}
	want := []Entry{
		{Op: OpRaise, ID: a.ID, At: t0, Alert: a},
		{Op: OpAck, ID: a.ID, At: t0.Add(time.Minute), Who: "张三"},
		{Op: OpClose, ID: a.ID, At: t0.Add(time.Hour), Who: "李四", Note: "已处置"},
	}
	for _, e := range want {
		if err := l.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	a.Detail["k"] = "changed after append" // the log keeps what was appended
	l = reopen(l)
	defer l.Close()
	var got []Entry
	if err := l.Replay(func(e Entry) error { got = append(got, e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("replayed %d entries, want 3", len(got))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Op != w.Op || g.ID != w.ID || !g.At.Equal(w.At) || g.Who != w.Who || g.Note != w.Note || (w.Alert == nil) != (g.Alert == nil) {
			t.Errorf("entry %d: %+v, want %+v", i, g, w)
		}
	}
	if got[0].Alert.Title != a.Title || got[0].Alert.Detail["k"] != "v" {
		t.Errorf("the raise's alert: %+v", got[0].Alert)
	}
	stop := 0
	errStop := os.ErrClosed
	if err := l.Replay(func(Entry) error { stop++; return errStop }); err != errStop || stop != 1 {
		t.Errorf("replay stops at fn's error: %d calls, %v", stop, err)
	}
}

func TestMemoryLog(t *testing.T) {
	testLog(t, func() Log { return NewMemoryLog() }, func(l Log) Log { return l })
}

func TestFileLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	open := func() Log {
		l, err := OpenFileLog(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	testLog(t, open, func(l Log) Log { l.Close(); return open() })
}

func TestFileLogTornLastLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "alerts.jsonl")
	l, _ := OpenFileLog(path, nil)
	l.Append(Entry{Op: OpRaise, ID: "x-000001", At: t0, Alert: &Alert{ID: "x-000001", RuleID: "r", Region: "A", RaisedAt: t0}})
	l.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"op":"ack","id":"x-0000`) // a crash in the middle of a write
	f.Close()
	var warned []string
	l, err := OpenFileLog(path, func(m string) { warned = append(warned, m) })
	if err != nil {
		t.Fatalf("a torn last line is fatal: %v", err)
	}
	if len(warned) != 1 || !strings.Contains(warned[0], "torn") {
		t.Errorf("warnings: %q", warned)
	}
	// The next append starts on a line of its own.
	if err := l.Append(Entry{Op: OpClose, ID: "x-000001", At: t0.Add(time.Minute), Who: "u"}); err != nil {
		t.Fatal(err)
	}
	e, err := NewEngine(nil, Options{Log: l})
	if err != nil {
		t.Fatal(err)
	}
	if a, _ := e.Get("x-000001"); a.State != Closed {
		t.Errorf("after the repair: %+v", a)
	}
	l.Close()
	// A bad line in the middle is not a torn line: the log is refused.
	b, _ := os.ReadFile(path)
	os.WriteFile(path, append([]byte("garbage\n"), b...), 0o640)
	l, err = OpenFileLog(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if _, err := NewEngine(nil, Options{Log: l}); err == nil || !strings.Contains(err.Error(), ":1:") {
		t.Errorf("a bad first line: %v", err)
	}
}
