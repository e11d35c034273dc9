package server

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"

	"zhili/access"
	"zhili/dashboard"
	"zhili/errs"
	"zhili/evaluation"
	"zhili/event"
	"zhili/store"
)

// The evaluation routes (docs/EVALUATION.md): 三评两比一综合 of cadres and units. Cadres are
// named (personal data): the routes admit evaluator and admin, hold a principal to its tenant
// (the peer groups are the tenant's) and its regions (subjects outside them are not shown), and
// every reply is recorded in the access log.

// evalRoutes are the handlers of the evaluation routes, by method and path.
func (s *Server) evalRoutes() map[string]fiber.Handler {
	return map[string]fiber.Handler{
		"GET /api/v1/evaluation/portraits": s.evalPortrait,
		"GET /api/v1/evaluation/rankings":  s.evalRankings,
	}
}

// MaxTrendPeriods bounds trend= of a portrait (each period is an audit of its cases).
const MaxTrendPeriods = 12

// evalFiguresTTL is how long the unit figures of a period that has ended are reused between
// requests (late events reach them after at most this long).
const evalFiguresTTL = 2 * time.Minute

// evalRunningTTL is how long the unit figures of a running period are reused: a page that
// asks for the rankings and then a portrait of each of their subjects (one burst) reads the
// period's audits once, not once per subject (each read scans every case of the period); a
// correction shows within it.
const evalRunningTTL = 3 * time.Second

// evalCache keeps the units' figures of recent periods (the audits behind 实绩 scan every case
// of a period).
type evalCache struct {
	mu sync.Mutex
	m  map[string]evalEntry
}

type evalEntry struct {
	at   time.Time
	dept map[string]evaluation.UnitData
	reg  map[string]evaluation.UnitData
}

// evalSurvCache keeps the survey records in force: reading them scans every survey record of
// the history (171,565 in the demo: about 0.9 s), which every evaluation request and a page's
// burst of portraits would otherwise repeat. A store that tells its surveys' version
// (store.SurveysVersioned: the embedded one, ClickHouse on a single server) keeps them until a
// survey record is written; another store for evalRunningTTL. Loads are serialised, so a
// burst loads once.
type evalSurvCache struct {
	mu   sync.Mutex
	at   time.Time
	ver  uint64        // the surveys' version they were read at (versioned stores)
	live []event.Event // read-only once stored
}

// evalSurveys returns the survey records in force (event.Live): as of the store's surveys'
// version, or at most evalRunningTTL old.
func (s *Server) evalSurveys(ctx context.Context) ([]event.Event, error) {
	c := &s.evalSurv
	c.mu.Lock()
	defer c.mu.Unlock()
	sv, versioned := s.d.Store.(store.SurveysVersioned)
	var ver uint64
	if versioned {
		var err error // before the read: what it keeps is at least as new
		if ver, err = sv.SurveysVersion(ctx); err != nil {
			versioned = false // cannot tell (a cluster), or the store is down: as unversioned
		}
	}
	if c.live != nil && (versioned && c.ver == ver || !versioned && time.Since(c.at) < evalRunningTTL) {
		return c.live, nil
	}
	recs := []event.Event{}
	if err := s.d.Store.Surveys(ctx, func(r store.Record) error {
		recs = append(recs, r.Event)
		return nil
	}); err != nil {
		return nil, err
	}
	c.live, c.at, c.ver = event.Live(recs), time.Now(), ver
	if c.live == nil {
		c.live = []event.Event{}
	}
	return c.live, nil
}

func (s *Server) evalConfig() (evaluation.Config, error) {
	c, err := s.cfg.Evaluation.Resolved()
	if err != nil {
		return c, errs.E(errs.Unavailable, "evaluation_config", "%v", err)
	}
	return c, nil
}

// evalParams reads period= (required) and the configuration.
func (s *Server) evalParams(c *fiber.Ctx) (evaluation.Config, evaluation.Period, error) {
	cfg, err := s.evalConfig()
	if err != nil {
		return cfg, evaluation.Period{}, err
	}
	v := c.Query("period")
	if v == "" {
		return cfg, evaluation.Period{}, errs.E(errs.Invalid, "period", "period is required (2026-Q3 or 2026-11)")
	}
	p, err := evaluation.ParsePeriod(v)
	return cfg, p, err
}

