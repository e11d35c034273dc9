package main

import (
	"context"
	"encoding/csv"
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

	"zhili/importer"
)

// pointsFlag collects --null-point values (repeatable; ";" separates several in one value).
type pointsFlag []importer.Point

func (p *pointsFlag) String() string {
	s := make([]string, len(*p))
	for i, x := range *p {
		s[i] = fmt.Sprintf("%g,%g", x.Lat, x.Lon)
	}
	return strings.Join(s, ";")
}

func (p *pointsFlag) Set(v string) error {
	for _, s := range strings.Split(v, ";") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		pt, err := importer.ParsePoint(s)
		if err != nil {
			return err
		}
		*p = append(*p, pt)
	}
	return nil
}

// runImportCases implements `zhili import cases [flags] FILE`: it backfills case history from
// a CSV export (or an Open311 requests.json) through a running server's ingest API. Row errors
// and warnings are written to --errors and do not fail the command; a failed import
// (unreadable file or header, refused key, server unavailable) does.
func runImportCases(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import cases", flag.ContinueOnError)
	fs.SetOutput(stderr)
	baseURL := fs.String("url", "http://127.0.0.1:8080", "server base `URL`")
	key := fs.String("key", "", "ingest API `key` (sent as Bearer)")
	format := fs.String("format", "", "input `format`: csv or open311 (a GeoReport v2 requests.json; default: open311 for a .json file, else csv)")
	preset := fs.String("preset", "", "column layout: "+strings.Join(slices.Sorted(maps.Keys(importer.Presets)), ", ")+" (default zhili; open311 for --format open311)")
	mapping := fs.String("map", "", "column overrides `FIELD=COLUMN,...` (FIELD= leaves it out); fields: "+strings.Join(importer.Fields, " "))
	tz := fs.String("tz", "", "time `zone` of timestamps without offset (default: the preset's; zhili, hotline12345: Asia/Shanghai, nyc311: America/New_York)")
	crs := fs.String("crs", "", "coordinate system of the file's points: wgs84, gcj02 or bd09 (default: the preset's; hotline12345: gcj02)")
	source := fs.String("source", "", "source code of the cases when there is no source column (default hotline12345)")
	errorsPath := fs.String("errors", "", "per-row error and warning report `file` (CSV; default FILE.errors.csv next to the input, written only when there is something to report)")
	batch := fs.Int("batch", 2000, "events per request")
	dueAfter := fs.Duration("due-after", 0, "invent deadlines: a dispatch without a usable due time gets created + this (0: it is sent without a deadline)")
	categoryMap := fs.String("category-map", "", "CSV `file` of \"source value,code\" lines: the source's categories onto the deployment's codes")
	statusMap := fs.String("status-map", "", "CSV `file` of \"status value,outcome\" lines (outcomes: open resolved fixed not_fixed duplicate transferred cancelled), before the preset's table")
	strict := fs.Bool("strict", false, "refuse a row whose category maps to no code (default: send it as unmapped with its wording)")
	replace := fs.Bool("replace", false, "compare every event with the server's history and send the changed ones as corrections superseding what an earlier import sent (see docs/IMPORT.md)")
	var nulls pointsFlag
	fs.Var(&nulls, "null-point", "a source's placeholder point `LAT,LON` for \"unknown\" (repeatable; within 1 m): sent without a location; (0,0) always is")
	bounds := fs.String("bounds", "", "plausible points `MINLAT,MINLON,MAXLAT,MAXLON` (the file's coordinates); others are sent without a location (default: the region tree's box when known)")
	regions := fs.String("regions", "", "region GeoJSON `file` (as for zhili serve): names of townships and districts into codes, and the plausible box")
	token := fs.String("token", "", "viewer `token`: read the region tree from the server instead of --regions")
	quiet := fs.Bool("quiet", false, "no progress")
	config := fs.String("config", "", "YAML config `file` (keys named as the flags)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: zhili import cases [flags] FILE\n\n"+
			"把一个导出文件的工单（每行一件）作为事件发送到 URL/api/v1/events。\n"+
			"Sends the cases of an export (one row per case: CSV, or --format open311 JSON) to\n"+
			"URL/api/v1/events as case.reported, case.dispatched, case.resolved and case.closed events\n"+
			"with ids derived from the case id (a re-import counts duplicates). Every flag can also be\n"+
			"set as ZHILI_<NAME>. docs/IMPORT.md describes the presets and their mapping tables.\n\n")
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
		return errors.New("import cases: name one input file")
	}
	if *format == "" {
		*format = importer.FormatCSV
		if strings.EqualFold(filepath.Ext(files[0]), ".json") {
			*format = importer.FormatOpen311
		}
	}
	if *format != importer.FormatCSV && *format != importer.FormatOpen311 {
		return fmt.Errorf("import cases: --format %q: want csv or open311", *format)
	}
	if *preset == "" {
		*preset = "zhili"
		if *format == importer.FormatOpen311 {
			*preset = "open311"
		}
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
	switch *crs {
	case "":
	case "wgs84", "gcj02", "bd09":
		m.CRS = *crs
	default:
		return fmt.Errorf("import cases: --crs %q: want wgs84, gcj02 or bd09", *crs)
	}
	if *source != "" {
		m.SourceValue = *source
	}
	if *dueAfter > 0 {
		m.DueAfter = *dueAfter
	}
	opt := importer.Options{URL: *baseURL, Key: *key, Batch: *batch, Format: *format, Strict: *strict,
		Replace: *replace, NullPoints: nulls}
	if *categoryMap != "" {
		if opt.Categories, err = importer.LoadCategoryMap(*categoryMap); err != nil {
			return fmt.Errorf("import cases: --category-map: %w", err)
		}
	}
	if *statusMap != "" {
		if opt.Statuses, err = importer.LoadStatusMap(*statusMap); err != nil {
			return fmt.Errorf("import cases: --status-map: %w", err)
		}
	}
	if *bounds != "" {
		b, err := importer.ParseBounds(*bounds)
		if err != nil {
			return fmt.Errorf("import cases: --bounds: %w", err)
		}
		opt.Bounds = &b
	}
	switch {
	case *regions != "":
		if opt.Regions, err = importer.LoadGazetteer(*regions); err != nil {
			return fmt.Errorf("import cases: --regions: %w", err)
		}
	case *token != "":
		if opt.Regions, err = importer.FetchGazetteer(ctx, nil, *baseURL, *token); err != nil {
			return fmt.Errorf("import cases: --token: the region tree: %w", err)
		}
	}
	in, err := os.Open(files[0])
	if err != nil {
		return err
	}
	defer in.Close()
	if !*quiet {
		opt.Progress = stderr
	}
	rep, runErr := importer.Run(ctx, in, m, opt)

	rep.WriteSummary(stdout)
	if len(rep.Errors) > 0 {
		out := *errorsPath
		if out == "" {
			out = strings.TrimSuffix(files[0], filepath.Ext(files[0])) + ".errors.csv"
		}
		if err := writeRowErrors(out, rep.Errors); err != nil {
			return errors.Join(runErr, err)
		}
		fmt.Fprintf(stdout, "逐行问题 row errors and warnings (%d) written to %s\n", len(rep.Errors), out)
	}
	if runErr != nil && rep.Rows == 0 {
		return fmt.Errorf("import cases: %w", runErr)
	}
	if runErr != nil {
		return fmt.Errorf("import cases: %w (the report above covers the rows sent so far; importing again is safe)", runErr)
	}
	return nil
}

// writeRowErrors writes the per-row report: row (1-based data row, header excluded), line (the
// file line where the row starts; the element of a JSON array), case_id, event_id, field,
// error, severity (error: the row or event was not imported; warning: imported as the text
// says), kind.
func writeRowErrors(path string, errs []importer.RowError) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"row", "line", "case_id", "event_id", "field", "error", "severity", "kind"})
	for _, e := range errs {
		sev := "error"
		if e.Warning {
			sev = "warning"
		}
		w.Write([]string{strconv.Itoa(e.Row), strconv.Itoa(e.Line), e.CaseID, e.EventID, e.Field, e.Error, sev, e.Kind})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
