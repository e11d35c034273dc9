package intern

import (
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

func TestTable(t *testing.T) {
	var tb Table
	buf := []byte(`"4115020010"`)
	s := unsafe.String(&buf[1], 10) // a string into a decoder's buffer
	a := tb.Of(s)
	if a != s || unsafe.StringData(a) == unsafe.StringData(s) {
		t.Fatalf("Of returned %q at the input's own bytes", a)
	}
	b := tb.Of(strings.Clone(s))
	if unsafe.StringData(a) != unsafe.StringData(b) {
		t.Fatal("the same name interned twice has two copies")
	}
	buf[1] = 'X' // the input is reused: the interned name must not change
	if a != "4115020010" {
		t.Fatalf("interned name changed with its input: %q", a)
	}
	p := []string{strings.Clone("41"), strings.Clone("4115020010")}
	tb.Path(p)
	if unsafe.StringData(p[1]) != unsafe.StringData(a) || tb.Len() != 2 || tb.Of("") != "" || tb.Len() != 2 {
		t.Fatalf("path %q, %d names", p, tb.Len())
	}
}

func TestTableBounded(t *testing.T) {
	var tb Table
	for i := range MaxNames + 10 {
		tb.Of(strings.Repeat("x", 1+i%7) + string(rune('a'+i%26)) + strconv.Itoa(i))
	}
	if tb.Len() != MaxNames {
		t.Fatalf("%d names held, bound %d", tb.Len(), MaxNames)
	}
	if got := tb.Of("past-the-bound"); got != "past-the-bound" {
		t.Fatalf("a name past the bound: %q", got)
	}
}
