package geo

import (
	"fmt"
	"strconv"

	"github.com/uber/h3-go/v4"
)

// ParseHex parses the conventional hexadecimal form of an H3 cell (as written by HexString,
// e.g. "8840b52d61fffff"; an optional "0x" prefix and upper case are accepted) and checks
// that it names a valid cell (hexagon or pentagon), not an edge or vertex index.
func ParseHex(s string) (uint64, error) {
	v := s
	if len(v) > 2 && (v[:2] == "0x" || v[:2] == "0X") {
		v = v[2:]
	}
	if len(v) == 0 || len(v) > 16 {
		return 0, fmt.Errorf("%q is not an H3 cell id (1 to 16 hexadecimal digits)", s)
	}
	n, err := strconv.ParseUint(v, 16, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an H3 cell id (not hexadecimal)", s)
	}
	if !h3.Cell(n).IsValid() {
		return 0, fmt.Errorf("%q is not a valid H3 cell", s)
	}
	return n, nil
}

// HexRes returns the H3 resolution (0..15) of cell.
func HexRes(cell uint64) int { return h3.Cell(cell).Resolution() }
