package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"zhili/catalog"
	"zhili/geo"
	"zhili/internal/app"
)

// catalogFile is where `zhili import catalog` puts the checked catalogue; `zhili serve` loads it
// when --catalog is not given.
const catalogFile = "catalog.yaml"

// runImportCatalog implements `zhili import catalog [flags] FILE`: checks a catalogue (YAML or
// CSV) row by row and stores it as DATA/catalog.yaml.
func runImportCatalog(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import catalog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "zhili-data", "data directory to import into (writes DIR/"+catalogFile+")")
	regions := fs.String("regions", "", "region GeoJSON `file`, builtin:xinyang or builtin:shihe: the tree departments' regions are checked against (default DIR/"+regionsFile+" when imported; else not checked)")
	dry := fs.Bool("check", false, "only check; write nothing")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: zhili import catalog [flags] FILE\n\n"+
			"检查类别与承办单位目录（YAML 或 CSV），存为 DIR/%s；zhili serve 读取它，kill -HUP 重新加载。\n"+
			"Checks a catalogue of categories and departments (YAML, or CSV when FILE ends in .csv)\n"+
			"row by row and stores it as DIR/%s, which zhili serve loads (kill -HUP reloads it).\n"+
			"See docs/CATALOG.md.\n\n", catalogFile, catalogFile)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("import catalog: name one catalogue file (YAML or CSV)")
	}
	path := fs.Arg(0)
	tree, from, err := catalogTree(*data, *regions)
	if err != nil {
		return err
	}
	opt := regionCheck(tree)
	if tree == nil {
		fmt.Fprintln(stdout, "departments' regions not checked: no region tree (import regions first, or give --regions)")
	}
	c, err := catalog.Load(path, opt)
	var ps catalog.Problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintln(stdout, p)
		}
		return fmt.Errorf("%d problem(s): nothing imported", len(ps))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d categories (%d top-level), %d departments", len(c.Categories), len(c.TopCategories()), len(c.Departments))
	if tree != nil {
		fmt.Fprintf(stdout, "; regions checked against %s", from)
	}
	fmt.Fprintln(stdout)
	if *dry {
		return nil
	}
	b, err := c.YAML()
	if err != nil {
		return err
	}
	out, err := writeDataFile(*data, catalogFile, b, 0o640)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "imported into %s (zhili serve --data %s uses it; kill -HUP reloads a running server's)\n", out, *data)
	return nil
}

// catalogTree is the region tree departments are checked against: --regions, else the tree
// imported into data, else none.
func catalogTree(data, regions string) (*geo.Tree, string, error) {
	if regions == "" {
		p := filepath.Join(data, regionsFile)
		if _, err := os.Stat(p); err != nil {
			return nil, "", nil
		}
		regions = p
	}
	switch regions {
	case "builtin:shihe":
		return geo.DemoTree(), regions, nil
	case "builtin:xinyang":
		t, err := geo.XinyangTree()
		return t, regions, err
	}
	b, err := os.ReadFile(regions)
	if err != nil {
		return nil, "", fmt.Errorf("--regions: %w", err)
	}
	t, err := geo.ParseTreeOptions(b, geo.CheckOptions{Props: geo.DefaultProps})
	if err != nil {
		return nil, "", fmt.Errorf("--regions %s: %w", regions, err)
	}
	return t, regions, nil
}

// regionCheck is the catalogue's check of region codes against tree; none without a tree.
func regionCheck(tree *geo.Tree) catalog.Options {
	if tree == nil {
		return catalog.Options{}
	}
	return catalog.Options{KnownRegion: func(code string) bool { return tree.Get(code) != nil }}
}

// serveCatalog is the catalogue `zhili serve` starts with: --catalog, else DATA/catalog.yaml when
// imported, else the built-in one. path is the file a SIGHUP reloads.
func serveCatalog(flagPath, data string, tree *geo.Tree) (c *catalog.Catalog, path string, err error) {
	path = flagPath
	if path == "" {
		path = filepath.Join(data, catalogFile)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return catalog.Default(), path, nil // imported later, loaded by a SIGHUP
		}
	}
	c, err = catalog.Load(path, regionCheck(tree))
	if err != nil {
		return nil, "", fmt.Errorf("--catalog %s:\n%w", path, err)
	}
	return c, path, nil
}

// reloadCatalog replaces the catalogue in force with the file at path; a file that is missing or
// refused leaves the current one.
func reloadCatalog(a *app.App, path string, tree *geo.Tree, log *slog.Logger) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return
	}
	c, err := catalog.Load(path, regionCheck(tree))
	if err != nil {
		log.Error("catalogue reload refused; the current catalogue stays", "catalog", path, "err", err)
		return
	}
	a.Catalog.Store(c)
	log.Info("catalogue reloaded", "catalog", path, "categories", len(c.Categories), "departments", len(c.Departments))
}
