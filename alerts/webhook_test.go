package alerts

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"zhili/clock"
	"zhili/errs"
)

func testChange(sev Severity) Change {
	return Change{Op: OpRaise, At: t0, Alert: Alert{ID: "20261204-000001", RuleID: "ov", RuleName: "超期工单积压",
		Kind: KindOverdue, Severity: sev, Region: "411502001", RegionPath: town, Title: "城关镇 超期工单 12 件 (≥10)",
		TitleEn: "城关镇: 12 overdue cases (≥10)", Value: 12, Bound: 10, RaisedAt: t0, State: Open}}
}

// recorder is a Sleep that returns at once and keeps the waits asked for.
type recorder struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (r *recorder) sleep(_ context.Context, d time.Duration) error {
	r.mu.Lock()
	r.waits = append(r.waits, d)
	r.mu.Unlock()
	return nil
}

func notifier(t *testing.T, hooks []Webhook, dl *DeadLetters) (*Notifier, *recorder) {
	t.Helper()
	rec := &recorder{}
	n := NewNotifier(hooks, NotifierOptions{Clock: clock.NewFake(t0), Location: shanghai, Sleep: rec.sleep,
		Jitter: func() float64 { return 1 }, BaseDelay: time.Second, MaxDelay: 10 * time.Second, Attempts: 4,
		Timeout: 2 * time.Second, DeadLetters: dl})
	return n, rec
}

func closeN(n *Notifier) { n.Close(context.Background()) }

func TestGenericSigned(t *testing.T) {
	const secret = "s3cret"
	var got GenericPayload
	var ok bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts := r.Header.Get("X-Zhili-Timestamp")
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(ts + "." + string(body)))
		want := "sha256=" + hex.EncodeToString(m.Sum(nil))
		ok = hmac.Equal([]byte(r.Header.Get("X-Zhili-Signature")), []byte(want)) &&
			ts == strconv.FormatInt(t0.Unix(), 10) && r.Header.Get("X-Zhili-Event") == "raise" &&
			r.Header.Get("X-Zhili-Delivery") != ""
		json.Unmarshal(body, &got)
	}))
	defer srv.Close()
	n, _ := notifier(t, []Webhook{{Name: "g", URL: srv.URL, Format: FormatGeneric, Secret: secret, MinSeverity: Info, Events: []Op{OpRaise}}}, nil)
	n.Notify(testChange(Warning))
	closeN(n)
	if !ok {
		t.Fatal("the signature or headers did not verify")
	}
	if got.Event != OpRaise || got.Alert.ID != "20261204-000001" || got.Alert.Value != 12 || got.Alert.Title == "" {
		t.Errorf("payload: %+v", got)
	}
	if l := n.DeadLetters().List(); len(l) != 0 {
		t.Errorf("dead letters: %+v", l)
	}
}

func TestDingTalkSigned(t *testing.T) {
	const secret = "SECabc"
	var text, title string
	var signOK bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		ts, _ := strconv.ParseInt(q.Get("timestamp"), 10, 64)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write([]byte(q.Get("timestamp") + "\n" + secret))
		signOK = q.Get("access_token") == "tok" && ts == t0.UnixMilli() &&
			q.Get("sign") == base64.StdEncoding.EncodeToString(m.Sum(nil))
		var body struct {
			Msgtype  string
			Markdown struct{ Title, Text string }
		}
		json.NewDecoder(r.Body).Decode(&body)
		if body.Msgtype == "markdown" {
			text, title = body.Markdown.Text, body.Markdown.Title
		}
		w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	}))
	defer srv.Close()
	n, _ := notifier(t, []Webhook{{Name: "d", URL: srv.URL + "/robot/send?access_token=tok", Format: FormatDingTalk, Secret: secret, Events: []Op{OpRaise}}}, nil)
	n.Notify(testChange(Severe))
	closeN(n)
	if !signOK {
		t.Fatal("the DingTalk signature did not verify")
	}
	if title != "城关镇 超期工单 12 件 (≥10)" || !strings.Contains(text, "严重") || !strings.Contains(text, "2026-12-04 10:00") {
		t.Errorf("title %q text %q", title, text)
	}
}

func TestWeComErrcode(t *testing.T) {
	var mu sync.Mutex
	var contents []string
	codes := []string{`{"errcode":45009,"errmsg":"api freq out of limit"}`, `{"errcode":0,"errmsg":"ok"}`, `{"errcode":93000,"errmsg":"invalid webhook url"}`}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Msgtype  string
			Markdown struct{ Content string }
		}
		json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		defer mu.Unlock()
		contents = append(contents, body.Msgtype+"|"+body.Markdown.Content)
		w.Write([]byte(codes[0]))
		codes = codes[1:]
	}))
	defer srv.Close()
	n, rec := notifier(t, []Webhook{{Name: "w", URL: srv.URL + "/cgi-bin/webhook/send?key=KEY123", Format: FormatWeCom, Events: []Op{OpRaise}}}, nil)
	n.Notify(testChange(Warning)) // 45009 (retried), then ok
	n.Notify(testChange(Warning)) // 93000: not retried
	closeN(n)
	if len(contents) != 3 || !strings.HasPrefix(contents[0], "markdown|## <font color=\"warning\">") || !strings.Contains(contents[0], "城关镇 超期工单 12 件") {
		t.Fatalf("requests: %q", contents)
	}
	if len(rec.waits) != 1 {
		t.Errorf("waits %v, want one retry", rec.waits)
	}
	dl := n.DeadLetters().List()
	if len(dl) != 1 || !strings.Contains(dl[0].LastError, "errcode 93000") || dl[0].Attempts != 1 {
		t.Fatalf("dead letters: %+v", dl)
	}
	if strings.Contains(dl[0].LastError, "KEY123") {
		t.Error("the robot key leaks into the error")
	}
}

