package attack_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// ingestKeyNeverReads: a source key (role source) used to read anything is refused 403 role,
// whether it comes as a Bearer token or in the URL, on REST and on /ws.
func (e *env) ingestKeyNeverReads(t *testing.T) {
	key := e.sec.source
	// The key is valid: it sends.
	if ir := ingest(t, e.z.URL(), key, reported("nr-1", "NR-1", "411502001", nil)); ir.Accepted != 1 {
		t.Fatalf("the source key cannot send: %+v", ir)
	}
	for _, p := range []string{
		"/api/v1/counts", "/api/v1/counts?region=411502", "/api/v1/series", "/api/v1/regions",
		"/api/v1/hexes?ids=8840b529a5fffff", "/api/v1/hotspots", "/api/v1/cases/NR-1", "/api/v1/cases/X",
		"/api/v1/audit/rates", "/api/v1/audit/rates?format=csv", "/api/v1/audit/whistles",
		"/api/v1/access-log", "/ws",
	} {
		wantError(t, "GET "+p+" with the source key as Bearer", e.get(t, p, key), 403, "forbidden", "role")
		sep := "?"
		if strings.Contains(p, "?") {
			sep = "&"
		}
		wantError(t, "GET "+p+" with the source key as ?token=", e.get(t, p+sep+"token="+key, ""), 403, "forbidden", "role")
	}
	// A real WebSocket handshake with the key is refused before the upgrade.
	c, resp, err := dialWS(e.z.Addr(), key, 0)
	if err == nil {
		c.Close()
		t.Fatal("GET /ws with the source key: upgraded")
	}
	if resp == nil {
		t.Fatalf("GET /ws with the source key: %v", err)
	}
	wantError(t, "WebSocket handshake with the source key", reply{resp.StatusCode, resp.Header, readAll(resp)}, 403, "forbidden", "role")
}

// regionScope: a token limited to 浉河区 (411502) asks for another district (411503), its parent
// (the city) or the root, by query parameter, in a case and by WebSocket topic: refused by name.
func (e *env) regionScope(t *testing.T) {
	tok, two := e.sec.screen411502, e.sec.twoRegions
	for _, c := range []struct {
		path   string
		status int
		code   string
		reason string
	}{
		{"/api/v1/counts?region=411503", 403, "forbidden", "region"},
		{"/api/v1/counts?region=411503001", 403, "forbidden", "region"},
		{"/api/v1/counts?region=411500", 403, "forbidden", "region"},
		{"/api/v1/series?region=411503", 403, "forbidden", "region"},
		{"/api/v1/hotspots?region=411503", 403, "forbidden", "region"},
		{"/api/v1/regions?root=411503", 403, "forbidden", "root"},
		{"/api/v1/regions?root=411500", 403, "forbidden", "root"},
	} {
		wantError(t, c.path+" (Bearer)", e.get(t, c.path, tok), c.status, c.code, c.reason)
		wantError(t, c.path+" (?token=)", e.get(t, c.path+"&token="+tok, ""), c.status, c.code, c.reason)
	}
	// Its own subtree is served; "root" means its one region.
	for _, p := range []string{"/api/v1/counts?region=411502001", "/api/v1/counts", "/api/v1/regions?depth=1"} {
		if r := e.get(t, p, tok); r.Status != 200 {
			t.Errorf("%s within the token's region: %s", p, r)
		}
	}
	var counts struct{ Region string }
	if r := e.get(t, "/api/v1/counts", tok); json.Unmarshal(r.Body, &counts) != nil || counts.Region != "411502" {
		t.Errorf("counts of root for a 411502 token: %s, want region 411502", r)
	}
	// A token of two districts must name one; a third is refused.
	wantError(t, "counts of root by a two-district token", e.get(t, "/api/v1/counts", two), 400, "invalid", "region")
	wantError(t, "counts of 411521 by a 411502+411503 token", e.get(t, "/api/v1/counts?region=411521", two), 403, "forbidden", "region")
	if r := e.get(t, "/api/v1/counts?region=411503", two); r.Status != 200 {
		t.Errorf("counts of 411503 by a 411502+411503 token: %s", r)
	}

	// A case of 平桥区 (411503) is refused to the 浉河区 token.
	if ir := ingest(t, e.z.URL(), e.sec.source, reported("rs-1", "RS-PQ-1", "411503001", nil)); ir.Accepted != 1 {
		t.Fatalf("ingest: %+v", ir)
	}
	waitCase(t, e.z.URL(), "RS-PQ-1", e.sec.leader)
	wantError(t, "case of 411503 by the 411502 token", e.get(t, "/api/v1/cases/RS-PQ-1", tok), 403, "forbidden", "region")

	// Live topics.
	c, resp, err := dialWS(e.z.Addr(), tok, 0)
	if err != nil {
		t.Fatalf("WebSocket: %v (%v)", err, resp)
	}
	defer c.Close()
	forbidden := []string{"overview:411503", "cases:411503001", "overview:411500", "overview:root", "hotspots:411503:24h", "whistles:411503"}
	for _, topic := range append(forbidden, "overview:411502") {
		if err := c.WriteJSON(map[string]string{"op": "sub", "topic": topic}); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]wsMessage{}
	for deadline := time.Now().Add(15 * time.Second); len(got) < len(forbidden)+1 && time.Now().Before(deadline); {
		ms, err := readWS(c, time.Until(deadline))
		if err != nil {
			t.Fatalf("WebSocket read: %v (have %v)", err, got)
		}
		for _, m := range ms {
			if m.Op == "error" || m.Op == "snapshot" {
				got[m.Topic] = m
			}
		}
	}
	for _, topic := range forbidden {
		if m := got[topic]; m.Op != "error" || m.Code != "forbidden" || !strings.Contains(m.Message, "may not see region") {
			t.Errorf("sub %s by the 411502 token: %+v, want an error frame with code forbidden", topic, m)
		}
	}
	if m := got["overview:411502"]; m.Op != "snapshot" {
		t.Errorf("sub overview:411502 by the 411502 token: %+v, want its snapshot", m)
	}
}

