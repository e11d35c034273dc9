package ingest

import (
	"strings"
	"testing"
	"unsafe"
)

// The door remembers 100,000 case ids: each must be its own copy, not a string into the decoded
// request line it came from (which it would keep alive).
func TestRecentCasesDetach(t *testing.T) {
	r := newRecentCases(4)
	line := []byte(`{"case_id":"C-0001","region":"4115020010"}` + strings.Repeat(" ", 1<<16))
	id, region := unsafe.String(&line[12], 6), unsafe.String(&line[30], 10)
	if got := r.addLocked(id, region); got != "4115020010" {
		t.Fatalf("owner %q", got)
	}
	kept := r.ring[0]
	for _, s := range []string{kept, r.m[kept]} {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		if lo := uintptr(unsafe.Pointer(&line[0])); p >= lo && p < lo+uintptr(len(line)) {
			t.Fatalf("%q is kept inside the request line", s)
		}
	}
	if kept != "C-0001" || r.m[kept] != "4115020010" {
		t.Fatalf("kept %q → %q", kept, r.m[kept])
	}
}
