package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"zhili/loadtest"
)

// runBench implements `zhili bench`: many WebSocket screens against a running server while
// events are posted at a fixed rate; prints latency, losses and the server's cost.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	baseURL := fs.String("url", "http://127.0.0.1:8080", "server base `URL`; several, comma-separated, spread the clients and posts over scaled-out servers")
	key := fs.String("key", "", "ingest API `key` (sent as Bearer on POST /api/v1/events)")
	token := fs.String("token", "", "viewer `token` for the WebSocket clients")
	clients := fs.Int("clients", 100, "WebSocket clients")
	topics := fs.String("topics", "cases:root", "comma-separated `topics` each client subscribes to")
	rate := fs.Float64("rate", 100, "events per second")
	dur := fs.Duration("duration", 30*time.Second, "measured period")
	warmup := fs.Duration("warmup", 5*time.Second, "events sent before measuring (0: none)")
	jsonOut := fs.String("json", "", "also write the report as JSON to `file` (- for stdout)")
	config := fs.String("config", "", "YAML config `file` (keys named as the flags)")
	soak := fs.Duration("soak", 0, "a soak of this `duration` (replaces --duration): reads the server's RSS, live heap and goroutines every --sample-every and fails unless RSS and goroutines stay flat (±10 % of their median after a sixth of the run, at most 5 min), the live heap's second half is within ±10 % of its first, and no delivery is lost")
	sampleEvery := fs.Duration("sample-every", 30*time.Second, "with --soak: how often to read the server's metrics")
	settle := fs.Duration("settle", 0, "with --soak: samples before this are not judged (0: a sixth of the run, at most 5 min)")
	closeAfter := fs.Duration("close-after", 0, "close every case reported this long after its report (0: never; a soak needs it, or the server's open cases grow for as long as it runs)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: zhili bench [flags]\n\nOpens WebSocket clients, posts case.reported events at a fixed rate and measures\nevent-to-screen latency, lost deliveries, resyncs, drops and the server's memory.\nEvery flag can also be set as ZHILI_<NAME> (e.g. ZHILI_CLIENTS).\n\n")
		fs.PrintDefaults()
	}
	if _, err := parseFlags(fs, args, config); err != nil {
		return err
	}
	var sampling time.Duration
	if *soak > 0 {
		*dur, sampling = *soak, max(*sampleEvery, time.Second)
	}
	if *clients <= 0 || *rate <= 0 || *dur <= 0 {
		return errors.New("bench: --clients, --rate and --duration must be positive")
	}
	var tl []string
	for _, t := range strings.Split(*topics, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tl = append(tl, t)
		}
	}
	endpoint := strings.TrimRight(*baseURL, "/")
	warm := *warmup
	if warm == 0 {
		warm = -1 // none
	}
	tree, from, err := loadTree(ctx, &http.Client{Timeout: 30 * time.Second}, endpoint, "", *token, *key)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "bench: events placed in regions from %s\n", from)
	rep, err := loadtest.Run(ctx, loadtest.Config{
		URL: endpoint, Key: *key, Token: *token, Clients: *clients, Topics: tl,
		Rate: *rate, Duration: *dur, Warmup: warm, Tree: tree, SampleEvery: sampling, Settle: *settle, CloseAfter: *closeAfter,
	}, stderr)
	rep.Table(stdout)
	if *jsonOut != "" {
		data, jerr := json.MarshalIndent(rep, "", "  ")
		if jerr != nil {
			return jerr
		}
		data = append(data, '\n')
		if *jsonOut == "-" {
			_, jerr = stdout.Write(data)
		} else {
			jerr = os.WriteFile(*jsonOut, data, 0o644)
		}
		if jerr != nil {
			return fmt.Errorf("bench: %w", jerr)
		}
	}
	if errors.Is(err, context.Canceled) {
		return nil // interrupted: the partial report is out
	}
	if err == nil && *soak > 0 {
		err = rep.SoakErr()
	}
	return err
}
