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
	dueAfter := fs.Duration("due-after", 0, "invent deadlines: a dispatch without a usable due time gets created + this (0: it is sent without a deadline)")
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
