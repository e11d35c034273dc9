package store

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"zhili/errs"
	"zhili/event"
)

// Query planning. A period [From, To) is cut into segments, each answered by the coarsest
// source that gives exactly the raw answer:
//
//	raw [From, h1) · hourly [h1, d1) · daily [d1, d2) · hourly [d2, h2) · raw [h2, To)
//
// where h1, h2 are whole UTC hours and d1, d2 local midnights in the rollup's zone. Hourly
// rows serve a series only when every bucket boundary is a whole UTC hour (steps ≥ 1h in a
// zone with whole-hour offsets over the period); daily rows only when buckets are whole days
// of the rollup's zone. Queries with a cut of the log (UpTo, Cut) read raw events.

type chSource uint8

const (
	chRaw chSource = iota
	chHour
	chDay
)

type chSegment struct {
	src      chSource
	from, to time.Time
}

// chSegments cuts [from, to) for the allowed sources.
func (s *chShared) chSegments(from, to time.Time, hourOK, dayOK bool) []chSegment {
	if s.opt.NoRollups || s.dayZone == nil {
		dayOK = false
	}
	if s.opt.NoRollups {
		hourOK = false
	}
	var out []chSegment
	add := func(src chSource, a, b time.Time) {
		if a.Before(b) {
			out = append(out, chSegment{src, a, b})
		}
	}
	// edge covers [a, b) with hourly rows where possible, raw elsewhere.
	edge := func(a, b time.Time) {
		if !hourOK {
			add(chRaw, a, b)
			return
		}
		h1 := a.Truncate(time.Hour)
		if h1.Before(a) {
			h1 = h1.Add(time.Hour)
		}
		h2 := b.Truncate(time.Hour)
		if !h1.Before(h2) {
			add(chRaw, a, b)
			return
		}
		add(chRaw, a, h1)
		add(chHour, h1, h2)
		add(chRaw, h2, b)
	}
	if dayOK {
		loc := s.dayZone
		f := from.In(loc)
		d1 := time.Date(f.Year(), f.Month(), f.Day(), 0, 0, 0, 0, loc)
		if d1.Before(from) {
			d1 = time.Date(f.Year(), f.Month(), f.Day()+1, 0, 0, 0, 0, loc)
		}
		t := to.In(loc)
		d2 := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		if d1.Before(d2) {
			edge(from, d1)
			add(chDay, d1, d2)
			edge(d2, to)
			return out
		}
	}
	edge(from, to)
	return out
}

// chFilter is the common part of a query: types, category, and optionally the region.
type chFilter struct {
	types    []event.Type
	category string
}

func (f chFilter) sql() string {
	w := f.typesSQL()
	if f.category != "" {
		w += ` AND category = ` + chQuote(f.category)
	}
	return w
}

// typesSQL is the condition on the event types alone.
func (f chFilter) typesSQL() string {
	types := f.types
	if len(types) == 0 {
		types = []event.Type{event.CaseReported}
	}
	ts := make([]string, len(types))
	for i, t := range types {
		ts[i] = string(t)
	}
	return `type IN (` + chQuoteList(ts) + `)`
}

// chRawTime is the condition for at ∈ [from, to), to the nanosecond.
func chRawTime(from, to time.Time) string { return chTimeCond(`at`, `at_ns`, from, to) }

// chTimeCond is the condition for the time in columns atCol (DateTime, whole seconds) and nsCol
// (nanoseconds within the second) ∈ [from, to), to the nanosecond.
func chTimeCond(atCol, nsCol string, from, to time.Time) string {
	fs, fns := from.Unix(), from.Nanosecond()
	ts, tns := to.Unix(), to.Nanosecond()
	if ts < 0 || (ts == 0 && tns == 0) {
		return `0`
	}
	if fs < 0 {
		fs, fns = 0, 0
	}
	if fs > chMaxTime {
		return `0`
	}
	ts = min(ts, chMaxTime+1)
	w := atCol + ` >= toDateTime(` + strconv.FormatInt(fs, 10) + `) AND ` + atCol + ` <= toDateTime(` + strconv.FormatInt(min(ts, chMaxTime), 10) + `)`
	if fns > 0 {
		w += ` AND (` + atCol + ` > toDateTime(` + strconv.FormatInt(fs, 10) + `) OR ` + nsCol + ` >= ` + strconv.Itoa(fns) + `)`
	}
	if ts <= chMaxTime {
		if tns == 0 {
			w += ` AND ` + atCol + ` < toDateTime(` + strconv.FormatInt(ts, 10) + `)`
		} else {
			w += ` AND (` + atCol + ` < toDateTime(` + strconv.FormatInt(ts, 10) + `) OR ` + nsCol + ` < ` + strconv.Itoa(tns) + `)`
		}
	}
	return w
}

