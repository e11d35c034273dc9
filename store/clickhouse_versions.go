package store

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"zhili/errs"
	"zhili/event"
)

var (
	_ CaseChanges      = (*ClickHouse)(nil)
	_ SurveysVersioned = (*ClickHouse)(nil)
	_ HistoryBeginning = (*ClickHouse)(nil)
)

// keptVersions bounds the data versions whose checkpoints a ClickHouse store remembers for
// CasesChangedSince (a few hundred bytes each): a reader holding an older one reads whole.
const keptVersions = 4096

// chPartVer is one partition's checkpoint version.
type chPartVer struct {
	part uint16
	ver  uint64
}

// chVersions numbers what the database's checkpoints and survey records say. Its numbers are
// the store's data and surveys' versions: a number stands for checkpoints that were visible
// before it was handed out, so what a reader reads after it, and keeps under it, is at least as
// new.
type chVersions struct {
	mu   sync.Mutex
	n    uint64
	last []chPartVer            // the checkpoints n stands for, by partition
	kept map[uint64][]chPartVer // the last keptVersions numbers → the checkpoints each stands for

	smu   sync.Mutex
	sn    uint64
	slast string // the survey records' count and last run, as a key
}

// chLocalErr is the answer of a store on a cluster: a replica can show a checkpoint (or a survey
// record) before the events it follows have reached it, so nothing read there can stand for a
// version.
func chLocalErr(what string) error {
	return errs.E(errs.Unsupported, what, "clickhouse: %s is not told on a cluster (events is a Distributed table)", strings.ReplaceAll(what, "_", " "))
}

// DataVersion implements DataVersioned: a number for each partition's last checkpoint. Every
// Write stores its checkpoint after its events, so the events of every checkpoint counted are
// visible to a query that follows. An insert that failed and was not retried yet can be
// visible without a new version; the retry (the aggregator's next Write) makes one.
//
// Queries run concurrently: one that answers late may have seen older checkpoints than those
// already numbered. Those were visible before this call returns too, so the number stands for
// the newer of the two, partition by partition; numbers grow with what they stand for.
func (c *ClickHouse) DataVersion(ctx context.Context) (uint64, error) {
	if !c.s.local {
		return 0, chLocalErr("data_version")
	}
	if err := c.check(); err != nil {
		return 0, err
	}
	rows, err := c.s.conn.Query(ctx, `SELECT part, max(version) FROM checkpoints GROUP BY part ORDER BY part`)
	if err != nil {
		return 0, chUnavailable(err, "clickhouse: data version")
	}
	defer rows.Close()
	var vec []chPartVer
	for rows.Next() {
		var pv chPartVer
		if err := rows.Scan(&pv.part, &pv.ver); err != nil {
			return 0, chUnavailable(err, "clickhouse: data version")
		}
		vec = append(vec, pv)
	}
	if err := rows.Err(); err != nil {
		return 0, chUnavailable(err, "clickhouse: data version")
	}
	d := &c.s.dv
	d.mu.Lock()
	defer d.mu.Unlock()
	vec = newerCheckpoints(d.last, vec)
	if d.n > 0 && slices.Equal(vec, d.last) {
		return d.n, nil
	}
	d.n++
	d.last = vec
	if d.kept == nil {
		d.kept = map[uint64][]chPartVer{}
	}
	d.kept[d.n] = vec
	if d.n > keptVersions {
		delete(d.kept, d.n-keptVersions) // numbers are handed out one by one
	}
	return d.n, nil
}

// newerCheckpoints merges two lists of checkpoints ordered by partition, keeping each
// partition's newer one.
func newerCheckpoints(a, b []chPartVer) []chPartVer {
	out := make([]chPartVer, 0, max(len(a), len(b)))
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0 || len(a) > 0 && a[0].part < b[0].part:
			out, a = append(out, a[0]), a[1:]
		case len(a) == 0 || b[0].part < a[0].part:
			out, b = append(out, b[0]), b[1:]
		default:
			out = append(out, chPartVer{part: a[0].part, ver: max(a[0].ver, b[0].ver)})
			a, b = a[1:], b[1:]
		}
	}
	return out
}

