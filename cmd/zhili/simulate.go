package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"zhili/geo"
	"zhili/simulate"
)

// runSimulate implements `zhili simulate`: it posts a realistic event stream to a server's
// ingest API and prints what the server made of every line.
func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	baseURL := fs.String("url", "http://127.0.0.1:8080", "server base `URL`")
	key := fs.String("key", "", "ingest API `key` (sent as Bearer)")
	rate := fs.Float64("rate", simulate.DefaultRate, "events per second, overall")
	dur := fs.Duration("duration", 0, "how long to run (0: until interrupted)")
	seed := fs.Uint64("seed", 0, "random seed (0: from the clock)")
	speed := fs.Float64("speed", simulate.DefaultSpeed, "case lifecycle time compression (60: an hour's step takes a minute)")
	regions := fs.String("regions", "", "GeoJSON region `file` (default: the server's regions, else the built-in demo county)")
	config := fs.String("config", "", "YAML config `file` (keys named as the flags)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: zhili simulate [flags]\n\nPosts a realistic stream of case and whistle events to URL/api/v1/events.\nEvery flag can also be set as ZHILI_<NAME> (e.g. ZHILI_RATE).\n\n")
		fs.PrintDefaults()
	}
	if _, err := parseFlags(fs, args, config); err != nil {
		return err
	}
	if *rate <= 0 {
		return errors.New("simulate: --rate must be positive")
	}
	endpoint := strings.TrimRight(*baseURL, "/")
	client := &http.Client{Timeout: 30 * time.Second}
	tree, from, err := loadTree(ctx, client, endpoint, *regions, *key)
	if err != nil {
		return err
	}
	if *seed == 0 {
		*seed = uint64(time.Now().UnixNano())
	}
	g := simulate.NewGenerator(simulate.Config{Tree: tree, Seed: *seed, Rate: *rate, Speed: *speed})
	fmt.Fprintf(stderr, "simulate: %g events/s to %s, seed %d, speed %gx, regions from %s (%d)\n", *rate, endpoint, *seed, *speed, from, tree.Len())

	var sum ingestSummary
	start := time.Now()
	lastLog := start
	send := func(ctx context.Context, body []byte) error {
		lines := bytes.Count(body, []byte("\n"))
		err := sum.post(ctx, client, endpoint+"/api/v1/events", *key, body, lines)
		if errors.Is(err, errFatal) {
			return err
		}
		if err != nil && sum.errorCount() <= 5 {
			fmt.Fprintf(stderr, "simulate: %v\n", err)
		}
		if time.Since(lastLog) >= 10*time.Second {
			lastLog = time.Now()
			s := sum.snapshot()
			fmt.Fprintf(stderr, "simulate: %d sent, %d accepted, %d duplicates, %d rejected, %d HTTP errors\n", s.sent, s.accepted, s.duplicates, s.rejected, s.httpErrors)
		}
		return nil
	}
	runErr := g.Run(ctx, *dur, send)
	sum.print(stdout, g.Stats(), endpoint, time.Since(start))
	return runErr
}

var errFatal = errors.New("fatal")

// ingestSummary adds up the server's per-line results.
type ingestSummary struct {
	mu         sync.Mutex
	sent       int
	accepted   int
	duplicates int
	rejected   int
	byReason   map[string]int
	httpErrors int
	errByKind  map[string]int
}

func (s *ingestSummary) snapshot() ingestSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ingestSummary{sent: s.sent, accepted: s.accepted, duplicates: s.duplicates, rejected: s.rejected, httpErrors: s.httpErrors}
}

func (s *ingestSummary) errorCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.httpErrors
}

