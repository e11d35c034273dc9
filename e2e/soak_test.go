package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"zhili/assets"
)

// heapPages are the live screens and the audit page (it refreshes live on a period that
// includes now), as present in the front-end build.
func heapPages() []string {
	pages := []string{"/", "/screen/hotspots"}
	for _, name := range []string{"whistles"} {
		if _, err := fs.Stat(assets.Files(), name+".html"); err == nil {
			pages = append(pages, "/screen/"+name)
		}
	}
	return append(pages, "/audit")
}

// openHeapPages opens each page in a tab of ctx's browser context (the first in ctx itself)
// and waits until each is ready.
func openHeapPages(t *testing.T, ctx context.Context, srv *server, pages []string) []context.Context {
	t.Helper()
	tabs := make([]context.Context, len(pages))
	for i, p := range pages {
		tctx := ctx
		if i > 0 {
			var cancel context.CancelFunc
			tctx, cancel = chromedp.NewContext(ctx)
			t.Cleanup(cancel)
		}
		u := srv.base + p
		if strings.Contains(u, "?") {
			u += "&"
		} else {
			u += "?"
		}
		// motion=on: the screens as a wall shows them by default, ripples and trails moving (the
		// package's browser asks for reduced motion).
		u += "token=" + url.QueryEscape(viewToken) + "&motion=on"
		if err := chromedp.Do(tctx, chromedp.EmulateViewport(1920, 1080), chromedp.Navigate(u)); err != nil {
			t.Fatalf("open %s: %v", p, err)
		}
		if err := waitFor(tctx, `document.body && document.body.dataset.ready === "1"`, 60*time.Second); err != nil {
			t.Fatalf("%s not ready: %v", p, err)
		}
		tabs[i] = tctx
	}
	return tabs
}

// heapAfterGC forces a garbage collection in the tab (CDP HeapProfiler.collectGarbage) and
// returns the JS heap's used size in bytes.
func heapAfterGC(t *testing.T, tctx context.Context) float64 {
	t.Helper()
	used, err := heapUsed(tctx)
	if err != nil {
		t.Fatalf("heap usage: %v", err)
	}
	return used
}

// heapUsed forces a garbage collection in the tab and returns the JS heap's used size in bytes.
func heapUsed(tctx context.Context) (float64, error) {
	return chromedp.Run(tctx, func(ctx context.Context, tg *chromedp.Target) (float64, error) {
		if err := tg.Call(ctx, "HeapProfiler.collectGarbage", nil, nil); err != nil {
			return 0, err
		}
		var res struct {
			UsedSize float64 `json:"usedSize"`
		}
		err := tg.Call(ctx, "Runtime.getHeapUsage", nil, &res)
		return res.UsedSize, err
	})
}

// TestHeapBounded is the suite's short form of the heap soak (TestHeapSoak, `make soak`): the
// overview, the page with the most live state, on a live demo feed, measured in frames
// received, not in time (the soak keeps every live page open for minutes; four pages under a
// feed would take the CPU from the tests running beside this one). The JS heap is read after a
// forced collection. Its level after the warm-up is the smallest of three readings a few
// frames apart; heapFrames frames later the heap must read under twice that level. One reading
// can catch a message being decoded or a chart being rebuilt (the overview shows transients of
// 10 to 20 MiB that last seconds), so the test reads up to six times, five frames apart, and
// fails only when every reading is over: a leak raises every reading.
func TestHeapBounded(t *testing.T) {
	t.Parallel()
	browserPrereqs(t)
	const (
		warmFrames = 60 // frames before the first level: the feed, flow lines and trend fill up
		heapFrames = 80 // frames between the two levels (the overview gets a few a second)
		factor     = 2.0
	)
	srv := startServer(t, "--demo-rate", "50")
	base, _ := url.Parse(srv.base)
	guard := &hostGuard{host: base.Hostname()}
	ctx := newBrowserFor(t, guard, 4*time.Minute)
	pages := []string{"/"}
	tabs := openHeapPages(t, ctx, srv, pages)

	type result struct {
		startFrames, endFrames int
		baseline               float64
		took                   time.Duration
		readings               []string
		ok, ready              bool
		err                    error
	}
	results := make([]result, len(tabs))
	var wg sync.WaitGroup
	for i, tc := range tabs {
		wg.Go(func() {
			r := &results[i]
			framesNow := func() (int, error) { return chromedp.Run(tc, chromedp.Evaluate[int](`window.__zhili.frames`)) }
			waitN := func(n int) error {
				if err := waitFor(tc, fmt.Sprintf(`window.__zhili.frames >= %d`, n), 2*time.Minute); err != nil {
					got, _ := framesNow()
					return fmt.Errorf("%d frames, want %d: %w", got, n, err)
				}
				return nil
			}
			heap := func() (float64, error) { return heapUsed(tc) }
			// wait for n more frames, then read the heap.
			readAfter := func(n int) (float64, error) {
				f, err := framesNow()
				if err == nil {
					err = waitN(f + n)
				}
				if err != nil {
					return 0, err
				}
				return heap()
			}
			if r.err = waitN(warmFrames); r.err != nil {
				return
			}
			for k := range 3 {
				v, err := readAfter(min(k, 1) * 3)
				if err != nil {
					r.err = err
					return
				}
				if k == 0 || v < r.baseline {
					r.baseline = v
				}
			}
			if r.startFrames, r.err = framesNow(); r.err != nil {
				return
			}
			t0 := time.Now()
			if r.err = waitN(r.startFrames + heapFrames); r.err != nil {
				return
			}
			for k := 0; k < 6 && !r.ok; k++ {
				v, err := readAfter(min(k, 1) * 5)
				if err != nil {
					r.err = err
					return
				}
				r.readings = append(r.readings, mib(v))
				r.ok = v <= factor*r.baseline
			}
			r.endFrames, r.err = framesNow()
			r.took = time.Since(t0)
			r.ready, _ = chromedp.Run(tc, chromedp.Evaluate[bool](`document.body.dataset.ready === "1"`))
		})
	}
	wg.Wait()
	for i, r := range results {
		if r.err != nil {
			t.Errorf("%s: %v", pages[i], r.err)
			continue
		}
		t.Logf("%s: JS heap after %d frames %s; %d frames (%v) later %s", pages[i], r.startFrames, mib(r.baseline),
			r.endFrames-r.startFrames, r.took.Round(time.Second), strings.Join(r.readings, " "))
		if !r.ok {
			t.Errorf("%s: JS heap grew from %s to more than %.0f× over %d frames: every reading is over (%s)",
				pages[i], mib(r.baseline), factor, heapFrames, strings.Join(r.readings, " "))
		}
		if !r.ready {
			t.Errorf("%s no longer ready after %d frames", pages[i], r.endFrames)
		}
	}
	guard.verify(t)
}

