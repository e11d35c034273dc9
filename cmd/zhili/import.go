package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/paulmach/orb/geojson"

	"zhili/geo"
	"zhili/internal/atomicfile"
)

// regionsFile is where `zhili import regions` puts the checked tree; `zhili serve` loads it
// when --regions is not given.
const regionsFile = "regions.geojson"

// runImport implements `zhili import regions FILE...`, `zhili import cases FILE.csv`,
// `zhili import catalog FILE` and `zhili import roster FILE`.
func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "cases" {
		return runImportCases(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "catalog" {
		return runImportCatalog(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "roster" {
		return runImportRoster(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "regions" {
		return errors.New("usage: zhili import regions [flags] FILE... | zhili import cases [flags] FILE.csv | zhili import catalog [flags] FILE | zhili import roster [flags] FILE")
	}
	return runImportRegions(args[1:], stdout, stderr)
}

// runImportRegions implements `zhili import regions [flags] FILE...`.
func runImportRegions(args []string, stdout, stderr io.Writer) error {
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
	rootCode := fs.String("root-code", "", "code of the root made when the files hold several top-level regions (default: the parent they name, else their common code prefix, else 0)")
	rootName := fs.String("root-name", "", "name of that root (default: its code)")
	if err := fs.Parse(args); err != nil {
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
		OutsideTol: *outsideTol, AreaTol: *areaTol, Skip: map[string]bool{}, CRS: *crs,
		Forest: true, RootCode: *rootCode, RootName: *rootName}
	for _, c := range strings.Split(*skip, ",") {
		if c = strings.TrimSpace(c); c != "" {
			opt.Skip[c] = true
		}
	}
	// line names a problem or warning by file and feature.
	line := func(p geo.Problem, severity string) string {
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
		return fmt.Sprintf("%s%s: %s%s: %s", where, code, severity, p.Kind, p.Detail)
	}
	rep := geo.CheckRegions(features, opt)
	for _, w := range rep.Warnings {
		fmt.Fprintln(stdout, line(w, "warning: "))
	}
	if len(rep.Problems) > 0 {
		for _, p := range rep.Problems {
			fmt.Fprintln(stdout, line(p, ""))
		}
		return fmt.Errorf("%d problem(s): nothing imported; fix the features or name them with --skip", len(rep.Problems))
	}
	tree := rep.Tree
	if r := rep.Synthesized; r != nil {
		fmt.Fprintf(stdout, "synthesized root %s %s over %d top-level regions (a MultiPolygon of their polygons)\n", r.Code, r.Name, len(r.Children))
	} else if *rootCode != "" || *rootName != "" {
		fmt.Fprintf(stdout, "--root-code and --root-name unused: the files have a root (%s)\n", tree.Root.Code)
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
	out, err := writeDataFile(*data, regionsFile, b, 0o640)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported into %s (zhili serve --data %s uses it)\n", out, *data)
	return nil
}

// writeDataFile writes b as name in the data directory (made when missing), through a
// temporary file renamed over the old one, so a running server never reads half a file.
func writeDataFile(data, name string, b []byte, perm os.FileMode) (string, error) {
	if err := os.MkdirAll(data, 0o750); err != nil {
		return "", err
	}
	out := filepath.Join(data, name)
	return out, atomicfile.WriteFile(out, b, perm)
}
