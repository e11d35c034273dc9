package briefing

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"time"

	"zhili/errs"
	"zhili/internal/atomicfile"
)

// Keeper stores generated briefings as JSON files: <Dir>/<region>/<period file>.json (the
// period's id with '-' for ':', e.g. day-2026-12-03.json, week-2026-W49.json), each written
// atomically (temporary file, fsync, rename, fsync of the directory), so that a kept briefing
// reads the same whenever it is opened.
type Keeper struct {
	Dir string // e.g. <data>/briefings
}

// safeCode is what a region code must look like to name a directory.
var safeCode = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

func (k *Keeper) path(region string, p Period) (string, error) {
	if !safeCode.MatchString(region) {
		return "", errs.E(errs.Invalid, "region", "region code %q cannot name a briefing file", region)
	}
	return filepath.Join(k.Dir, region, p.FileName()), nil
}

// Load returns the kept briefing of region and p, ok false when none is kept.
func (k *Keeper) Load(region string, p Period) (body []byte, ok bool, err error) {
	path, err := k.path(region, p)
	if err != nil {
		return nil, false, err
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, errs.Wrap(errs.Internal, "briefing_store", err, "cannot read a kept briefing")
	}
	return b, true, nil
}

// Has reports whether a briefing is kept for region and p.
func (k *Keeper) Has(region string, p Period) bool {
	path, err := k.path(region, p)
	if err != nil {
		return false
	}
	_, err = os.Stat(path)
	return err == nil
}

// Save keeps body as the briefing of region and p, atomically; a kept one is replaced.
func (k *Keeper) Save(region string, p Period, body []byte) error {
	path, err := k.path(region, p)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return errs.Wrap(errs.Internal, "briefing_store", err, "cannot create the briefings directory")
	}
	if err := atomicfile.WriteFile(path, body, 0o640); err != nil {
		return errs.Wrap(errs.Internal, "briefing_store", err, "cannot write a briefing")
	}
	return nil
}

// List returns the kept briefings of region, the newest period first, at most limit (≤ 0: all).
func (k *Keeper) List(region string, limit int) ([]Info, error) {
	if !safeCode.MatchString(region) {
		return nil, errs.E(errs.Invalid, "region", "region code %q cannot name a briefing file", region)
	}
	entries, err := os.ReadDir(filepath.Join(k.Dir, region))
	if errors.Is(err, fs.ErrNotExist) {
		return []Info{}, nil
	}
	if err != nil {
		return nil, errs.Wrap(errs.Internal, "briefing_store", err, "cannot list the kept briefings")
	}
	type item struct {
		info Info
		from time.Time
	}
	var items []item
	for _, e := range entries {
		if e.IsDir() || filepath.Ext(e.Name()) != ".json" || e.Name()[0] == '.' {
			continue
		}
		b, err := os.ReadFile(filepath.Join(k.Dir, region, e.Name()))
		if err != nil {
			continue
		}
		var h struct {
			Period    string    `json:"period"`
			Region    string    `json:"region"`
			Title     Text      `json:"title"`
			Generated time.Time `json:"generated"`
			From      time.Time `json:"from"`
		}
		if json.Unmarshal(b, &h) != nil || h.Period == "" {
			continue
		}
		items = append(items, item{Info{Period: h.Period, Region: h.Region, Title: h.Title.Zh, Generated: h.Generated}, h.From})
	}
	sort.SliceStable(items, func(i, j int) bool {
		if !items[i].from.Equal(items[j].from) {
			return items[i].from.After(items[j].from)
		}
		return items[i].info.Period < items[j].info.Period // a week before the day it starts with
	})
	out := make([]Info, 0, len(items))
	for _, it := range items {
		if limit > 0 && len(out) >= limit {
			break
		}
		out = append(out, it.info)
	}
	return out, nil
}
