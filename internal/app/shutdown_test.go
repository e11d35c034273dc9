package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fasthttp/websocket"

	"zhili/ingest"
	"zhili/server"
	"zhili/store"
)

// TestServerChildProcess is the server that TestSIGTERMDrains stops and TestKill9DuringIngest
// kills; it does nothing in a normal run.
func TestServerChildProcess(t *testing.T) {
	dir := os.Getenv("ZHILI_CHILD_DIR")
	if dir == "" {
		t.Skip("helper process for TestSIGTERMDrains and TestKill9DuringIngest")
	}
	a, err := New(Config{Listen: "127.0.0.1:0", DataDir: dir, ShutdownTimeout: 5 * time.Second,
		IngestKeys: map[string]*ingest.Policy{testKey: {}}, ViewTokens: map[string]server.Viewer{testToken: {}}})
	if err != nil {
		os.Exit(1)
	}
	fmt.Println("ADDR", a.Addr)
	ctx, stop := signalContext()
	defer stop()
	if err := a.Run(ctx); err != nil {
		fmt.Println("ERR", err)
		os.Exit(1)
	}
	fmt.Println("CLEAN")
	os.Exit(0)
}

// SIGTERM during a sustained ingest: the process exits within its bound, every acknowledged
// event is in the history store, and WebSocket clients are closed rather than left hanging.
func TestSIGTERMDrains(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd, addr, lines := startChild(t, "TestServerChildProcess", "ZHILI_CHILD_DIR", dir)
	// Wait for readiness, then hold a WebSocket open.
	for i := 0; ; i++ {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil && resp.StatusCode == 200 {
			resp.Body.Close()
			break
		}
		if i > 300 {
			t.Fatal("child not ready")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/ws?token="+testToken, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.WriteJSON(map[string]string{"op": "sub", "topic": "overview:root"})
	wsClosed := make(chan struct{})
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				close(wsClosed)
				return
			}
		}
	}()

	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := 0; ; b++ {
				select {
				case <-stop:
					return
				default:
				}
				var ls, ids []string
				at := time.Now().Add(-time.Minute).Format(time.RFC3339Nano)
				for k := 0; k < 20; k++ {
					id := fmt.Sprintf("s%d-%d-%d", w, b, k)
					ls = append(ls, fmt.Sprintf(`{"id":%q,"type":"case.reported","case_id":%q,"at":%q,"source":"grid","category":"safety","region":"411502002"}`, id, id, at))
					ids = append(ids, id)
				}
				req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/events", strings.NewReader(strings.Join(ls, "\n")))
				req.Header.Set("Authorization", "Bearer "+testKey)
				req.Header.Set("Content-Type", "application/x-ndjson")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					return
				}
				var rep ingest.Reply
				err = json.NewDecoder(resp.Body).Decode(&rep)
				resp.Body.Close()
				if err == nil && resp.StatusCode == 200 && rep.Accepted == len(ids) {
					mu.Lock()
					for _, id := range ids {
						acked[id] = true
					}
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	took := time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("child exited with %v", err)
	}
	clean := false
	for l := range lines {
		clean = clean || l == "CLEAN"
	}
	if !clean {
		t.Fatal("child did not report a clean shutdown")
	}
	if took > 5*time.Second {
		t.Fatalf("shutdown took %s, bound is 5s", took)
	}
	select {
	case <-wsClosed:
	case <-time.After(time.Second):
		t.Fatal("WebSocket not closed by shutdown")
	}
	if len(acked) < 100 {
		t.Fatalf("only %d events acknowledged", len(acked))
	}
	// Every acknowledged event is in the history store (not only in the intake log).
	st, err := store.OpenDuckDB(filepath.Join(dir, "history.duckdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored := map[string]bool{}
	_ = st.EventIDs(context.Background(), func(id string) error { stored[id] = true; return nil })
	for id := range acked {
		if !stored[id] {
			t.Fatalf("acknowledged event %s not in the history store after a graceful shutdown", id)
		}
	}
	t.Logf("SIGTERM: exited cleanly in %s; %d acknowledged events all stored", took.Round(time.Millisecond), len(acked))
}
