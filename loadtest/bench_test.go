package loadtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fasthttp/websocket"
)

// fakeServer is a minimal Zhili: it accepts events, rejects every id ending in 7, and pushes
// the accepted ones to its WebSocket clients as cases:root deltas every 20 ms. It drops one
// client midway and resyncs another after withholding some of its deltas.
type fakeServer struct {
	t        *testing.T
	mu       sync.Mutex
	clients  []*fakeClient
	seq      int64
	pending  []json.RawMessage
	recent   []json.RawMessage
	accepted int
	flushes  int

	dropAt, skipFrom, skipTo int // accepted-event counts that trigger the drop and the resync
	dropped, resynced        bool
	rejected                 int

	reported map[string]time.Time // case id → its report's event time
	closes   []fakeClose          // case.closed lines, in the order posted
}

type fakeClose struct {
	caseID         string
	at             time.Time
	reportedBefore bool // its case was reported in an earlier line
	rejected       bool
}

type fakeClient struct {
	conn *websocket.Conn
	wmu  sync.Mutex
	subs bool
}

func (c *fakeClient) write(v any) error {
	b, _ := json.Marshal(v)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.conn.WriteMessage(websocket.TextMessage, b)
}

func (s *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/ws":
		if r.URL.Query().Get("token") != "view" {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		up := websocket.Upgrader{}
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		c := &fakeClient{conn: conn}
		s.mu.Lock()
		s.clients = append(s.clients, c)
		s.mu.Unlock()
		go func() {
			defer conn.Close()
			for {
				_, msg, err := conn.ReadMessage()
				if err != nil {
					return
				}
				var m struct{ Op, Topic string }
				_ = json.Unmarshal(msg, &m)
				if m.Op != "sub" {
					continue
				}
				if m.Topic != "cases:root" {
					_ = c.write(map[string]any{"op": "error", "topic": m.Topic, "code": "unknown_topic", "message": "no"})
					continue
				}
				s.mu.Lock()
				snap := map[string]any{"op": "snapshot", "topic": m.Topic, "seq": s.seq, "at": "2026-11-27T08:00:00+08:00",
					"data": map[string]any{"events": append([]json.RawMessage{}, s.recent...)}}
				c.subs = true
				err = c.write(snap)
				s.mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	case "/api/v1/events":
		if r.Header.Get("Authorization") != "Bearer ingest" {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		type rej struct {
			Line  int    `json:"line"`
			ID    string `json:"id"`
			Error string `json:"error"`
		}
		resp := struct {
			Accepted   int   `json:"accepted"`
			Duplicates int   `json:"duplicates"`
			Rejected   []rej `json:"rejected"`
		}{Rejected: []rej{}}
		sc := bufio.NewScanner(r.Body)
		line := 0
		closing := false // a case.closed line came
		s.mu.Lock()
		for sc.Scan() {
			line++
			var ev struct {
				ID, Type, At string
				CaseID       string `json:"case_id"`
				Location     struct{ Lon, Lat float64 }
			}
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				s.t.Errorf("bad line from bench: %s", sc.Bytes())
				continue
			}
			at, _ := time.Parse(time.RFC3339Nano, ev.At)
			if ev.Type == "case.closed" {
				_, known := s.reported[ev.CaseID]
				c := fakeClose{caseID: ev.CaseID, at: at, reportedBefore: known, rejected: strings.HasSuffix(ev.ID, "7")}
				s.closes = append(s.closes, c)
				closing = true
				if c.rejected {
					resp.Rejected = append(resp.Rejected, rej{Line: line, ID: ev.ID, Error: "case_id: unknown"})
				} else {
					resp.Accepted++
				}
				continue
			}
			if closing {
				s.t.Errorf("a report after a close in one request (closes come last): %s", sc.Bytes())
			}
			if s.reported == nil {
				s.reported = map[string]time.Time{}
			}
			s.reported[ev.CaseID] = at
			if strings.HasSuffix(ev.ID, "7") {
				resp.Rejected = append(resp.Rejected, rej{Line: line, ID: ev.ID, Error: "location.lat: out of range"})
				s.rejected++
				continue
			}
			item, _ := json.Marshal(map[string]any{"type": "case.reported", "id": ev.ID, "case_id": ev.ID + "c",
				"status": "reported", "point": []float64{ev.Location.Lon, ev.Location.Lat},
				"region": []string{"411502", "411502001"}, "at": ev.At, "summary_id": "x\"id\":\"y"})
			s.pending = append(s.pending, item)
			s.accepted++
			resp.Accepted++
		}
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(resp)
	case "/metrics":
		fmt.Fprint(w, "# HELP go_goroutines x\ngo_goroutines 42\nprocess_resident_memory_bytes 1.2e+07\n"+
			"zhili_ws_clients{tenant=\"a b\"} 4\nzhili_ingest_seconds_bucket{le=\"0.1\"} 3\n")
	default:
		http.NotFound(w, r)
	}
}

// flush pushes pending events as one delta (frames alternate between an object and an array).
func (s *fakeServer) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) == 0 {
		return
	}
	s.seq++
	s.flushes++
	msg := map[string]any{"op": "delta", "topic": "cases:root", "seq": s.seq, "at": "2026-11-27T08:00:00+08:00",
		"data": map[string]any{"events": s.pending}}
	var frame any = msg
	if s.flushes%2 == 0 {
		frame = []any{msg, map[string]any{"op": "delta", "topic": "overview:root", "seq": s.seq, "data": map[string]any{"x": 1}}}
	}
	s.recent = append(s.recent, s.pending...)
	if len(s.recent) > 200 {
		s.recent = s.recent[len(s.recent)-200:]
	}
	s.pending = nil
	for i, c := range s.clients {
		if !c.subs {
			continue
		}
		switch {
		case i == 1 && s.accepted >= s.dropAt && !s.dropped:
			s.dropped = true
			c.wmu.Lock()
			_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(4000, "slow consumer"), time.Now().Add(time.Second))
			c.wmu.Unlock()
			c.conn.Close()
			c.subs = false
			continue
		case i == 2 && s.accepted >= s.skipFrom && s.accepted < s.skipTo:
			continue // its queue overflowed
		case i == 2 && s.accepted >= s.skipTo && !s.resynced:
			s.resynced = true
			_ = c.write(map[string]any{"op": "snapshot", "topic": "cases:root", "seq": s.seq,
				"data": map[string]any{"events": s.recent}})
			continue
		}
		_ = c.write(frame)
	}
}

