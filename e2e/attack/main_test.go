// Package attack_test reproduces attacks on Zhili against the real binary: `zhili serve` runs as
// a child process on a free loopback port with its own data directory and an access config of
// scoped keys and tokens, and each test drives it over HTTP and WebSocket as an attacker would,
// asserting the status, the named error and, for the attacks on memory, that the server's
// peak resident memory stays bounded.
//
// One server (the Xinyang city geography, every role) serves most attacks, in TestAttacks; the
// attacks that need a configuration of their own or a restart start their own.
package attack_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"zhili/internal/testsvc"
)

func TestMain(m *testing.M) {
	os.Exit(testsvc.RunShared(m)) // removes the built binary
}

// memoryBound is the most the server's peak resident memory may grow over its size right after
// startup, through an attack on memory.
const memoryBound = 200 << 20

// secrets of the main server, fresh for each test binary (so that finding one in a log or a
// reply means it leaked from this run).
type secretSet struct {
	source, screen411502, twoRegions, leader, evaluator, officer, admin string
}

func newSecrets() secretSet {
	r := func(role string) string {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		return role + "-" + hex.EncodeToString(b)
	}
	return secretSet{source: r("src"), screen411502: r("scr"), twoRegions: r("two"), leader: r("ldr"),
		evaluator: r("eva"), officer: r("off"), admin: r("adm")}
}

func (s secretSet) all() []string {
	return []string{s.source, s.screen411502, s.twoRegions, s.leader, s.evaluator, s.officer, s.admin}
}

// mainConfig is the main server's access list: a source key for every region and type, a
// screen of 浉河区 (411502), a leader of two districts, the city's leader, an evaluator, an
// officer (secret stored hashed) and an admin.
func mainConfig(s secretSet) string {
	sum := sha256.Sum256([]byte(s.officer))
	return fmt.Sprintf(`access:
  - {name: 12345热线, key: %q, roles: [source]}
  - {name: 浉河区大屏, token: %q, roles: [screen, leader], region: "411502"}
  - {name: 两区领导, token: %q, roles: [leader], regions: ["411502", "411503"]}
  - {name: 指挥中心, token: %q, roles: [screen, leader]}
  - {name: 考核办, token: %q, roles: [evaluator]}
  - {name: 王科长, token: "sha256:%x", roles: [officer, evaluator]}
  - {name: 管理员, token: %q, roles: [admin]}
`, s.source, s.screen411502, s.twoRegions, s.leader, s.evaluator, sum, s.admin)
}

// env is the main server and what the attacks know about it.
type env struct {
	z       *testsvc.Zhili
	sec     secretSet
	startup testsvc.Memory // right after /readyz answered
	mu      sync.Mutex
	growth  []string // memory figures, for the summary
}

// TestAttacks runs the attacks that need no configuration of their own against one server,
// then stops it with SIGTERM.
func TestAttacks(t *testing.T) {
	t.Parallel()
	sec := newSecrets()
	z := testsvc.StartZhili(t, testsvc.ZhiliOptions{Config: mainConfig(sec), Args: []string{"--regions", "builtin:xinyang"}})
	startup, err := z.Memory()
	if err != nil {
		t.Fatal(err)
	}
	e := &env{z: z, sec: sec, startup: startup}
	t.Logf("server %s (pid %d) ready; RSS %s, peak %s", z.URL(), z.PID(), testsvc.MB(startup.RSS), testsvc.MB(startup.HWM))

	t.Run("IngestKeyNeverReads", e.ingestKeyNeverReads)
	t.Run("RegionScope", e.regionScope)
	t.Run("CaseIDsOfAnyUTF8", e.caseIDsOfAnyUTF8)
	t.Run("CSVFormulaInjection", e.csvFormulaInjection)
	t.Run("AccessLog", e.accessLog)
	t.Run("UnboundedDepts", e.unboundedDepts)
	t.Run("Times", e.times)
	t.Run("MalformedRequest", e.malformedRequest)
	t.Run("SecurityHeaders", e.securityHeaders)
	t.Run("HotspotPeriod", e.hotspotPeriod)
	t.Run("GzipBomb", e.gzipBomb)
	t.Run("BodyBeforeKey", e.bodyBeforeKey)
	t.Run("WebSocketTopicLimit", e.wsTopicLimit)

	took, err := z.Stop()
	if err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	if took > 20*time.Second {
		t.Errorf("SIGTERM: the server took %s to exit", took)
	}
	t.Logf("SIGTERM: the server exited in %s", took.Round(time.Millisecond))
	for _, g := range e.growth {
		t.Log(g)
	}
}

