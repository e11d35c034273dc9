package app

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paulmach/orb"

	"zhili/access"
	"zhili/geo"
	"zhili/server"
	"zhili/store"
)

// TestAccessTableWalked sends every route of the access table with a secret of every role, and
// with none: a route admits exactly the roles the table names, and a source key never reads.
func TestAccessTableWalked(t *testing.T) {
	t.Parallel()
	k := &access.Keyring{}
	secrets := map[access.Role]string{}
	for _, r := range access.AllRoles() {
		secrets[r] = "secret-" + r.String()
		if err := k.Add(secrets[r], &access.Principal{Name: r.String(), Roles: access.Of(r)}); err != nil {
			t.Fatal(err)
		}
	}
	a := startWith(t, Config{Access: k})
	base := "http://" + a.Addr
	root := a.cfg.Tree.Root.Code

	// A request each route answers (given the right role) with something other than 401/403.
	path := map[string]string{
		"/api/v1/regions":        "/api/v1/regions?depth=0",
		"/api/v1/hexes":          "/api/v1/hexes?ids=8840b529a5fffff",
		"/api/v1/series":         "/api/v1/series?region=" + root,
		"/api/v1/counts":         "/api/v1/counts?region=" + root,
		"/api/v1/hotspots":       "/api/v1/hotspots?region=" + root,
		"/api/v1/cases/:id":      "/api/v1/cases/no-such-case",
		"/api/v1/audit/rates":    "/api/v1/audit/rates",
		"/api/v1/audit/whistles": "/api/v1/audit/whistles",
		"/*":                     "/",
	}
	do := func(rule server.Rule, secret string) int {
		p := rule.Path
		if q, ok := path[p]; ok {
			p = q
		}
		var body io.Reader
		if rule.Method == "POST" {
			body = strings.NewReader(`{"id":"walk-1","type":"case.reported","case_id":"walk-1","time":"2026-01-01T00:00:00Z"}` + "\n")
		}
		req, _ := http.NewRequest(rule.Method, base+p, body)
		if secret != "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		req.Header.Set("Content-Type", "application/x-ndjson")
		if rule.Path == "/ws" {
			req.Header.Set("Connection", "Upgrade")
			req.Header.Set("Upgrade", "websocket")
			req.Header.Set("Sec-WebSocket-Version", "13")
			req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", rule.Method, p, err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	walked := 0
	for _, rule := range server.Rules {
		if rule.Public {
			if st := do(rule, ""); st == 401 || st == 403 {
				t.Errorf("%s %s is public but answered %d without a secret", rule.Method, rule.Path, st)
			}
			continue
		}
		if st := do(rule, ""); st != 401 {
			t.Errorf("%s %s without a secret: %d, want 401", rule.Method, rule.Path, st)
		}
		if st := do(rule, "not-a-secret"); st != 401 {
			t.Errorf("%s %s with an unknown secret: %d, want 401", rule.Method, rule.Path, st)
		}
		for _, r := range access.AllRoles() {
			st := do(rule, secrets[r])
			walked++
			switch admitted := rule.Roles.Has(r); {
			case admitted && (st == 401 || st == 403):
				t.Errorf("%s %s as %s: %d, but the table admits %s", rule.Method, rule.Path, r, st, rule.Roles)
			case !admitted && st != 403:
				t.Errorf("%s %s as %s: %d, want 403 (the table admits %s)", rule.Method, rule.Path, r, st, rule.Roles)
			}
			if r == access.Source && rule.Method == "GET" && st != 403 {
				t.Errorf("a source key read %s %s: %d", rule.Method, rule.Path, st)
			}
		}
	}
	if walked < 10*len(access.AllRoles()) {
		t.Fatalf("walked %d route × role pairs: the table is smaller than the API", walked)
	}
}

// TestCaseIDsOfAnyUTF8: a case id with Chinese characters and a space is stored and fetched.
func TestCaseIDsOfAnyUTF8(t *testing.T) {
	t.Parallel()
	a := startApp(t, t.TempDir())
	base := "http://" + a.Addr
	id := "信阳-0001 甲"
	at := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	st, b := post(t, base, "application/x-ndjson", `{"id":"u1","type":"case.reported","case_id":"`+id+`","at":"`+at+`","source":"hotline12345","category":"environment","location":{"lon":114.05,"lat":32.12}}`+"\n")
	if st != 200 || !strings.Contains(string(b), `"accepted":1`) {
		t.Fatalf("ingest: %d %s", st, b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/api/v1/cases/" + url.PathEscape(id) + "?token=" + testToken)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			if !strings.Contains(string(body), `"case_id":"`+id+`"`) {
				t.Fatalf("reply %s names another case", body)
			}
			return
		}
		if resp.StatusCode != 404 || time.Now().After(deadline) {
			t.Fatalf("GET case %q: %d %s", id, resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestQueryCostsBounded: a period query that would cost without bound is refused with a named
// reason before it reaches the store.
func TestQueryCostsBounded(t *testing.T) {
	t.Parallel()
	// A county of 4 townships × 300 grids: a long daily review is many locations × many steps.
	regions := []*geo.Region{{Code: "C", Name: "县", Geometry: rectPoly(114, 32, 114.4, 32.3)}}
	for tw := range 4 {
		x0 := 114 + 0.1*float64(tw)
		regions = append(regions, &geo.Region{Code: fmt.Sprintf("T%d", tw), Name: "镇", Parent: "C", Geometry: rectPoly(x0, 32, x0+0.1, 32.3)})
		for i := range 10 {
			for j := range 30 {
				x, y := x0+0.01*float64(i), 32+0.01*float64(j)
				regions = append(regions, &geo.Region{Code: fmt.Sprintf("T%dG%d_%d", tw, i, j), Name: "格", Parent: fmt.Sprintf("T%d", tw),
					Geometry: rectPoly(x, y, x+0.01, y+0.01)})
			}
		}
	}
	for _, r := range regions {
		r.Bound = r.Geometry.Bound()
	}
	tree, err := geo.NewTree(regions)
	if err != nil {
		t.Fatal(err)
	}
	cs := &askedStore{}
	a := startWith(t, Config{Tree: tree, wrapStore: cs.wrap,
		ViewTokens: map[string]server.Viewer{testToken: {Name: "test"}}})
	base := "http://" + a.Addr
	// The read model's own start-up queries (the live hotspot windows seeded from the store) are
	// not the requests': wait until the store has been quiet for a second.
	eventually(t, 15*time.Second, func() string {
		n := cs.asked.Load()
		time.Sleep(time.Second)
		if m := cs.asked.Load(); m != n {
			return fmt.Sprintf("the store is still asked at start (%d queries)", m)
		}
		return ""
	})
	today := time.Now().Format("2006-01-02")
	long := time.Now().AddDate(0, 0, -400).Format("2006-01-02") // 1,200 grids × 400 steps
	for _, c := range []struct {
		path   string
		status int
		reason string
	}{
		{"/api/v1/hotspots?from=2000-01-01&to=" + today + "&step=1d", 413, "max_period"},
		{"/api/v1/hotspots?region=C&from=" + long + "&to=" + today + "&step=1d", 413, "max_cells"},
		{"/api/v1/audit/rates?from=0001-01-01&to=9999-12-31", 400, "period_bounds"},
		{"/api/v1/series?from=1999-12-31&to=" + today + "&step=1d", 400, "period_bounds"},
	} {
		before := cs.asked.Load()
		resp, err := http.Get(base + c.path + "&token=" + testToken)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !strings.Contains(string(b), `"reason":"`+c.reason+`"`) {
			t.Errorf("%s: %d %s, want %d %s", c.path, resp.StatusCode, b, c.status, c.reason)
		}
		if n := cs.asked.Load() - before; n != 0 {
			t.Errorf("%s: refused after %d store queries, want refused before the store is asked", c.path, n)
		}
	}
}

// askedStore counts the period queries asked of the history store.
type askedStore struct {
	store.Store
	asked atomic.Int64
}

func (s *askedStore) wrap(st store.Store) store.Store { s.Store = st; return s }

func (s *askedStore) RegionCounts(ctx context.Context, q store.RegionQuery) ([]store.RegionCount, error) {
	s.asked.Add(1)
	return s.Store.RegionCounts(ctx, q)
}

func (s *askedStore) Cube(ctx context.Context, q store.CubeQuery) ([]store.CubeSeries, error) {
	s.asked.Add(1)
	return s.Store.Cube(ctx, q)
}

func (s *askedStore) Series(ctx context.Context, q store.SeriesQuery) ([]store.Point, error) {
	s.asked.Add(1)
	return s.Store.Series(ctx, q)
}

func (s *askedStore) Cases(ctx context.Context, q store.CaseQuery, fn func(string, []store.Record) error) error {
	s.asked.Add(1)
	return s.Store.Cases(ctx, q, fn)
}

// TestIngestBodyGuards: a POST without a source key is answered before its body is read; a gzip
// body is inflated only up to the byte limit; an unknown encoding is refused by name.
func TestIngestBodyGuards(t *testing.T) {
	t.Parallel()
	a := startApp(t, t.TempDir())
	base := "http://" + a.Addr

	// A declared 16 MiB body that never comes: the answer does not wait for it.
	for _, auth := range []string{"", "Authorization: Bearer not-a-key\r\n", "Authorization: Bearer " + testToken + "\r\n"} {
		conn, err := net.Dial("tcp", a.Addr)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /api/v1/events HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/x-ndjson\r\nContent-Length: 16777216\r\n\r\n", auth)
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%q: no answer before the body: %v", auth, err)
		}
		b, _ := io.ReadAll(resp.Body)
		conn.Close()
		if resp.StatusCode != 401 || !strings.Contains(string(b), `"reason":"key"`) {
			t.Errorf("%q: %d %s, want 401 key", auth, resp.StatusCode, b)
		}
	}

	send := func(enc string, body []byte) (int, string) {
		req, _ := http.NewRequest("POST", base+"/api/v1/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testKey)
		req.Header.Set("Content-Type", "application/x-ndjson")
		req.Header.Set("Content-Encoding", enc)
		resp, b := roundTrip(t, req)
		return resp.StatusCode, string(b)
	}
	gz := func(b []byte) []byte {
		var out bytes.Buffer
		w := gzip.NewWriter(&out)
		w.Write(b)
		w.Close()
		return out.Bytes()
	}
	at := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	good := []byte(`{"id":"gz1","type":"case.reported","case_id":"GZ1","at":"` + at + `","source":"grid","category":"dispute","location":{"lon":114.05,"lat":32.12}}` + "\n")
	if st, b := send("gzip", gz(good)); st != 200 || !strings.Contains(b, `"accepted":1`) {
		t.Errorf("gzip body: %d %s", st, b)
	}
	bomb := gz(bytes.Repeat([]byte(" "), 16<<20)) // 16 MiB of blanks (twice the limit) in about 16 KiB
	if st, b := send("gzip", bomb); st != 413 || !strings.Contains(b, `"reason":"max_bytes"`) {
		t.Errorf("gzip bomb (%d bytes): %d %s, want 413 max_bytes", len(bomb), st, b)
	}
	if st, b := send("br", good); st != 415 || !strings.Contains(b, `"reason":"content_encoding"`) {
		t.Errorf("br body: %d %s, want 415 content_encoding", st, b)
	}
}

// TestAccessLogRecords: reading personal fields and exporting are recorded with the principal's
// name and never its secret; the admin reads the log, no one else.
func TestAccessLogRecords(t *testing.T) {
	t.Parallel()
	k := &access.Keyring{}
	for _, p := range []struct {
		secret string
		p      *access.Principal
	}{
		{"k-src", &access.Principal{Name: "hotline", Roles: access.Of(access.Source)}},
		{"t-officer", &access.Principal{Name: "王科长", Roles: access.Of(access.Officer, access.Evaluator)}},
		{"t-admin", &access.Principal{Name: "admin", Roles: access.Of(access.Admin)}},
	} {
		if err := k.Add(p.secret, p.p); err != nil {
			t.Fatal(err)
		}
	}
	a := startWith(t, Config{Access: k})
	base := "http://" + a.Addr
	get := func(path, token string) (int, string) {
		resp, err := http.Get(base + path + "token=" + token)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	at := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	req, _ := http.NewRequest("POST", base+"/api/v1/events", strings.NewReader(`{"id":"p1","type":"case.reported","case_id":"P1","at":"`+at+`","source":"hotline12345","category":"dispute","location":{"lon":114.05,"lat":32.12},"reporter":{"name":"张三","phone":"13800000000"}}`+"\n"))
	req.Header.Set("Authorization", "Bearer k-src")
	req.Header.Set("Content-Type", "application/x-ndjson")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("ingest: %v %v", resp, err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if st, b := get("/api/v1/cases/P1?", "t-officer"); st == 200 && strings.Contains(b, "13800000000") {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("case timeline: %d %s", st, b)
		}
	}
	if st, b := get("/api/v1/audit/rates?format=csv&", "t-officer"); st != 200 {
		t.Fatalf("export: %d %s", st, b)
	}
	if st, _ := get("/api/v1/access-log?", "t-officer"); st != 403 {
		t.Fatalf("an officer read the access log: %d", st)
	}
	st, b := get("/api/v1/access-log?", "t-admin")
	if st != 200 {
		t.Fatalf("access log: %d %s", st, b)
	}
	var log struct{ Entries []access.Entry }
	if err := json.Unmarshal([]byte(b), &log); err != nil {
		t.Fatal(err)
	}
	var pii, export bool
	for _, e := range log.Entries {
		pii = pii || e.Action == access.ActionPII && e.Object == "P1" && e.Principal == "王科长"
		export = export || e.Action == access.ActionExport && strings.Contains(e.Object, "format=csv") && e.Principal == "王科长"
	}
	if !pii || !export {
		t.Fatalf("entries %+v: want the personal-field read and the export", log.Entries)
	}
	raw, err := os.ReadFile(filepath.Join(a.cfg.DataDir, "access.log"))
	if err != nil || strings.Contains(string(raw), "t-officer") || strings.Contains(string(raw), "t-admin") {
		t.Fatalf("the access log holds a secret (or is unreadable: %v):\n%s", err, raw)
	}
}

func rectPoly(x0, y0, x1, y1 float64) orb.Polygon {
	return orb.Polygon{{{x0, y0}, {x1, y0}, {x1, y1}, {x0, y1}, {x0, y0}}}
}
