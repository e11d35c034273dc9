package attack_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// unboundedDepts: a whistle summoning 9,500 departments is rejected by name (depts), and the good
// lines of the same request are still accepted.
func (e *env) unboundedDepts(t *testing.T) {
	depts := func(n int) []string {
		ds := make([]string, n)
		for i := range ds {
			ds[i] = strconv.FormatInt(int64(i), 36) // short codes: the line stays under the 64 KiB line limit
		}
		return ds
	}
	whistle := func(id string, n int) string {
		return ev(map[string]any{"id": id, "type": "whistle.blown", "case_id": "DE-1", "at": ago(30 * time.Minute),
			"whistle_id": "W-" + id, "whistle_kind": "emergency", "depts": depts(n)})
	}
	huge := whistle("de-9500", 9500)
	if len(huge) >= 64<<10 {
		t.Fatalf("the 9,500-department line is %d bytes: it would be refused for its length, not its departments", len(huge))
	}
	good1 := reported("de-r", "DE-1", "411502003", nil)
	good2 := whistle("de-32", 32)
	for _, ct := range []string{"application/x-ndjson", "application/json"} {
		var body string
		if ct == "application/json" {
			body = "[" + strings.Join([]string{good1, huge, good2, whistle("de-33", 33)}, ",") + "]"
		} else {
			body = strings.Join([]string{good1, huge, good2, whistle("de-33", 33)}, "\n") + "\n"
		}
		r := do(t, "POST", e.z.URL()+"/api/v1/events", e.sec.source, strings.NewReader(body), map[string]string{"Content-Type": ct})
		var ir ingestReply
		if r.Status != 200 || json.Unmarshal(r.Body, &ir) != nil {
			t.Fatalf("%s: %s", ct, r)
		}
		if ir.Accepted+ir.Duplicates != 2 || len(ir.Rejected) != 2 {
			t.Errorf("%s: %s, want the two good lines accepted (or duplicates) and lines 2 and 4 rejected", ct, r)
		}
		want := map[int]string{2: "depts: 9500 departments, at most 32", 4: "depts: 33 departments, at most 32"}
		for _, rj := range ir.Rejected {
			if rj.Error != want[rj.Line] {
				t.Errorf("%s: line %d rejected with %q, want %q", ct, rj.Line, rj.Error, want[rj.Line])
			}
		}
	}
}

// hotspotPeriod: a leader's hotspot review from 2000 to today, a city-wide daily review of 200
// days and other unbounded periods are refused with the named limit before the store is asked;
// memory stays bounded.
func (e *env) hotspotPeriod(t *testing.T) {
	before := e.memory(t)
	now := time.Now()
	today := now.Format("2006-01-02")
	day := func(d int) string { return now.AddDate(0, 0, d).Format("2006-01-02") }
	for _, c := range []struct {
		path   string
		status int
		code   string
		reason string
	}{
		{"/api/v1/hotspots?from=2000-01-01&to=" + today + "&step=1d", 413, "too_large", "max_period"},
		{"/api/v1/hotspots?from=2000-01-01&to=" + today, 413, "too_large", "max_period"},
		{"/api/v1/hotspots?from=2000-01-01&to=" + today + "&step=1d&level=grid&region=411500", 413, "too_large", "max_period"},
		{"/api/v1/hotspots?from=" + day(-200) + "&to=" + today + "&step=1d", 413, "too_large", "max_cells"},
		{"/api/v1/hotspots?from=1999-12-31&to=" + today + "&step=1d", 400, "invalid", "period_bounds"},
		{"/api/v1/hotspots?from=" + today + "&to=" + day(800) + "&step=1d", 400, "invalid", "period_bounds"},
		{"/api/v1/hotspots?from=" + day(-1000) + "&to=" + today + "&step=1m", 400, "invalid", "max_points"},
	} {
		start := time.Now()
		wantError(t, c.path, e.get(t, c.path, e.sec.leader), c.status, c.code, c.reason)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: refused after %s: the limit should hold before the store is asked", c.path, d)
		}
	}
	e.checkMemory(t, "hotspots 2000-01-01 to today", before)
}