func chDate(t time.Time) string { return `toDate('` + t.Format("2006-01-02") + `')` }

// chSegmentSQL returns, for one segment, a SELECT of (kind UInt8, ts Int64, r String,
// n Int64) grouped by (ts, r): ts is the slot for raw rows (when slot > 0: intDiv(at - origin,
// slot) in seconds; else 0), the hour's Unix second for hourly rows, the day number for daily
// rows; r is the region at rollup level `level` (1-based path index), or ” when level is 0.
//
// region/anc select the events: region (with ancDepth < 0) keeps events whose path contains it;
// anc keeps events whose path has anc at index ancDepth+1.
type chShape struct {
	f          chFilter
	region     string // Series: events whose path contains region ("" = all)
	anc        string // region queries: the region at ancDepth
	ancDepth   int
	level      int // region queries: counted depth; -1 for none
	origin     int64
	slot       int64 // seconds; 0 = no time grouping
	raw        string
	rawOffsets string // extra raw condition (cuts of the log)
}

func (s *chShared) segmentSQL(seg chSegment, q *chShape) string {
	var b strings.Builder
	table, col, count, kind := `events`, `region_path`, `toInt64(count())`, `0`
	ts := `toInt64(0)`
	var cond string
	switch seg.src {
	case chRaw:
		if q.slot > 0 {
			ts = `intDiv(toInt64(toUInt32(at)) - ` + strconv.FormatInt(q.origin, 10) + `, ` + strconv.FormatInt(q.slot, 10) + `)`
		}
		cond = chRawTime(seg.from, seg.to)
		// Superseded events are left out (the rollups have them taken out at write time);
		// with a cut of the log, by the corrections within the cut only.
		and := ` AND ` + q.f.typesSQL()
		if q.rawOffsets != "" {
			cond += ` AND (` + q.rawOffsets + `)`
			and += ` AND (` + q.rawOffsets + `)`
		}
		cond += ` AND ` + chLive(and)
	case chHour:
		table, col, count, kind = `rollup_hour`, `path`, `sum(n)`, `1`
		if q.slot > 0 {
			ts = `toInt64(toUInt32(t))`
		}
		cond = `t >= toDateTime(` + strconv.FormatInt(seg.from.Unix(), 10) + `) AND t < toDateTime(` + strconv.FormatInt(seg.to.Unix(), 10) + `)`
	case chDay:
		table, col, count, kind = `rollup_day`, `path`, `sum(n)`, `2`
		if q.slot > 0 {
			ts = `toInt64(day)`
		}
		loc := s.dayZone
		cond = `day >= ` + chDate(seg.from.In(loc)) + ` AND day < ` + chDate(seg.to.In(loc))
	}
	r := `''`
	if q.level >= 0 {
		r = col + `[` + strconv.Itoa(q.level+1) + `]`
	}
	b.WriteString(`SELECT toUInt8(` + kind + `) AS kind, ` + ts + ` AS ts, ` + r + ` AS r, ` + count + ` AS n FROM ` + table + ` WHERE `)
	b.WriteString(cond + ` AND ` + q.f.sql())
	if q.region != "" {
		b.WriteString(` AND has(` + col + `, ` + chQuote(q.region) + `)`)
	}
	if q.level >= 0 {
		b.WriteString(` AND length(` + col + `) >= ` + strconv.Itoa(q.level+1))
		if q.anc != "" {
			b.WriteString(` AND ` + col + `[` + strconv.Itoa(q.ancDepth+1) + `] = ` + chQuote(q.anc))
		}
	}
	b.WriteString(` GROUP BY kind, ts, r`)
	return b.String()
}

