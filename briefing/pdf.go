package briefing

import (
	"context"
	"errors"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"zhili/errs"
)

// Printer prints the briefing page to PDF with headless Chromium: it opens
// <base><Path>?period=…&region=…&print=1&lang=zh&token=… in a browser of its own, waits until
// the page marks <body data-ready="1"> (everything drawn), prints A4 and stops the browser. The
// browser dies with the request's context.
type Printer struct {
	// BaseURL is the server's own base URL (e.g. http://127.0.0.1:8080), asked at print time
	// since the server may bind a port after the printer is made.
	BaseURL func() string
	// Token is a secret that may read briefings, the regions and the catalogue (role leader).
	Token string
	// Path of the page (default /briefing).
	Path string
	// Chromium is the browser's path ("": the one Browser finds).
	Chromium string
	// Timeout bounds one print (default 90 s).
	Timeout time.Duration
}

// headlessShellBinary is where Debian's chromium-headless-shell package puts the browser.
const headlessShellBinary = "/usr/lib/chromium/chromium-headless-shell"

// browser returns the browser to run, or errs Unavailable.
func (p *Printer) browser() (string, error) {
	if p.Chromium != "" {
		if _, err := os.Stat(p.Chromium); err != nil {
			return "", errs.E(errs.Unavailable, "pdf", "the configured browser %s is not there: install chromium to print briefings to PDF", p.Chromium)
		}
		return p.Chromium, nil
	}
	return Browser()
}

// Browser returns the headless browser this machine has: Debian's chromium-headless-shell
// binary, else the first of chromium-headless-shell, chromium, chromium-browser, google-chrome
// and google-chrome-stable on PATH; errs Unavailable when there is none. The browser tests use
// it too.
func Browser() (string, error) {
	// Debian's /usr/bin/chromium-headless-shell is a shell script that runs the browser as its
	// child (no exec): a signal to the started process (a stop, a parent-death signal) would
	// reach the script only and leave the browser running, so the binary itself comes first.
	if _, err := os.Stat(headlessShellBinary); err == nil {
		return headlessShellBinary, nil
	}
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path, nil
		}
	}
	return "", errs.E(errs.Unavailable, "pdf", "no headless browser on this server: install chromium-headless-shell or chromium (and fonts-noto-cjk) to print briefings to PDF; the briefing itself is at /briefing")
}

// Print returns the PDF of the briefing of region and period.
func (p *Printer) Print(ctx context.Context, region, period string) ([]byte, error) {
	bin, err := p.browser()
	if err != nil {
		return nil, err
	}
	if p.BaseURL == nil || p.BaseURL() == "" {
		return nil, errs.E(errs.Unavailable, "pdf", "the server's own address is not known yet")
	}
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 90 * time.Second
	}
	path := p.Path
	if path == "" {
		path = "/briefing"
	}
	q := url.Values{"period": {period}, "region": {region}, "print": {"1"}, "lang": {"zh"}}
	if p.Token != "" {
		q.Set("token", p.Token)
	}
	pageURL := strings.TrimRight(p.BaseURL(), "/") + path + "?" + q.Encode()

	dir, err := os.MkdirTemp("", "zhili-pdf-")
	if err != nil {
		return nil, errs.Wrap(errs.Internal, "pdf", err, "cannot make the browser's profile directory")
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(dir),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true), chromedp.Flag("mute-audio", true),
		chromedp.WindowSize(1240, 1754))
	defer cancelAlloc() // stops the browser process
	bctx, cancelB := chromedp.NewContext(alloc)
	defer cancelB()
	if err := chromedp.Do(bctx, chromedp.Navigate(pageURL)); err != nil {
		return nil, p.fail(ctx, err, "cannot open the briefing page")
	}
	ready, err := chromedp.Run(bctx, chromedp.Poll[string](`document.body && ['1', 'error'].includes(document.body.dataset.ready) && document.body.dataset.ready`,
		chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		return nil, p.fail(ctx, err, "the briefing page did not finish drawing")
	}
	if ready != "1" {
		msg, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`(document.body.dataset.error || '')`))
		return nil, errs.E(errs.Internal, "pdf", "the briefing page reported an error: %s", msg)
	}
	t, f := true, false
	zero, margin := 0.0, 0.4
	pdf, err := chromedp.Run(bctx, chromedp.Action[[]byte](func(ctx context.Context, tg *chromedp.Target) ([]byte, error) {
		r, err := cdp.Call(ctx, tg, page.PrintToPDF, page.PrintToPDFParams{
			PrintBackground: &t, DisplayHeaderFooter: &f, PreferCSSPageSize: &t,
			PaperWidth: 8.27, PaperHeight: 11.69, MarginTop: &margin, MarginBottom: &margin, MarginLeft: &zero, MarginRight: &zero,
		})
		if err != nil {
			return nil, err
		}
		return r.Data, nil
	}))
	if err != nil {
		return nil, p.fail(ctx, err, "printing failed")
	}
	return pdf, nil
}

func (p *Printer) fail(ctx context.Context, err error, msg string) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errs.Wrap(errs.Unavailable, "pdf", err, msg+": the browser timed out")
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return errs.Wrap(errs.Unavailable, "pdf", err, msg)
}