// evalSees is whether p may see a subject: its region (a unit of no region: the root's) in p's
// tenant and regions.
func (s *Server) evalSees(p *access.Principal, sc *evaluation.Score) bool {
	reg := cmp.Or(sc.Region, s.d.Tree.Root.Code)
	return s.inTenant(p, reg) && s.allows(p, reg)
}

// evalLoad returns what a period's evaluation reads for the peer group that group selects
// within p's tenant: the survey records in force, the roster, and the units' figures the
// group needs.
func (s *Server) evalLoad(ctx context.Context, p *access.Principal, cfg evaluation.Config, group func(*evaluation.Score) bool) (func(evaluation.Period) (evaluation.Input, error), error) {
	live, err := s.evalSurveys(ctx)
	if err != nil {
		return nil, err
	}
	ro := s.rosterNow()
	keep := func(sc *evaluation.Score) bool {
		return s.inTenant(p, cmp.Or(sc.Region, s.d.Tree.Root.Code)) && group(sc)
	}
	// The request's periods read each period's cases once (a period's figures by department
	// and by region, and its successor's previous period, come from the same facts), and so do
	// the requests after it while the store's data stay as they were (the audits' cache).
	memo := s.facts.Memo(ctx, s.d.Store, s.d.Tree)
	if memo == nil {
		memo = dashboard.NewFactMemo()
	}
	return func(pp evaluation.Period) (evaluation.Input, error) {
		in := evaluation.Input{Period: pp, Roster: ro, Surveys: live, Keep: keep}
		// Which figures the group needs: departments' by code, the others' by region level.
		bare := evaluation.Evaluate(cfg, evaluation.Input{Period: pp, Roster: ro, Keep: keep})
		dept, levels := false, map[int]bool{}
		for _, sc := range bare.Subjects {
			if sc.Dept != "" {
				dept = true
			} else if r := s.d.Tree.Get(sc.Region); r != nil {
				levels[r.Level] = true
			}
		}
		data, err := s.evalFigures(ctx, pp, dept, levels, memo)
		if err != nil {
			return in, err
		}
		in.Data = data
		return in, nil
	}, nil
}

