package e2e

import (
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A wall's playlist rotates through the screens, keeping its parameters, and does not leave the
// current screen while the server is away.
func TestPlaylist(t *testing.T) {
	t.Parallel()
	browserPrereqs(t)
	srv := startServer(t)
	base, _ := url.Parse(srv.base)
	guard := &hostGuard{host: base.Hostname()}
	ctx := newBrowser(t, guard)
	q := "?token=" + url.QueryEscape(viewToken) + "&kiosk=1&playlist=overview,hotspots&interval=10"
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.base+"/"+q)); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(ctx, `document.body.dataset.ready === "1"`, 30*time.Second); err != nil {
		t.Fatalf("overview not ready: %v", err)
	}
	// After 10 s the hotspot screen, with the same parameters.
	if err := waitFor(ctx, `location.pathname === "/screen/hotspots" && location.search.includes("kiosk=1") && location.search.includes("playlist=") && !!document.body && document.body.dataset.ready === "1"`, 30*time.Second); err != nil {
		t.Fatalf("no rotation to the hotspot screen: %v", err)
	}
	// Then back to the overview.
	if err := waitFor(ctx, `location.pathname === "/" && !!document.body && document.body.dataset.ready === "1"`, 30*time.Second); err != nil {
		t.Fatalf("no rotation back to the overview: %v", err)
	}
	// The server goes away: past the interval the wall still shows its screen (not an error page).
	_ = srv.cmd.Process.Kill()
	_ = srv.cmd.Wait()
	time.Sleep(13 * time.Second)
	ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`location.pathname === "/" && !!document.getElementById("stale-banner")`))
	if err != nil || !ok {
		t.Fatalf("while the server is away the wall left its screen (%v)", err)
	}
	guard.verify(t)
}