// checkMemory fails t when the server's peak resident memory grew by memoryBound or more over
// its size right after startup, and records the figures.
func (e *env) checkMemory(t *testing.T, what string, before testsvc.Memory) {
	t.Helper()
	m, err := e.z.Memory()
	if err != nil {
		t.Fatal(err)
	}
	growth := m.HWM - e.startup.RSS
	line := fmt.Sprintf("memory, %s: peak %s (+%s over startup's %s; +%s during this attack), RSS now %s",
		what, testsvc.MB(m.HWM), testsvc.MB(growth), testsvc.MB(e.startup.RSS), testsvc.MB(m.HWM-before.HWM), testsvc.MB(m.RSS))
	t.Log(line)
	e.mu.Lock()
	e.growth = append(e.growth, line)
	e.mu.Unlock()
	if growth >= memoryBound {
		t.Errorf("%s: peak RSS grew by %s over startup, bound %s", what, testsvc.MB(growth), testsvc.MB(memoryBound))
	}
}

func (e *env) memory(t *testing.T) testsvc.Memory {
	t.Helper()
	m, err := e.z.Memory()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

var client = &http.Client{Timeout: 30 * time.Second}

// reply is an HTTP answer.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r reply) String() string {
	b := r.Body
	if len(b) > 600 {
		b = append(b[:600:600], "…"...)
	}
	return fmt.Sprintf("%d %s", r.Status, b)
}

// apiError is the JSON error body every refusal carries.
type apiError struct {
	Error struct {
		Code      string `json:"code"`
		Reason    string `json:"reason"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

// do sends a request with the secret as a Bearer token (none when empty).
func do(t *testing.T, method, url, secret string, body io.Reader, hdr map[string]string) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if secret != "" {
		req.Header.Set("Authorization", "Bearer "+secret)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the reply: %v", method, url, err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

func (e *env) get(t *testing.T, path, secret string) reply {
	t.Helper()
	return do(t, "GET", e.z.URL()+path, secret, nil, nil)
}

// wantError checks a refusal's status, code and reason.
func wantError(t *testing.T, what string, r reply, status int, code, reason string) apiError {
	t.Helper()
	var ae apiError
	if err := json.Unmarshal(r.Body, &ae); err != nil || r.Status != status || ae.Error.Code != code || ae.Error.Reason != reason {
		t.Errorf("%s: got %s, want %d with code %q reason %q", what, r, status, code, reason)
	}
	return ae
}

// ingestReply is the per-request answer of POST /api/v1/events.
type ingestReply struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   []struct {
		Line  int    `json:"line"`
		ID    string `json:"id"`
		Error string `json:"error"`
	} `json:"rejected"`
}

// ingest posts NDJSON lines with key and returns the door's answer (the request must be
// answered 200).
func ingest(t *testing.T, base, key string, lines ...string) ingestReply {
	t.Helper()
	r := do(t, "POST", base+"/api/v1/events", key, strings.NewReader(strings.Join(lines, "\n")+"\n"),
		map[string]string{"Content-Type": "application/x-ndjson"})
	var ir ingestReply
	if r.Status != 200 || json.Unmarshal(r.Body, &ir) != nil {
		t.Fatalf("POST /api/v1/events: %s", r)
	}
	return ir
}

// ev encodes one event; fields are added to the contract's required ones.
func ev(fields map[string]any) string {
	b, err := json.Marshal(fields)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// ago is a time d before now, RFC 3339.
func ago(d time.Duration) string { return time.Now().Add(-d).UTC().Format(time.RFC3339) }

// reported is a case.reported event in region.
func reported(id, caseID, region string, extra map[string]any) string {
	f := map[string]any{"id": id, "type": "case.reported", "case_id": caseID, "at": ago(time.Hour),
		"source": "grid", "category": "dispute", "region": region}
	for k, v := range extra {
		f[k] = v
	}
	return ev(f)
}

// waitCase polls GET /api/v1/cases/{escaped} with secret until it answers 200 (the aggregator
// has stored the case) and returns the reply.
func waitCase(t *testing.T, base, escaped, secret string) reply {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := do(t, "GET", base+"/api/v1/cases/"+escaped, secret, nil, nil)
		if r.Status == 200 {
			return r
		}
		if r.Status != 404 || time.Now().After(deadline) {
			t.Fatalf("GET /api/v1/cases/%s: %s", escaped, r)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// raw sends bytes on a new connection and returns what comes back until the server closes
// the connection or wait passes without more bytes.
func raw(t *testing.T, addr string, req []byte, wait time.Duration) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	buf := make([]byte, 32<<10)
	for {
		_ = c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.Bytes()
		}
	}
}

// rawResponse parses the first HTTP response in b.
func rawResponse(t *testing.T, b []byte) reply {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), nil)
	if err != nil {
		t.Fatalf("no HTTP response in %q: %v", b, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, body}
}
