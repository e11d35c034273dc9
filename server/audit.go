package server

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/xuri/excelize/v2"

	"zhili/access"
	"zhili/dashboard"
	"zhili/errs"
	"zhili/ingest"
)

// rejectTally counts the lines the door refused since the process started, per tenant ("" when
// the deployment has none) and reason: the code, and for invalid lines the field named
// ("invalid:location"). The door keeps no record of refused lines; this is all there is.
type rejectTally struct {
	since time.Time
	mu    sync.Mutex
	by    map[string]map[string]int64
}

func newRejectTally(since time.Time) *rejectTally {
	return &rejectTally{since: since, by: map[string]map[string]int64{}}
}

func (r *rejectTally) add(tenant *access.Tenant, rej []ingest.Rejection) {
	if len(rej) == 0 {
		return
	}
	name := ""
	if tenant != nil {
		name = tenant.Name
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.by[name]
	if m == nil {
		m = map[string]int64{}
		r.by[name] = m
	}
	for _, x := range rej {
		k := x.Code
		if x.Code == ingest.CodeInvalid && x.Field != "" {
			f, _, _ := strings.Cut(x.Field, ".")
			f, _, _ = strings.Cut(f, "[")
			k += ":" + f
		}
		m[k]++
	}
}

// rejected is the reconcile block's part for an audit of region by p: the tenant's counts when
// the audit covers its whole scope (the tree, or one of the tenant's roots), else none, since
// refused lines have no region.
func (s *Server) rejected(p *access.Principal, region string) *dashboard.Rejected {
	const note = "入口拒收的事件：本服务进程自启动以来的计数，不分时段、区域与类别，不计入收到 events refused at ingest: counted by this server process since it started, over every period, region and category; not part of received (whole requests refused, e.g. over the size limit, are not counted)"
	r := s.rejects
	out := &dashboard.Rejected{Since: r.since.In(s.cfg.Loc).Truncate(time.Second), Note: note}
	whole := region == s.d.Tree.Root.Code
	name := ""
	if p.Tenant != nil {
		name = p.Tenant.Name
		whole = slices.Contains(p.Tenant.Roots, region)
	}
	if !whole {
		out.Note = "入口拒收的事件不分区域，仅在全域审计中给出 events refused at ingest have no region: given in the audit of the whole tree only"
		return out
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var total int64
	out.ByCode = map[string]int64{}
	for k, v := range r.by[name] {
		out.ByCode[k] = v
		total += v
	}
	out.Total = &total
	return out
}

// auditQuery parses the parameters shared by the audits.
func (s *Server) auditQuery(c *fiber.Ctx) (dashboard.AuditQuery, error) {
	p, err := s.periodParams(c)
	if err != nil {
		return dashboard.AuditQuery{}, err
	}
	q := dashboard.AuditQuery{Region: p.region, Depth: p.depth, From: p.from, To: p.to, Category: p.category, By: c.Query("by"),
		Now: s.now().In(s.cfg.Loc), Previous: c.Query("previous"), Memo: s.facts.Memo(c.UserContext(), s.d.Store, s.d.Tree)}
	num := func(name string, dst *float64) error {
		if v := c.Query(name); v != "" {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				return errs.E(errs.Invalid, name, "%s must be a non-negative number", name)
			}
			*dst = f
		}
		return nil
	}
	var lvl, min float64
	for name, dst := range map[string]*float64{"level": &lvl, "min_sample": &min, "whistle_low": &q.WhistleLow, "whistle_high": &q.WhistleHigh} {
		if err := num(name, dst); err != nil {
			return q, err
		}
	}
	var dist float64
	if err := num("repeat_distance", &dist); err != nil {
		return q, err
	}
	q.Level, q.Config.MinSample, q.Repeat.Distance = int(lvl), int(min), dist
	if v := c.Query("repeats_limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > MaxRepeatsLimit {
			return q, errs.E(errs.Invalid, "repeats_limit", "repeats_limit must be a whole number from 0 (all) to %d", MaxRepeatsLimit)
		}
		q.RepeatsLimit = n
	}
	if v := c.Query("repeat_window"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return q, errs.E(errs.Invalid, "repeat_window", "repeat_window must be a duration such as 720h")
		}
		q.Repeat.Window = d
	}
	if v := c.Query("respond"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return q, errs.E(errs.Invalid, "respond", "respond must be a duration such as 2h")
		}
		q.Config.Respond = d
	}
	return q, nil
}

