package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"zhili/alerts"
	"zhili/dashboard"
	"zhili/scan"
)

// openAlerts wires decision support into a server process: the forecasts, the alert rules (a
// watched file, else the built-in ones), the engine over its append-only log in the data
// directory, the webhooks with their dead letters, the alerting over the read model and its
// alerts:<region> topic.
func (a *App) openAlerts() error {
	cfg := &a.cfg
	a.Forecasts = &dashboard.Forecasts{St: a.Store, Tree: cfg.Tree, Cal: cfg.Calendar, Clk: cfg.Clock,
		Categories:   func() []string { return a.Catalog.Load().TopCategories() },
		CategoryName: func(code string) (string, string) { return a.names("category", code) }}
	if cfg.AlertsOff {
		return nil
	}
	check := func(rs *alerts.RuleSet) []alerts.Problem {
		return rs.Check(func(code string) bool { return cfg.Tree.Get(code) != nil },
			func(code string) bool { return a.Catalog.Load().HasCategory(code) })
	}
	rules := alerts.DefaultRules()
	if cfg.AlertRules != "" {
		w, err := alerts.NewWatcher(cfg.AlertRules, alerts.WatchOptions{Clock: cfg.Clock, Check: check,
			OnChange: func(rs *alerts.RuleSet) {
				if a.alertEngine != nil {
					a.alertEngine.SetRules(rs)
					a.notifier.SetWebhooks(rs.Webhooks)
				}
			},
			OnError: func(err error) {
				cfg.Logger.Error("alert rules refused; the rules in force stay", "file", cfg.AlertRules, "err", err)
			}})
		if err != nil {
			return fmt.Errorf("alert rules: %w", err)
		}
		a.alertRules = w
		rules = w.Rules()
	} else if ps := check(rules); len(ps) > 0 {
		// A catalogue without the categories some built-in rules watch: those rules never
		// match; say so rather than refuse to start.
		cfg.Logger.Warn("built-in alert rules name codes this deployment does not know; those rules never match",
			"problems", alerts.Problems(ps).Error())
	}
	warn := func(msg string) { cfg.Logger.Warn("alerts: " + msg) }
	dl, err := alerts.OpenDeadLetters(filepath.Join(cfg.DataDir, "alerts.deadletters.jsonl"), warn)
	if err != nil {
		return err
	}
	a.notifier = alerts.NewNotifier(rules.Webhooks, alerts.NotifierOptions{Clock: cfg.Clock, Location: cfg.Loc, DeadLetters: dl,
		Logf: func(f string, args ...any) { cfg.Logger.Warn("alerts: " + fmt.Sprintf(f, args...)) }})
	lg, err := alerts.OpenFileLog(filepath.Join(cfg.DataDir, "alerts.jsonl"), warn)
	if err != nil {
		dl.Close()
		return err
	}
	a.alertLog = lg
	marks, err := alerts.OpenFileLog(filepath.Join(cfg.DataDir, "alerts.watch.jsonl"), warn)
	if err != nil {
		return err
	}
	a.alertMarks = marks
	var al *dashboard.Alerting
	eng, err := alerts.NewEngine(rules, alerts.Options{Clock: cfg.Clock, Location: cfg.Loc, Log: lg, Marks: marks,
		Heartbeat: max(alerts.DefaultHeartbeat, 2*cfg.AlertsEvery),
		Observe: func(c alerts.Change) {
			if al != nil {
				al.Changed(c)
			}
			a.notifier.Notify(c)
		}})
	if err != nil {
		return fmt.Errorf("alert log: %w", err)
	}
	a.alertEngine = eng
	ac := dashboard.AlertingConfig{M: a.Model, Hot: a.Hot, Engine: eng, Clocks: *cfg.Clocks, Cal: cfg.Calendar,
		Every: cfg.AlertsEvery, Log: cfg.Logger, Ready: a.Ready,
		Scan: scan.Config{Every: cfg.ScanEvery, Replicates: cfg.ScanReplicates, EarlyStop: 20, MaxRadiusM: 6000,
			AlarmDays: 100, Seed: cfg.DemoSeed},
		Names: a.names,
		Extra: []func(ctx context.Context, now time.Time) []alerts.Signal{func(ctx context.Context, now time.Time) []alerts.Signal {
			return a.Forecasts.Signals(ctx, now, eng.Rules().Windows(alerts.KindForecast))
		},
			// Repeat complaints at one place (once a minute) and emerging hot spots of the grids
			// over the last 7 days (every 10 minutes), from the history store.
			(&dashboard.RepeatSignals{St: a.Store, Tree: cfg.Tree, Clk: cfg.Clock, CategoryName: a.Forecasts.CategoryName,
				Rules: eng.Rules, Log: cfg.Logger}).Provide,
			(&dashboard.HotspotSignals{St: a.Store, Tree: cfg.Tree, Clk: cfg.Clock, Loc: cfg.Loc, Floors: a.Model.HotspotFloors(),
				Log: cfg.Logger, Rules: eng.Rules}).Signals,
		},
	}
	if a.alertRules != nil {
		ac.RulesStatus = a.alertRules.Status
	}
	al, err = dashboard.NewAlerting(ac)
	if err != nil {
		return err
	}
	a.Alerts = al
	a.Hub.Register("alerts", dashboard.AlertsSource{A: al})
	return nil
}

// names gives the catalogue's zh and en names of a department ("dept") or category for alert
// titles ("" when unknown: the code stands in).
func (a *App) names(kind, code string) (string, string) {
	c := a.Catalog.Load()
	switch kind {
	case "dept":
		if d, ok := c.Department(code); ok {
			return d.Zh, d.En
		}
	case "category":
		if x, ok := c.Category(code); ok {
			return x.Zh, x.En
		}
	}
	return "", ""
}

// ReloadAlertRules re-reads the alert rules file (SIGHUP); a file that does not parse is
// refused and the rules in force stay.
func (a *App) ReloadAlertRules() error {
	if a.alertRules == nil {
		return nil
	}
	return a.alertRules.Reload()
}

// startAlerts runs the alerting and the rules file's watcher.
func (a *App) startAlerts() {
	if a.Alerts == nil {
		return
	}
	a.goRun("alerts", func() error { return a.Alerts.Run(a.runCtx) })
	if a.alertRules != nil {
		a.goRun("alert rules", func() error {
			a.alertRules.Run(a.runCtx)
			return nil
		})
	}
}

// closeAlerts stops the webhooks (bounded by ctx) and closes the alert log.
func (a *App) closeAlerts(ctx context.Context) error {
	if a.notifier != nil {
		// Deliveries still retrying get two seconds; what is left goes to the dead letters.
		nctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		a.notifier.Close(nctx)
		cancel()
		if d := a.notifier.DeadLetters(); d != nil {
			_ = d.Close()
		}
	}
	var err error
	if a.alertMarks != nil {
		err = a.alertMarks.Close()
	}
	if a.alertLog != nil {
		err = errors.Join(a.alertLog.Close(), err)
	}
	return err
}
