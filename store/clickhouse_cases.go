package store

import (
	"context"
	"strconv"
	"strings"

	"zhili/event"
)

// reportLive: a case.reported no correction supersedes.
var reportLive = chLive(` AND type = ` + chQuote(string(event.CaseReported)))

// chRecordRawCols are the columns chRecordCols reads, by name (for a subquery feeding it).
var chRecordRawCols = strings.NewReplacer(`toUInt32(at)`, `at`, `toUInt32(deadline)`, `deadline`).Replace(chRecordCols)

// Cases calls fn once per case whose first case.reported (over every partition) lies in
// [q.From, q.To) (to the nanosecond), filtered on that report's region and category, with all
// the case's records of every partition, personal fields included, ordered by (At, Offset);
// cases come in order of first report, then case id. One ordered query, streamed: only one
// case is held at a time.
func (v *chView) Cases(ctx context.Context, q CaseQuery, fn func(caseID string, recs []Record) error) error {
	if err := v.check(); err != nil {
		return err
	}
	if err := checkCaseQuery(q); err != nil {
		return err
	}
	if q.IDs != nil && len(q.IDs) == 0 {
		return nil
	}
	only, named := "", ""
	if q.IDs != nil {
		named = `case_id IN (` + chQuoteList(q.IDs) + `)`
		only = ` AND ` + named
	}
	cond := chTimeCond(`first_at`, `first_ns`, q.From, q.To)
	if q.Category != "" {
		cond += ` AND first_cat = ` + chQuote(q.Category)
	}
	if q.Region != "" {
		cond += ` AND first_path[` + strconv.Itoa(q.Depth+1) + `] = ` + chQuote(q.Region)
	}
	// The selected cases with the time of their first report: the earliest by (At, Offset, id).
	sel := `SELECT case_id, first_at, first_ns FROM (
		SELECT case_id, argMin(at, k) AS first_at, argMin(at_ns, k) AS first_ns,
			argMin(category, k) AS first_cat, argMin(region_path, k) AS first_path
		FROM (SELECT case_id, at, at_ns, category, region_path, tuple(at, at_ns, intake_offset, id) AS k
			FROM events WHERE type = ` + chQuote(string(event.CaseReported)) + ` AND ` + reportLive + only + `)
		GROUP BY case_id) WHERE ` + cond
	ids := `case_id IN (SELECT case_id FROM (` + sel + `))`
	if q.IDs != nil {
		// The named cases' rows alone, read by their names: the join below keeps those of the
		// cases the period selects, so the selection runs once instead of three times (a
		// 30-day patch read on 18.16 here: 22 – 24 ms against 85 – 167; a skip index serves
		// the names on ≥ 20.3).
		ids = named
	}
	query := `SELECT ` + chRecordCols + ` FROM (
		SELECT ` + chRecordRawCols + ` FROM events ANY LEFT JOIN (SELECT id, has_reporter,
			reporter_name, reporter_phone, reporter_id_number, address, summary
			FROM event_private WHERE id IN (SELECT id FROM events WHERE ` + ids + `)) USING id
		WHERE ` + ids + `
	) ALL INNER JOIN (` + sel + `) USING case_id
	ORDER BY first_at, first_ns, case_id, at, at_ns, intake_offset, id`
	g := caseGrouper{fn: fn}
	if err := v.s.records(ctx, g.add, query); err != nil {
		return err
	}
	return g.flush()
}

// CaseRegions implements Store, over every partition.
func (v *chView) CaseRegions(ctx context.Context, ids []string) (map[string]string, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), caseRegionsChunk)]
		ids = ids[len(chunk):]
		rows, err := v.s.conn.Query(ctx, `SELECT case_id, argMin(region_path, tuple(at, at_ns, intake_offset, id))
			FROM events WHERE type = `+chQuote(string(event.CaseReported))+` AND `+reportLive+` AND case_id IN (`+chQuoteList(chunk)+`)
			GROUP BY case_id`)
		if err != nil {
			return nil, chUnavailable(err, "clickhouse: read case regions")
		}
		for rows.Next() {
			var id string
			var path []string
			if err := rows.Scan(&id, &path); err != nil {
				rows.Close()
				return nil, chUnavailable(err, "clickhouse: read case regions")
			}
			out[id] = ""
			if len(path) > 0 {
				out[id] = path[len(path)-1]
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, chUnavailable(err, "clickhouse: read case regions")
		}
	}
	return out, nil
}

// Versions implements Store, over every partition.
func (v *chView) Versions(ctx context.Context, ids []string) (map[string][]Record, error) {
	if err := v.check(); err != nil {
		return nil, err
	}
	lookup := func(col string) func(context.Context, []string) ([]Record, error) {
		return func(ctx context.Context, ids []string) ([]Record, error) {
			w := col + ` IN (` + chQuoteList(ids) + `)`
			var out []Record
			err := v.s.records(ctx, func(r Record) error {
				out = append(out, r)
				return nil
			}, chRecordQuery(w, `id IN (SELECT id FROM events WHERE `+w+`)`))
			return out, err
		}
	}
	return versions(ctx, ids, lookup("id"), lookup("supersedes"))
}