func TestRetryBackoffAndRetryAfter(t *testing.T) {
	var mu sync.Mutex
	replies := []func(w http.ResponseWriter){
		func(w http.ResponseWriter) { w.WriteHeader(500) },
		func(w http.ResponseWriter) { w.Header().Set("Retry-After", "7"); w.WriteHeader(429) },
		func(w http.ResponseWriter) { w.WriteHeader(502) },
		func(w http.ResponseWriter) { w.WriteHeader(204) },
	}
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		replies[calls](w)
		calls++
	}))
	defer srv.Close()
	n, rec := notifier(t, []Webhook{{Name: "g", URL: srv.URL, Secret: "x", Format: FormatGeneric, Events: []Op{OpRaise}}}, nil)
	n.Notify(testChange(Info))
	closeN(n)
	if calls != 4 || len(n.DeadLetters().List()) != 0 {
		t.Fatalf("calls %d, dead letters %d", calls, len(n.DeadLetters().List()))
	}
	// Jitter 1: full back-off 1 s, 2 s (Retry-After 7 s wins), 4 s.
	want := []time.Duration{time.Second, 7 * time.Second, 4 * time.Second}
	if len(rec.waits) != 3 || rec.waits[0] != want[0] || rec.waits[1] != want[1] || rec.waits[2] != want[2] {
		t.Errorf("waits %v, want %v", rec.waits, want)
	}
	// Jitter 0 halves the wait; the cap holds.
	n2 := NewNotifier(nil, NotifierOptions{BaseDelay: time.Second, MaxDelay: 10 * time.Second, Jitter: func() float64 { return 0 }})
	defer closeN(n2)
	for i, w := range map[int]time.Duration{1: 500 * time.Millisecond, 3: 2 * time.Second, 10: 5 * time.Second} {
		if got := n2.backoff(i); got != w {
			t.Errorf("backoff(%d) = %v, want %v", i, got, w)
		}
	}
}

func TestNetworkErrorRetried(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	url := srv.URL
	srv.Close() // connection refused from now on
	n, rec := notifier(t, []Webhook{{Name: "g", URL: url, Secret: "x", Format: FormatGeneric, Events: []Op{OpRaise}}}, nil)
	n.Notify(testChange(Info))
	closeN(n)
	dl := n.DeadLetters().List()
	if len(dl) != 1 || dl[0].Attempts != 4 || dl[0].LastStatus != 0 || len(rec.waits) != 3 {
		t.Fatalf("dead letters %+v, waits %v", dl, rec.waits)
	}
}

// A persistent failure ends as a persisted dead letter; once the endpoint is back it is re-sent
// by id and leaves the list, also after a restart.
func TestDeadLetterResend(t *testing.T) {
	var mu sync.Mutex
	down, calls := true, 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if down {
			w.WriteHeader(503)
			return
		}
		if r.Header.Get(HeaderSignature) == "" {
			w.WriteHeader(401)
		}
	}))
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "alerts.deadletters.jsonl")
	dl, err := OpenDeadLetters(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	hooks := []Webhook{
		{Name: "g", URL: srv.URL, Secret: "x", Format: FormatGeneric, Events: []Op{OpRaise}},
		{Name: "4xx", URL: srv.URL + "/gone", Secret: "x", Format: FormatGeneric, Events: []Op{OpRaise}, MinSeverity: Severe},
	}
	n, _ := notifier(t, hooks, dl)
	n.Notify(testChange(Warning))
	closeN(n)
	if calls != 4 {
		t.Fatalf("calls %d, want 4 attempts", calls)
	}
	letters := dl.List()
	if len(letters) != 1 || letters[0].Webhook != "g" || letters[0].LastStatus != 503 || letters[0].Change.Alert.ID != "20261204-000001" {
		t.Fatalf("dead letters: %+v", letters)
	}
	dl.Close()

	// After a restart the letter is still listed.
	dl2, err := OpenDeadLetters(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	n2, _ := notifier(t, hooks, dl2)
	defer closeN(n2)
	if l := dl2.List(); len(l) != 1 || l[0].ID != letters[0].ID {
		t.Fatalf("after restart: %+v", l)
	}
	if err := n2.Resend(context.Background(), "nope"); errs.CodeOf(err) != errs.NotFound {
		t.Errorf("resend of an unknown id: %v", err)
	}
	// Still down: it stays, with more attempts.
	if err := n2.Resend(context.Background(), letters[0].ID); err == nil {
		t.Fatal("a resend to a dead endpoint succeeded")
	}
	if l, _ := dl2.Get(letters[0].ID); l.Attempts != 8 {
		t.Errorf("attempts after a failed resend: %d", l.Attempts)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	if err := n2.Resend(context.Background(), letters[0].ID); err != nil {
		t.Fatal(err)
	}
	if l := dl2.List(); len(l) != 0 {
		t.Fatalf("after a good resend: %+v", l)
	}
	dl2.Close()
	dl3, _ := OpenDeadLetters(path, nil)
	defer dl3.Close()
	if l := dl3.List(); len(l) != 0 {
		t.Fatalf("a resent letter is back after a restart: %+v", l)
	}
}

func TestClientErrorNotRetried(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++; w.WriteHeader(404) }))
	defer srv.Close()
	n, rec := notifier(t, []Webhook{{Name: "g", URL: srv.URL, Secret: "x", Format: FormatGeneric, Events: []Op{OpRaise}}}, nil)
	n.Notify(testChange(Info))
	closeN(n)
	if calls != 1 || len(rec.waits) != 0 || len(n.DeadLetters().List()) != 1 {
		t.Fatalf("calls %d waits %v dead %d", calls, rec.waits, len(n.DeadLetters().List()))
	}
}