// TestHeapSoak keeps every live screen and the audit page open on a 200 events/s feed and checks
// that the JS heap (after a forced garbage collection) at the end is within 20 % of its level
// after the first minute: no memory growth over days. It runs only when ZHILI_SOAK is set to its
// duration (at least 90s): `make soak` runs it for 10 minutes (docs/PERFORMANCE.md, "Soak");
// `make test` runs TestHeapBounded instead.
func TestHeapSoak(t *testing.T) {
	v := os.Getenv("ZHILI_SOAK")
	if v == "" {
		t.Skip("the heap soak runs with ZHILI_SOAK=<duration> (make soak); TestHeapBounded is its short form")
	}
	dur, err := time.ParseDuration(v)
	if err != nil || dur < 90*time.Second {
		t.Fatalf("ZHILI_SOAK=%q: want a duration of at least 90s", v)
	}
	browserPrereqs(t)
	srv := startServer(t, "--demo-rate", "200")
	base, _ := url.Parse(srv.base)
	guard := &hostGuard{host: base.Hostname()}
	ctx := newBrowserFor(t, guard, dur+3*time.Minute)
	pages := heapPages()
	tabs := openHeapPages(t, ctx, srv, pages)

	// heap is the level of the heap: the smallest of readings over 20 s, each after a forced
	// collection. A reading can catch a message being decoded or a chart being rebuilt; the
	// overview has shown such transients of +10 to +20 MiB that last several seconds and are gone
	// 30 s later (no growth: the next samples are back at the level). A leak raises every reading.
	heap := func(tctx context.Context) float64 {
		best := 0.0
		for i := range 5 {
			if i > 0 {
				time.Sleep(5 * time.Second)
			}
			if v := heapAfterGC(t, tctx); i == 0 || v < best {
				best = v
			}
		}
		return best
	}
	start := time.Now()
	time.Sleep(time.Minute)
	baseline := make([]float64, len(tabs))
	samples := make([][]string, len(tabs))
	for i, tc := range tabs {
		baseline[i] = heap(tc)
		samples[i] = append(samples[i], mib(baseline[i]))
	}
	for time.Since(start) < dur {
		time.Sleep(min(30*time.Second, dur-time.Since(start)))
		for i, tc := range tabs {
			samples[i] = append(samples[i], mib(heap(tc)))
		}
	}
	for i, tc := range tabs {
		end := heap(tc)
		t.Logf("%s: JS heap after 1 min %s, after %s %s (%.0f %%); samples every 30 s: %s", pages[i], mib(baseline[i]),
			time.Since(start).Round(time.Second), mib(end), 100*end/baseline[i], strings.Join(samples[i], " "))
		if end > 1.2*baseline[i] {
			t.Errorf("%s: JS heap grew from %s to %s (> 20 %%)", pages[i], mib(baseline[i]), mib(end))
		}
		if err := waitFor(tc, `document.body.dataset.ready === "1"`, time.Second); err != nil {
			t.Errorf("%s no longer ready after the soak", pages[i])
		}
	}
	guard.verify(t)
}

func mib(b float64) string { return fmt.Sprintf("%.1fMiB", b/(1<<20)) }
