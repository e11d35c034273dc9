package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"zhili/ingest"

	"zhili/internal/testsvc"
)

// kill -9 the server during a sustained ingest; after restart every acknowledged event is stored
// exactly once, and the overview snapshot matches a recount from the store.
func TestKill9DuringIngest(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("crash test")
	}
	dir := t.TempDir()
	cmd, addr, _ := startChild(t, "TestServerChildProcess", "ZHILI_CHILD_DIR", dir)
	base := "http://" + addr

	loc, _ := time.LoadLocation("Asia/Shanghai")
	var mu sync.Mutex
	acked := map[string]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; ; b++ {
				select {
				case <-stop:
					return
				default:
				}
				var lines []string
				var ids []string
				at := time.Now().In(loc).Add(-time.Minute)
				for k := 0; k < 25; k++ {
					cid := fmt.Sprintf("W%d-%d-%d", w, b, k)
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
				req, _ := http.NewRequest("POST", base+"/api/v1/events", strings.NewReader(strings.Join(lines, "\n")))
				req.Header.Set("Authorization", "Bearer "+testKey)
				req.Header.Set("Content-Type", "application/x-ndjson")
				resp, err := client.Do(req)
				if err != nil {
					return // the server is gone
				}
				var rep ingest.Reply
				err = json.NewDecoder(resp.Body).Decode(&rep)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || rep.Accepted != len(ids) {
					continue
				}
				mu.Lock()
				for _, id := range ids {
					acked[id] = true
				}
				mu.Unlock()
			}
		}()
	}
	// Let the ingest run, then kill -9 mid-stream.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 3000 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	close(stop)
	wg.Wait()
	if len(acked) < 500 {
		t.Fatalf("only %d events acknowledged before the kill", len(acked))
	}
	t.Logf("%d events acknowledged before kill -9", len(acked))

	// Restart on the same data directory.
	a := startApp(t, dir)
	defer a.Shutdown(context.Background())
	// The intake log's tail is applied and stored after the restart: wait until every
	// acknowledged event is in the store, then until the count has been stable for longer than
	// the store's write interval (events accepted but not acknowledged are stored too).
	countIDs := func() map[string]int {
		seen := map[string]int{}
		if err := a.Store.EventIDs(context.Background(), func(id string) error { seen[id]++; return nil }); err != nil {
			t.Fatal(err)
		}
		return seen
	}
	var seen map[string]int
	for deadline := time.Now().Add(15 * time.Second); ; {
		seen = countIDs()
		missing := 0
		for id := range acked {
			if seen[id] == 0 {
				missing++
			}
		}
		if missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledged events not stored 15 s after restart", missing)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for n, since := len(seen), time.Now(); time.Since(since) < 2500*time.Millisecond; time.Sleep(100 * time.Millisecond) {
		if seen = countIDs(); len(seen) != n {
			n, since = len(seen), time.Now()
		}
	}
	for id := range acked {
		if seen[id] != 1 {
			t.Fatalf("acknowledged event %s stored %d times", id, seen[id])
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("event %s stored %d times", id, n)
		}
	}

	// Recount from the store, independently of the aggregator.
	if msg := recount(t, a, 1); msg != "" {
		t.Fatal("after restart: " + msg)
	}
	t.Logf("after restart: %d stored, overview totals %v match the recount", len(seen), snapshotData(t, a.Addr, "overview:root")["totals"])
}

// startChild runs the test binary's helper test name as a server process on dir and returns it
// with its address and the rest of its standard output, line by line.
func startChild(t *testing.T, name, envVar, dir string) (*exec.Cmd, string, <-chan string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+name+"$")
	cmd.Env = append(os.Environ(), envVar+"="+dir)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := testsvc.Start(t, cmd); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	addr := ""
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			addr = a
			break
		}
	}
	if addr == "" {
		t.Fatal("child did not start")
	}
	lines := make(chan string, 64)
	go func() {
		defer close(lines)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody is listening for more
			}
		}
	}()
	return cmd, addr, lines
}