func startFake(t *testing.T) (*fakeServer, *httptest.Server) {
	fs := &fakeServer{t: t, dropAt: 150, skipFrom: 90, skipTo: 130}
	srv := httptest.NewServer(fs)
	stop := make(chan struct{})
	go func() {
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tk.C:
				fs.flush()
			}
		}
	}()
	t.Cleanup(func() { close(stop); srv.Close() })
	return fs, srv
}

func TestRunAgainstFakeServer(t *testing.T) {
	fs, srv := startFake(t)
	var log bytes.Buffer
	rep, err := Run(context.Background(), Config{
		URL: srv.URL, Key: "ingest", Token: "view", Clients: 4,
		Topics: []string{"cases:root", "hotspots:root:24h"},
		Rate:   200, Duration: time.Second, Warmup: 300 * time.Millisecond, Drain: 2 * time.Second,
	}, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	var tbl bytes.Buffer
	rep.Table(&tbl)
	t.Logf("\n%s\n%s", log.String(), tbl.String())

	fs.mu.Lock()
	rejected, dropped, resynced := fs.rejected, fs.dropped, fs.resynced
	fs.mu.Unlock()
	if !dropped || !resynced {
		t.Fatalf("the fake server did not drop (%v) or resync (%v)", dropped, resynced)
	}
	c := rep.Connect
	if c.Connected != 4 || c.DialErrors != 0 || c.NotReady != 0 {
		t.Errorf("connect %+v", c)
	}
	if c.Dropped != 1 || c.Errors["closed by server: 4000 slow consumer"] != 1 {
		t.Errorf("dropped %d, errors %v", c.Dropped, c.Errors)
	}
	if c.Resyncs != 1 || c.SeqGaps != 0 {
		t.Errorf("resyncs %d, gaps %d", c.Resyncs, c.SeqGaps)
	}
	if c.ServerErrors["unknown_topic"] != 4 {
		t.Errorf("server errors %v", c.ServerErrors)
	}
	in := rep.Ingest
	if in.Sent < 250 || in.Sent > 262 {
		t.Errorf("sent %d events, want ~260", in.Sent)
	}
	if in.Accepted+in.Rejected != in.Sent || in.Rejected != int64(rejected) || in.HTTPErrors != 0 {
		t.Errorf("ingest %+v (fake rejected %d)", in, rejected)
	}
	if in.RejectedBy["location.lat: out of range"] != rejected {
		t.Errorf("rejected by %v", in.RejectedBy)
	}
	if int64(in.Latency.Count) != in.Requests || in.Requests < 40 {
		t.Errorf("%d requests, %d timed", in.Requests, in.Latency.Count)
	}
	d := rep.Deliveries
	// ~200 measured after the warm-up, 10% rejected: ~180, more when a loaded machine makes the
	// pacer catch up; never more than were accepted in all.
	if d.Events < 150 || int64(d.Events) > in.Accepted {
		t.Errorf("measured events %d of %d accepted", d.Events, in.Accepted)
	}
	if d.Expected != 4*int64(d.Events) {
		t.Errorf("expected %d, want 4 × %d", d.Expected, d.Events)
	}
	if d.Missing == 0 || d.Missing != d.MissingOnDropped || d.Received+d.Missing != d.Expected {
		t.Errorf("deliveries %+v", d)
	}
	if d.ViaResync == 0 || !d.Deduplicated {
		t.Errorf("deliveries %+v", d)
	}
	// Timing figures depend on the machine: checked for consistency, not against a speed.
	if l := rep.Latency; l.Count != uint64(d.Received) || l.P50 <= 0 || l.P50 > l.P99 || l.P99 > l.Max {
		t.Errorf("latency %+v", rep.Latency)
	}
	tp := rep.Throughput
	if tp.Frames == 0 || tp.FramesPerSec <= 0 || tp.BytesPerSec <= 0 ||
		math.Abs(tp.BytesPerSec/tp.FramesPerSec-float64(tp.Bytes)/float64(tp.Frames)) > 1e-6*float64(tp.Bytes) {
		t.Errorf("throughput %+v", tp)
	}
	s := rep.Server
	if !s.Before.OK || s.Before.RSSBytes != 1.2e7 || s.After.Goroutines != 42 || s.After.Zhili[`zhili_ws_clients{tenant="a b"}`] != 4 || len(s.After.Zhili) != 1 {
		t.Errorf("server %+v", s)
	}
	for _, want := range []string{"p50 / p90 / p99", "dropped by server", "closed by server: 4000 slow consumer", "RSS before → after", "rejected: location.lat"} {
		if !strings.Contains(tbl.String(), want) {
			t.Errorf("table lacks %q", want)
		}
	}
	if _, err := json.Marshal(rep); err != nil {
		t.Fatal(err)
	}
}

// With CloseAfter the bench closes each case it reported once CloseAfter has passed, after
// the reports of the same request, and counts the closes apart from the reports.
func TestRunClosesCases(t *testing.T) {
	fs, srv := startFake(t)
	var log bytes.Buffer
	const after = 200 * time.Millisecond
	rep, err := Run(context.Background(), Config{
		URL: srv.URL, Key: "ingest", Token: "view", Clients: 2, Rate: 200, Duration: time.Second,
		Warmup: -1, Drain: time.Second, CloseAfter: after,
	}, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	fs.mu.Lock()
	closes, reported, rejected := slices.Clone(fs.closes), len(fs.reported), fs.rejected
	fs.mu.Unlock()
	in := rep.Ingest
	// About Rate × (Duration − CloseAfter) closes: 160 of ~200 reports.
	if len(closes) < 100 || len(closes) >= reported {
		t.Fatalf("%d closes of %d reported cases", len(closes), reported)
	}
	seen := map[string]bool{}
	closeRejected := 0
	for _, c := range closes {
		if !c.reportedBefore || seen[c.caseID] {
			t.Fatalf("close of %s: reported before %v, closed twice %v", c.caseID, c.reportedBefore, seen[c.caseID])
		}
		seen[c.caseID] = true
		fs.mu.Lock()
		at := fs.reported[c.caseID]
		fs.mu.Unlock()
		if d := c.at.Sub(at); d < after-time.Millisecond {
			t.Errorf("%s closed %v after its report, want ≥ %v", c.caseID, d, after)
		}
		if c.rejected {
			closeRejected++
		}
	}
	if in.Closes != int64(len(closes)) || in.Sent != int64(reported) || in.Accepted+in.Rejected != in.Sent ||
		in.Rejected != int64(rejected) || closeRejected == 0 || in.RejectedBy["case.closed: case_id: unknown"] != closeRejected {
		t.Errorf("ingest %+v: %d closes (%d rejected), %d reports (%d rejected)", in, len(closes), closeRejected, reported, rejected)
	}
	if d := rep.Deliveries; d.Received+d.Missing != d.Expected || d.Expected != 2*int64(d.Events) {
		t.Errorf("deliveries %+v", d)
	}
}

func TestRunBadToken(t *testing.T) {
	_, srv := startFake(t)
	rep, err := Run(context.Background(), Config{URL: srv.URL, Key: "ingest", Token: "nope", Clients: 3, Rate: 10,
		Duration: 100 * time.Millisecond, Warmup: -1}, nil)
	if err == nil || rep.Connect.DialErrors != 3 || rep.Connect.Errors["dial: HTTP 401"] != 3 {
		t.Fatalf("err %v, connect %+v", err, rep.Connect)
	}
}

func TestScanFrame(t *testing.T) {
	frame := []byte(` [ {"data":{"events":[{"case_id":"c1","id":"lt1-5","x":{"id":"no"}},{"summary":"\"id\":\"lt1-6\"","id":"lt1-7"}]},
		"topic":"cases:root","op":"delta","seq":12},
		{"op":"error","topic":"whistles:root","code":"unknown_topic","message":"a \\ b ] }"},
		{"op":"pong"} ] `)
	var got []string
	err := scanFrame(frame, func(m *message) {
		got = append(got, fmt.Sprintf("%s %s %d %s", m.op, m.topic, m.seq, m.code))
		if string(m.op) == "delta" {
			forEachEventID(m.data, func(id []byte) { got = append(got, "id "+string(id)) })
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	// A nested "id" key is reported too (the caller keeps only ids of its own run); an escaped
	// one inside a string is not.
	want := []string{"delta cases:root 12 ", "id lt1-5", "id no", "id lt1-7", "error whistles:root -1 unknown_topic", "pong  -1 "}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	for _, bad := range []string{``, `{"op":`, `[{"op":"delta"}`, `{"op" "x"}`, `nope`} {
		if err := scanFrame([]byte(bad), func(*message) {}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestIndex(t *testing.T) {
	b := &bench{prefix: "ltabc", capacity: 1000}
	for id, want := range map[string]int64{"ltabc-0": 0, "ltabc-999": 999, "ltabc-1000": -1, "ltab-1": -1, "ltabc-": -1, "ltabc-1x": -1, "other": -1, "default/ltabc-7": 7, "city-a/ltabc-3": 3, "default/other-3": -1} {
		n, ok := b.index([]byte(id))
		if !ok {
			n = -1
		}
		if n != want {
			t.Errorf("%s: %d, want %d", id, n, want)
		}
	}
}

func TestHistogram(t *testing.T) {
	var h hist
	for v := int64(1); v <= 100000; v++ {
		h.record(v)
	}
	d := h.dist()
	check := func(name string, got, want float64) {
		if got < want*0.99 || got > want*1.01 {
			t.Errorf("%s = %v, want %v ±1%%", name, got, want)
		}
	}
	check("p50", d.P50, 50)
	check("p90", d.P90, 90)
	check("p99", d.P99, 99)
	check("max", d.Max, 100)
	check("mean", d.Mean, 50.0005)
	for _, v := range []int64{0, 1, 255, 256, 257, 1000, 123456, 1 << 40} {
		if got := histValue(histIndex(v)); float64(got) < float64(v)*0.99 || float64(got) > float64(v)*1.01+1 {
			t.Errorf("bucket value of %d is %d", v, got)
		}
	}
	if i := histIndex(1 << 62); i != histBuckets-1 {
		t.Errorf("huge value index %d", i)
	}
}

func TestParseMetrics(t *testing.T) {
	m := ParseMetrics([]byte("# TYPE x gauge\nprocess_resident_memory_bytes 5.5e+07\ngo_goroutines 17 1700000000\n" +
		"zhili_events_total{type=\"case.reported\"} 9\nzhili_lag_seconds_bucket{le=\"1\"} 1\nzhili_hub_clients 3\nbroken\n"))
	if !m.OK || m.RSSBytes != 5.5e7 || m.Goroutines != 17 || m.Zhili[`zhili_events_total{type="case.reported"}`] != 9 || m.Zhili["zhili_hub_clients"] != 3 || len(m.Zhili) != 2 {
		t.Fatalf("%+v", m)
	}
	if m := ParseMetrics([]byte("<html>")); m.OK {
		t.Fatalf("%+v", m)
	}
	// The Go memory limit when set; unset it reads as math.MaxInt64.
	if m := ParseMetrics([]byte("go_goroutines 3\ngo_gc_gomemlimit_bytes 4.194304e+08\n")); m.MemLimit != 400<<20 {
		t.Errorf("limit set: %+v", m)
	}
	if m := ParseMetrics([]byte("go_goroutines 3\ngo_gc_gomemlimit_bytes 9.223372036854776e+18\n")); m.MemLimit != 0 {
		t.Errorf("limit unset: %+v", m)
	}
	_ = strconv.Itoa
}

// The fast scanner reads Zhili's own layout exactly as the generic one does, and hands any
// other layout to it.
func TestScanFrameFastMatchesGeneric(t *testing.T) {
	frames := []string{
		`{"op":"snapshot","topic":"cases:root","seq":7,"at":"x","data":{"events":[{"id":"lt1-1","region":["a"]}]}}`,
		`[{"op":"delta","topic":"cases:root","seq":8,"at":"x","data":{"events":[{"id":"lt1-2"}]}},{"op":"pong"},{"op":"error","topic":"t","code":"forbidden","message":"no {\"op\":\"x\"} ]"},{"op":"delta","topic":"cases:root","seq":9,"at":"x","data":{"events":[]}}]`,
		` [ {"topic":"cases:root","op":"delta","seq":12,"data":{"events":[{"id":"lt1-3"}]}} ] `,
	}
	for _, f := range frames {
		var a, b []string
		rec := func(out *[]string) func(m *message) {
			return func(m *message) {
				*out = append(*out, fmt.Sprintf("%s|%s|%d|%s|%s", m.op, m.topic, m.seq, m.code, m.data))
			}
		}
		if err := scanFrame([]byte(f), rec(&a)); err != nil {
			t.Fatalf("generic: %v", err)
		}
		if err := scanFrameFast([]byte(f), rec(&b)); err != nil {
			t.Fatalf("fast: %v", err)
		}
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("frame %s\ngeneric %q\nfast    %q", f, a, b)
		}
	}
}
