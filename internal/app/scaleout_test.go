package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"zhili/event"
	"zhili/geo"
	"zhili/ingest"
	"zhili/internal/testsvc"
	"zhili/server"
	"zhili/simulate"
	"zhili/store"
	"zhili/update"
)

// services starts a Redis server for a scale-out test and returns it with the package's shared
// ClickHouse server and a fresh database in it.
func services(t *testing.T) (*testsvc.Redis, *testsvc.ClickHouse, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("scale-out test")
	}
	r := testsvc.StartRedis(t)
	ch := testsvc.SharedClickHouse(t)
	return r, ch, ch.NewDatabase(t)
}

// ownServices is services with a ClickHouse server of the test's own, for a test that kills it.
func ownServices(t *testing.T) (*testsvc.Redis, *testsvc.ClickHouse, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("scale-out test")
	}
	r := testsvc.StartRedis(t)
	ch := testsvc.StartClickHouse(t)
	return r, ch, ch.NewDatabase(t)
}

type scaled struct {
	Redis, CH string
	Parts     int
	Tenant    string
	Dir       string // a child process's data directory, made and removed by its parent test
}

// start runs one process of a scaled-out deployment in this test process.
func (s scaled) start(t *testing.T, role, name string) *App {
	t.Helper()
	a, err := New(Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), Tick: 50 * time.Millisecond,
		IngestKeys: map[string]*ingest.Policy{testKey: {Name: "test"}},
		ViewTokens: map[string]server.Viewer{testToken: {Name: "test"}},
		Redis:      s.Redis, ClickHouse: s.CH, Role: role, Partitions: s.Parts, Tenant: s.Tenant, Name: name,
		LeaseTTL: 2 * time.Second, ShutdownTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Shutdown(context.Background()) })
	return a
}