type chRow struct {
	kind uint8
	ts   int64
	r    string
	n    int64
}

// run runs the segments' queries as one UNION ALL and calls fn with each nonzero row.
func (s *chShared) runSegments(ctx context.Context, segs []chSegment, q *chShape, what string, fn func(chRow)) error {
	if len(segs) == 0 {
		return nil
	}
	parts := make([]string, len(segs))
	for i, seg := range segs {
		parts[i] = s.segmentSQL(seg, q)
	}
	query := strings.Join(parts, "\nUNION ALL\n")
	if len(parts) > 1 {
		query = `SELECT kind, ts, r, sum(n) AS n FROM (` + query + `) GROUP BY kind, ts, r`
	}
	rows, err := s.conn.Query(ctx, query)
	if err != nil {
		return chUnavailable(err, "clickhouse: "+what)
	}
	defer rows.Close()
	for rows.Next() {
		var x chRow
		if err := rows.Scan(&x.kind, &x.ts, &x.r, &x.n); err != nil {
			return chUnavailable(err, "clickhouse: "+what)
		}
		if x.n != 0 {
			fn(x)
		}
	}
	if err := rows.Err(); err != nil {
		return chUnavailable(err, "clickhouse: "+what)
	}
	return nil
}

// slotOf maps a row to the plan's slot index.
func (s *chShared) slotOf(p *SeriesPlan, x chRow) int64 {
	slot := int64(p.Slot / time.Second)
	switch x.kind {
	case 0:
		return x.ts
	case 1:
		return floorDiv(x.ts-p.Origin.Unix(), slot)
	default:
		d := time.Unix(x.ts*86400, 0).UTC()
		mid := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, s.dayZone)
		return floorDiv(mid.Unix()-p.Origin.Unix(), slot)
	}
}

// seriesSources says which rollups can serve a series plan.
func (s *chShared) seriesSources(q SeriesQuery, p *SeriesPlan) (hourOK, dayOK bool) {
	loc := q.Loc
	if loc == nil {
		loc = time.UTC
	}
	if q.Step < time.Hour {
		return false, false
	}
	hourOK = p.Slot == time.Hour
	dayOK = q.Step%(24*time.Hour) == 0 && s.dayZone != nil && loc.String() == s.dayZone.String()
	return hourOK, dayOK
}

// Series counts events per time bucket; see SeriesQuery and PlanSeries.
func (v *chView) Series(ctx context.Context, q SeriesQuery) ([]Point, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	plan, err := PlanSeries(q)
	if err != nil {
		return nil, err
	}
	s := v.s
	hourOK, dayOK := s.seriesSources(q, plan)
	shape := &chShape{f: chFilter{q.Types, q.Category}, region: q.Region, level: -1,
		origin: plan.Origin.Unix(), slot: int64(plan.Slot / time.Second)}
	err = s.runSegments(ctx, s.chSegments(q.From, q.To, hourOK, dayOK), shape, "series", func(x chRow) {
		plan.Add(s.slotOf(plan, x), x.n)
	})
	if err != nil {
		return nil, err
	}
	return plan.Points(), nil
}

// regionShape validates a region query and returns its shape.
func (s *chShared) regionShape(q RegionQuery) (*chShape, bool, error) {
	if q.Depth < 0 {
		return nil, false, errs.E(errs.Invalid, "depth", "store: depth must be 0 or more, got %d", q.Depth)
	}
	level := q.Level
	if level <= q.Depth {
		level = q.Depth + 1
	}
	shape := &chShape{f: chFilter{q.Types, q.Category}, anc: q.Region, ancDepth: q.Depth, level: level}
	var cuts []string
	if q.UpTo > 0 {
		cuts = append(cuts, `intake_offset <= `+strconv.FormatUint(q.UpTo, 10))
	}
	if q.Cut != nil {
		ps := make([]int, 0, len(q.Cut))
		for p := range q.Cut {
			ps = append(ps, p)
		}
		sort.Ints(ps)
		var or []string
		for _, p := range ps {
			if p < 0 || p > 65535 {
				continue
			}
			or = append(or, `(part = `+strconv.Itoa(p)+` AND intake_offset <= `+strconv.FormatUint(q.Cut[p], 10)+`)`)
		}
		if len(or) == 0 {
			or = []string{`0`}
		}
		cuts = append(cuts, strings.Join(or, ` OR `))
	}
	shape.rawOffsets = strings.Join(cuts, ` AND `)
	return shape, len(cuts) == 0, nil
}

