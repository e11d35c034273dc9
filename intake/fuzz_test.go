package intake

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzWALRecovery damages a log's segment (cut at a point, one byte changed) and reopens it:
// OpenWAL either refuses with an error or recovers a log whose every entry is one that was
// written, at its own offset; it never panics and never returns damaged data.
func FuzzWALRecovery(f *testing.F) {
	dir := f.TempDir()
	w, err := OpenWAL(dir, WALOptions{})
	if err != nil {
		f.Fatal(err)
	}
	want := map[uint64]Entry{}
	for i := range 8 {
		id := fmt.Sprintf("id-%d", i)
		data := bytes.Repeat([]byte{byte('a' + i)}, 10+7*i)
		if _, err := w.Append(context.Background(), []Record{{ID: id, Data: data}}); err != nil {
			f.Fatal(err)
		}
	}
	es, err := w.Read(context.Background(), 0, 100)
	if err != nil || len(es) != 8 {
		f.Fatalf("read %d entries: %v", len(es), err)
	}
	for _, e := range es {
		want[e.Offset] = e
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.wal"))
	if len(segs) != 1 {
		f.Fatalf("%d segments", len(segs))
	}
	seg, err := os.ReadFile(segs[0])
	if err != nil {
		f.Fatal(err)
	}
	name := filepath.Base(segs[0])
	f.Add(uint32(len(seg)), uint32(0), byte(0))
	f.Add(uint32(len(seg)-3), uint32(0), byte(0))
	f.Add(uint32(len(seg)), uint32(len(seg)/2), byte(0x55))
	f.Add(uint32(5), uint32(1), byte(1))
	f.Fuzz(func(t *testing.T, cut, at uint32, flip byte) {
		b := bytes.Clone(seg)
		b = b[:min(int(cut), len(b))]
		if len(b) > 0 {
			b[int(at)%len(b)] ^= flip
		}
		d := t.TempDir()
		if err := os.WriteFile(filepath.Join(d, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
		w, err := OpenWAL(d, WALOptions{})
		if err != nil {
			return // refused, naming the damage
		}
		defer w.Close()
		last := w.Stats().LastOffset
		if last == 0 {
			return // nothing recovered (Read would wait for an entry)
		}
		got, err := w.Read(context.Background(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || got[len(got)-1].Offset != last {
			t.Fatalf("read %d entries, the log says its last is %d", len(got), last)
		}
		for _, e := range got {
			o, ok := want[e.Offset]
			if !ok || o.ID != e.ID || !bytes.Equal(o.Data, e.Data) {
				t.Fatalf("recovered entry %d %q %q was never written so", e.Offset, e.ID, e.Data)
			}
		}
	})
}
