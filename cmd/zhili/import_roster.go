package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"zhili/catalog"
	"zhili/geo"
	"zhili/internal/app"
	"zhili/roster"
	"zhili/simulate"
)

// rosterFile is where `zhili import roster` puts the checked roster; `zhili serve` loads it when
// --roster is not given.
const rosterFile = "roster.yaml"

// runImportRoster implements `zhili import roster [flags] FILE`: checks a roster (YAML, CSV or
// XLSX) row by row and stores it as DATA/roster.yaml.
func runImportRoster(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("import roster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", "zhili-data", "data directory to import into (writes DIR/"+rosterFile+")")
	regions := fs.String("regions", "", "region GeoJSON `file`, builtin:xinyang or builtin:shihe: the tree regions and grids are checked against (default DIR/"+regionsFile+" when imported; else not checked)")
	catFile := fs.String("catalog", "", "catalogue `file` departments are checked against (default DIR/"+catalogFile+" when imported, else the built-in one)")
	dry := fs.Bool("check", false, "only check; write nothing")
	skip := fs.Bool("skip-refused", false, "import the rows that pass and leave the refused ones out (a problem of the file as a whole still refuses it)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: zhili import roster [flags] FILE\n\n"+
			"检查干部名册（单位、干部、网格人员、党组织；YAML、CSV 或 XLSX），逐行核对，存为 DIR/%s；zhili serve 读取它，kill -HUP 重新加载。\n"+
			"Checks a roster of units, cadres, grid staff and party organisations (YAML; CSV or XLSX\n"+
			"when FILE ends in .csv or .xlsx) row by row and stores it as DIR/%s, which zhili serve\n"+
			"loads (kill -HUP reloads it). See docs/ROSTER.md.\n\n", rosterFile, rosterFile)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("import roster: name one roster file (YAML, CSV or XLSX)")
	}
	tree, from, err := catalogTree(*data, *regions)
	if err != nil {
		return err
	}
	opt := roster.Options{Tree: tree}
	if tree == nil {
		fmt.Fprintln(stdout, "区划未核对 regions and grids not checked: no region tree (import regions first, or give --regions)")
	}
	cat, catFrom, err := rosterCatalog(*data, *catFile, tree)
	if err != nil {
		return err
	}
	opt.Catalog = cat
	r, rep, err := roster.Read(fs.Arg(0), opt)
	if err != nil {
		return err
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(stdout, p)
	}
	if rep.Unshown > 0 {
		fmt.Fprintf(stdout, "… and %d more problems\n", rep.Unshown)
	}
	imported := 0
	fmt.Fprintf(stdout, "%s  %s  %s  %s\n", padWide("表 table", 20), "读入 read", "拒绝 refused", "导入 imported")
	row := func(label string, read, refused, ok int) {
		fmt.Fprintf(stdout, "%s  %9d  %12d  %13d\n", padWide(label, 20), read, refused, ok)
	}
	for _, t := range rep.Tables {
		ok := t.Read - t.Refused
		if rep.Whole || !rep.OK() && !*skip {
			ok = 0
		}
		imported += ok
		row(t.Zh+" "+t.Table, t.Read, t.Refused, ok)
	}
	if rep.NoTable > 0 {
		row("无表 no table", rep.NoTable, rep.NoTable, 0)
	}
	checked := fmt.Sprintf("departments checked against %s", catFrom)
	if tree != nil {
		checked = fmt.Sprintf("regions checked against %s, %s", from, checked)
	}
	fmt.Fprintln(stdout, checked)
	switch {
	case rep.Whole:
		return fmt.Errorf("%d problem(s) of the file as a whole: nothing imported", len(rep.Problems)+rep.Unshown)
	case !rep.OK() && !*skip:
		return fmt.Errorf("%d row(s) refused (%d problem(s)): nothing imported; fix them, or give --skip-refused to import the others", rep.Refused(), len(rep.Problems)+rep.Unshown)
	case !rep.OK() && imported == 0:
		return fmt.Errorf("every row refused: nothing imported")
	}
	if *dry {
		return nil
	}
	b, err := r.YAML()
	if err != nil {
		return err
	}
	// Names and phone numbers: readable by the server's user only.
	out, err := writeDataFile(*data, rosterFile, b, 0o600)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "已导入 imported %d rows into %s (zhili serve --data %s uses it; kill -HUP reloads a running server's)\n", imported, out, *data)
	return nil
}

// rosterCatalog is the catalogue departments are checked against: the one zhili serve would
// start with (--catalog, else the one imported into data, else the built-in one), and what it is.
func rosterCatalog(data, file string, tree *geo.Tree) (*catalog.Catalog, string, error) {
	c, path, err := serveCatalog(file, data, tree)
	if err == nil && file == "" {
		if _, serr := os.Stat(path); errors.Is(serr, os.ErrNotExist) {
			path = "the built-in catalogue"
		}
	}
	return c, path, err
}

// serveRoster is the roster `zhili serve` starts with: --roster, else DATA/roster.yaml when
// imported, else (--demo) the demo city's, generated from the demo seed, else none. path is the
// file a SIGHUP reloads.
func serveRoster(flagPath, data string, tree *geo.Tree, cat *catalog.Catalog, demo bool, seed uint64) (r *roster.Roster, path string, err error) {
	path = flagPath
	if path == "" {
		path = filepath.Join(data, rosterFile)
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			if demo {
				if seed == 0 {
					seed = simulate.DefaultDemoSeed // the roster is not the clock's: a restart keeps it
				}
				return roster.Demo(tree, cat, seed), path, nil
			}
			return roster.Empty(), path, nil // imported later, loaded by a SIGHUP
		}
	}
	r, err = roster.Load(path, roster.Options{Tree: tree, Catalog: cat})
	if err != nil {
		return nil, "", fmt.Errorf("--roster %s:\n%w", path, err)
	}
	return r, path, nil
}

// reloadRoster replaces the roster in force with the file at path, checked against the tree
// and the catalogue in force; a file that is missing or refused leaves the current one.
func reloadRoster(a *app.App, path string, tree *geo.Tree, log *slog.Logger) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return
	}
	r, err := roster.Load(path, roster.Options{Tree: tree, Catalog: a.Catalog.Load()})
	if err != nil {
		log.Error("roster reload refused; the current roster stays", "roster", path, "err", err)
		return
	}
	a.Roster.Store(r)
	u, p, c, g := r.Counts()
	log.Info("roster reloaded", "roster", path, "units", u, "party", p, "cadres", c, "grid_staff", g)
}

// padWide pads s with blanks to width columns of a terminal, Chinese characters taking two.
func padWide(s string, width int) string {
	w := 0
	for _, r := range s {
		w++
		if unicode.Is(unicode.Han, r) || r >= 0xFF00 && r <= 0xFFEF {
			w++
		}
	}
	return s + strings.Repeat(" ", max(width-w, 0))
}