// accessLog: an officer reading a case's personal fields and an evaluator's export are recorded
// under their names; the log is served to admin only, and no secret is in it.
func (e *env) accessLog(t *testing.T) {
	base := e.z.URL()
	if ir := ingest(t, base, e.sec.source, reported("al-1", "AL-1", "411502001", map[string]any{
		"source": "hotline12345", "reporter": map[string]string{"name": "张三", "phone": "13800000000"},
		"address": "浉河区民权街道1号", "summary": "噪音扰民"})); ir.Accepted != 1 {
		t.Fatalf("ingest: %+v", ir)
	}
	waitCase(t, base, "AL-1", e.sec.leader)
	// The leader sees the case masked: not recorded.
	if r := e.get(t, "/api/v1/cases/AL-1", e.sec.leader); r.Status != 200 || strings.Contains(string(r.Body), "13800000000") || !strings.Contains(string(r.Body), `"pii":"masked"`) {
		t.Errorf("case AL-1 for the leader: %s, want masked personal fields", r)
	}
	// The officer (hashed secret) sees them: recorded.
	if r := e.get(t, "/api/v1/cases/AL-1", e.sec.officer); r.Status != 200 || !strings.Contains(string(r.Body), "13800000000") {
		t.Fatalf("case AL-1 for the officer: %s", r)
	}
	// The evaluator exports, the token in the URL.
	if r := e.get(t, "/api/v1/audit/rates?format=csv&by=dept&token="+url.QueryEscape(e.sec.evaluator), ""); r.Status != 200 {
		t.Fatalf("export: %s", r)
	}

	for name, s := range map[string]string{"source": e.sec.source, "screen": e.sec.screen411502, "leader": e.sec.leader,
		"evaluator": e.sec.evaluator, "officer": e.sec.officer} {
		wantError(t, "access log read by "+name, e.get(t, "/api/v1/access-log", s), 403, "forbidden", "role")
	}
	wantError(t, "access log without a token", e.get(t, "/api/v1/access-log", ""), 401, "unauthorized", "token")
	r := e.get(t, "/api/v1/access-log?limit=10000", e.sec.admin)
	if r.Status != 200 {
		t.Fatalf("access log for the admin: %s", r)
	}
	var log struct {
		Entries []struct {
			At        time.Time `json:"at"`
			Principal string    `json:"principal"`
			Roles     string    `json:"roles"`
			Action    string    `json:"action"`
			Object    string    `json:"object"`
			Remote    string    `json:"remote"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(r.Body, &log); err != nil {
		t.Fatalf("access log: %v in %s", err, r)
	}
	var pii, export bool
	for _, en := range log.Entries {
		if en.Action == "pii_read" && en.Object == "AL-1" {
			if en.Principal != "王科长" || en.Roles != "evaluator,officer" || en.Remote != "127.0.0.1" {
				t.Errorf("personal-field read recorded as %+v", en)
			}
			pii = true
		}
		if en.Action == "pii_read" && en.Principal != "王科长" {
			t.Errorf("a read without personal fields was recorded as one: %+v", en)
		}
		if en.Action == "export" && en.Principal == "考核办" && strings.HasPrefix(en.Object, "/api/v1/audit/rates?") {
			if !strings.Contains(en.Object, "format=csv") || strings.Contains(en.Object, "token") {
				t.Errorf("export recorded as %+v: want its query without the token", en)
			}
			export = true
		}
	}
	if !pii || !export {
		t.Errorf("access log %s: want the officer's personal-field read of AL-1 and the evaluator's export", r)
	}
	file, err := os.ReadFile(filepath.Join(e.z.Data, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range e.sec.all() {
		if strings.Contains(string(r.Body), s) || strings.Contains(string(file), s) {
			t.Errorf("the access log holds the secret %q", s)
		}
	}
}

// wsMessage is one message of the live protocol (snapshot, delta, status, error, pong).
type wsMessage struct {
	Op      string `json:"op"`
	Topic   string `json:"topic"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// dialWS opens /ws with secret as a Bearer token. readBuffer > 0 sets the socket's receive
// buffer (a client that reads slowly).
func dialWS(addr, secret string, readBuffer int) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	if readBuffer > 0 {
		d.NetDial = func(network, a string) (net.Conn, error) {
			c, err := net.Dial(network, a)
			if err != nil {
				return nil, err
			}
			_ = c.(*net.TCPConn).SetReadBuffer(readBuffer)
			return c, nil
		}
	}
	h := http.Header{}
	if secret != "" {
		h.Set("Authorization", "Bearer "+secret)
	}
	return d.Dial("ws://"+addr+"/ws", h)
}

// readWS reads one frame: one message or a JSON array of messages.
func readWS(c *websocket.Conn, wait time.Duration) ([]wsMessage, error) {
	_ = c.SetReadDeadline(time.Now().Add(wait))
	_, b, err := c.ReadMessage()
	if err != nil {
		return nil, err
	}
	if len(b) > 0 && b[0] == '[' {
		var ms []wsMessage
		err := json.Unmarshal(b, &ms)
		return ms, err
	}
	var m wsMessage
	err = json.Unmarshal(b, &m)
	return []wsMessage{m}, err
}

func readAll(resp *http.Response) []byte {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return b
}
