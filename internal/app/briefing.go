package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"path/filepath"

	"zhili/access"
	"zhili/briefing"
	"zhili/dashboard"
	"zhili/server"
)

// briefings adapts the briefing service to the server's interface.
type briefings struct{ s *briefing.Service }

func (b briefings) List(ctx context.Context, region string, limit int) ([]server.BriefingInfo, error) {
	l, err := b.s.List(ctx, region, limit)
	out := make([]server.BriefingInfo, len(l))
	for i, x := range l {
		out[i] = server.BriefingInfo(x)
	}
	return out, err
}

func (b briefings) Get(ctx context.Context, region, period string) ([]byte, error) {
	return b.s.Get(ctx, region, period)
}

func (b briefings) PDF(ctx context.Context, region, period string) ([]byte, error) {
	return b.s.PDF(ctx, region, period)
}

// openBriefings builds the briefing service: briefings kept in <data>/briefings, printed to PDF
// by headless Chromium through this server's own page with a process-local leader token
// (without tenants; with tenants the printer would need a principal of each tenant, so PDFs
// are off and the page's print dialog remains).
func (a *App) openBriefings() error {
	cfg := &a.cfg
	b := &briefing.Builder{Store: a.Store, Tree: cfg.Tree, Cal: cfg.Calendar, Clocks: *cfg.Clocks, Forecasts: a.Forecasts,
		Alerts: a.alertEngine, Clock: cfg.Clock, Names: a.Catalog.Load,
		Floors: dashboard.HotspotFloors{MinEvents: cfg.HotspotMinEvents, GridMinLocal: cfg.GridMinLocal, ChildMinLocal: cfg.ChildMinLocal,
			MinSteps: cfg.EmergingMinSteps, NormalTails: cfg.HotspotNormalTails}}
	var pr *briefing.Printer
	if cfg.Access == nil || len(cfg.Access.Tenants()) == 0 {
		var buf [24]byte
		_, _ = rand.Read(buf[:])
		token := hex.EncodeToString(buf[:])
		if cfg.ViewTokens == nil {
			cfg.ViewTokens = map[string]server.Viewer{}
		}
		cfg.ViewTokens[token] = server.Viewer{Name: "briefing-pdf", Roles: access.Of(access.Leader)}
		pr = &briefing.Printer{BaseURL: func() string { return "http://" + loopback(a.Addr) }, Token: token}
	}
	s, err := briefing.NewService(briefing.Config{Builder: b, Dir: filepath.Join(cfg.DataDir, "briefings"), Printer: pr})
	if err != nil {
		return err
	}
	a.brief = s
	return nil
}

// startBriefings keeps yesterday's and last week's briefings, generated after 00:30.
func (a *App) startBriefings() {
	if a.brief == nil {
		return
	}
	a.goRun("briefings", func() error {
		return (&briefing.Scheduler{Service: a.brief, Clock: a.cfg.Clock, Logger: a.cfg.Logger, Ready: a.Ready}).Run(a.runCtx)
	})
}

// loopback is a bound address reachable from this host: a wildcard host becomes 127.0.0.1.
func loopback(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