// MaxRepeatsLimit bounds repeats_limit (0 asks for every link).
const MaxRepeatsLimit = 100000

func (s *Server) auditRates(c *fiber.Ctx) error {
	q, err := s.auditQuery(c)
	if err != nil {
		return err
	}
	rep, err := dashboard.Rates(c.UserContext(), s.d.Store, s.d.Tree, q)
	if err != nil {
		return err
	}
	rep.Reconcile.Rejected = s.rejected(principal(c), q.Region)
	rep.NameUnits(s.unitNames(q.By))
	return s.export(c, "rates", rep, rep.NamedTable(s.cfg.Loc, s.unitNames(q.By)))
}

func (s *Server) auditWhistles(c *fiber.Ctx) error {
	q, err := s.auditQuery(c)
	if err != nil {
		return err
	}
	rep, err := dashboard.Whistles(c.UserContext(), s.d.Store, s.d.Tree, q, s.d.Clocks, s.d.Calendar, q.Now)
	if err != nil {
		return err
	}
	rep.Reconcile.Rejected = s.rejected(principal(c), q.Region)
	rep.NameUnits(s.unitNames(q.By))
	return s.export(c, "whistles", rep, rep.NamedTable(s.cfg.Loc, s.unitNames(q.By)))
}

// export answers JSON, or the table as CSV (UTF-8 with a byte-order mark, so spreadsheet programs
// read the Chinese headers) or XLSX, by ?format=.
func (s *Server) export(c *fiber.Ctx, name string, v any, t dashboard.Table) error {
	stamp := time.Now().In(s.cfg.Loc).Format("20060102-150405")
	f := c.Query("format", "json")
	if f == "csv" || f == "xlsx" {
		if err := s.record(c, access.ActionExport, withoutToken(c)); err != nil {
			return err
		}
	}
	switch f {
	case "json":
		return c.JSON(v)
	case "csv":
		var b bytes.Buffer
		b.WriteString("\uFEFF")
		w := csv.NewWriter(&b)
		_ = w.Write(safeCells([]string{t.Title}))
		for _, n := range t.Notes {
			_ = w.Write(safeCells([]string{n}))
		}
		_ = w.Write(nil)
		_ = w.Write(safeCells(t.HeadersFor("csv")))
		for _, r := range t.Rows {
			_ = w.Write(safeCells(r))
		}
		if len(t.Reconcile) > 0 {
			_ = w.Write(nil)
			_ = w.Write(safeCells([]string{dashboard.ReconcileTitle}))
			for _, r := range t.Reconcile {
				_ = w.Write(safeCells(r))
			}
		}
		w.Flush()
		c.Set(fiber.HeaderContentType, "text/csv; charset=utf-8")
		c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="zhili-%s-%s.csv"`, name, stamp))
		return c.Send(b.Bytes())
	case "xlsx":
		b, err := XLSX(t)
		if err != nil {
			return errs.Wrap(errs.Internal, "xlsx", err, "cannot build the spreadsheet")
		}
		c.Set(fiber.HeaderContentType, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
		c.Set(fiber.HeaderContentDisposition, fmt.Sprintf(`attachment; filename="zhili-%s-%s.xlsx"`, name, stamp))
		return c.Send(b)
	default:
		return errs.E(errs.Invalid, "format", "format must be json, csv or xlsx, got %q", f)
	}
}

// number reports whether a cell is a plain decimal number ("12", "-0.5", "3e2" is not).
func number(v string) (float64, bool) {
	if v == "" || strings.ContainsAny(v, "eEnNxX_") {
		return 0, false
	}
	x, err := strconv.ParseFloat(v, 64)
	return x, err == nil
}

// safeCells neutralises spreadsheet formulas in CSV cells: a text cell starting with = + - @
// or a tab or carriage return gets a leading apostrophe (plain numbers are left as they are).
func safeCells(cells []string) []string {
	out := make([]string, len(cells))
	for i, v := range cells {
		out[i] = v
		if v == "" || strings.IndexByte("=+-@\t\r", v[0]) < 0 {
			continue
		}
		if _, ok := number(v); !ok {
			out[i] = "'" + v
		}
	}
	return out
}

// withoutToken is the request's path and query with any token left out (the access log never
// holds a secret).
func withoutToken(c *fiber.Ctx) string {
	q := c.Request().URI().QueryArgs()
	var kept []string
	q.VisitAll(func(k, v []byte) {
		if string(k) != "token" {
			kept = append(kept, url.QueryEscape(string(k))+"="+url.QueryEscape(string(v)))
		}
	})
	if len(kept) == 0 {
		return c.Path()
	}
	return c.Path() + "?" + strings.Join(kept, "&")
}

// XLSX renders a table as a workbook: the title and notes on top, then a bold header row and
// the rows, on one sheet; the reconcile rows, if any, on a second sheet. Cells are typed by
// their column: counts and scores are numbers, rates percentages (0.0%), durations times
// ([h]:mm), codes and names text.
func XLSX(t dashboard.Table) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	sheet := "审计 audit"
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return nil, err
	}
	styles := map[dashboard.ColKind]*excelize.Style{
		dashboard.ColInt:   {NumFmt: 1}, // 0
		dashboard.ColNum:   {NumFmt: 2}, // 0.00
		dashboard.ColPct:   {CustomNumFmt: ptr("0.0%")},
		dashboard.ColHours: {CustomNumFmt: ptr("[h]:mm")},
	}
	styleOf := map[dashboard.ColKind]int{}
	for k, st := range styles {
		id, err := f.NewStyle(st)
		if err != nil {
			return nil, err
		}
		styleOf[k] = id
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return nil, err
	}
	row := 1
	// cell writes one cell: a typed value with its column's style, else the text (as text, never
	// a formula; a plain number in an untyped row, such as the reconcile sheet's, as a number).
	cell := func(col int, text string, v any, kind dashboard.ColKind, typed bool, style int) error {
		name, err := excelize.CoordinatesToCellName(col+1, row)
		if err != nil {
			return err
		}
		switch x := v.(type) {
		case int64:
			err = f.SetCellInt(sheet, name, x)
		case float64:
			err = f.SetCellFloat(sheet, name, x, -1, 64)
		case time.Duration:
			err = f.SetCellFloat(sheet, name, x.Seconds()/86400, -1, 64)
		default:
			if n, ok := number(text); ok && !typed {
				err = f.SetCellFloat(sheet, name, n, -1, 64)
			} else {
				err = f.SetCellStr(sheet, name, text)
			}
			v = nil
		}
		if err != nil {
			return err
		}
		if v != nil && styleOf[kind] != 0 {
			style = styleOf[kind]
		}
		if style != 0 {
			return f.SetCellStyle(sheet, name, name, style)
		}
		return nil
	}
	set := func(vals []string, style int) error {
		for i, v := range vals {
			if err := cell(i, v, nil, dashboard.ColText, false, style); err != nil {
				return err
			}
		}
		row++
		return nil
	}
	if err := set([]string{t.Title}, bold); err != nil {
		return nil, err
	}
	for _, n := range t.Notes {
		if err := set([]string{n}, 0); err != nil {
			return nil, err
		}
	}
	row++
	if err := set(t.HeadersFor("xlsx"), bold); err != nil {
		return nil, err
	}
	for i, r := range t.Rows {
		for j, text := range r {
			var v any
			if i < len(t.Values) && j < len(t.Values[i]) {
				v = t.Values[i][j]
			}
			if err := cell(j, text, v, t.Kind(j), true, 0); err != nil {
				return nil, err
			}
		}
		row++
	}
	// Wide enough columns for the names and the figures.
	if n := len(t.Headers); n > 0 {
		last, _ := excelize.ColumnNumberToName(n)
		if err := f.SetColWidth(sheet, "A", last, 14); err != nil {
			return nil, err
		}
	}
	if len(t.Reconcile) > 0 {
		sheet, row = dashboard.ReconcileTitle, 1
		if _, err := f.NewSheet(sheet); err != nil {
			return nil, err
		}
		if err := set([]string{t.Title + " · " + dashboard.ReconcileTitle}, bold); err != nil {
			return nil, err
		}
		for _, r := range t.Reconcile {
			if err := set(r, 0); err != nil {
				return nil, err
			}
		}
	}
	var b bytes.Buffer
	if err := f.Write(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func ptr[T any](v T) *T { return &v }
