package server

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/planar"

	"zhili/errs"
	"zhili/geo"
)

func hexServer() *Server {
	return New(Config{ViewTokens: map[string]Viewer{"tok": {Name: "wall"}}, DisplayCRS: "wgs84"}, Deps{})
}

func getJSON(t *testing.T, s *Server, target string, out any) int {
	t.Helper()
	resp, err := s.App().Test(httptest.NewRequest("GET", target, nil))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("GET %s: %d %s", target, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// The outline of each cell asked for: a closed ring of 6 vertices around the cell's centre,
// which H3 maps back to the same cell; duplicates answered once; other CRSs shifted.
func TestHexes(t *testing.T) {
	s := hexServer()
	a := geo.HexCell(orb.Point{114.0913, 32.1475}, geo.DefaultHexRes)
	b := geo.HexNeighbours(a)[0]
	ids := geo.HexString(a) + "," + geo.HexString(b) + "," + geo.HexString(a)
	var rep struct {
		CRS   string    `json:"crs"`
		Cells []hexCell `json:"cells"`
	}
	if st := getJSON(t, s, "/api/v1/hexes?token=tok&ids="+ids, &rep); st != 200 {
		t.Fatalf("status %d", st)
	}
	if rep.CRS != "wgs84" || len(rep.Cells) != 2 {
		t.Fatalf("reply: crs %q, %d cells; want wgs84, 2", rep.CRS, len(rep.Cells))
	}
	for i, want := range []uint64{a, b} {
		c := rep.Cells[i]
		if c.ID != geo.HexString(want) || c.Res != geo.DefaultHexRes {
			t.Errorf("cell %d: id %s res %d", i, c.ID, c.Res)
		}
		if len(c.Boundary) != 7 || c.Boundary[0] != c.Boundary[6] {
			t.Fatalf("cell %s: boundary %v, want a closed ring of 6 vertices", c.ID, c.Boundary)
		}
		ring := make(orb.Ring, len(c.Boundary))
		for j, p := range c.Boundary {
			ring[j] = orb.Point(p)
		}
		if !planar.RingContains(ring, orb.Point(c.Centre)) {
			t.Errorf("cell %s: centre %v outside its boundary", c.ID, c.Centre)
		}
		if got := geo.HexCell(orb.Point(c.Centre), c.Res); got != want {
			t.Errorf("cell %s: centre maps to %s", c.ID, geo.HexString(got))
		}
	}
	var gcj struct {
		CRS   string    `json:"crs"`
		Cells []hexCell `json:"cells"`
	}
	if st := getJSON(t, s, "/api/v1/hexes?token=tok&crs=gcj02&ids="+geo.HexString(a), &gcj); st != 200 || gcj.CRS != "gcj02" {
		t.Fatalf("gcj02: status %d crs %q", st, gcj.CRS)
	}
	if d := gcj.Cells[0].Centre[0] - rep.Cells[0].Centre[0]; d < 1e-4 || d > 0.02 {
		t.Errorf("gcj02 centre shifted by %g° in longitude, want a few hundred metres", d)
	}
}

// MaxHexIDs distinct ids fit in one request line.
func TestHexesMax(t *testing.T) {
	s := hexServer()
	seen := map[uint64]bool{}
	queue := []uint64{geo.HexCell(orb.Point{114.0913, 32.1475}, 8)}
	var ids []string
	for len(ids) < MaxHexIDs {
		c := queue[0]
		queue = queue[1:]
		if seen[c] {
			continue
		}
		seen[c] = true
		ids = append(ids, geo.HexString(c))
		queue = append(queue, geo.HexNeighbours(c)...)
	}
	var rep struct {
		Cells []hexCell `json:"cells"`
	}
	if st := getJSON(t, s, "/api/v1/hexes?token=tok&ids="+strings.Join(ids, ","), &rep); st != 200 || len(rep.Cells) != MaxHexIDs {
		t.Fatalf("%d ids: status %d, %d cells", len(ids), st, len(rep.Cells))
	}
}

// Bad requests are refused with 400 and a named reason; a missing token with 401.
func TestHexesErrors(t *testing.T) {
	s := hexServer()
	good := geo.HexString(geo.HexCell(orb.Point{114.0913, 32.1475}, 8))
	many := strings.TrimSuffix(strings.Repeat(good+",", MaxHexIDs+1), ",")
	cases := []struct {
		target, reason string
		status         int
		msg            string
	}{
		{"/api/v1/hexes?ids=" + good, "token", 401, "token"},
		{"/api/v1/hexes?token=tok", "ids", 400, "ids required"},
		{"/api/v1/hexes?token=tok&ids=" + many, "max_ids", 400, "at most 200"},
		{"/api/v1/hexes?token=tok&ids=" + good + ",8840b52d61fffzz", "ids", 400, `"8840b52d61fffzz" is not an H3 cell id`},
		{"/api/v1/hexes?token=tok&ids=" + good + ",,", "ids", 400, "not an H3 cell id"},
		{"/api/v1/hexes?token=tok&ids=ffffffffffffffff", "ids", 400, "not a valid H3 cell"},
		{"/api/v1/hexes?token=tok&crs=utm&ids=" + good, "crs", 400, "crs must be"},
	}
	for _, c := range cases {
		var body errorBody
		st := getJSON(t, s, c.target, &body)
		if st != c.status || body.Error.Reason != c.reason || !strings.Contains(body.Error.Message, c.msg) {
			t.Errorf("GET %s: %d %+v; want %d, reason %q, message containing %q", c.target, st, body.Error, c.status, c.reason, c.msg)
		}
		if c.status == 400 && body.Error.Code != errs.Invalid {
			t.Errorf("GET %s: code %s, want invalid", c.target, body.Error.Code)
		}
	}
}