// post sends one NDJSON body. Authentication failures are fatal (errFatal); other failures are
// counted and returned for logging.
func (s *ingestSummary) post(ctx context.Context, client *http.Client, u, key string, body []byte, lines int) error {
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: %v", errFatal, err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := client.Do(req)
	var out []byte
	if err == nil {
		out, err = io.ReadAll(io.LimitReader(resp.Body, 16<<20))
		resp.Body.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent += lines
	fail := func(kind string, err error) error {
		s.httpErrors++
		if s.errByKind == nil {
			s.errByKind = map[string]int{}
		}
		s.errByKind[kind]++
		return err
	}
	if err != nil {
		return fail("network", fmt.Errorf("POST %s: %v", u, err))
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		fail(resp.Status, nil)
		return fmt.Errorf("%w: POST %s: %s: %s (check --key)", errFatal, u, resp.Status, oneLine(out))
	case resp.StatusCode != http.StatusOK:
		return fail(resp.Status, fmt.Errorf("POST %s: %s: %s", u, resp.Status, oneLine(out)))
	}
	var r struct {
		Accepted   int `json:"accepted"`
		Duplicates int `json:"duplicates"`
		Rejected   []struct {
			Error string `json:"error"`
		} `json:"rejected"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		return fail("unreadable response", fmt.Errorf("POST %s: unreadable response: %s", u, oneLine(out)))
	}
	s.accepted += r.Accepted
	s.duplicates += r.Duplicates
	s.rejected += len(r.Rejected)
	if s.byReason == nil {
		s.byReason = map[string]int{}
	}
	for _, rj := range r.Rejected {
		s.byReason[reasonKey(rj.Error)]++
	}
	return nil
}

// reasonKey groups rejection messages that differ only in numbers ("invalid JSON at byte 87").
func reasonKey(msg string) string {
	var b strings.Builder
	digits := false
	for _, r := range msg {
		if r >= '0' && r <= '9' {
			if !digits {
				b.WriteByte('N')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(r)
	}
	s := b.String()
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}

func oneLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func (s *ingestSummary) print(w io.Writer, st simulate.Stats, endpoint string, took time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rate := 0.0
	if took > 0 {
		rate = float64(s.sent) / took.Seconds()
	}
	fmt.Fprintf(tw, "simulate: %d lines sent to %s in %s (%.1f/s)\n", s.sent, endpoint, took.Round(time.Second), rate)
	fmt.Fprintf(tw, "  accepted\t%d\n", s.accepted)
	fmt.Fprintf(tw, "  duplicates\t%d\t(%d lines re-sent on purpose)\n", s.duplicates, st.Dups)
	fmt.Fprintf(tw, "  rejected\t%d\t(%d malformed on purpose)\n", s.rejected, st.Bad)
	for _, k := range sortedByCount(s.byReason) {
		fmt.Fprintf(tw, "    %s\t%d\n", k, s.byReason[k])
	}
	fmt.Fprintf(tw, "  HTTP errors\t%d\n", s.httpErrors)
	for _, k := range sortedByCount(s.errByKind) {
		fmt.Fprintf(tw, "    %s\t%d\n", k, s.errByKind[k])
	}
	if lost := s.sent - s.accepted - s.duplicates - s.rejected; lost > 0 && s.httpErrors > 0 {
		fmt.Fprintf(tw, "  not delivered\t%d\t(lines of failed requests)\n", lost)
	}
	fmt.Fprintf(tw, "  generated\t%d cases, %d whistles, %d late, %d warm-up backfill\n", st.Cases, st.Whistles, st.Late, st.Backfill)
	tw.Flush()
}

func sortedByCount(m map[string]int) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool {
		if m[ks[i]] != m[ks[j]] {
			return m[ks[i]] > m[ks[j]]
		}
		return ks[i] < ks[j]
	})
	return ks
}

// loadTree reads the regions from file, or else from the server (GET
// /api/v1/regions?root=root&depth=-1 with the first credential it accepts), or else returns
// the built-in demo county. It names where the tree came from.
func loadTree(ctx context.Context, client *http.Client, endpoint, file string, creds ...string) (*geo.Tree, string, error) {
	if file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, "", err
		}
		t, err := geo.ParseTree(data, geo.DefaultProps)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", file, err)
		}
		return t, file, nil
	}
	u := endpoint + "/api/v1/regions?root=root&depth=-1"
	var tries []string
	for _, c := range creds {
		if c != "" {
			tries = append(tries, c)
		}
	}
	if len(tries) == 0 {
		tries = []string{""}
	}
	why := ""
	for _, cred := range tries {
		t, err := fetchTree(ctx, client, u, cred)
		if err == nil {
			return t, "the server", nil
		}
		why = err.Error()
	}
	return geo.DemoTree(), "the built-in demo county (server regions: " + why + ")", nil
}

func fetchTree(ctx context.Context, client *http.Client, u, cred string) (*geo.Tree, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s", resp.Status)
	}
	return geo.ParseTree(data, geo.DefaultProps)
}
