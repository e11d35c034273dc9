// Package e2e holds black-box tests that boot the real zhili binary on a free port and drive it
// from the outside: over HTTP, and with a real headless Chromium for the wall screen.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"zhili/assets"
	"zhili/briefing"
	"zhili/internal/testsvc"
)

const (
	viewToken = "e2e-view-token"
	ingestKey = "e2e-ingest-key"
)

// requireServices reports whether a missing browser or front-end build must fail the test
// instead of skipping it (CI sets ZHILI_REQUIRE_SERVICES=1).
func requireServices() bool { return os.Getenv("ZHILI_REQUIRE_SERVICES") == "1" }

func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if requireServices() {
		t.Fatalf("%s (ZHILI_REQUIRE_SERVICES=1)", msg)
	}
	t.Skipf("%s; set ZHILI_REQUIRE_SERVICES=1 to make this a failure", msg)
}

// findChromium returns the browser the package drives: ZHILI_CHROMIUM, else the one the
// briefing's printer would use (briefing.Browser: Debian's chromium-headless-shell first, the
// same Blink without the desktop browser around it; the package alone cost 133 CPU-s of browser
// processes in it against 212 in chromium, 35 renderer processes against 146).
func findChromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("ZHILI_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			skipOrFail(t, "ZHILI_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	p, err := briefing.Browser()
	if err != nil {
		skipOrFail(t, "no Chromium found (apt-get install -y chromium-headless-shell fonts-noto-cjk)")
	}
	return p
}