// gzipBomb: a small gzip body inflating to 1 GiB, with a valid source key, is refused 413
// max_bytes after the byte limit, twelve at once (at most four inflated at a time); memory stays
// bounded. Other encodings are
// refused 415 content_encoding, a body that is not gzip 400.
func (e *env) gzipBomb(t *testing.T) {
	before := e.memory(t)
	// A gzip stream may hold many members, read one after the other: 1,024 members of 1 MiB of
	// zeros each are about 1 MiB on the wire and 1 GiB inflated.
	var member bytes.Buffer
	w, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	_, _ = w.Write(make([]byte, 1<<20))
	_ = w.Close()
	bomb := bytes.Repeat(member.Bytes(), 1024)
	t.Logf("gzip bomb: %d bytes on the wire, %d MiB inflated", len(bomb), 1024)
	send := func(enc string, body []byte) reply {
		return do(t, "POST", e.z.URL()+"/api/v1/events", e.sec.source, bytes.NewReader(body),
			map[string]string{"Content-Type": "application/x-ndjson", "Content-Encoding": enc})
	}
	var wg sync.WaitGroup
	replies := make([]reply, 12)
	for i := range replies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			replies[i] = send("gzip", bomb)
		}()
	}
	wg.Wait()
	for i, r := range replies {
		if r.Status == 429 {
			// At most four are inflated at once; one that waited too long for its turn is
			// told to come back.
			wantError(t, fmt.Sprintf("gzip bomb %d", i), r, 429, "busy", "inflating")
			continue
		}
		wantError(t, fmt.Sprintf("gzip bomb %d", i), r, 413, "too_large", "max_bytes")
	}
	e.checkMemory(t, "gzip bombs (12 × 1 GiB inflated, at once)", before)

	// A good gzip body is accepted: the limit is on what it inflates to.
	var good bytes.Buffer
	gw := gzip.NewWriter(&good)
	_, _ = io.WriteString(gw, reported("gz-1", "GZ-1", "411502001", nil)+"\n")
	_ = gw.Close()
	if r := send("gzip", good.Bytes()); r.Status != 200 || !strings.Contains(string(r.Body), `"accepted":1`) {
		t.Errorf("a good gzip body: %s", r)
	}
	for _, enc := range []string{"br", "deflate", "compress", "zstd", "gzip, br", "x-bomb"} {
		wantError(t, "Content-Encoding "+enc, send(enc, good.Bytes()), 415, "unsupported", "content_encoding")
	}
	wantError(t, "Content-Encoding gzip on a body that is not gzip", send("gzip", []byte(reported("gz-2", "GZ-2", "411502001", nil))), 400, "invalid", "content_encoding")
}

