package app

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	json "github.com/goccy/go-json"

	"zhili/event"
	"zhili/ingest"
	"zhili/roster"
)

// demoDutyEvery is how often the demo's grid staff change duty (a few check in or out).
const demoDutyEvery = 30 * time.Second

// demoDutyLine is one staff.duty record of the demo.
func demoDutyLine(g roster.GridStaff, on bool, at time.Time) []byte {
	st := event.DutyOff
	if on {
		st = event.DutyOn
	}
	b, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("duty-%s-%d", g.ID, at.Unix()), "type": event.StaffDuty,
		"at": at.Format(time.RFC3339), "duty": event.Duty{Staff: g.ID, Grid: g.Grid, State: st}})
	return b
}

// demoDutyStart is the demo's duty check-ins at start: most grid staff in office today are on
// duty since the start of the working day (or the last hour, before it), the others off; some
// grids are left with nobody on duty, as on a real day.
func demoDutyStart(ro *roster.Roster, now time.Time, seed uint64) [][]byte {
	day := now.Format("2006-01-02")
	y, m, d := now.Date()
	at := time.Date(y, m, d, 8, 0, 0, 0, now.Location())
	if at.After(now) {
		at = now.Add(-time.Hour).Truncate(time.Minute)
	}
	var out [][]byte
	for _, g := range ro.GridStaff {
		if !g.At(day) {
			continue
		}
		on := (hashString(g.ID)^seed)%10 < 8
		out = append(out, demoDutyLine(g, on, at.Add(time.Duration(hashString(g.ID)%1800)*time.Second)))
	}
	return out
}

// sendDemoDuty sends lines through the door in batches.
func (a *App) sendDemoDuty(ctx context.Context, lines [][]byte) {
	for i := 0; i < len(lines); i += a.demoBatch() {
		body := bytes.Join(lines[i:min(i+a.demoBatch(), len(lines))], []byte("\n"))
		rep, err := a.Door.Ingest(ctx, ingest.ContentNDJSON, body, nil)
		if err != nil {
			if ctx.Err() == nil {
				a.cfg.Logger.Warn("demo duty: lines not accepted", "err", err)
			}
			return
		}
		if len(rep.Rejected) > 0 {
			r := rep.Rejected[0]
			a.cfg.Logger.Warn("demo duty: lines refused", "count", len(rep.Rejected), "first", fmt.Sprintf("line %d %s: %s", r.Line, r.ID, r.Error))
		}
	}
}

// runDemoDuty sends the demo's duty check-ins, then every demoDutyEvery a few check-ins and
// check-outs, until ctx is done: staffing on the wall is live from the start.
func (a *App) runDemoDuty(ctx context.Context) {
	seed := a.cfg.DemoSeed
	if seed == 0 {
		seed = 1
	}
	now := a.cfg.Clock.Now().In(a.cfg.Loc)
	a.sendDemoDuty(ctx, demoDutyStart(a.Roster.Load(), now, seed))
	rng := rand.New(rand.NewPCG(seed, uint64(now.Unix())))
	tick := time.NewTicker(demoDutyEvery)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now := a.cfg.Clock.Now().In(a.cfg.Loc)
		day := now.Format("2006-01-02")
		staff := a.Roster.Load().GridStaff
		if len(staff) == 0 {
			continue
		}
		var lines [][]byte
		for range max(1, len(staff)/400) {
			g := staff[rng.IntN(len(staff))]
			if g.At(day) {
				lines = append(lines, demoDutyLine(g, rng.IntN(10) < 7, now))
			}
		}
		a.sendDemoDuty(ctx, lines)
	}
}