// server is a running `zhili serve`.
type server struct {
	base string // http://127.0.0.1:PORT
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

var listeningRE = regexp.MustCompile(`listening on (http://[0-9.]+:[0-9]+)`)

// startServer runs `zhili serve --demo --demo-rate 0 --demo-history 0` (an empty demo city;
// then the extra flags, which win) on a free port with a fresh data dir and waits for its
// "listening on" line. The binary is testsvc's: $ZHILI_BIN, which `make test` builds for every
// package, or cmd/zhili built once for the package (TestMain removes it).
func startServer(t *testing.T, extra ...string) *server {
	t.Helper()
	s, err := launchServer(testsvc.ZhiliBinary(t), serveArgs(t.TempDir(), extra...))
	if s != nil {
		t.Cleanup(func() {
			testsvc.KillGroup(s.cmd)
			_ = s.cmd.Wait()
			if t.Failed() {
				t.Logf("server output:\n%s", s.output())
			}
		})
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// serveArgs are the arguments of `zhili serve --demo` on a free port with the tests' key and
// token, an empty history and no feed, then extra (which win).
func serveArgs(data string, extra ...string) []string {
	return append([]string{"serve", "--demo", "--demo-rate", "0", "--demo-history", "0",
		"--listen", "127.0.0.1:0", "--data", data,
		"--ingest-key", ingestKey, "--view-token", viewToken}, extra...)
}

// launchServer starts bin with args (see testsvc.StartCmd: it dies with the test binary) and
// waits for its "listening on" line. The caller kills s.cmd's group; s is nil only when the
// process did not start.
func launchServer(bin string, args []string) (*server, error) {
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	cmd.Stdout = &lockedWriter{s: s}
	if err := testsvc.StartCmd(cmd); err != nil {
		return nil, fmt.Errorf("start %s: %v", bin, err)
	}
	addr := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case s.base = <-addr:
		return s, nil
	case <-s.done:
		return s, fmt.Errorf("server exited before listening:\n%s", s.output())
	case <-time.After(60 * time.Second):
		return s, fmt.Errorf("server did not print \"listening on\" within 60 s:\n%s", s.output())
	}
}

type lockedWriter struct{ s *server }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.log.Write(p)
}

// ingest posts NDJSON events with the ingest key and checks that all were accepted.
// waitReady waits until the server answers /readyz with 200 (a demo stores its history
// first), failing the test after within (a loaded machine).
func (s *server) waitReady(t *testing.T, within time.Duration) {
	t.Helper()
	if err := s.readyWithin(within); err != nil {
		t.Fatal(err)
	}
}

// readyWithin polls /readyz until it answers 200, or fails after within.
func (s *server) readyWithin(within time.Duration) error {
	start := time.Now()
	for {
		resp, err := httpc.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Since(start) > within {
			return fmt.Errorf("the server was not ready within %v", within)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *server) ingest(t *testing.T, ndjson string, want int) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+"/api/v1/events", strings.NewReader(ndjson))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Authorization", "Bearer "+ingestKey)
	resp, err := httpc.Do(req)
	if err != nil {
		t.Fatalf("POST /api/v1/events: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var res struct {
		Accepted int `json:"accepted"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &res) != nil || res.Accepted != want {
		t.Fatalf("POST /api/v1/events: %s %s", resp.Status, body)
	}
}

// hostGuard records every request of the page that goes anywhere but the server's host.
type hostGuard struct {
	host string
	mu   sync.Mutex
	bad  []string
	errs []string // uncaught JavaScript exceptions

	// paused, if set, is called (on a goroutine of its own) with each request that the tab's
	// Fetch interception holds (see intercept).
	paused func(*fetch.EventRequestPaused)
}

// intercept holds the tab's requests whose URL matches pattern (Fetch.enable) and hands each
// to answer, which must fulfil or continue it (cdpCall with fetch.FulfillRequest or
// fetch.ContinueRequest).
func (g *hostGuard) intercept(t *testing.T, ctx context.Context, pattern string, answer func(*fetch.EventRequestPaused)) {
	t.Helper()
	g.mu.Lock()
	g.paused = answer
	g.mu.Unlock()
	if _, err := cdpCall(ctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: pattern}}}); err != nil {
		t.Fatal(err)
	}
}

// cdpCall sends one DevTools command to the tab of ctx and returns its result.
func cdpCall[P, R any](ctx context.Context, c cdp.Command[P, R], params P) (R, error) {
	return chromedp.Run(ctx, chromedp.Action[R](func(ctx context.Context, tg *chromedp.Target) (R, error) {
		return cdp.Call(ctx, tg, c, params)
	}))
}

func (g *hostGuard) check(raw string) {
	u, err := url.Parse(raw)
	if err != nil {
		g.add(&g.bad, raw)
		return
	}
	switch u.Scheme {
	case "data", "blob", "about":
		return
	}
	if u.Hostname() != g.host {
		g.add(&g.bad, raw)
	}
}

func (g *hostGuard) add(list *[]string, s string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(*list) < 50 {
		*list = append(*list, s)
	}
}

func (g *hostGuard) listen(ev any) {
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		if e.Request != nil {
			g.check(e.Request.URL)
		}
	case *network.EventWebSocketCreated:
		g.check(e.URL)
	case *fetch.EventRequestPaused:
		g.mu.Lock()
		p := g.paused
		g.mu.Unlock()
		if p != nil {
			go p(e)
		}
	case *runtime.EventExceptionThrown:
		msg := e.ExceptionDetails.Text
		if ex := e.ExceptionDetails.Exception; ex != nil && ex.Description != "" {
			msg += " " + ex.Description
		}
		g.add(&g.errs, msg)
	}
}

// verify fails the test for what was recorded since the last call.
func (g *hostGuard) verify(t *testing.T) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, u := range g.bad {
		t.Errorf("the page requested %s: only %s may be contacted (intranet deployments)", u, g.host)
	}
	for _, e := range g.errs {
		t.Errorf("uncaught JavaScript exception: %s", e)
	}
	g.bad, g.errs = nil, nil
}

// pageState is what the test reads from window.__zhili and the DOM.
type pageState struct {
	Ready    bool              `json:"ready"`
	ReadyAt  float64           `json:"readyAt"`
	Frames   int               `json:"frames"`
	Stale    bool              `json:"stale"`
	Counters map[string]*int   `json:"counters"`
	DOM      map[string]string `json:"dom"`
	Feed     []string          `json:"feed"`
	RenderMs *float64          `json:"renderMs"`
	Banner   bool              `json:"banner"`
	Switch   bool              `json:"switchVisible"`
}

const readState = `(() => {
  const z = window.__zhili || {};
  const dom = {};
  for (const k of ['new_today', 'open', 'overdue', 'resolved_today']) {
    const el = document.querySelector('#counter-' + k + ' [data-flip]');
    dom[k] = el ? el.textContent : '';
  }
  const sw = document.getElementById('lang-switch');
  return {
    ready: !!z.ready, readyAt: z.readyAt || 0, frames: z.frames || 0, stale: !!z.stale,
    counters: z.counters || {}, dom,
    feed: Array.from(document.querySelectorAll('#feed li')).map((li) => li.dataset.case),
    renderMs: z.renderMs,
    banner: !document.getElementById('stale-banner').hidden,
    switchVisible: !!(sw && sw.offsetParent !== null),
  };
})()`

// mapPixels counts the non-transparent pixels of the map's canvases (the map background is
// transparent, the panel behind it is CSS).
const mapPixels = `(() => {
  let painted = 0, total = 0;
  for (const c of document.querySelectorAll('#map canvas')) {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    total += c.width * c.height;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 8) painted++;
  }
  return {painted, total};
})()`

type pixelCount struct {
	Painted int `json:"painted"`
	Total   int `json:"total"`
}

// screenshot waits until the page has drawn all it received and no transition runs, then
// writes the viewport to screenshots/name.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if err := waitFor(ctx, `window.__zhili.settled()`, 30*time.Second); err != nil {
		t.Logf("screenshot %s: page not settled (%v); taking it anyway", name, err)
	}
	saveScreenshot(t, ctx, name)
}

// saveScreenshot writes the page as it is to screenshots/name, a PNG encoded for speed (a third
// of the browser's time, a larger file): the package writes some seventy of them.
func saveScreenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	fast := true
	r, err := cdpCall(ctx, page.CaptureScreenshot, page.CaptureScreenshotParams{FromSurface: &fast, OptimizeForSpeed: &fast})
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := "screenshots"
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, r.Data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", path, len(r.Data))
}

// waitFor polls a JavaScript predicate until it is truthy or the timeout passes.
func waitFor(ctx context.Context, expr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
			chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(time.Until(deadline))))
		// A page that navigates (a playlist's next visit, a reload) destroys the context the poll
		// ran in: poll again in the new one until the deadline.
		if err == nil || !contextLost(err) || time.Until(deadline) < 100*time.Millisecond || ctx.Err() != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// contextLost reports an evaluation that failed because the page's JavaScript context went away.
func contextLost(err error) bool {
	m := err.Error()
	return strings.Contains(m, "Cannot find context with specified id") ||
		strings.Contains(m, "Execution context was destroyed") ||
		strings.Contains(m, "Inspected target navigated or closed")
}

func read(t *testing.T, ctx context.Context) pageState {
	t.Helper()
	st, err := chromedp.Run(ctx, chromedp.Evaluate[pageState](readState))
	if err != nil {
		t.Fatalf("read page state: %v", err)
	}
	return st
}

// requirePage skips the test, or fails it under ZHILI_REQUIRE_SERVICES=1, when the built front-end
// has no such page.
func requirePage(t *testing.T, name string) {
	t.Helper()
	f, err := assets.Files().Open(name)
	if err != nil {
		skipOrFail(t, "front-end built without %s: run `npm run build` in assets/", name)
		return
	}
	_ = f.Close()
}

// sharedDemo returns the package's one demo city with history of the given length, started
// on first use and stopped by TestMain. Tests that only read (the evaluator's pages, the
// briefing) share it instead of each generating the same history; a test that posts or changes
// state starts its own with startServer.
func sharedDemo(t *testing.T, history string) *server {
	t.Helper()
	return sharedDemoOf(t, history).srv
}

// sharedDemoOf is sharedDemo with its data directory and when it started, listened and was
// ready.
func sharedDemoOf(t *testing.T, history string) *sharedServer {
	t.Helper()
	bin := testsvc.ZhiliBinary(t)
	shared.mu.Lock()
	d := shared.demos[history]
	if d == nil {
		d = &sharedServer{}
		if shared.demos == nil {
			shared.demos = map[string]*sharedServer{}
		}
		shared.demos[history] = d
	}
	shared.mu.Unlock()
	d.once.Do(func() {
		dir, err := sharedDir()
		if err != nil {
			d.err = err
			return
		}
		data, err := os.MkdirTemp(dir, "demo-"+history+"-")
		if err != nil {
			d.err = err
			return
		}
		d.data, d.start = data, time.Now()
		d.srv, d.err = launchServer(bin, serveArgs(data, "--demo-history", history))
		d.listening = time.Since(d.start)
		if d.err == nil {
			d.err = d.srv.readyWithin(3 * time.Minute)
		}
		d.took = time.Since(d.start)
	})
	if d.err != nil {
		if d.srv != nil {
			t.Fatalf("shared demo (%s): %v\n%s", history, d.err, d.srv.output())
		}
		t.Fatalf("shared demo (%s): %v", history, d.err)
	}
	t.Logf("shared demo with %s of history (ready %v after its start)", history, d.took.Round(time.Millisecond))
	return d
}

// sharedServer is one server shared by the tests of the package.
type sharedServer struct {
	once      sync.Once
	srv       *server
	err       error
	data      string    // its --data directory
	start     time.Time // when it was started
	listening time.Duration
	took      time.Duration // from its start until ready
}

// awayFromMidnight waits, when the deployment's day (Asia/Shanghai) ends within d, until it has
// turned and ten minutes more (untilDayTurn): a test that counts today's cases across the turn would see them
// reset to zero, and reports it backdates by seconds must not fall on the day before.
func awayFromMidnight(t *testing.T, d time.Duration) {
	t.Helper()
	if left := untilDayTurn(time.Now()); left < d+time.Minute {
		t.Logf("waiting %v for the day to turn", left.Round(time.Second))
		time.Sleep(left)
	}
}

// untilDayTurn is the time from now until ten minutes past the deployment's next midnight: the
// tests backdate events by up to five minutes (a late report in the feed), which must not fall
// on the day before.
func untilDayTurn(now time.Time) time.Duration {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		loc = time.FixedZone("CST", 8*3600) // Shanghai has kept +08:00 since 1991
	}
	now = now.In(loc)
	next := time.Date(now.Year(), now.Month(), now.Day(), 0, 10, 0, 0, loc)
	if !now.Before(next) {
		next = next.AddDate(0, 0, 1)
	}
	return next.Sub(now)
}

// newBrowser opens a tab of the package's headless Chromium (started on first use, with the
// intranet-safe flags) in a browser context of its own (cookies, storage and cache are the
// test's alone) and returns its context, bounded to 3 minutes; the tab and its browser context
// are closed when the test ends.
func newBrowser(t *testing.T, guard *hostGuard) context.Context {
	t.Helper()
	return newBrowserFor(t, guard, 3*time.Minute)
}

// newBrowserFor is newBrowser with a bound of its own.
func newBrowserFor(t *testing.T, guard *hostGuard, timeout time.Duration) context.Context {
	t.Helper()
	browser := sharedBrowser(t)
	ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext(), chromedp.WithListener(guard.listen))
	t.Cleanup(cancel)
	// Open the tab without a deadline (a deadline on the first Run would bound the tab's life),
	// then bound the test.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080)); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	ctx, cancelT := context.WithTimeout(ctx, timeout)
	t.Cleanup(cancelT)
	return ctx
}

// browserPrereqs skips a browser test in -short mode; a missing browser or an unbuilt front-end
// skips the test, or fails it under ZHILI_REQUIRE_SERVICES=1.
func browserPrereqs(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	findChromium(t)
	if !assets.Built() {
		skipOrFail(t, "front-end not built: run `npm ci && npm run build` in assets/")
	}
}

func TestWallScreen(t *testing.T) {
	t.Parallel()
	browserPrereqs(t)
	awayFromMidnight(t, 2*time.Minute)
	srv := startServer(t)
	base, _ := url.Parse(srv.base)
	guard := &hostGuard{host: base.Hostname()}

	ctx := newBrowser(t, guard)

	// 1. Navigation → ready: the map drawn and both snapshots rendered.
	pageURL := srv.base + "/?token=" + url.QueryEscape(viewToken)
	start := time.Now()
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("navigate %s: %v", pageURL, err)
	}
	if err := waitFor(ctx, `document.body && document.body.dataset.ready === "1"`, 30*time.Second); err != nil {
		st, _ := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`JSON.stringify(window.__zhili || null)`))
		t.Fatalf("page did not become ready within 30 s: %v\nwindow.__zhili = %s", err, st)
	}
	wall := time.Since(start)
	st := read(t, ctx)
	t.Logf("navigation → ready: %.0f ms in the page (performance.now), %.0f ms measured by the test", st.ReadyAt, float64(wall.Microseconds())/1000)
	if !st.Ready || st.Stale || st.Banner {
		t.Errorf("after ready: ready=%v stale=%v banner=%v", st.Ready, st.Stale, st.Banner)
	}

	// 2. The map canvas has pixels.
	px, err := chromedp.Run(ctx, chromedp.Evaluate[pixelCount](mapPixels))
	if err != nil {
		t.Fatalf("read map canvas: %v", err)
	}
	t.Logf("map canvas: %d of %d pixels painted (%.1f %%)", px.Painted, px.Total, 100*float64(px.Painted)/float64(max(px.Total, 1)))
	if px.Total == 0 || float64(px.Painted) < 0.05*float64(px.Total) {
		t.Errorf("map canvas nearly empty: %d of %d pixels painted", px.Painted, px.Total)
	}

	// 3. The counters show the overview snapshot.
	for _, k := range []string{"new_today", "open", "overdue", "resolved_today"} {
		v := st.Counters[k]
		if v == nil {
			t.Errorf("counter %s: no value from the overview snapshot", k)
			continue
		}
		if st.DOM[k] != fmt.Sprint(*v) {
			t.Errorf("counter %s shows %q, snapshot has %d", k, st.DOM[k], *v)
		}
	}
	newBefore := 0
	if v := st.Counters["new_today"]; v != nil {
		newBefore = *v
	}

	// 4. A batch of reports across the county (NDJSON, one request) reaches the screen, with a
	// dispatch of every third: each draws a flow line on the map (上行 grid reports, 横向 hotline
	// reports, 下行 dispatches).
	linesBefore, err := chromedp.Run(ctx, chromedp.Evaluate[int](flowLines))
	if err != nil {
		t.Fatal(err)
	}
	var batch strings.Builder
	cats := []string{"dispute", "security", "safety", "environment", "cityorder", "livelihood", "petition"}
	prios := []string{"normal", "normal", "urgent", "normal", "critical", "normal"}
	const nBatch = 18
	for i := 0; i < nBatch; i++ {
		id := fmt.Sprintf("E2E-B%d-%d", time.Now().UnixNano(), i)
		lon := 113.96 + float64(i%6)*0.05 + float64(i%3)*0.004
		lat := 32.04 + float64(i/6)*0.06 + float64(i%4)*0.005
		src := "grid"
		if i%3 == 0 {
			src = "hotline12345"
		}
		at := time.Now().Add(-time.Duration(nBatch-i) * time.Second)
		fmt.Fprintf(&batch, `{"id":"%s","type":"case.reported","case_id":"%s","at":"%s","source":"%s","category":"%s","priority":"%s","location":{"lon":%.4f,"lat":%.4f}}`+"\n",
			id, id, at.Format(time.RFC3339), src, cats[i%len(cats)], prios[i%len(prios)], lon, lat)
		if i%3 == 1 {
			batch.WriteString(dispatch(id, at))
		}
	}
	const nDispatch = nBatch / 3
	srv.ingest(t, batch.String(), nBatch+nDispatch)
	if err := waitFor(ctx, fmt.Sprintf(`window.__zhili.counters.new_today === %d && window.__zhili.feed >= %d`, newBefore+nBatch, min(nBatch, 12)), 5*time.Second); err != nil {
		st := read(t, ctx)
		t.Fatalf("after a batch of %d reports: new_today %v, want %d; feed %v: %v", nBatch, deref(st.Counters["new_today"]), newBefore+nBatch, st.Feed, err)
	}
	newBefore += nBatch
	wantLines := min(linesBefore+nBatch+nDispatch, 40)
	if err := waitFor(ctx, fmt.Sprintf(`%s === %d && window.__zhili.flowKinds.down >= %d && window.__zhili.flowKinds.horizontal >= %d`, flowLines, wantLines, nDispatch, nBatch/3), 3*time.Second); err != nil {
		n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](flowLines))
		t.Errorf("flow lines after %d reports and %d dispatches: %d, want %d (%s): %v", nBatch, nDispatch, n, wantLines, kindsJSON(ctx), err)
	}
	screenshot(t, ctx, "wall-1920x1080.png")

	// 5. One case reported through the API reaches the counter and the feed within 2 s.
	caseID := fmt.Sprintf("E2E-%d", time.Now().UnixNano())
	at := time.Now().Add(-time.Second).Format(time.RFC3339)
	event := fmt.Sprintf(`{"id":"%s-r","type":"case.reported","case_id":"%s","at":"%s","source":"grid","category":"safety","priority":"urgent","location":{"lon":114.10,"lat":32.12,"crs":"wgs84"},"address":"e2e test address","reporter":{"name":"e2e","phone":"13800000000"}}`+"\n",
		caseID, caseID, at)
	sent := time.Now()
	srv.ingest(t, event, 1)
	cond := fmt.Sprintf(`(() => {
	  const z = window.__zhili;
	  const el = document.querySelector('#counter-new_today [data-flip]');
	  return z.counters.new_today === %d && el && el.textContent === "%d" &&
	    !!document.querySelector('#feed li[data-case="%s"]');
	})()`, newBefore+1, newBefore+1, caseID)
	if err := waitFor(ctx, cond, 2*time.Second); err != nil {
		st := read(t, ctx)
		t.Fatalf("after POST, within 2 s: new_today counter %v (dom %q, want %d), feed %v: %v",
			deref(st.Counters["new_today"]), st.DOM["new_today"], newBefore+1, st.Feed, err)
	}
	e2e := time.Since(sent)
	st = read(t, ctx)
	if len(st.Feed) == 0 || st.Feed[0] != caseID {
		t.Errorf("the new case is not on top of the feed: %v", st.Feed)
	}
	if st.RenderMs == nil {
		t.Error("window.__zhili.renderMs not set after a frame")
	} else {
		t.Logf("frame arrival → DOM updated: %.2f ms; POST → counter and feed updated: %.0f ms", *st.RenderMs, float64(e2e.Microseconds())/1000)
	}
	// No personal information reaches the screen.
	html, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.outerHTML + JSON.stringify(window.__zhili)`))
	if err != nil {
		t.Fatal(err)
	}
	for _, pii := range []string{"13800000000", "e2e test address"} {
		if strings.Contains(html, pii) {
			t.Errorf("personal information %q is on the wall screen", pii)
		}
	}

	// 6. The window grows to 3840×2160 (a 4K wall): the running page redraws its charts at twice
	// the pixel ratio and keeps its state.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(3840, 2160)); err != nil {
		t.Fatal(err)
	}
	// A 4K redraw of every chart and label on a busy machine can take several seconds.
	if err := waitFor(ctx, `window.__zhili.layout.renderedDpr >= 2 && window.__zhili.settled()`, 30*time.Second); err != nil {
		t.Fatalf("no redraw after the resize to 3840×2160: %v", err)
	}
	if px, err := chromedp.Run(ctx, chromedp.Evaluate[pixelCount](mapPixels)); err != nil || float64(px.Painted) < 0.05*float64(px.Total) {
		t.Errorf("map canvas after resize: %+v %v", px, err)
	}
	if st := read(t, ctx); deref(st.Counters["new_today"]) != newBefore+1 || len(st.Feed) == 0 || st.Feed[0] != caseID {
		t.Errorf("state lost on resize: new_today %v, feed %v", deref(st.Counters["new_today"]), st.Feed)
	}

	// 7. 3840×2160 in kiosk mode: the controls are hidden.
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL+"&kiosk=1")); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1" && window.__zhili.layout.renderedDpr >= 2`, 30*time.Second); err != nil {
		t.Fatalf("kiosk page at 3840×2160 not ready: %v", err)
	}
	if st := read(t, ctx); st.Switch {
		t.Error("kiosk mode shows the language switch")
	}
	screenshot(t, ctx, "wall-3840x2160-kiosk.png")

	// 8. English at 1920×1080.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(pageURL+"&lang=en")); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1"`, 30*time.Second); err != nil {
		t.Fatalf("English page not ready: %v", err)
	}
	if title, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById('title').textContent`)); !strings.Contains(title, "Command Center") {
		t.Errorf("English title = %q", title)
	}
	screenshot(t, ctx, "wall-1920x1080-en.png")

	// 9. The feed is lost: stop the server; the red banner must show.
	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1"`, 30*time.Second); err != nil {
		t.Fatalf("page not ready: %v", err)
	}
	guard.verify(t) // before the server stops: reconnect attempts are not page requests of interest
	_ = srv.cmd.Process.Kill()
	lost := time.Now()
	if err := waitFor(ctx, `!document.getElementById('stale-banner').hidden && window.__zhili.stale === true`, 10*time.Second); err != nil {
		t.Fatalf("stale banner not shown within 10 s of the server stopping: %v", err)
	}
	t.Logf("server stopped → stale banner: %.0f ms", float64(time.Since(lost).Microseconds())/1000)
	screenshot(t, ctx, "wall-1920x1080-stale.png")
	guard.verify(t)
}

func kindsJSON(ctx context.Context) string {
	b, _ := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`JSON.stringify(window.__zhili.flowKinds)`))
	return string(b)
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}