// bodyBeforeKey: 100 connections at once without a key declare a 16 MiB body and send 4 KiB of
// it: each is answered 401 key at once (the body is not waited for), its connection closed, and
// the server's memory and open files come back.
func (e *env) bodyBeforeKey(t *testing.T) {
	const conns = 100
	before := e.memory(t)
	fds0 := e.openFiles(t)
	head := "POST /api/v1/events HTTP/1.1\r\nHost: zhili\r\nContent-Type: application/x-ndjson\r\nContent-Length: 16777216\r\n"
	type result struct {
		status   int
		body     string
		took     time.Duration
		released bool
		err      error
	}
	run := func(auth string, gate <-chan struct{}) result {
		c, err := net.Dial("tcp", e.z.Addr())
		if err != nil {
			return result{err: err}
		}
		defer c.Close()
		<-gate
		start := time.Now()
		if _, err := io.WriteString(c, head+auth+"\r\n"+strings.Repeat("{", 4096)); err != nil {
			return result{err: err}
		}
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return result{err: fmt.Errorf("no answer after %s: %w", time.Since(start), err)}
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		r := result{status: resp.StatusCode, body: string(b), took: time.Since(start)}
		// Released: the server closes the connection (it does not wait for the rest of the body).
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Write(bytes.Repeat([]byte("{"), 1024))
		_, err = io.Copy(io.Discard, br)
		var ne net.Error
		r.released = err == nil || !(errors.As(err, &ne) && ne.Timeout())
		return r
	}
	gate := make(chan struct{})
	results := make([]result, conns)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = run("", gate)
		}()
	}
	time.Sleep(200 * time.Millisecond) // every connection open before any sends
	close(gate)
	wg.Wait()
	var slowest time.Duration
	for i, r := range results {
		if r.err != nil {
			t.Errorf("connection %d: %v", i, r.err)
			continue
		}
		var ae apiError
		if r.status != 401 || json.Unmarshal([]byte(r.body), &ae) != nil || ae.Error.Code != "unauthorized" || ae.Error.Reason != "key" {
			t.Errorf("connection %d: %d %s, want 401 unauthorized key", i, r.status, r.body)
		}
		if !r.released {
			t.Errorf("connection %d: still open 5 s after the answer", i)
		}
		slowest = max(slowest, r.took)
	}
	if slowest > 5*time.Second {
		t.Errorf("the slowest answer took %s: the server waited for the body", slowest)
	}
	t.Logf("%d keyless 16 MiB declarations answered, the slowest in %s", conns, slowest.Round(time.Millisecond))
	// A token that is not a source's, and an unknown key, are answered the same way.
	one := make(chan struct{})
	close(one)
	for name, auth := range map[string]string{"a viewer token": "Authorization: Bearer " + e.sec.leader + "\r\n",
		"an unknown key": "Authorization: Bearer not-a-key\r\n"} {
		r := run(auth, one)
		var ae apiError
		if r.err != nil || r.status != 401 || json.Unmarshal([]byte(r.body), &ae) != nil || ae.Error.Reason != "key" || !r.released {
			t.Errorf("16 MiB declared with %s: %+v, want 401 key and the connection closed", name, r)
		}
	}
	e.checkMemory(t, fmt.Sprintf("%d keyless connections declaring 16 MiB", conns), before)
	// The connections are gone from the server too.
	var fds int
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if fds = e.openFiles(t); fds <= fds0+2 || time.Now().After(deadline) {
			break
		}
	}
	if fds > fds0+2 {
		t.Errorf("the server holds %d open files, %d before the attack", fds, fds0)
	}
}

