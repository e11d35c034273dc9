package store

import (
	"context"
	"slices"
)

// maxVersions bounds how far a chain of corrections is followed (a source could send a loop).
const maxVersions = 100

// versionsChunk bounds the ids of one lookup query.
const versionsChunk = 1000

// versions implements Store.Versions over two lookups: the records with the given ids, and the
// records whose Supersedes is one of them.
func versions(ctx context.Context, ids []string, byID, bySupersedes func(ctx context.Context, ids []string) ([]Record, error)) (map[string][]Record, error) {
	out := map[string][]Record{}
	chunked := func(get func(context.Context, []string) ([]Record, error), ids []string) ([]Record, error) {
		var all []Record
		for len(ids) > 0 {
			chunk := ids[:min(len(ids), versionsChunk)]
			ids = ids[len(chunk):]
			rs, err := get(ctx, chunk)
			if err != nil {
				return nil, err
			}
			all = append(all, rs...)
		}
		return all, nil
	}
	first, err := chunked(byID, uniq(ids))
	if err != nil {
		return nil, err
	}
	// tip: the last version's id → the queried ids whose chain ends there.
	tip := map[string][]string{}
	for _, r := range first {
		if _, ok := out[r.ID]; !ok {
			out[r.ID] = []Record{r}
			tip[r.ID] = append(tip[r.ID], r.ID)
		}
	}
	for round := 0; round < maxVersions && len(tip) > 0; round++ {
		frontier := make([]string, 0, len(tip))
		for id := range tip {
			frontier = append(frontier, id)
		}
		slices.Sort(frontier)
		next, err := chunked(bySupersedes, frontier)
		if err != nil {
			return nil, err
		}
		// The latest correction of each tip, of the tip's case and type.
		best := map[string]Record{}
		for _, r := range next {
			owners := tip[r.Supersedes]
			if len(owners) == 0 {
				continue
			}
			chain := out[owners[0]]
			last := chain[len(chain)-1]
			if r.Type != last.Type || r.CaseID != last.CaseID || r.ID == last.ID {
				continue
			}
			if b, ok := best[r.Supersedes]; !ok || r.Offset > b.Offset || r.Offset == b.Offset && r.ID > b.ID {
				best[r.Supersedes] = r
			}
		}
		nextTip := map[string][]string{}
		for old, r := range best {
			for _, q := range tip[old] {
				if slices.ContainsFunc(out[q], func(x Record) bool { return x.ID == r.ID }) {
					continue // a loop
				}
				out[q] = append(out[q], r)
				nextTip[r.ID] = append(nextTip[r.ID], q)
			}
		}
		tip = nextTip
	}
	return out, nil
}

func uniq(ids []string) []string {
	s := slices.Clone(ids)
	slices.Sort(s)
	return slices.Compact(s)
}