func TestWebhookFilters(t *testing.T) {
	var mu sync.Mutex
	got := map[string][]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.URL.Path] = append(got[r.URL.Path], r.Header.Get(HeaderEvent))
		mu.Unlock()
	}))
	defer srv.Close()
	hooks := []Webhook{
		{Name: "all", URL: srv.URL + "/all", Secret: "x", Events: []Op{OpRaise, OpAck, OpClose}, MinSeverity: Info},
		{Name: "severe", URL: srv.URL + "/severe", Secret: "x", Events: []Op{OpRaise}, MinSeverity: Severe},
		{Name: "other", URL: srv.URL + "/other", Secret: "x", Events: []Op{OpRaise}, Regions: []string{"411503"}},
		{Name: "town", URL: srv.URL + "/town", Secret: "x", Events: []Op{OpRaise}, Regions: []string{"4115"}},
	}
	n, _ := notifier(t, hooks, nil)
	c := testChange(Warning)
	n.Notify(c)
	c.Op = OpAck
	n.Notify(c)
	closeN(n)
	if len(got["/all"]) != 2 || len(got["/severe"]) != 0 || len(got["/other"]) != 0 || len(got["/town"]) != 1 {
		t.Errorf("deliveries: %v", got)
	}
}

// A hanging endpoint never blocks Notify: the queue is bounded and its overflow dead-lettered.
func TestQueueBounded(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-release }))
	defer srv.Close()
	defer close(release)
	n := NewNotifier([]Webhook{{Name: "g", URL: srv.URL, Secret: "x", Events: []Op{OpRaise}}},
		NotifierOptions{QueueSize: 2, Attempts: 1, Timeout: 5 * time.Second})
	start := time.Now()
	for range 10 {
		n.Notify(testChange(Info))
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Notify blocked for %v", d)
	}
	// One in flight (or about to be), two queued: at least seven overflowed.
	if l := n.DeadLetters().List(); len(l) < 7 || !strings.Contains(l[0].LastError, "queue full") {
		t.Fatalf("dead letters: %d", len(l))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	n.Close(ctx) // aborts the hanging delivery: everything ends as a dead letter
	if l := n.DeadLetters().List(); len(l) != 10 {
		t.Fatalf("after close: %d dead letters, want all 10", len(l))
	}
}

func TestDeadLettersTornLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dl.jsonl")
	dl, _ := OpenDeadLetters(path, nil)
	dl.add(Delivery{ID: "a", Webhook: "g", Change: testChange(Info)})
	dl.add(Delivery{ID: "b", Webhook: "g", Change: testChange(Info)})
	dl.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"op":"resent","id":"a"`) // torn: the re-send of a is not recorded
	f.Close()
	var warned int
	dl, err := OpenDeadLetters(path, func(string) { warned++ })
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close()
	if l := dl.List(); warned != 1 || len(l) != 2 || l[0].ID != "a" || l[1].ID != "b" {
		t.Fatalf("warned %d, letters %+v", warned, l)
	}
	if err := dl.remove("a", t0); err != nil {
		t.Fatal(err)
	}
	if l := dl.List(); len(l) != 1 || l[0].ID != "b" {
		t.Fatalf("after remove: %+v", l)
	}
}

func TestWebhookJSONHidesSecrets(t *testing.T) {
	b, _ := json.Marshal(Webhook{Name: "w", URL: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=KEY123", Secret: "SEC", Format: FormatWeCom})
	if strings.Contains(string(b), "KEY123") || strings.Contains(string(b), "SEC") {
		t.Errorf("secrets in %s", b)
	}
}