// waitReady waits until a server process has the live state of every partition.
func waitReady(t *testing.T, a *App, parts int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for len(a.Model.ResetCut()) < parts {
		if time.Now().After(deadline) {
			t.Fatalf("server has live state of %d of %d partitions after 60 s: %+v", len(a.Model.ResetCut()), parts, a.Model.Sources())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// feedLines generates a realistic event stream: n lines of the demo county's simulated feed,
// anchored a while ago so that cases have lifecycles (dispatch, sign, resolve, callbacks…).
func feedLines(n int, seed uint64) [][]byte {
	g := simulate.NewGenerator(simulate.Config{Tree: geo.DemoTree(), Seed: seed, Rate: 20, BadRatio: -1, DupRatio: 0.01})
	start := time.Now().Add(-time.Duration(n/20+5) * time.Second)
	g.Next(start, 0)
	return g.Next(time.Now(), n)
}

// postLines posts lines in batches, returning the ids of acknowledged events. Batches rejected
// as a whole (503) are retried until accepted.
func postLines(t *testing.T, bases []string, lines [][]byte, batch int) int {
	t.Helper()
	accepted := 0
	for i, k := 0, 0; i < len(lines); i, k = i+batch, k+1 {
		body := string(joinLines(lines[i:min(i+batch, len(lines))]))
		for try := 0; ; try++ {
			code, b := post(t, bases[k%len(bases)], "application/x-ndjson", body)
			if code == 200 {
				var rep ingest.Reply
				if err := json.Unmarshal(b, &rep); err != nil {
					t.Fatal(err)
				}
				accepted += rep.Accepted
				break
			}
			if try > 50 {
				t.Fatalf("ingest: %d %s", code, b)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return accepted
}

func joinLines(ls [][]byte) []byte {
	var b []byte
	for _, l := range ls {
		b = append(append(b, l...), '\n')
	}
	return b
}

// allIDs counts the stored events of every partition by id.
func allIDs(t *testing.T, st store.Store, parts int) map[string]int {
	t.Helper()
	seen := map[string]int{}
	views := []store.Store{st}
	if ps, ok := st.(store.Partitioned); ok {
		views = views[:0]
		for p := 0; p < parts; p++ {
			views = append(views, ps.Partition(p))
		}
	}
	for _, v := range views {
		if err := v.EventIDs(context.Background(), func(id string) error { seen[id]++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	return seen
}

// snapshotData returns the data of a fresh snapshot of topic from a server.
func snapshotData(t *testing.T, addr, topic string) map[string]any {
	t.Helper()
	ws := dialWS(t, addr, topic)
	defer ws.c.Close()
	m := ws.waitFor(t, 30*time.Second, func(m map[string]any) bool { return m["op"] == "snapshot" && m["topic"] == topic })
	return m["data"].(map[string]any)
}

func getJSON(t *testing.T, url string) any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// jsonDiff lists the paths where two decoded JSON values differ, with both values.
func jsonDiff(path string, got, want any) []string {
	gm, ok1 := got.(map[string]any)
	wm, ok2 := want.(map[string]any)
	if ok1 && ok2 {
		var out []string
		keys := map[string]bool{}
		for k := range gm {
			keys[k] = true
		}
		for k := range wm {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		slices.Sort(sorted)
		for _, k := range sorted {
			out = append(out, jsonDiff(path+"."+k, gm[k], wm[k])...)
		}
		return out
	}
	ga, ok1 := got.([]any)
	wa, ok2 := want.([]any)
	if ok1 && ok2 && len(ga) == len(wa) {
		var out []string
		for i := range ga {
			out = append(out, jsonDiff(fmt.Sprintf("%s[%d]", path, i), ga[i], wa[i])...)
		}
		return out
	}
	if reflect.DeepEqual(got, want) {
		return nil
	}
	return []string{fmt.Sprintf("  %s: got %v, want %v", path, got, want)}
}

// eventually retries check until it returns "" or the time is up, then fails with its answer.
func eventually(t *testing.T, within time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Two aggregators and two servers on one Redis and one ClickHouse give the same snapshots,
// series, counts and hotspot answers as one embedded process fed the same events.
func TestScaleOutMatchesEmbedded(t *testing.T) {
	t.Parallel()
	r, _, dsn := services(t)
	lines := feedLines(4600, 7)
	lines, later := lines[:4000], lines[4000:] // later: follow-ups of these cases, and new ones
	sc := scaled{Redis: r.URL, CH: dsn, Parts: 4, Tenant: "match"}
	ag1 := sc.start(t, RoleAggregator, "agg-1")
	ag2 := sc.start(t, RoleAggregator, "agg-2")
	s1 := sc.start(t, RoleServer, "srv-1")
	s2 := sc.start(t, RoleServer, "srv-2")
	waitReady(t, s1, 4)
	waitReady(t, s2, 4)
	emb := startApp(t, t.TempDir())
	defer emb.Shutdown(context.Background())

	n := postLines(t, []string{"http://" + emb.Addr}, lines, 250)
	if m := postLines(t, []string{"http://" + s1.Addr, "http://" + s2.Addr}, lines, 250); m != n || n < 3000 {
		t.Fatalf("accepted %d events embedded, %d scaled out", n, m)
	}
	var want map[string]int
	eventually(t, 30*time.Second, func() string {
		if want = allIDs(t, emb.Store, 1); len(want) != n {
			return fmt.Sprintf("embedded store holds %d of %d events", len(want), n)
		}
		return ""
	})
	eventually(t, 60*time.Second, func() string {
		got := allIDs(t, s1.Store, 4)
		if len(got) != len(want) {
			return fmt.Sprintf("scaled store holds %d events, embedded %d", len(got), len(want))
		}
		for id, n := range got {
			if n != 1 || want[id] != 1 {
				return fmt.Sprintf("event %s stored %d times scaled, %d embedded", id, n, want[id])
			}
		}
		return ""
	})
	eventually(t, 20*time.Second, func() string {
		held := append(ag1.Mgr.Held(), ag2.Mgr.Held()...)
		slices.Sort(held)
		if !slices.Equal(held, []int{0, 1, 2, 3}) || len(ag1.Mgr.Held()) != 2 {
			return fmt.Sprintf("partitions held: %v and %v, want two each", ag1.Mgr.Held(), ag2.Mgr.Held())
		}
		return ""
	})
	t.Logf("%d lines posted; %d events stored once in each setup; partitions %v / %v", len(lines), len(want), ag1.Mgr.Held(), ag2.Mgr.Held())

	tree := geo.DemoTree()
	town := tree.Root.Children[0].Code
	for _, topic := range []string{"overview:root", "overview:" + town} {
		eventually(t, 30*time.Second, func() string {
			w := snapshotData(t, emb.Addr, topic)
			for _, s := range []*App{s1, s2} {
				if g := snapshotData(t, s.Addr, topic); !reflect.DeepEqual(g, w) {
					return fmt.Sprintf("%s on %s differs from embedded:\n%s", topic, s.Addr, strings.Join(jsonDiff("", g, w), "\n"))
				}
			}
			return ""
		})
	}
	// The whistle boards: the same whistles, departments and reached stages (countdowns depend on
	// the moment each server computes them, so lights are not compared).
	board := func(addr string) map[string]any {
		out := map[string]any{}
		for id, w := range snapshotData(t, addr, "whistles:root")["whistles"].(map[string]any) {
			var depts []any
			for _, d := range w.(map[string]any)["depts"].([]any) {
				dm := d.(map[string]any)
				var reached []any
				for _, st := range dm["stages"].([]any) {
					reached = append(reached, st.(map[string]any)["reached"])
				}
				depts = append(depts, []any{dm["dept"], reached})
			}
			out[id] = depts
		}
		return out
	}
	eventually(t, 30*time.Second, func() string {
		w := board(emb.Addr)
		for _, s := range []*App{s1, s2} {
			if g := board(s.Addr); !reflect.DeepEqual(g, w) {
				return fmt.Sprintf("whistles:root on %s differs from embedded:\n got %v\nwant %v", s.Addr, g, w)
			}
		}
		return ""
	})
	t.Logf("whistles:root: %d whistles, the same on both servers and the embedded process", len(board(emb.Addr)))
	now := time.Now().In(mustShanghai())
	day, next := now.Format("2006-01-02"), now.AddDate(0, 0, 1).Format("2006-01-02")
	for _, q := range []string{
		"/api/v1/series?step=1h&from=" + day + "&to=" + next,
		"/api/v1/series?step=15m&from=" + day + "&to=" + next + "&type=case.reported,case.resolved,case.closed",
		"/api/v1/counts?from=" + day + "&to=" + next,
		"/api/v1/counts?region=" + town + "&from=" + day + "&to=" + next,
		"/api/v1/hotspots?from=" + day + "&to=" + next,
		"/api/v1/hotspots?level=child&from=" + day + "&to=" + next,
	} {
		w := getJSON(t, "http://"+emb.Addr+q+"&token="+testToken)
		for _, s := range []*App{s1, s2} {
			if g := getJSON(t, "http://"+s.Addr+q+"&token="+testToken); !reflect.DeepEqual(g, w) {
				t.Errorf("%s differs:\n got %v\nwant %v", q, g, w)
			}
		}
	}
	for _, s := range []*App{s1, s2} {
		base := "http://" + s.Addr
		if d := metricValue(t, base, "zhili_intake_durable"); d != 1 {
			t.Errorf("zhili_intake_durable = %v on %s; the test Redis fsyncs every write", d, s.Addr)
		}
		if g := metricValue(t, base, "zhili_bus_lost_total"); g != 0 {
			t.Errorf("zhili_bus_lost_total = %v on %s", g, s.Addr)
		}
	}
	tot := snapshotData(t, s1.Addr, "overview:root")["totals"]
	t.Logf("overview:root, series, counts and hotspots equal on both servers and the embedded process; totals %v", tot)

	// The audits of today, then again after more events: each server keeps the period's case
	// facts (ClickHouse tells its data version and the cases changed since) and must follow
	// the aggregators' writes as the embedded process does.
	audits := func(addr string) map[string]any {
		out := map[string]any{}
		for _, by := range []string{"dept", "region"} {
			rep := getJSON(t, "http://"+addr+"/api/v1/audit/rates?by="+by+"&from="+day+"&to="+next+"&token="+testToken).(map[string]any)
			delete(rep, "as_of") // the moment each computed it
			delete(rep, "previous_as_of")
			// refused at each process's door since it started
			delete(rep["reconcile"].(map[string]any)["rejected"].(map[string]any), "since")
			out[by] = rep
		}
		return out
	}
	sameAudits := func() float64 {
		var cases float64
		eventually(t, 30*time.Second, func() string {
			w := audits(emb.Addr)
			for _, s := range []*App{s1, s2} {
				if g := audits(s.Addr); !reflect.DeepEqual(g, w) {
					return fmt.Sprintf("audits on %s differ from embedded:\n%s", s.Addr, strings.Join(jsonDiff("", g, w), "\n"))
				}
			}
			cases = w["dept"].(map[string]any)["cases"].(float64)
			return ""
		})
		return cases
	}
	before := sameAudits()
	n2 := postLines(t, []string{"http://" + emb.Addr}, later, 200)
	if m := postLines(t, []string{"http://" + s1.Addr, "http://" + s2.Addr}, later, 200); m != n2 || n2 == 0 {
		t.Fatalf("accepted %d more events embedded, %d scaled out", n2, m)
	}
	eventually(t, 60*time.Second, func() string {
		if e, g := len(allIDs(t, emb.Store, 1)), len(allIDs(t, s1.Store, 4)); e != n+n2 || g != n+n2 {
			return fmt.Sprintf("%d and %d of %d events stored", e, g, n+n2)
		}
		return ""
	})
	after := sameAudits()
	if after <= before {
		t.Errorf("the audit counts %v cases after %d more events, %v before", after, n2, before)
	}
	t.Logf("audits of today equal on both servers and the embedded process: %v cases, then %v after %d more events", before, after, n2)
}

func mustShanghai() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}

// recount checks the live overview of a server against a recount from the history store:
// cases reported today, and open cases (reported and not resolved).
func recount(t *testing.T, a *App, parts int) string {
	t.Helper()
	loc := mustShanghai()
	data := snapshotData(t, a.Addr, "overview:root")
	day := data["day"].(string)
	reported, resolved := map[string]bool{}, map[string]bool{}
	views := []store.Store{a.Store}
	if ps, ok := a.Store.(store.Partitioned); ok {
		views = views[:0]
		for p := 0; p < parts; p++ {
			views = append(views, ps.Partition(p))
		}
	}
	for _, v := range views {
		err := v.Replay(context.Background(), func(r store.Record) error {
			switch r.Type {
			case event.CaseReported:
				if update.DayString(update.DayOf(r.At, loc)) == day {
					reported[r.CaseID] = true
				}
			case event.CaseResolved:
				resolved[r.CaseID] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	open := 0
	for c := range reported {
		if !resolved[c] {
			open++
		}
	}
	tot := data["totals"].(map[string]any)
	if int(tot["new_today"].(float64)) != len(reported) || int(tot["open"].(float64)) != open {
		return fmt.Sprintf("overview new_today=%v open=%v; recount from the store: new=%d open=%d", tot["new_today"], tot["open"], len(reported), open)
	}
	return ""
}

// loadGen posts case events at a steady pace until stopped, keeping what was acknowledged and
// counting 503 answers (and whether they carried Retry-After).
type loadGen struct {
	mu        sync.Mutex
	acked     map[string]bool
	n503      int
	retryHdr  int
	otherErrs int
	stop      chan struct{}
	wg        sync.WaitGroup
}

func startLoad(bases []string, writers int, pace time.Duration) *loadGen {
	g := &loadGen{acked: map[string]bool{}, stop: make(chan struct{})}
	loc := mustShanghai()
	client := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < writers; w++ {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			for b := 0; ; b++ {
				select {
				case <-g.stop:
					return
				case <-time.After(pace):
				}
				var lines, ids []string
				at := time.Now().In(loc).Add(-time.Minute)
				for k := 0; k < 20; k++ {
					cid := fmt.Sprintf("L%d-%d-%d-%d", w, b, k, time.Now().UnixNano()%1000)
					id := "r-" + cid
					lines = append(lines, fmt.Sprintf(`{"id":%q,"type":"case.reported","case_id":%q,"at":%q,"source":"grid","category":"environment","location":{"lon":%.4f,"lat":%.4f}}`,
						id, cid, at.Format(time.RFC3339Nano), 113.97+float64(k)*0.01, 32.05+float64(b%10)*0.01))
					ids = append(ids, id)
					if k%3 == 0 {
						id := "x-" + cid
						lines = append(lines, fmt.Sprintf(`{"id":%q,"type":"case.resolved","case_id":%q,"at":%q}`, id, cid, at.Add(time.Second).Format(time.RFC3339Nano)))
						ids = append(ids, id)
					}
				}
				req, _ := http.NewRequest("POST", bases[(w+b)%len(bases)]+"/api/v1/events", strings.NewReader(strings.Join(lines, "\n")))
				req.Header.Set("Authorization", "Bearer "+testKey)
				req.Header.Set("Content-Type", "application/x-ndjson")
				resp, err := client.Do(req)
				if err != nil {
					g.mu.Lock()
					g.otherErrs++
					g.mu.Unlock()
					continue
				}
				var rep ingest.Reply
				derr := json.NewDecoder(resp.Body).Decode(&rep)
				resp.Body.Close()
				g.mu.Lock()
				switch {
				case resp.StatusCode == 503:
					g.n503++
					if resp.Header.Get("Retry-After") != "" {
						g.retryHdr++
					}
				case resp.StatusCode == 200 && derr == nil && rep.Accepted+rep.Duplicates == len(ids):
					for _, id := range ids {
						g.acked[ingest.StoredID("test", id)] = true // stored under the key's name
					}
				default:
					g.otherErrs++
				}
				g.mu.Unlock()
			}
		}()
	}
	return g
}

func (g *loadGen) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.acked)
}

func (g *loadGen) end() { close(g.stop); g.wg.Wait() }

// checkExactlyOnce waits until every acknowledged event is stored, and fails on any stored twice.
func checkExactlyOnce(t *testing.T, st store.Store, parts int, acked map[string]bool) int {
	t.Helper()
	var seen map[string]int
	eventually(t, 60*time.Second, func() string {
		seen = allIDs(t, st, parts)
		missing := 0
		for id := range acked {
			if seen[id] == 0 {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Sprintf("%d of %d acknowledged events not stored", missing, len(acked))
		}
		return ""
	})
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("event %s stored %d times", id, n)
		}
	}
	return len(seen)
}

// kill -9 one aggregator process mid-batch: the other takes its partitions over with their
// pending intake entries; nothing is lost, nothing counted twice.
func TestAggregatorKill9Takeover(t *testing.T) {
	t.Parallel()
	r, _, dsn := services(t)
	// The child's data directory is this test's: the child ends with SIGKILL (or os.Exit), so
	// a directory of its own would never be removed.
	sc := scaled{Redis: r.URL, CH: dsn, Parts: 4, Tenant: "kill", Dir: t.TempDir()}
	cfg, _ := json.Marshal(sc)
	child, _, _ := startChild(t, "TestScaleChildProcess", "ZHILI_SCALE_CHILD", string(cfg))
	survivor := sc.start(t, RoleAggregator, "agg-survivor")
	srv := sc.start(t, RoleServer, "srv")
	waitReady(t, srv, 4)
	eventually(t, 30*time.Second, func() string {
		if n := len(survivor.Mgr.Held()); n != 2 {
			return fmt.Sprintf("survivor holds %d partitions, want 2 of 4 (the child the others)", n)
		}
		return ""
	})
	load := startLoad([]string{"http://" + srv.Addr}, 4, 5*time.Millisecond)
	for load.count() < 3000 {
		time.Sleep(20 * time.Millisecond)
	}
	child.Process.Kill() // SIGKILL
	_ = child.Wait()
	killedAt := load.count()
	eventually(t, 30*time.Second, func() string {
		if n := len(survivor.Mgr.Held()); n != 4 {
			return fmt.Sprintf("survivor holds %d partitions after the kill, want 4", n)
		}
		return ""
	})
	time.Sleep(2 * time.Second)
	load.end()
	stored := checkExactlyOnce(t, srv.Store, 4, load.acked)
	eventually(t, 30*time.Second, func() string { return recount(t, srv, 4) })
	t.Logf("%d acknowledged (%d before the kill -9), %d stored exactly once; overview matches the recount; partitions now %v",
		len(load.acked), killedAt, stored, survivor.Mgr.Held())
}

// TestScaleChildProcess is the aggregator process of TestAggregatorKill9Takeover.
func TestScaleChildProcess(t *testing.T) {
	raw := os.Getenv("ZHILI_SCALE_CHILD")
	if raw == "" {
		t.Skip("helper process for TestAggregatorKill9Takeover")
	}
	var sc scaled
	if err := json.Unmarshal([]byte(raw), &sc); err != nil {
		t.Fatal(err)
	}
	if sc.Dir == "" {
		t.Fatal("the parent test gives the child its data directory")
	}
	a, err := New(Config{Listen: "127.0.0.1:0", DataDir: sc.Dir, Redis: sc.Redis, ClickHouse: sc.CH, Role: RoleAggregator,
		Partitions: sc.Parts, Tenant: sc.Tenant, Name: "agg-child", LeaseTTL: 2 * time.Second})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println("ADDR", a.Addr)
	ctx, stop := signalContext()
	defer stop()
	if err := a.Run(ctx); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// Redis away under load: screens keep their state with a stale flag, ingest answers 503
// with Retry-After (never a silent drop), and everything resumes; the final counts match.
func TestRedisOutage(t *testing.T) {
	t.Parallel()
	r, _, dsn := services(t)
	sc := scaled{Redis: r.URL, CH: dsn, Parts: 2, Tenant: "outage"}
	sc.start(t, RoleAggregator, "agg")
	s1 := sc.start(t, RoleServer, "srv-1")
	s2 := sc.start(t, RoleServer, "srv-2")
	waitReady(t, s1, 2)
	waitReady(t, s2, 2)
	ws := dialWS(t, s1.Addr, "overview:root")
	ws.waitFor(t, 30*time.Second, func(m map[string]any) bool { return m["op"] == "snapshot" })

	load := startLoad([]string{"http://" + s1.Addr, "http://" + s2.Addr}, 3, 10*time.Millisecond)
	for load.count() < 1000 {
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	ws.waitFor(t, 30*time.Second, func(m map[string]any) bool { return m["op"] == "status" && m["stale"] == true })
	// The screen's state is still served while Redis is away.
	if d := snapshotData(t, s2.Addr, "overview:root"); d["totals"] == nil {
		t.Fatal("no overview while Redis is down")
	}
	resp, err := http.Get("http://" + s1.Addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var rz map[string]any
	json.NewDecoder(resp.Body).Decode(&rz)
	resp.Body.Close()
	if rz["status"] != "degraded" {
		t.Errorf("readyz while Redis is down: %v, want degraded", rz)
	}
	// Redis stays away for 3 s (several reconnect attempts of the clients) and until ingest has
	// answered 503 many times under the load.
	eventually(t, 30*time.Second, func() string {
		load.mu.Lock()
		defer load.mu.Unlock()
		if load.n503 < 100 || time.Since(down) < 3*time.Second {
			return fmt.Sprintf("%d ingest answers 503 %v after Redis stopped, want 100", load.n503, time.Since(down).Round(time.Millisecond))
		}
		return ""
	})
	downFor := time.Since(down)
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	ws.waitFor(t, 30*time.Second, func(m map[string]any) bool { return m["op"] == "status" && m["stale"] == false })
	after := load.count()
	for load.count() < after+500 {
		time.Sleep(20 * time.Millisecond)
	}
	load.end()
	load.mu.Lock()
	n503, hdr := load.n503, load.retryHdr
	load.mu.Unlock()
	if n503 == 0 || hdr != n503 {
		t.Errorf("during the outage: %d answers 503, %d with Retry-After; want some, all with it", n503, hdr)
	}
	stored := checkExactlyOnce(t, s1.Store, 2, load.acked)
	for _, s := range []*App{s1, s2} {
		eventually(t, 30*time.Second, func() string { return recount(t, s, 2) })
	}
	t.Logf("Redis down %v: %d ingest answers 503 (all with Retry-After), status stale then fresh on the screen; %d acknowledged, %d stored exactly once; both servers' overviews match the recount",
		downFor.Round(time.Millisecond), n503, len(load.acked), stored)
}

// Restart a server process: its clients reconnect and resume, seeing either the deltas they
// missed without a gap in sequence numbers, or a fresh snapshot.
func TestServerRestartResume(t *testing.T) {
	t.Parallel()
	r, _, dsn := services(t)
	sc := scaled{Redis: r.URL, CH: dsn, Parts: 2, Tenant: "restart"}
	sc.start(t, RoleAggregator, "agg")
	srv := sc.start(t, RoleServer, "srv")
	waitReady(t, srv, 2)
	load := startLoad([]string{"http://" + srv.Addr}, 1, 50*time.Millisecond)
	defer load.end()
	ws := dialWS(t, srv.Addr, "overview:root")
	first := ws.waitFor(t, 30*time.Second, func(m map[string]any) bool { return m["op"] == "delta" })
	last := first["seq"].(float64)
	addr := srv.Addr
	srv.Shutdown(context.Background())
	// The same server comes back on the same address.
	var again *App
	eventually(t, 10*time.Second, func() string {
		a, err := New(Config{Listen: addr, DataDir: t.TempDir(), Tick: 50 * time.Millisecond,
			IngestKeys: map[string]*ingest.Policy{testKey: {}}, ViewTokens: map[string]server.Viewer{testToken: {}},
			Redis: sc.Redis, ClickHouse: sc.CH, Role: RoleServer, Partitions: 2, Tenant: sc.Tenant, Name: "srv"})
		if err != nil {
			return err.Error()
		}
		again = a
		return ""
	})
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	defer again.Shutdown(context.Background())
	waitReady(t, again, 2)
	// The client reconnects and resumes with since.
	ws2 := dialWSResume(t, addr, "overview:root", int64(last))
	m := ws2.waitFor(t, 30*time.Second, func(m map[string]any) bool { return m["op"] == "snapshot" || m["op"] == "delta" })
	seq := m["seq"].(float64)
	switch m["op"] {
	case "delta":
		if seq != last+1 {
			t.Fatalf("resumed with a delta at seq %v after %v: a gap", seq, last)
		}
	case "snapshot":
		if dataOf(m)["totals"] == nil {
			t.Fatal("fresh snapshot without totals")
		}
	}
	// And deltas keep coming in sequence.
	prev := seq
	for i := 0; i < 3; i++ {
		d := ws2.waitFor(t, 30*time.Second, func(m map[string]any) bool { return m["op"] == "delta" && m["seq"].(float64) > prev })
		if d["seq"].(float64) != prev+1 {
			t.Fatalf("delta seq %v after %v", d["seq"], prev)
		}
		prev = d["seq"].(float64)
	}
	t.Logf("client resumed after the server restart with a %s at seq %v (had %v), then deltas %v..%v without a gap", m["op"], seq, last, seq+1, prev)
}

// dialWSResume connects and subscribes to topic resuming after seq since.
func dialWSResume(t *testing.T, addr, topic string, since int64) *wsClient {
	t.Helper()
	w := dialWS(t, addr)
	if err := w.c.WriteJSON(map[string]any{"op": "sub", "topic": topic, "since": since}); err != nil {
		t.Fatal(err)
	}
	return w
}

// kill -9 ClickHouse in the middle of a sustained stream, restart it: every accepted event ends
// up in ClickHouse exactly once, and the live overview matches a recount from it.
func TestClickHouseKill9UnderLoad(t *testing.T) {
	t.Parallel()
	r, ch, dsn := ownServices(t)
	sc := scaled{Redis: r.URL, CH: dsn, Parts: 2, Tenant: "chkill"}
	sc.start(t, RoleAggregator, "agg")
	srv := sc.start(t, RoleServer, "srv")
	waitReady(t, srv, 2)
	load := startLoad([]string{"http://" + srv.Addr}, 3, 5*time.Millisecond)
	for load.count() < 3000 {
		time.Sleep(20 * time.Millisecond)
	}
	if err := ch.Kill9(); err != nil {
		t.Fatal(err)
	}
	atKill := load.count()
	time.Sleep(3 * time.Second) // ingest goes on: events wait in the Redis streams
	duringOutage := load.count() - atKill
	if err := ch.Start(); err != nil {
		t.Fatal(err)
	}
	after := load.count()
	for load.count() < after+2000 {
		time.Sleep(20 * time.Millisecond)
	}
	load.end()
	if duringOutage == 0 {
		t.Errorf("no event acknowledged while ClickHouse was down: ingest must not depend on it")
	}
	stored := checkExactlyOnce(t, srv.Store, 2, load.acked)
	eventually(t, 30*time.Second, func() string { return recount(t, srv, 2) })
	t.Logf("ClickHouse killed with %d acknowledged, %d more acknowledged while it was down; %d acknowledged in all, %d stored exactly once; overview matches the recount",
		atKill, duringOutage, len(load.acked), stored)
}

// One process with the embedded intake log and bus, history in ClickHouse (--clickhouse alone):
// events are stored once, and a restart rebuilds the same live state from ClickHouse.
func TestClickHouseSingleProcess(t *testing.T) {
	t.Parallel()
	_, _, dsn := services(t)
	dir := t.TempDir()
	open := func() *App {
		a, err := New(Config{Listen: "127.0.0.1:0", DataDir: dir, Tick: 50 * time.Millisecond, ClickHouse: dsn,
			IngestKeys: map[string]*ingest.Policy{testKey: {}}, ViewTokens: map[string]server.Viewer{testToken: {}}})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Start(); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, func() string {
			if !a.Ready() {
				return "not ready"
			}
			return ""
		})
		return a
	}
	a := open()
	n := postLines(t, []string{"http://" + a.Addr}, feedLines(1500, 3), 300)
	eventually(t, 30*time.Second, func() string {
		if got := len(allIDs(t, a.Store, 1)); got != n {
			return fmt.Sprintf("%d of %d stored", got, n)
		}
		return ""
	})
	before := snapshotData(t, a.Addr, "overview:root")
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := open()
	defer b.Shutdown(context.Background())
	if ids := allIDs(t, b.Store, 1); len(ids) != n {
		t.Fatalf("after restart %d stored, want %d", len(ids), n)
	}
	after := snapshotData(t, b.Addr, "overview:root")
	if !reflect.DeepEqual(before["totals"], after["totals"]) {
		t.Fatalf("overview totals before restart %v, after %v", before["totals"], after["totals"])
	}
	t.Logf("%d events in ClickHouse; overview after the restart (rebuilt from ClickHouse) = before: %v", n, after["totals"])
}
