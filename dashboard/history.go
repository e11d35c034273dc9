package dashboard

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"zhili/store"
)

// History says how much of a period, and of the period it is compared with, the stored history
// covers. A period that begins before the earliest stored case report holds no case for its
// first days: not a quiet start, but days the store has nothing of (the deployment began, or
// the import starts, later). Figures over such a period say so.
type History struct {
	// Begins is the local midnight of the day of the earliest stored case report.
	Begins time.Time `json:"begins"`
	// Missing is the part of the period before Begins (absent: the history covers it all);
	// PreviousMissing the same for the previous period, when there is one.
	Missing         *Gap `json:"missing,omitempty"`
	PreviousMissing *Gap `json:"previous_missing,omitempty"`
	// Note says what the missing parts mean for the figures, zh and en (absent: nothing missing).
	Note map[string]string `json:"note,omitempty"`
}

// Gap is a part of a period the history does not cover; All: the whole period.
type Gap struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	Days float64   `json:"days"`
	All  bool      `json:"all"`
}

// HistoryOf measures [from, to) and the previous period [prevFrom, from) (zero prevFrom: none)
// against the history that begins on the day of begins in loc (the deployment's zone).
func HistoryOf(begins time.Time, loc *time.Location, from, to, prevFrom time.Time) *History {
	from, to, prevFrom = from.In(loc), to.In(loc), prevFrom.In(loc)
	b := begins.In(loc)
	h := &History{Begins: time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, loc)}
	gap := func(f, t time.Time) *Gap {
		if !h.Begins.After(f) || !t.After(f) {
			return nil
		}
		g := &Gap{From: f, To: h.Begins, All: !h.Begins.Before(t)}
		if g.All {
			g.To = t
		}
		g.Days = math.Round(g.To.Sub(g.From).Hours()/24*10) / 10 // a day of 23 or 25 hours is one
		return g
	}
	h.Missing = gap(from, to)
	if !prevFrom.IsZero() {
		h.PreviousMissing = gap(prevFrom, from)
	}
	var zh, en string
	day := h.Begins.Format("2006-01-02")
	switch m := h.Missing; {
	case m == nil:
	case m.All:
		zh = fmt.Sprintf("本期在历史数据起点（%s，库中最早的工单）之前：库中没有本期的工单，数字不代表本期。", day)
		en = fmt.Sprintf("The period lies before the history begins (%s, the earliest stored case): the store holds none of its cases, and the figures do not stand for it.", day)
	default:
		zh = fmt.Sprintf("历史数据始于 %s（库中最早的工单）：本期前 %s 天（%s 起）库中没有工单，工单数偏少，比率只反映其后的工单。", day, DaysText(m.Days), m.From.Format("01-02"))
		en = fmt.Sprintf("The history begins on %s (the earliest stored case): the store holds no case of the period's first %s days (from %s); counts are short and rates stand for the later cases only.", day, DaysText(m.Days), m.From.Format("Jan 2"))
	}
	switch m := h.PreviousMissing; {
	case m == nil:
	case m.All:
		zh += "上期在历史数据起点之前：没有上期的数字，不比较。"
		en += " The previous period lies before the history begins: it has no figures to compare with."
	default:
		zh += fmt.Sprintf("上期前 %s 天在历史数据起点之前：上期工单数偏少，与上期的比较仅供参考。", DaysText(m.Days))
		en += fmt.Sprintf(" The previous period's first %s days lie before the history begins: its counts are short, and comparisons with it are indicative only.", DaysText(m.Days))
	}
	if zh != "" {
		h.Note = map[string]string{"zh": zh, "en": strings.TrimSpace(en)}
	}
	return h
}

// DaysText writes a number of days as a whole number when it is one, else to a tenth.
func DaysText(d float64) string {
	if d == float64(int64(d)) {
		return fmt.Sprintf("%d", int64(d))
	}
	return fmt.Sprintf("%.1f", d)
}

// HistoryBegins is the time of the store's earliest case report (ok false: the store cannot
// tell, or holds no report). Audits ask for it with every request, so it is kept: a beginning
// found for 10 s in any case (a feed changes the data version every second; the beginning moves
// only when older cases are imported), and any answer while the data version stays. An empty
// store's answer is kept only while nothing is written: its first report must show.
func HistoryBegins(ctx context.Context, st store.Store) (time.Time, bool) {
	h, ok := st.(store.HistoryBeginning)
	if !ok {
		return time.Time{}, false
	}
	histories.mu.Lock()
	e, hit := histories.m[st]
	histories.mu.Unlock()
	if hit && e.ok && time.Since(e.read) < 10*time.Second {
		return e.at, e.ok // no version asked: on ClickHouse that is a query too
	}
	var ver uint64
	versioned := false
	if dv, ok := st.(store.DataVersioned); ok {
		if v, err := dv.DataVersion(ctx); err == nil {
			ver, versioned = v, true
		}
	}
	if hit && versioned && e.versioned && e.ver == ver {
		return e.at, e.ok
	}
	at, ok, err := h.HistoryBegins(ctx)
	if err != nil {
		return time.Time{}, false // unknown: the figures go without the note
	}
	histories.mu.Lock()
	if histories.m == nil || len(histories.m) >= 32 {
		histories.m = map[store.Store]historyEntry{}
	}
	histories.m[st] = historyEntry{ver: ver, versioned: versioned, read: time.Now(), at: at, ok: ok}
	histories.mu.Unlock()
	return at, ok
}

var histories struct {
	mu sync.Mutex
	m  map[store.Store]historyEntry
}

type historyEntry struct {
	ver       uint64
	versioned bool
	read      time.Time
	at        time.Time
	ok        bool
}

// PeriodHistory is the history's cover of [from, to) and of [prevFrom, from) (zero prevFrom:
// none) in st, by days in loc; nil when the store cannot tell or holds no case report.
func PeriodHistory(ctx context.Context, st store.Store, loc *time.Location, from, to, prevFrom time.Time) *History {
	at, ok := HistoryBegins(ctx, st)
	if !ok {
		return nil
	}
	return HistoryOf(at, loc, from, to, prevFrom)
}

// zone is the deployment's zone of an audit: its Now's, else its From's.
func (q AuditQuery) zone() *time.Location {
	if !q.Now.IsZero() {
		return q.Now.Location()
	}
	return q.From.Location()
}
