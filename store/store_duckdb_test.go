package store_test

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"

	"zhili/errs"
	"zhili/event"
	"zhili/store"
	"zhili/store/storetest"

	"zhili/internal/testsvc"
)

func TestDuckDBConformance(t *testing.T) {
	t.Parallel()
	t.Run("memory", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store { return openDuckDB(t, "") })
	})
	t.Run("file", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store {
			return openDuckDB(t, filepath.Join(t.TempDir(), "history.duckdb"))
		})
	})
}

func openDuckDB(t testing.TB, path string) *store.DuckDB {
	t.Helper()
	s, err := store.OpenDuckDB(path)
	if err != nil {
		t.Fatalf("OpenDuckDB(%q): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func piiRecord(id string, off uint64) store.Record {
	return store.Record{Event: event.Event{
		ID: id, Type: event.CaseReported, CaseID: "C-" + id, At: mustTime("2026-11-27T08:15:30+08:00"),
		Source: "hotline12345", Category: "environment",
		Location: &event.Location{Lon: 114.0913, Lat: 32.1475, CRS: event.GCJ02},
		Address:  "浉河区某路12号-" + id, Summary: "secret-summary-" + id,
		Reporter: &event.Reporter{Name: "张三-" + id, Phone: "1380000" + id, IDNumber: "ID-" + id},
	}, Offset: off, RegionPath: []string{"411502", "411502001"}, Lon: 114.0856, Lat: 32.1502, HasPoint: true}
}

func TestDuckDBReopen(t *testing.T) {
	t.Parallel() // files of its own
	path := filepath.Join(t.TempDir(), "history.duckdb")
	s, err := store.OpenDuckDB(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	for i := range 3 {
		var recs []store.Record
		for j := range 100 {
			recs = append(recs, piiRecord(strconv.Itoa(i*100+j), uint64(i*100+j)))
		}
		if err := s.Write(ctx, store.Batch{Records: recs, Checkpoint: uint64(i+1) * 100}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		s = openDuckDB(t, path)
		if n, _ := s.Count(ctx); n != 300 {
			t.Errorf("round %d: Count = %d, want 300", round, n)
		}
		if cp, _ := s.Checkpoint(ctx); cp != uint64(300+round) {
			t.Errorf("round %d: Checkpoint = %d, want %d", round, cp, 300+round)
		}
		rs, err := s.CaseEvents(ctx, "C-42")
		if err != nil || len(rs) != 1 || rs[0].Reporter == nil || rs[0].Reporter.Phone != "138000042" ||
			rs[0].Summary != "secret-summary-42" || rs[0].At.Format(time.RFC3339) != "2026-11-27T08:15:30+08:00" {
			t.Errorf("round %d: CaseEvents(C-42) = %+v, %v", round, rs, err)
		}
		// Ids stored before the reopen are still skipped.
		if err := s.Write(ctx, store.Batch{Records: []store.Record{piiRecord("7", 7)}, Checkpoint: 301}); err != nil {
			t.Fatal(err)
		}
		if n, _ := s.Count(ctx); n != 300 {
			t.Errorf("round %d: after rewriting a stored id: Count = %d, want 300", round, n)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestDuckDBPrivateSeparation checks at the table level that personal fields live only in
// event_private.
func TestDuckDBPrivateSeparation(t *testing.T) {
	t.Parallel() // files of its own
	path := filepath.Join(t.TempDir(), "history.duckdb")
	s := openDuckDB(t, path)
	recs := []store.Record{piiRecord("1", 1), piiRecord("2", 2)}
	recs[1].Reporter, recs[1].Address, recs[1].Summary = nil, "", ""
	if err := s.Write(t.Context(), store.Batch{Records: recs, Checkpoint: 2}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	dump := func(table string) string {
		rows, err := db.Query(`SELECT CAST(COLUMNS(*) AS VARCHAR) FROM ` + table)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		var b strings.Builder
		b.WriteString(strings.Join(cols, ",") + "\n")
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				b.WriteString(v.String + ",")
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	events, private := dump("events"), dump("event_private")
	for _, secret := range []string{"张三", "1380000", "ID-1", "某路", "secret-summary", "reporter", "address", "summary"} {
		if strings.Contains(events, secret) {
			t.Errorf("table events holds %q:\n%s", secret, events)
		}
	}
	for _, secret := range []string{"张三-1", "13800001", "ID-1", "浉河区某路12号-1", "secret-summary-1"} {
		if !strings.Contains(private, secret) {
			t.Errorf("table event_private lacks %q:\n%s", secret, private)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM event_private`).Scan(&n); err != nil || n != 1 {
		t.Errorf("event_private has %d rows (%v), want 1: only events with personal fields", n, err)
	}
}

func TestDuckDBExactTimes(t *testing.T) {
	t.Parallel()
	s := openDuckDB(t, "")
	deadline := mustTime("9999-12-31T23:59:59.999999999+14:00")
	r := store.Record{Event: event.Event{ID: "n", Type: event.CaseDispatched, CaseID: "C",
		At: mustTime("2026-11-27T08:15:30.123456789+08:00"), Dept: "d", Deadline: &deadline}}
	old := store.Record{Event: event.Event{ID: "o", Type: event.CaseReported, CaseID: "C",
		At: mustTime("1601-01-01T00:00:00.000000001-11:00")}}
	if err := s.Write(t.Context(), store.Batch{Records: []store.Record{r, old}, Checkpoint: 1}); err != nil {
		t.Fatal(err)
	}
	rs, err := s.CaseEvents(t.Context(), "C")
	if err != nil || len(rs) != 2 {
		t.Fatalf("CaseEvents: %v, %v", rs, err)
	}
	if got := rs[0].At.Format(time.RFC3339Nano); got != "1601-01-01T00:00:00.000000001-11:00" {
		t.Errorf("At = %s", got)
	}
	if got := rs[1].At.Format(time.RFC3339Nano); got != "2026-11-27T08:15:30.123456789+08:00" {
		t.Errorf("At = %s", got)
	}
	if got := rs[1].Deadline.Format(time.RFC3339Nano); got != "9999-12-31T23:59:59.999999999+14:00" {
		t.Errorf("Deadline = %s", got)
	}
}

func TestDuckDBSchemaVersion(t *testing.T) {
	t.Parallel() // files of its own
	path := filepath.Join(t.TempDir(), "history.duckdb")
	s := openDuckDB(t, path)
	s.Close()
	db, err := sql.Open("duckdb", path)
	if err != nil {
		t.Fatal(err)
	}
	var v int
	if err := db.QueryRow(`SELECT value FROM meta WHERE key = 'schema_version'`).Scan(&v); err != nil || v != 6 {
		t.Fatalf("schema_version = %d (%v), want 6", v, err)
	}
	if _, err := db.Exec(`UPDATE meta SET value = 99 WHERE key = 'schema_version'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if s, err := store.OpenDuckDB(path); err == nil {
		s.Close()
		t.Fatal("OpenDuckDB of a newer schema: no error")
	} else if errs.CodeOf(err) != errs.Unavailable || !strings.Contains(err.Error(), "99") {
		t.Errorf("OpenDuckDB of a newer schema: %v", err)
	}
}

// TestDuckDBConcurrent writes overlapping batches from several goroutines while others query.
func TestDuckDBConcurrent(t *testing.T) {
	t.Parallel() // files of its own
	s := openDuckDB(t, filepath.Join(t.TempDir(), "history.duckdb"))
	ctx := t.Context()
	const writers, batches, size = 4, 10, 50
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readErr error
	var readOnce sync.Once
	for range 2 {
		wg.Go(func() {
			q := store.SeriesQuery{From: mustTime("2026-11-27T00:00:00+08:00"),
				To: mustTime("2026-11-28T00:00:00+08:00"), Step: time.Hour}
			var last int64
			for {
				select {
				case <-stop:
					return
				default:
				}
				ps, err := s.Series(ctx, q)
				if err != nil {
					readOnce.Do(func() { readErr = err })
					return
				}
				var n int64
				for _, p := range ps {
					n += p.Count
				}
				if n < last {
					readOnce.Do(func() { readErr = fmt.Errorf("series total went down: %d then %d", last, n) })
					return
				}
				last = n
			}
		})
	}
	var ww sync.WaitGroup
	for w := range writers {
		ww.Go(func() {
			for b := range batches {
				var recs []store.Record
				for j := range size {
					// Writers overlap: writer w writes ids shared with writer w+1.
					id := strconv.Itoa((w*batches*size/2 + b*size + j) % (writers * batches * size / 2))
					r := piiRecord(id, uint64(j))
					r.RegionPath = nil
					recs = append(recs, r)
				}
				if err := s.Write(ctx, store.Batch{Records: recs, Checkpoint: uint64(b)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	ww.Wait()
	close(stop)
	wg.Wait()
	if readErr != nil {
		t.Error(readErr)
	}
	if n, _ := s.Count(ctx); n != writers*batches*size/2 {
		t.Errorf("Count = %d, want %d", n, writers*batches*size/2)
	}
}

const (
	crashEnv   = "ZHILI_DUCKDB_CRASH_DB"
	crashBatch = 200 // new ids per batch
)

// crashRecords is batch i (from 1) of the crash test: ids (i-1)*crashBatch .. i*crashBatch-1,
// plus ids of batch i-1 and an id repeated within the batch. Its checkpoint is i.
func crashRecords(i uint64) []store.Record {
	var recs []store.Record
	first := (i - 1) * crashBatch
	for id := first; id < first+crashBatch; id++ {
		r := piiRecord(strconv.FormatUint(id, 10), id)
		if id%3 != 0 {
			r.Reporter, r.Address, r.Summary = nil, "", ""
		}
		recs = append(recs, r)
	}
	if i > 1 {
		for id := first - 10; id < first; id++ {
			recs = append(recs, piiRecord(strconv.FormatUint(id, 10), id))
		}
	}
	return append(recs, recs[0])
}

// TestDuckDBCrashHelper is the child process of TestDuckDBCrash: it writes batches until
// killed, printing each acknowledged checkpoint.
func TestDuckDBCrashHelper(t *testing.T) {
	path := os.Getenv(crashEnv)
	if path == "" {
		t.Skip("helper process of TestDuckDBCrash")
	}
	s, err := store.OpenDuckDB(path)
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	cp, err := s.Checkpoint(t.Context())
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	// A resuming reader may send the last stored batch again.
	i := cp
	if i == 0 {
		i = 1
	}
	for ; ; i++ {
		if err := s.Write(t.Context(), store.Batch{Records: crashRecords(i), Checkpoint: i}); err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		fmt.Printf("CP %d\n", i)
	}
}

func TestDuckDBCrash(t *testing.T) {
	t.Parallel() // files of its own
	if testing.Short() {
		t.Skip("kills a child process")
	}
	path := filepath.Join(t.TempDir(), "history.duckdb")
	var acked uint64
	for round := range 4 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDuckDBCrashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashEnv+"="+path)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := testsvc.Start(t, cmd); err != nil {
			t.Fatal(err)
		}
		killAfter := 10 + rand.IntN(40)
		lines, killed := 0, false
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, "CP "); ok {
				n, err := strconv.ParseUint(rest, 10, 64)
				if err != nil {
					t.Fatalf("bad line %q", line)
				}
				if n < acked {
					t.Fatalf("round %d: child acknowledged checkpoint %d after %d", round, n, acked)
				}
				acked = n
				lines++
			} else if strings.HasPrefix(line, "ERR") {
				t.Fatalf("round %d: child: %s", round, line)
			}
			if lines == killAfter && !killed {
				time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
				killed = true
			}
		}
		err = cmd.Wait()
		if !killed {
			t.Fatalf("round %d: child ended by itself after %d batches: %v\n%s", round, lines, err, stderr.String())
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != -1 {
			t.Fatalf("round %d: child was not killed: %v\n%s", round, err, stderr.String())
		}

		s, err := store.OpenDuckDB(path)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		ctx := t.Context()
		cp, err := s.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// Every acknowledged batch is there; at most the one in flight committed too.
		if cp != acked && cp != acked+1 {
			t.Errorf("round %d: Checkpoint = %d, acknowledged %d", round, cp, acked)
		}
		n, err := s.Count(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(cp) * crashBatch; n != want {
			t.Errorf("round %d: Count = %d, want %d for checkpoint %d", round, n, want, cp)
		}
		var ids []int
		if err := s.EventIDs(ctx, func(id string) error {
			v, err := strconv.Atoi(id)
			ids = append(ids, v)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		for i, id := range ids {
			if id != i {
				t.Fatalf("round %d: ids are not 0..%d exactly once: position %d holds %d", round, len(ids)-1, i, id)
			}
		}
		if cp > 0 {
			first := (cp - 1) * crashBatch
			last := strconv.FormatUint(first+(3-first%3)%3, 10) // divisible by 3: has personal fields
			rs, err := s.CaseEvents(ctx, "C-"+last)
			if err != nil || len(rs) != 1 || rs[0].Reporter == nil || rs[0].Summary != "secret-summary-"+last {
				t.Errorf("round %d: CaseEvents(C-%s) = %+v, %v", round, last, rs, err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		// The next child opens the file: this process lets go of it.
		if err := store.ReleaseDuckDB(path); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: killed after %d acknowledged batches; checkpoint %d (acknowledged %d), %d events",
			round, lines, cp, acked, n)
		acked = cp
	}
}

// Levels 0–4 are counted from columns of their own, deeper ones from the region path: a
// six-level tree (city, county, town, community, grid, building) counts the same at every
// level, filtered at every depth.
func TestDuckDBDeepLevels(t *testing.T) {
	t.Parallel() // files of its own
	s := openDuckDB(t, filepath.Join(t.TempDir(), "deep.duckdb"))
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	paths := [][]string{
		{"C", "K", "T", "M", "G1", "B1"},
		{"C", "K", "T", "M", "G1", "B2"},
		{"C", "K", "T", "M", "G2", "B3"},
		{"C", "K", "T", "M", "G2"},
		{"C", "K", "T2"},
	}
	var recs []store.Record
	for i, p := range paths {
		recs = append(recs, store.Record{Event: event.Event{ID: fmt.Sprintf("d%d", i), Type: event.CaseReported,
			CaseID: fmt.Sprintf("D%d", i), At: at, Category: "dispute"}, Offset: uint64(i + 1), RegionPath: p})
	}
	if err := s.Write(t.Context(), store.Batch{Records: recs, Checkpoint: uint64(len(recs))}); err != nil {
		t.Fatal(err)
	}
	count := func(region string, depth, level int) map[string]int64 {
		rc, err := s.RegionCounts(t.Context(), store.RegionQuery{Region: region, Depth: depth, Level: level,
			From: at.Add(-time.Hour), To: at.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int64{}
		for _, c := range rc {
			out[c.Region] = c.Count
		}
		return out
	}
	for _, c := range []struct {
		region       string
		depth, level int
		want         map[string]int64
	}{
		{"C", 0, 2, map[string]int64{"T": 4, "T2": 1}},
		{"C", 0, 4, map[string]int64{"G1": 2, "G2": 2}},
		{"C", 0, 5, map[string]int64{"B1": 1, "B2": 1, "B3": 1}},
		{"G2", 4, 5, map[string]int64{"B3": 1}},
		{"B1", 5, 6, map[string]int64{}},
	} {
		if got := count(c.region, c.depth, c.level); !maps.Equal(got, c.want) {
			t.Errorf("%s at depth %d, level %d: %v, want %v", c.region, c.depth, c.level, got, c.want)
		}
	}
}

// Close lets a running query finish before it closes the database, so that the same file opens
// again in this process: a connection still held would keep DuckDB's instance alive and the
// second open would spin in its instance cache.
func TestDuckDBCloseWaitsForQueries(t *testing.T) {
	t.Parallel() // files of its own
	path := filepath.Join(t.TempDir(), "close.duckdb")
	s, err := store.OpenDuckDB(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	var recs []store.Record
	for i := range 3 {
		recs = append(recs, store.Record{Event: event.Event{ID: fmt.Sprintf("p%d", i), Type: event.CaseReported,
			CaseID: fmt.Sprintf("P%d", i), At: at}, Offset: uint64(i + 1), RegionPath: []string{"R", "A"},
			HasPoint: true, Lon: 114, Lat: 32})
	}
	if err := s.Write(t.Context(), store.Batch{Records: recs, Checkpoint: 3}); err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}), make(chan struct{})
	queried := make(chan error, 1)
	go func() {
		first := true
		queried <- s.Points(context.Background(), store.PointQuery{Region: "R", From: at.Add(-time.Hour), To: at.Add(time.Hour)},
			func(store.LocatedEvent) error {
				if first {
					first = false
					close(started)
					<-release
				}
				return nil
			})
	}()
	<-started
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a query was running", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	if err := <-queried; err != nil {
		t.Fatalf("the running query: %v", err)
	}
	if err := <-closed; err != nil {
		t.Fatalf("Close: %v", err)
	}
	reopened := make(chan error, 1)
	go func() {
		s2, err := store.OpenDuckDB(path)
		if err == nil {
			var n int64
			n, err = s2.Count(context.Background())
			if err == nil && n != 3 {
				err = fmt.Errorf("count %d, want 3", n)
			}
			s2.Close()
		}
		reopened <- err
	}()
	select {
	case err := <-reopened:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the file did not open again within 30 s after Close")
	}
}
