package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paulmach/orb/geojson"

	"zhili/geo"
	"zhili/importer"
)

// regionsFile is where `zhili import regions` puts the checked tree; `zhili serve` loads it
// when --regions is not given.
const regionsFile = "regions.geojson"

// runImport implements `zhili import regions FILE...` and `zhili import cases FILE.csv`.
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "cases" {
		return runImportCases(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "regions" {
		return errors.New("usage: zhili import regions [flags] FILE... | zhili import cases [flags] FILE.csv")
	}
	fs := flag.NewFlagSet("import regions", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "zhili-data", "data directory to import into (writes DIR/"+regionsFile+")")
	codeProp := fs.String("code-prop", geo.DefaultProps.Code, "feature property holding the region code")
	nameProp := fs.String("name-prop", geo.DefaultProps.Name, "feature property holding the name")
	parentProp := fs.String("parent-prop", geo.DefaultProps.Parent, "feature property holding the parent's code")
	kindProp := fs.String("kind-prop", geo.DefaultProps.Kind, "feature property holding the level name (county, township, grid…)")
	skip := fs.String("skip", "", "comma-separated codes of features to leave out (after reading their problems)")
	outsideTol := fs.Float64("outside-tol", 1e-4, "how far a child's vertex may lie outside its parent (file units)")
	areaTol := fs.Float64("area-tol", 0.005, "share of a parent's area that sibling gaps or overlaps may reach")
	dry := fs.Bool("check", false, "only check; write nothing")
	crs := fs.String("crs", "wgs84", "coordinate system of the files: wgs84, gcj02 (AMap, Tencent) or bd09 (Baidu); stored as WGS-84")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return errors.New("import regions: name at least one GeoJSON file")
	}
	var features []*geojson.Feature
	type span struct {
		file       string
		start, end int
	}
	var spans []span
	for _, path := range fs.Args() {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fc, err := geojson.UnmarshalFeatureCollection(b)
		if err != nil {
			return fmt.Errorf("%s: not a GeoJSON FeatureCollection: %w", path, err)
		}
		spans = append(spans, span{path, len(features), len(features) + len(fc.Features)})
		features = append(features, fc.Features...)
	}
	opt := geo.CheckOptions{Props: geo.Props{Code: *codeProp, Name: *nameProp, Parent: *parentProp, Kind: *kindProp},
		OutsideTol: *outsideTol, AreaTol: *areaTol, Skip: map[string]bool{}, CRS: *crs}
	for _, c := range strings.Split(*skip, ",") {
		if c = strings.TrimSpace(c); c != "" {
			opt.Skip[c] = true
		}
	}
	tree, probs := geo.CheckFeatures(features, opt)
	if len(probs) > 0 {
		for _, p := range probs {
			where := "tree"
			for _, s := range spans {
				if p.Feature >= s.start && p.Feature < s.end {
					where = fmt.Sprintf("%s feature %d", s.file, p.Feature-s.start)
				}
			}
			code := ""
			if p.Code != "" {
				code = " (" + p.Code + ")"
			}
			fmt.Fprintf(stdout, "%s%s: %s: %s\n", where, code, p.Kind, p.Detail)
		}
		return fmt.Errorf("%d problem(s): nothing imported; fix the features or name them with --skip", len(probs))
	}
	levels := map[int]int{}
	depth := 0
	tree.Walk(func(r *geo.Region) {
		levels[r.Level]++
		depth = max(depth, r.Level)
	})
	fmt.Fprintf(stdout, "%d regions, root %s %s, %d levels:", tree.Len(), tree.Root.Code, tree.Root.Name, depth+1)
	for l := 0; l <= depth; l++ {
		fmt.Fprintf(stdout, " %d", levels[l])
	}
	fmt.Fprintln(stdout)
	if *dry {
		return nil
	}
	fc, err := tree.FeatureCollection("root", -1)
	if err != nil {
		return err
	}
	b, err := json.Marshal(fc)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*data, 0o750); err != nil {
		return err
	}
	out := filepath.Join(*data, regionsFile)
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, b, 0o640); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported into %s (zhili serve --data %s uses it)\n", out, *data)
	return nil
}

