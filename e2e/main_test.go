package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"zhili/geo"
	"zhili/internal/testsvc"
)

// shared holds what the tests of the package share: one headless Chromium, in which every test
// opens tabs in a browser context of its own, and the 90-day demo servers. They are made on
// first use (a -short run or a run of the protocol test alone starts nothing) and removed by
// TestMain, with the zhili binary when the package built it (see startServer). The browser
// runs in a process group of its own and dies with the test binary (testsvc.SetProcAttr).
var shared struct {
	mu     sync.Mutex
	tmpDir string

	browserOnce   sync.Once
	browser       context.Context // the browser's first tab; tests open theirs beside it
	browserErr    error
	cancelBrowser context.CancelFunc
	browserCmd    *exec.Cmd

	demos map[string]*sharedServer // by history length; see sharedDemo
}

// xinyangTree parses the demo geography once for the package (a second under -race).
var xinyangTree = sync.OnceValues(geo.XinyangTree)

// xinyang returns the demo geography, for tests that place events in it; tests only read it.
func xinyang(t *testing.T) *geo.Tree {
	t.Helper()
	tree, err := xinyangTree()
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// packageSpan bounds how long the package runs in `make test` on a busy machine (about eight
// minutes on two cores).
const packageSpan = 12 * time.Minute

// TestMain runs the browser tests three at a time unless -parallel is given: they spend much
// of their time waiting for the page or the server (timers of 3 to 15 s, rotations,
// reconnects), not on the CPU. Four at a time on two CPUs starved pages of CPU time.
//
// A run that could cross the deployment's midnight waits for it first: the pages and the
// tests both reckon "today", "the last 30 days" and the feed's time of day in Asia/Shanghai,
// and a page drawn before the turn and checked after it disagrees with the test by a day.
func TestMain(m *testing.M) {
	flag.Parse()
	testsvc.DefaultParallel(3)
	if !testing.Short() {
		if left := untilDayTurn(time.Now()); left < packageSpan {
			fmt.Fprintf(os.Stderr, "e2e: the day turns in Asia/Shanghai in %v: waiting for it\n", left.Round(time.Second))
			time.Sleep(left)
		}
	}
	code := m.Run()
	closeShared()
	testsvc.StopShared() // the zhili binary, when the package built it
	os.Exit(code)
}

// sharedDir returns the package's temporary directory (binary, browser profile).
func sharedDir() (string, error) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.tmpDir == "" {
		d, err := os.MkdirTemp("", "zhili-e2e-")
		if err != nil {
			return "", err
		}
		shared.tmpDir = d
	}
	return shared.tmpDir, nil
}

// sharedBrowser returns the context of the shared browser, starting it on first use.
func sharedBrowser(t *testing.T) context.Context {
	t.Helper()
	chromium := findChromium(t)
	shared.browserOnce.Do(func() {
		dir, err := sharedDir()
		if err != nil {
			shared.browserErr = err
			return
		}
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
			chromedp.ExecPath(chromium),
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.Flag("disable-quic", true),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-component-update", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("disable-background-timer-throttling", true),
			chromedp.Flag("disable-renderer-backgrounding", true),
			chromedp.Flag("disable-backgrounding-occluded-windows", true),
			chromedp.Flag("disable-dev-shm-usage", true),
			chromedp.Flag("hide-scrollbars", true),
			chromedp.Flag("mute-audio", true),
			// Still screens (kit-frames.js) unless a test opens a page with motion=on: a ripple
			// or a flow trail repaints the whole screen in software every frame, which cost the
			// package more CPU than anything it checks.
			chromedp.Flag("force-prefers-reduced-motion", true),
			chromedp.UserDataDir(filepath.Join(dir, "chromium")),
			chromedp.WindowSize(1920, 1080),
			// A process group of its own and SIGKILL when the test binary dies (chromedp starts
			// the browser from a goroutine locked to its thread for the browser's life).
			chromedp.ModifyCmdFunc(func(cmd *exec.Cmd) {
				testsvc.SetProcAttr(cmd)
				shared.browserCmd = cmd
			}),
		)
		ctx, cancel := chromedp.NewContext(allocCtx)
		shared.cancelBrowser = func() { cancel(); cancelAlloc() }
		if err := chromedp.Do(ctx); err != nil {
			shared.browserErr = fmt.Errorf("start chromium (%s): %v", chromium, err)
			return
		}
		shared.browser = ctx
	})
	if shared.browserErr != nil {
		t.Fatal(shared.browserErr)
	}
	return shared.browser
}

// closeShared stops the browser (and every process of its group) and removes the package's
// temporary directory.
func closeShared() {
	if shared.cancelBrowser != nil {
		shared.cancelBrowser()
	}
	testsvc.KillGroup(shared.browserCmd)
	for _, d := range shared.demos {
		if d.srv != nil {
			testsvc.KillGroup(d.srv.cmd)
			_ = d.srv.cmd.Wait()
		}
	}
	if shared.tmpDir != "" {
		_ = os.RemoveAll(shared.tmpDir)
	}
}

// The wait before a run that could cross the deployment's midnight: from 23:58 in Shanghai
// (whatever zone the machine keeps) to 00:10, and none from 00:10 on.
func TestUntilDayTurn(t *testing.T) {
	cst := time.FixedZone("CST", 8*3600)
	for _, c := range []struct {
		at   time.Time
		want time.Duration
	}{
		{time.Date(2026, 12, 6, 23, 50, 0, 0, cst), 20 * time.Minute},
		{time.Date(2026, 12, 6, 15, 59, 30, 0, time.UTC), 10*time.Minute + 30*time.Second}, // 23:59:30 in Shanghai
		{time.Date(2026, 12, 7, 0, 0, 30, 0, cst), 9*time.Minute + 30*time.Second},
		{time.Date(2026, 12, 7, 0, 5, 0, 0, cst), 5 * time.Minute}, // a report backdated 5 min would fall on the day before
		{time.Date(2026, 12, 7, 0, 10, 0, 0, cst), 24 * time.Hour},
		{time.Date(2026, 12, 7, 2, 45, 0, 0, cst), 21*time.Hour + 25*time.Minute},
		{time.Date(2026, 12, 31, 23, 58, 0, 0, cst), 12 * time.Minute}, // the year turns too
	} {
		if got := untilDayTurn(c.at); got != c.want {
			t.Errorf("at %v: %v, want %v", c.at, got, c.want)
		}
	}
	if untilDayTurn(time.Date(2026, 12, 7, 2, 45, 0, 0, time.UTC)) < packageSpan {
		t.Error("a run at 10:45 in Shanghai would wait")
	}
}
