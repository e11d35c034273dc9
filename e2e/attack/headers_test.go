package attack_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// securityHeaders: every reply carries Content-Security-Policy with frame-ancestors,
// Referrer-Policy: no-referrer and X-Content-Type-Options: nosniff (docs/ACCESS.md, "What
// every reply carries"): API answers and refusals, the wall-screen pages (the ones a
// clickjacking frame would show) and the answers to requests the HTTP parser refused.
func (e *env) securityHeaders(t *testing.T) {
	base := e.z.URL()
	check := func(t *testing.T, what string, h http.Header) {
		t.Helper()
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self'") {
			t.Errorf("%s: Content-Security-Policy %q has no frame-ancestors 'self'", what, csp)
		}
		if v := h.Get("Referrer-Policy"); v != "no-referrer" {
			t.Errorf("%s: Referrer-Policy %q, want no-referrer", what, v)
		}
		if v := h.Get("X-Content-Type-Options"); v != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q, want nosniff", what, v)
		}
	}
	t.Run("API", func(t *testing.T) {
		today := time.Now().Format("2006-01-02")
		for _, c := range []struct {
			path, secret string
			status       int
		}{
			{"/healthz", "", 200},
			{"/readyz", "", 200},
			{"/metrics", "", 200},
			{"/openapi.yaml", "", 200},
			{"/api/v1/counts", e.sec.leader, 200},
			{"/api/v1/counts", "", 401},
			{"/api/v1/counts", e.sec.source, 403},
			{"/api/v1/cases/no-such-case", e.sec.leader, 404},
			{"/api/v1/hotspots?from=2000-01-01&to=" + today + "&step=1d", e.sec.leader, 413},
			{"/api/v1/audit/rates?from=0001-01-01&to=9999-12-31", e.sec.evaluator, 400},
			{"/api/v1/audit/rates?format=csv", e.sec.evaluator, 200},
		} {
			r := e.get(t, c.path, c.secret)
			if r.Status != c.status {
				t.Errorf("GET %s: %s, want %d", c.path, r, c.status)
			}
			check(t, fmt.Sprintf("GET %s (%d)", c.path, r.Status), r.Header)
		}
		r := do(t, "POST", base+"/api/v1/events", e.sec.source, strings.NewReader("{}\n"),
			map[string]string{"Content-Type": "application/x-ndjson", "Content-Encoding": "br"})
		check(t, fmt.Sprintf("POST /api/v1/events br (%d)", r.Status), r.Header)
		_, resp, err := dialWS(e.z.Addr(), e.sec.evaluator, 0)
		if err == nil || resp == nil {
			t.Fatalf("WebSocket handshake by an evaluator: %v", err)
		}
		check(t, fmt.Sprintf("refused WebSocket handshake (%d)", resp.StatusCode), resp.Header)
	})
	t.Run("Pages", func(t *testing.T) {
		for _, p := range []string{"/", "/screen/hotspots", "/screen/whistles", "/audit"} {
			r := e.get(t, p+"?token="+e.sec.leader, "")
			if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
				t.Errorf("GET %s: %d %s, want the page", p, r.Status, r.Header.Get("Content-Type"))
				continue
			}
			check(t, "page "+p, r.Header)
		}
	})
	t.Run("ParserRefusals", func(t *testing.T) {
		for _, c := range []struct{ name, req string }{
			{"bad Content-Length (400)", "GET /api/v1/counts HTTP/1.1\r\nHost: zhili\r\nContent-Length: abc\r\n\r\n"},
			{"header too large (431)", "GET /api/v1/counts HTTP/1.1\r\nHost: zhili\r\nX-Big: " + strings.Repeat("a", 20000) + "\r\n\r\n"},
			{"large body without a key (401)", "POST /api/v1/events HTTP/1.1\r\nHost: zhili\r\nContent-Type: application/x-ndjson\r\nContent-Length: 16777216\r\n\r\n{}"},
		} {
			r := rawResponse(t, raw(t, e.z.Addr(), []byte(c.req), 3*time.Second))
			check(t, c.name, r.Header)
		}
	})
}