// evalFigures returns the units' figures of a period from the audits: by department (with the
// whistle audit) when dept, and by region at each of levels; memo (may be nil) shares the
// cases read between them.
func (s *Server) evalFigures(ctx context.Context, pp evaluation.Period, dept bool, levels map[int]bool, memo *dashboard.FactMemo) (*evaluation.PeriodData, error) {
	out := &evaluation.PeriodData{ByDept: map[string]evaluation.UnitData{}, ByRegion: map[string]evaluation.UnitData{}}
	from, to := pp.Bounds(s.cfg.Loc)
	now := s.now().In(s.cfg.Loc)
	if !from.Before(now) {
		return out, nil // a period not begun has no figures
	}
	get := func(key string, fill func(*evalEntry) error) (evalEntry, error) {
		ttl := evalFiguresTTL
		if now.Before(to) {
			ttl = evalRunningTTL // a running period's figures change with every case
		}
		s.eval.mu.Lock()
		e, ok := s.eval.m[key]
		s.eval.mu.Unlock()
		if ok && time.Since(e.at) < ttl {
			return e, nil
		}
		e = evalEntry{at: time.Now(), dept: map[string]evaluation.UnitData{}, reg: map[string]evaluation.UnitData{}}
		if err := fill(&e); err != nil {
			return e, err
		}
		s.eval.mu.Lock()
		if s.eval.m == nil || len(s.eval.m) > 64 {
			s.eval.m = map[string]evalEntry{}
		}
		s.eval.m[key] = e
		s.eval.mu.Unlock()
		return e, nil
	}
	q := dashboard.AuditQuery{From: from, To: to, Now: now, Previous: dashboard.PreviousFinal, Memo: memo}
	if dept {
		e, err := get(pp.Name+"/dept", func(e *evalEntry) error {
			q := q
			q.By = "dept"
			rep, err := dashboard.Rates(ctx, s.d.Store, s.d.Tree, q)
			if err != nil {
				return err
			}
			for _, u := range rep.Units {
				e.dept[u.Unit] = unitData(u.Current)
			}
			wr, err := dashboard.Whistles(ctx, s.d.Store, s.d.Tree, q, s.d.Clocks, s.d.Calendar, now)
			if err != nil {
				return err
			}
			for _, w := range wr.Depts {
				d := e.dept[w.Dept]
				d.WhistleOnTime = evaluation.Rate{Num: w.OnTime.Num, Den: w.OnTime.Den}
				e.dept[w.Dept] = d
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		out.ByDept = e.dept
	}
	if levels[0] {
		// The root's figures are the sum of its children's rows and the unlocated row.
		delete(levels, 0)
		levels[1] = true
	}
	for lvl := range levels {
		e, err := get(pp.Name+"/region/"+strconv.Itoa(lvl), func(e *evalEntry) error {
			q := q
			q.By, q.Level = "region", lvl
			rep, err := dashboard.Rates(ctx, s.d.Store, s.d.Tree, q)
			if err != nil {
				return err
			}
			var all evaluation.UnitData
			for _, u := range rep.Units {
				d := unitData(u.Current)
				all = all.Plus(d)
				if !u.Unlocated {
					e.reg[u.Unit] = d
				}
			}
			if lvl == 1 {
				e.reg[s.d.Tree.Root.Code] = all
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		for k, v := range e.reg {
			out.ByRegion[k] = v
		}
	}
	out.Cover = evalCover(dashboard.PeriodHistory(ctx, s.d.Store, s.cfg.Loc, from, to, time.Time{}), pp.Name)
	return out, nil
}

// evalCover says what a period's start before the history of cases means for 实绩 (nil: the
// history covers the period, or the store cannot tell).
func evalCover(h *dashboard.History, period string) *evaluation.Cover {
	if h == nil || h.Missing == nil {
		return nil
	}
	m, day := h.Missing, h.Begins.Format(time.DateOnly)
	c := &evaluation.Cover{Begins: h.Begins, MissingDays: m.Days, All: m.All}
	if m.All {
		c.Note = map[string]string{
			"zh": fmt.Sprintf("%s 在历史数据起点（%s，库中最早的工单）之前：库中没有这一期的工单，实绩无从计算。", period, day),
			"en": fmt.Sprintf("%s lies before the history begins (%s, the earliest stored case): the store holds none of its cases, and 实绩 cannot be measured.", period, day)}
		return c
	}
	c.Note = map[string]string{
		"zh": fmt.Sprintf("历史数据始于 %s（库中最早的工单）：%s 的前 %s 天库中没有工单，实绩只反映其后的工单。", day, period, dashboard.DaysText(m.Days)),
		"en": fmt.Sprintf("The history begins on %s (the earliest stored case): the store holds no case of the first %s days of %s; 实绩 stands for the later cases only.", day, dashboard.DaysText(m.Days), period)}
	return c
}

func unitData(f dashboard.UnitFigures) evaluation.UnitData {
	r := func(x dashboard.RateFigure) evaluation.Rate { return evaluation.Rate{Num: x.Num, Den: x.Den} }
	return evaluation.UnitData{Response: r(f.Response), Resolution: r(f.Resolution), Satisfaction: r(f.Satisfaction),
		OnTime: r(f.OnTime), Cases: f.Cases, Closed: f.Closed, Repeats: f.Repeats, Reopened: f.ClosedThenReopened,
		Unsatisfied: f.ClosedUnsatisfied}
}

// evalPortrait answers GET /api/v1/evaluation/portraits?subject=&period=&trend=: one cadre's (or
// unit's) evaluation of the period with every component and share, its standing among its
// peers (横向) and its trend over the last periods (纵向).
func (s *Server) evalPortrait(c *fiber.Ctx) error {
	p := principal(c)
	cfg, period, err := s.evalParams(c)
	if err != nil {
		return err
	}
	id := c.Query("subject")
	if id == "" {
		return errs.E(errs.Invalid, "subject", "subject is required (a cadre id or a unit code)")
	}
	bare := evaluation.Evaluate(cfg, evaluation.Input{Period: period, Roster: s.rosterNow()})
	sc := bare.Subjects[id]
	// Another tenant's subject answers as one that does not exist.
	if sc == nil || !s.inTenant(p, cmp.Or(sc.Region, s.d.Tree.Root.Code)) {
		return errs.E(errs.NotFound, "subject", "no cadre or unit %q in the roster for %s", id, period.Name)
	}
	if !s.evalSees(p, sc) {
		return errs.E(errs.Forbidden, "subject", "token may not see %s", id)
	}
	if v := c.Query("trend"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxTrendPeriods {
			return errs.E(errs.Invalid, "trend", "trend must be a whole number of periods from 1 to %d", MaxTrendPeriods)
		}
		cfg.TrendPeriods = n
	}
	group := sc.PeerGroup
	load, err := s.evalLoad(c.UserContext(), p, cfg, func(o *evaluation.Score) bool { return o.PeerGroup == group })
	if err != nil {
		return err
	}
	win, err := evaluation.Window(cfg, period, load)
	if err != nil {
		return err
	}
	last := win[len(win)-1]
	if err := s.record(c, access.ActionPII, withoutToken(c)); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(fiber.Map{"period": period.Name, "subject": id, "evaluation": last.Subjects[id],
		"trend": evaluation.TrendOf(cfg, id, win), "peers": evaluation.PeersOf(cfg, group, last.Groups[group]),
		"dimensions": evaluation.DimensionsOf(cfg, last.Subjects[id]), "audit": s.evalAuditLink(sc, period),
		"data_cover": last.Cover, "config": cfg, "definitions": evaluation.Definitions})
}

// evalAudit is where a subject's 实绩 comes from, as the audit page's parameters (/audit,
// assets/web/audit.js): the period's days, by=dept and the department's code, or by=region with
// the region's parent and level and the region's code as the unit (the root: by region at
// level 1, no unit).
type evalAudit struct {
	From   string `json:"from"`
	To     string `json:"to"`
	By     string `json:"by"`
	Unit   string `json:"unit,omitempty"`
	Region string `json:"region,omitempty"`
	Level  int    `json:"level,omitempty"`
}

func (s *Server) evalAuditLink(sc *evaluation.Score, pp evaluation.Period) evalAudit {
	from, to := pp.Bounds(s.cfg.Loc)
	a := evalAudit{From: from.Format(time.DateOnly), To: to.Format(time.DateOnly), By: "dept"}
	if sc.Dept != "" {
		a.Unit = sc.Dept
		return a
	}
	a.By = "region"
	r := s.d.Tree.Get(cmp.Or(sc.Region, s.d.Tree.Root.Code))
	if r == nil || r.Level == 0 {
		a.Level = 1
		return a
	}
	a.Unit, a.Level = r.Code, r.Level
	if r.Parent != s.d.Tree.Root.Code {
		a.Region = r.Parent
	}
	return a
}

// evalRankings answers GET /api/v1/evaluation/rankings?post_type=&period=&format=: the 红黑榜 of one
// post type (or unit:<kind>, party:<level>) in the period; subjects outside the token's regions are left out
// of the lists, the ranks stay those among the tenant's peers. The reply also lists the tenant's
// peer groups of the period (groups); format=xlsx (or csv) exports the list.
func (s *Server) evalRankings(c *fiber.Ctx) error {
	p := principal(c)
	cfg, period, err := s.evalParams(c)
	if err != nil {
		return err
	}
	group := c.Query("post_type")
	if group == "" {
		return errs.E(errs.Invalid, "post_type", "post_type is required (a cadre post type, unit:<kind> or party:<level>)")
	}
	load, err := s.evalLoad(c.UserContext(), p, cfg, func(o *evaluation.Score) bool { return o.PeerGroup == group })
	if err != nil {
		return err
	}
	in, err := load(period)
	if err != nil {
		return err
	}
	last := evaluation.Evaluate(cfg, in)
	if len(last.Groups[group]) == 0 {
		return errs.E(errs.NotFound, "post_type", "no cadre or unit of %q in the roster for %s", group, period.Name)
	}
	rk := evaluation.Rank(cfg, period.Name, group, last.Groups[group], func(sc *evaluation.Score) bool { return s.evalSees(p, sc) })
	for _, list := range [][]evaluation.Entry{rk.Ranked, rk.Red, rk.Black, rk.Unranked} {
		for i := range list {
			if r := s.d.Tree.Get(list[i].Region); r != nil {
				list[i].RegionName = r.Name
			}
		}
	}
	if err := s.record(c, access.ActionPII, withoutToken(c)); err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	if f := c.Query("format", "json"); f != "json" {
		if f != "xlsx" && f != "csv" {
			return errs.E(errs.Invalid, "format", "format must be json, csv or xlsx, got %q", f)
		}
		t := rankingTable(cfg, rk)
		if last.Cover != nil {
			t.Notes = append(t.Notes, dashboard.HistoryNoteLine(last.Cover.Note))
		}
		return s.export(c, "evaluation-rankings", nil, t)
	}
	// The tenant's peer groups of the period (names nobody): what a page offers to choose from.
	all := evaluation.Evaluate(cfg, evaluation.Input{Period: period, Roster: s.rosterNow(), Keep: func(sc *evaluation.Score) bool {
		return s.inTenant(p, cmp.Or(sc.Region, s.d.Tree.Root.Code))
	}})
	return c.JSON(fiber.Map{"ranking": rk, "groups": evaluation.GroupsOf(all), "data_cover": last.Cover, "config": cfg, "definitions": evaluation.Definitions})
}

// rateAdjustNote says how 实绩's rates entered the composites of an export.
func rateAdjustNote(cfg evaluation.Config) string {
	if cfg.RateAdjust == evaluation.AdjustNone {
		return "实绩比率按实测值标准化（rate_adjust none） 实绩's rates normalised as measured"
	}
	return fmt.Sprintf("实绩比率先按样本校正：分母越小越向同岗位合计率靠拢（经验贝叶斯，rate_adjust peer），分母不足 %d 件不计 "+
		"实绩's rates adjusted for their samples toward the post type's pooled rate (empirical Bayes), none on fewer than %d cases",
		cfg.MinSample, cfg.MinSample)
}

// rankingTable is the 红黑榜 of a ranking for export: the ranked subjects by rank (with the
// list each is on), then the unranked with what they miss; ranks, composites and percentiles
// are numbers.
func rankingTable(cfg evaluation.Config, rk evaluation.Ranking) dashboard.Table {
	t := dashboard.Table{
		Title: "红黑榜 · " + rk.PeerGroup + " · " + rk.Period,
		Notes: []string{
			fmt.Sprintf("周期 period %s · 岗位类型 post type %s · 排名 %d 人 ranked · 未排名 %d 人 unranked · 榜单长度 list size %d",
				rk.Period, rk.PeerGroup, len(rk.Ranked), len(rk.Unranked), rk.ListSize),
			evaluation.Definitions["composite"],
			evaluation.Definitions["lists"],
			rateAdjustNote(cfg),
		},
		Headers: []string{"名次 rank", "榜单 list", "姓名 name", "编号 subject", "单位 unit", "单位代码 unit code", "区域 region",
			"区域名称 region name", "综合得分 composite", "百分位 percentile", "未排名原因 why unranked"},
		Kinds: []dashboard.ColKind{dashboard.ColInt, dashboard.ColText, dashboard.ColText, dashboard.ColText, dashboard.ColText,
			dashboard.ColText, dashboard.ColText, dashboard.ColText, dashboard.ColNum, dashboard.ColNum, dashboard.ColText},
	}
	if rk.Sample != evaluation.SampleOK {
		t.Notes = append(t.Notes, fmt.Sprintf("样本不足 insufficient sample: fewer than %d ranked subjects, no red or black list", cfg.MinPeers))
	}
	on := map[string]string{}
	for _, e := range rk.Red {
		on[e.Subject] = "红榜 red"
	}
	for _, e := range rk.Black {
		on[e.Subject] = "黑榜 black"
	}
	num := func(p *float64) (string, any) {
		if p == nil {
			return "", nil
		}
		return strconv.FormatFloat(*p, 'f', 2, 64), *p
	}
	add := func(e evaluation.Entry, why string) {
		text := make([]string, 0, 11)
		vals := make([]any, 0, 11)
		cell := func(s string, v any) { text, vals = append(text, s), append(vals, v) }
		if e.Rank != nil {
			cell(strconv.Itoa(*e.Rank), int64(*e.Rank))
		} else {
			cell("样本不足 / insufficient sample", nil)
		}
		cell(on[e.Subject], nil)
		cell(e.Name, nil)
		cell(e.Subject, nil)
		cell(e.UnitName, nil)
		cell(e.Unit, nil)
		cell(e.Region, nil)
		cell(e.RegionName, nil)
		cell(num(e.Composite))
		cell(num(e.Percentile))
		cell(why, nil)
		t.Rows, t.Values = append(t.Rows, text), append(t.Values, vals)
	}
	for _, e := range rk.Ranked {
		add(e, "")
	}
	names := map[string]string{"survey": "无测评分（评价人数不足）/ no survey score (too few raters)",
		"data": "无实绩（工单数或同类单位数不足）/ no 实绩 (too few cases or peers)"}
	for _, e := range rk.Unranked {
		var why []string
		for _, m := range e.Missing {
			why = append(why, cmp.Or(names[m], m))
		}
		if len(why) == 0 {
			why = append(why, "同类样本不足 / too few peers with a composite")
		}
		add(e, strings.Join(why, "；"))
	}
	return t
}