// RegionCounts counts events per child region of q.Region, or per descendant at q.Level, over
// every partition, ordered by region code.
func (v *chView) RegionCounts(ctx context.Context, q RegionQuery) ([]RegionCount, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	if err := checkPeriod(q.From, q.To); err != nil {
		return nil, err
	}
	s := v.s
	shape, rollOK, err := s.regionShape(q)
	if err != nil {
		return nil, err
	}
	counts := map[string]int64{}
	err = s.runSegments(ctx, s.chSegments(q.From, q.To, rollOK, rollOK), shape, "region counts", func(x chRow) {
		counts[x.r] += x.n
	})
	if err != nil {
		return nil, err
	}
	out := make([]RegionCount, 0, len(counts))
	for r, n := range counts {
		if n != 0 {
			out = append(out, RegionCount{Region: r, Count: n})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out, nil
}

// Cube counts events per region at the query's level × time bucket, over every partition.
func (v *chView) Cube(ctx context.Context, q CubeQuery) ([]CubeSeries, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	sq, probe, err := planCube(q)
	if err != nil {
		return nil, err
	}
	s := v.s
	shape, rollOK, err := s.regionShape(q.RegionQuery)
	if err != nil {
		return nil, err
	}
	hourOK, dayOK := s.seriesSources(sq, probe)
	shape.origin, shape.slot = probe.Origin.Unix(), int64(probe.Slot/time.Second)
	plans := map[string]*SeriesPlan{}
	err = s.runSegments(ctx, s.chSegments(q.From, q.To, hourOK && rollOK, dayOK && rollOK), shape, "cube", func(x chRow) {
		p := plans[x.r]
		if p == nil {
			p, _ = PlanSeries(sq)
			plans[x.r] = p
		}
		p.Add(s.slotOf(p, x), x.n)
	})
	if err != nil {
		return nil, err
	}
	out := []CubeSeries{}
	for r, p := range plans {
		pts := p.Points()
		var tot int64
		for _, pt := range pts {
			tot += pt.Count
		}
		if tot != 0 {
			out = append(out, CubeSeries{Region: r, Points: pts})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out, nil
}

// Points calls fn with each located event of q, over every partition (raw events: the
// rollups hold no points).
func (v *chView) Points(ctx context.Context, q PointQuery, fn func(LocatedEvent) error) error {
	if err := v.check(); err != nil {
		return err
	}
	if err := checkPeriod(q.From, q.To); err != nil {
		return err
	}
	shape, _, err := v.s.regionShape(q)
	if err != nil {
		return err
	}
	cond := chRawTime(q.From, q.To) + ` AND ` + shape.f.sql() + ` AND has_point = 1`
	and := ` AND ` + shape.f.typesSQL()
	if shape.rawOffsets != "" {
		cond += ` AND (` + shape.rawOffsets + `)`
		and += ` AND (` + shape.rawOffsets + `)`
	}
	if q.Region != "" {
		cond += ` AND length(region_path) > ` + strconv.Itoa(q.Depth) + ` AND region_path[` + strconv.Itoa(q.Depth+1) + `] = ` + chQuote(q.Region)
	}
	cond += ` AND ` + chLive(and)
	rows, err := v.s.conn.Query(ctx, `SELECT toInt64(toUInt32(at)), toInt64(at_ns), wlon, wlat FROM events WHERE `+cond)
	if err != nil {
		return chUnavailable(err, "clickhouse: points")
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if n++; n%ctxCheckRows == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		var sec, ns int64
		var e LocatedEvent
		if err := rows.Scan(&sec, &ns, &e.Lon, &e.Lat); err != nil {
			return chUnavailable(err, "clickhouse: points")
		}
		e.At = time.Unix(sec, ns)
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return chUnavailable(err, "clickhouse: points")
	}
	return nil
}
