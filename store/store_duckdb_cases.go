package store

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"zhili/event"
)

// Cases calls fn once per case whose first case.reported lies in [q.From, q.To) (to the
// nanosecond), filtered on that report's region and category, with all the case's records,
// personal fields included, ordered by (At, Offset); cases come in order of first report, then
// case id. One ordered query, streamed: only one case is held at a time.
func (d *DuckDB) Cases(ctx context.Context, q CaseQuery, fn func(caseID string, recs []Record) error) (qerr error) {
	defer ctxCause(ctx, &qerr)
	if err := d.check(); err != nil {
		return err
	}
	if err := checkCaseQuery(q); err != nil {
		return err
	}
	if q.IDs != nil && len(q.IDs) == 0 {
		return nil
	}
	fromUs, fromNs, _ := splitTime(q.From)
	toUs, toNs, _ := splitTime(q.To)
	where := `rn = 1 AND (at_utc > ? OR (at_utc = ? AND at_ns >= ?)) AND (at_utc < ? OR (at_utc = ? AND at_ns < ?))`
	args := []any{string(event.CaseReported), fromUs, fromUs, fromNs, toUs, toUs, toNs}
	if q.Category != "" {
		where += ` AND category = ?`
		args = append(args, q.Category)
	}
	if q.Region != "" {
		where += ` AND region_path[` + strconv.Itoa(q.Depth+1) + `] = ?`
		args = append(args, q.Region)
	}
	only := ""
	if q.IDs != nil {
		only = ` AND case_id IN (?` + strings.Repeat(`, ?`, len(q.IDs)-1) + `)`
		ids := make([]any, len(q.IDs))
		for i, id := range q.IDs {
			ids[i] = id
		}
		args = slices.Insert(args, 1, ids...)
	}
	query := `WITH firsts AS (
			SELECT case_id, at_utc, at_ns, category, region_path, row_number() OVER (
				PARTITION BY case_id ORDER BY at_utc, at_ns, intake_offset, id) AS rn
			FROM events WHERE type = ? AND ` + duckLive(0) + only + `
		), sel AS (
			SELECT case_id, at_utc AS first_utc, at_ns AS first_ns FROM firsts WHERE ` + where + `
		)
		` + recordSelect + ` JOIN sel s ON s.case_id = e.case_id
		ORDER BY s.first_utc, s.first_ns, s.case_id, e.at_utc, e.at_ns, e.intake_offset, e.id`
	g := caseGrouper{fn: fn}
	if err := d.records(ctx, g.add, query, args...); err != nil {
		return err
	}
	return g.flush()
}

// caseRegionsChunk bounds the ids of one CaseRegions query.
const caseRegionsChunk = 1000

// CaseRegions implements Store.
func (d *DuckDB) CaseRegions(ctx context.Context, ids []string) (map[string]string, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(ids))
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), caseRegionsChunk)]
		ids = ids[len(chunk):]
		args := make([]any, 0, len(chunk)+1)
		args = append(args, string(event.CaseReported))
		for _, id := range chunk {
			args = append(args, id)
		}
		query := `SELECT case_id, CASE WHEN len(region_path) = 0 THEN '' ELSE region_path[len(region_path)] END
			FROM (SELECT case_id, region_path, row_number() OVER (
				PARTITION BY case_id ORDER BY at_utc, at_ns, intake_offset, id) AS rn
				FROM events WHERE type = ? AND ` + duckLive(0) + ` AND case_id IN (?` + strings.Repeat(`, ?`, len(chunk)-1) + `))
			WHERE rn = 1`
		rows, err := d.db.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, unavailable(err, "duckdb: read case regions")
		}
		for rows.Next() {
			var id, region string
			if err := rows.Scan(&id, &region); err != nil {
				rows.Close()
				return nil, unavailable(err, "duckdb: read case regions")
			}
			out[id] = region
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, unavailable(err, "duckdb: read case regions")
		}
	}
	return out, nil
}

// Versions implements Store.
func (d *DuckDB) Versions(ctx context.Context, ids []string) (_ map[string][]Record, qerr error) {
	defer ctxCause(ctx, &qerr)
	if err := d.check(); err != nil {
		return nil, err
	}
	lookup := func(col string) func(context.Context, []string) ([]Record, error) {
		return func(ctx context.Context, ids []string) ([]Record, error) {
			args := make([]any, len(ids))
			for i, id := range ids {
				args[i] = id
			}
			var out []Record
			err := d.records(ctx, func(r Record) error {
				out = append(out, r)
				return nil
			}, recordSelect+` WHERE e.`+col+` IN (?`+strings.Repeat(`, ?`, len(ids)-1)+`)`, args...)
			return out, err
		}
	}
	return versions(ctx, ids, lookup("id"), lookup("supersedes"))
}
