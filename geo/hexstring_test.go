package geo

import (
	"testing"

	"github.com/paulmach/orb"
)

func TestParseHex(t *testing.T) {
	cell := HexCell(orb.Point{114.07, 32.12}, DefaultHexRes)
	s := HexString(cell)
	for _, in := range []string{s, "0x" + s, "0X" + s} {
		got, err := ParseHex(in)
		if err != nil || got != cell {
			t.Errorf("ParseHex(%q) = %x, %v; want %x", in, got, err, cell)
		}
	}
	for _, bad := range []string{"", "0x", "zz40b52d61fffff", "8840b52d61fffff0", "12345678901234567", "0", "ffffffffffffffff",
		"1140b52d61fffff" /* mode 2: an edge, not a cell */} {
		if _, err := ParseHex(bad); err == nil {
			t.Errorf("ParseHex(%q): no error", bad)
		}
	}
}