func (e *env) openFiles(t *testing.T) int {
	t.Helper()
	n, err := e.z.OpenFiles()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// wsTopicLimit: a connection asking for 100 topics gets 64 and 36 refusals naming the limit,
// whether it reads or not; the server's open topics never grow by more than 64 per connection.
func (e *env) wsTopicLimit(t *testing.T) {
	const limit, asked = 64, 100
	before := e.memory(t)
	r := e.get(t, "/api/v1/regions?depth=2", e.sec.leader)
	var fc struct {
		Features []struct {
			Properties struct {
				Code  string `json:"code"`
				Level int    `json:"level"`
			} `json:"properties"`
		} `json:"features"`
	}
	if r.Status != 200 || json.Unmarshal(r.Body, &fc) != nil {
		t.Fatalf("regions: %s", r)
	}
	var towns []string
	for _, f := range fc.Features {
		if f.Properties.Level == 2 {
			towns = append(towns, f.Properties.Code)
		}
	}
	if len(towns) < asked {
		t.Fatalf("%d townships, want at least %d", len(towns), asked)
	}
	topics := func(kind string) []string {
		ts := make([]string, asked)
		for i := range ts {
			ts[i] = kind + ":" + towns[i]
		}
		return ts
	}
	metric := func() int {
		v, err := e.z.Metric("zhili_ws_topics")
		if err != nil {
			t.Fatal(err)
		}
		return int(v)
	}
	// answers reads until every topic has a snapshot or an error (or the connection ends).
	answers := func(read func(time.Duration) ([]wsMessage, error), want []string) (snaps int, refused []wsMessage, err error) {
		seen := map[string]bool{}
		deadline := time.Now().Add(20 * time.Second)
		for len(seen) < len(want) && time.Now().Before(deadline) {
			ms, err := read(time.Until(deadline))
			if err != nil {
				return snaps, refused, err
			}
			for _, m := range ms {
				switch {
				case m.Op == "snapshot" && !seen[m.Topic]:
					snaps++
					seen[m.Topic] = true
				case m.Op == "error" && !seen[m.Topic]:
					refused = append(refused, m)
					seen[m.Topic] = true
				}
			}
		}
		return snaps, refused, nil
	}
	checkRefusals := func(t *testing.T, who string, refused []wsMessage) {
		t.Helper()
		for _, m := range refused {
			if m.Code != "bad_request" || m.Message != fmt.Sprintf("at most %d topics per connection", limit) {
				t.Errorf("%s: refusal %+v, want code bad_request naming the limit of %d", who, m, limit)
			}
		}
	}

	// A client that reads.
	base0 := metric()
	fast, resp, err := dialWS(e.z.Addr(), e.sec.leader, 0)
	if err != nil {
		t.Fatalf("WebSocket: %v (%v)", err, resp)
	}
	defer fast.Close()
	for _, topic := range topics("cases") {
		if err := fast.WriteJSON(map[string]string{"op": "sub", "topic": topic}); err != nil {
			t.Fatal(err)
		}
	}
	snaps, refused, err := answers(func(d time.Duration) ([]wsMessage, error) { return readWS(fast, d) }, topics("cases"))
	if err != nil {
		t.Fatalf("reading client: %v", err)
	}
	if snaps != limit || len(refused) != asked-limit {
		t.Errorf("reading client: %d snapshots and %d refusals for %d topics, want %d and %d", snaps, len(refused), asked, limit, asked-limit)
	}
	checkRefusals(t, "reading client", refused)
	// A topic the connection holds may be asked again; a new one still may not.
	for _, topic := range []string{topics("cases")[0], "overview:" + towns[0]} {
		if err := fast.WriteJSON(map[string]string{"op": "sub", "topic": topic}); err != nil {
			t.Fatal(err)
		}
	}
	snaps, refused, _ = answers(func(d time.Duration) ([]wsMessage, error) { return readWS(fast, d) }, []string{"x", "y"})
	if snaps != 1 || len(refused) != 1 || refused[0].Topic != "overview:"+towns[0] {
		t.Errorf("again a held topic and a new one: %d snapshots, refusals %+v; want 1 and the new one refused", snaps, refused)
	}
	checkRefusals(t, "reading client", refused)
	base1 := metric()
	if base1-base0 > limit {
		t.Errorf("open topics grew from %d to %d for one connection, limit %d", base0, base1, limit)
	}

	// A client that does not read (a 4 KiB receive buffer, nothing read while it subscribes).
	slow, resp, err := dialWS(e.z.Addr(), e.sec.leader, 4096)
	if err != nil {
		t.Fatalf("WebSocket: %v (%v)", err, resp)
	}
	defer slow.Close()
	for _, topic := range topics("whistles") {
		if err := slow.WriteJSON(map[string]string{"op": "sub", "topic": topic}); err != nil {
			t.Fatal(err)
		}
	}
	peak := 0
	for deadline := time.Now().Add(1500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		peak = max(peak, metric()-base1)
	}
	if peak > limit {
		t.Errorf("a client that does not read: open topics grew by %d, limit %d", peak, limit)
	}
	snaps, refused, err = answers(func(d time.Duration) ([]wsMessage, error) { return readWS(slow, d) }, topics("whistles"))
	switch {
	case err != nil && snaps <= limit:
		t.Logf("the client that did not read was closed (%v) after %d snapshots and %d refusals", err, snaps, len(refused))
	case snaps != limit || len(refused) != asked-limit:
		t.Errorf("client that did not read: %d snapshots and %d refusals for %d topics (%v), want %d and %d", snaps, len(refused), asked, err, limit, asked-limit)
	}
	checkRefusals(t, "client that did not read", refused)
	t.Logf("open topics: %d before, %d with the reading client, peak +%d with the one that did not read", base0, base1, peak)
	e.checkMemory(t, "WebSocket topics (2 × 100 asked)", before)
}
