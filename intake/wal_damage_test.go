package intake_test

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"zhili/intake"
)

// TestWALDamageReported: a clean stop leaves the log as it was; a tail damaged while the log was
// stopped is cut at open, reported by file, byte, size and entries, and kept aside.
func TestWALDamageReported(t *testing.T) {
	dir := t.TempDir()
	w := openWAL(t, dir, intake.WALOptions{})
	mustAppend(t, w, "a", "b")
	mustAppend(t, w, "c")
	mustAppend(t, w, "d", "e", "f")
	w.Close()
	seg := segments(t, dir)[0]
	whole, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}

	// A clean stop never shortens the log.
	w = openWAL(t, dir, intake.WALOptions{})
	if d := w.Damage(); len(d) != 0 || fileSize(t, seg) != int64(len(whole)) {
		t.Fatalf("after a clean stop: damage %+v, %d bytes of %d", d, fileSize(t, seg), len(whole))
	}
	w.Close()

	// Five bytes cut off the end: the last call (d, e, f) is incomplete.
	if err := os.Truncate(seg, int64(len(whole)-5)); err != nil {
		t.Fatal(err)
	}
	w = openWAL(t, dir, intake.WALOptions{})
	defer w.Close()
	if got := ids(readAll(t, w, 0)); fmt.Sprint(got) != "[a b c]" {
		t.Fatalf("entries %v", got)
	}
	dmg := w.Damage()
	if len(dmg) != 1 {
		t.Fatalf("damage %+v, want one cut", dmg)
	}
	d := dmg[0]
	if d.File != seg || d.Entries != 2 || d.Offset+d.Bytes != int64(len(whole)-5) || d.Offset != fileSize(t, seg) || d.Reason == "" {
		t.Fatalf("damage %+v (segment now %d bytes)", d, fileSize(t, seg))
	}
	kept, err := os.ReadFile(d.Kept)
	if err != nil || !bytes.Equal(kept, whole[d.Offset:len(whole)-5]) {
		t.Fatalf("cut bytes not kept aside in %s: %v", d.Kept, err)
	}
	if segs := segments(t, dir); len(segs) != 1 {
		t.Fatalf("the kept file is taken for a segment: %v", segs)
	}
}