// CasesChangedSince implements CaseChanges: the cases of the events inserted after the
// checkpoints version v stands for, each partition's after its own (a Write's inserts and
// checkpoint share one increasing sequence, chView.Write), and all of a partition that had
// none then. It scans the run and part columns of the events (no index holds them).
func (c *ClickHouse) CasesChangedSince(ctx context.Context, v uint64) ([]string, bool, error) {
	if !c.s.local {
		return nil, false, chLocalErr("data_version")
	}
	if err := c.check(); err != nil {
		return nil, false, err
	}
	d := &c.s.dv
	d.mu.Lock()
	vec, ok := d.kept[v]
	d.mu.Unlock()
	if !ok {
		return nil, false, nil
	}
	var cond, parts []string
	for _, pv := range vec {
		p := strconv.Itoa(int(pv.part))
		parts = append(parts, p)
		cond = append(cond, `part = `+p+` AND run > `+strconv.FormatUint(pv.ver, 10))
	}
	if len(parts) > 0 {
		cond = append(cond, `part NOT IN (`+strings.Join(parts, ", ")+`)`)
	} else {
		cond = append(cond, `1`)
	}
	rows, err := c.s.conn.Query(ctx, `SELECT DISTINCT case_id FROM events WHERE case_id != '' AND ((`+
		strings.Join(cond, `) OR (`)+`)) LIMIT `+strconv.Itoa(MaxChangedCases+1))
	if err != nil {
		return nil, false, chUnavailable(err, "clickhouse: changed cases")
	}
	defer rows.Close()
	ids := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, false, chUnavailable(err, "clickhouse: changed cases")
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, false, chUnavailable(err, "clickhouse: changed cases")
	}
	if len(ids) > MaxChangedCases {
		return nil, false, nil
	}
	return ids, true, nil
}

// SurveysVersion implements SurveysVersioned: a number for the count of survey records and the
// last insert run holding one (a survey record written adds one to the count; a record dropped
// by retention takes one away). The survey records lead the events' sort key, so this reads
// their range alone.
func (c *ClickHouse) SurveysVersion(ctx context.Context) (uint64, error) {
	if !c.s.local {
		return 0, chLocalErr("surveys_version")
	}
	if err := c.check(); err != nil {
		return 0, err
	}
	var n, run uint64
	if err := c.s.conn.QueryRow(ctx, `SELECT count(), max(run) FROM events WHERE type = `+
		chQuote(string(event.EvaluationSurvey))).Scan(&n, &run); err != nil {
		return 0, chUnavailable(err, "clickhouse: surveys version")
	}
	key := strconv.FormatUint(n, 10) + ":" + strconv.FormatUint(run, 10)
	d := &c.s.dv
	d.smu.Lock()
	defer d.smu.Unlock()
	if d.sn == 0 || key != d.slast {
		d.sn++
		d.slast = key
	}
	return d.sn, nil
}

// HistoryBegins implements HistoryBeginning: the earliest case report of every partition (the
// sort key leads with the type, so only the reports' granules are read, for a top-1 sort). On
// a cluster too: unlike the versions, it needs no order between the replicas' tables.
func (c *ClickHouse) HistoryBegins(ctx context.Context) (time.Time, bool, error) {
	if err := c.check(); err != nil {
		return time.Time{}, false, err
	}
	rows, err := c.s.conn.Query(ctx, `SELECT at, at_ns FROM events WHERE type = 'case.reported' ORDER BY at, at_ns LIMIT 1`)
	if err != nil {
		return time.Time{}, false, chUnavailable(err, "clickhouse: history's beginning")
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return time.Time{}, false, chUnavailable(err, "clickhouse: history's beginning")
		}
		return time.Time{}, false, nil
	}
	var at time.Time
	var ns uint32
	if err := rows.Scan(&at, &ns); err != nil {
		return time.Time{}, false, chUnavailable(err, "clickhouse: history's beginning")
	}
	return at.UTC().Add(time.Duration(ns)), true, nil
}