// runImportCases implements `zhili import cases [flags] FILE.csv`: it backfills case history
// from a CSV through a running server's ingest API. Row errors are written to --errors and do
// not fail the command; a failed import (unreadable file or header, refused key, server
// unavailable) does.
func runImportCases(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import cases", flag.ContinueOnError)
	fs.SetOutput(stderr)
	baseURL := fs.String("url", "http://127.0.0.1:8080", "server base `URL`")
	key := fs.String("key", "", "ingest API `key` (sent as Bearer)")
	preset := fs.String("preset", "zhili", "column layout: "+strings.Join(slices.Sorted(maps.Keys(importer.Presets)), " or "))
	mapping := fs.String("map", "", "column overrides `FIELD=COLUMN,...` (FIELD= leaves it out); fields: "+strings.Join(importer.Fields, " "))
	tz := fs.String("tz", "", "time `zone` of timestamps without offset (default: the preset's, zhili: Asia/Shanghai, nyc311: America/New_York)")
	source := fs.String("source", "", "source code of the cases when there is no source column (default hotline12345)")
	errorsPath := fs.String("errors", "", "per-row error report `file` (CSV; default FILE.errors.csv next to the input, written only when there are errors)")
	batch := fs.Int("batch", 2000, "events per request")
	dueAfter := fs.Duration("due-after", 0, "deadline of a dispatch without a due time: created + this (0: such a dispatch is reported, not sent)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	config := fs.String("config", "", "YAML config `file` (keys named as the flags)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: zhili import cases [flags] FILE.csv\n\nSends the cases of a CSV (one row per case) to URL/api/v1/events as case.reported,\ncase.dispatched, case.resolved and case.closed events with ids derived from the case id\n(a re-import counts duplicates). Every flag can also be set as ZHILI_<NAME>.\n\n")
		fs.PrintDefaults()
	}
	// Flags may come before or after the file.
	var files []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files = append(files, fs.Arg(0))
		args = fs.Args()[1:]
	}
	path := *config
	if path == "" {
		path = os.Getenv("ZHILI_CONFIG")
	}
	file, err := loadConfigFile(path)
	if err != nil {
		return err
	}
	if err := applyEnvAndFile(fs, file.Values); err != nil {
		return err
	}
	if len(files) != 1 {
		fs.Usage()
		return errors.New("import cases: name one CSV file")
	}
	m, ok := importer.Presets[*preset]
	if !ok {
		return fmt.Errorf("import cases: unknown --preset %q", *preset)
	}
	for _, kv := range strings.Split(*mapping, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		f, c, ok := strings.Cut(kv, "=")
		if !ok {
			return fmt.Errorf("import cases: --map %q: want FIELD=COLUMN", kv)
		}
		if err := m.Set(strings.TrimSpace(f), strings.TrimSpace(c)); err != nil {
			return fmt.Errorf("import cases: --map: %w", err)
		}
	}
	if *tz != "" {
		loc, err := time.LoadLocation(*tz)
		if err != nil {
			return fmt.Errorf("import cases: --tz: %w", err)
		}
		m.TZ = loc
	}
	if *source != "" {
		m.SourceValue = *source
	}
	if *dueAfter > 0 {
		m.DueAfter = *dueAfter
	}
	in, err := os.Open(files[0])
	if err != nil {
		return err
	}
	defer in.Close()
	opt := importer.Options{URL: *baseURL, Key: *key, Batch: *batch}
	if !*quiet {
		opt.Progress = stderr
	}
	rep, runErr := importer.Run(ctx, in, m, opt)

	fmt.Fprintf(stdout, "rows %d, cases %d, events %d: accepted %d, duplicates %d, rejected %d; row errors %d\n",
		rep.Rows, rep.Cases, rep.Events, rep.Accepted, rep.Duplicates, rep.Events-rep.Accepted-rep.Duplicates, len(rep.Errors))
	if len(rep.Errors) > 0 {
		out := *errorsPath
		if out == "" {
			out = strings.TrimSuffix(files[0], filepath.Ext(files[0])) + ".errors.csv"
		}
		if err := writeRowErrors(out, rep.Errors); err != nil {
			return errors.Join(runErr, err)
		}
		fmt.Fprintf(stdout, "row errors written to %s\n", out)
	}
	if runErr != nil && rep.Rows == 0 {
		return fmt.Errorf("import cases: %w", runErr)
	}
	if runErr != nil {
		return fmt.Errorf("import cases: %w (the report above covers the rows sent so far; importing again is safe)", runErr)
	}
	return nil
}

// writeRowErrors writes the per-row error report: row (1-based data row, header excluded), line
// (the file line where the row starts), case_id, event_id, field, error.
func writeRowErrors(path string, errs []importer.RowError) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"row", "line", "case_id", "event_id", "field", "error"})
	for _, e := range errs {
		w.Write([]string{strconv.Itoa(e.Row), strconv.Itoa(e.Line), e.CaseID, e.EventID, e.Field, e.Error})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
