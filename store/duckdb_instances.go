package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"zhili/errs"
)

// A DuckDB database file is opened once per process and its instance kept for the life of the
// process: closing a store leaves the instance open (checkpointed, idle), and opening the same
// file again takes it back.
//
// Why: DuckDB's driver dedupes instances per file in a process-wide cache. When a closed
// store's instance is still alive (anything that holds one of its client contexts keeps it),
// opening the same file again spins in that cache until the instance is gone, with no timeout
// (duckdb#25965): a restart test hung 20 minutes that way. Opening the file a second time
// without the cache would be worse: two instances writing one file. Keeping the one instance
// makes a reopen in the same process immediate and safe; a restart of the process still
// releases everything. Production opens the store once per process, so this only changes
// what a reopen costs (tests, subcommands). ReleaseDuckDB closes an idle file's instance for
// real, to hand the file to another process while this one goes on.
var duckInstances = struct {
	sync.Mutex
	m map[string]*duckInstance
}{m: map[string]*duckInstance{}}

// duckInstance is one open database file.
type duckInstance struct {
	db     *sql.DB
	stores int // open stores on it
}

// duckKey returns the file a DSN names (absolute, cleaned) and its options; "" for an
// in-memory DSN.
func duckKey(dsn string) (string, url.Values, error) {
	path, rawOpts, _ := strings.Cut(dsn, "?")
	opts, err := url.ParseQuery(rawOpts)
	if err != nil {
		return "", nil, fmt.Errorf("options %q: %w", rawOpts, err)
	}
	if path == "" || path == ":memory:" {
		return "", opts, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", nil, err
	}
	return abs, opts, nil
}

// acquireDuckDB returns the instance for dsn and its key, opening it on first use. An
// in-memory DSN gets a private instance each time (key "").
func acquireDuckDB(ctx context.Context, dsn string) (db *sql.DB, key string, err error) {
	key, opts, err := duckKey(dsn)
	if err != nil {
		return nil, "", err
	}
	if key == "" {
		db, err = sql.Open("duckdb", dsn)
		return db, "", err
	}
	duckInstances.Lock()
	defer duckInstances.Unlock()
	if in := duckInstances.m[key]; in != nil {
		// Options given again apply to the instance (memory_limit and the like are global).
		names := make([]string, 0, len(opts))
		for k := range opts {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			if _, err := in.db.ExecContext(ctx, fmt.Sprintf("SET GLOBAL %s = %s", quoteIdent(k), quoteString(opts.Get(k)))); err != nil {
				return nil, "", fmt.Errorf("option %s: %w", k, err)
			}
		}
		in.stores++
		return in.db, key, nil
	}
	db, err = sql.Open("duckdb", dsn)
	if err != nil {
		return nil, "", err
	}
	duckInstances.m[key] = &duckInstance{db: db, stores: 1}
	return db, key, nil
}

// releaseDuckDB tells that a store on key closed; the instance stays open (see above). An
// in-memory instance (key "") is closed.
func releaseDuckDB(key string, db *sql.DB) error {
	if key == "" {
		return db.Close()
	}
	duckInstances.Lock()
	defer duckInstances.Unlock()
	if in := duckInstances.m[key]; in != nil && in.stores > 0 {
		in.stores--
	}
	return nil
}

// ReleaseDuckDB closes the instance of the database file at path once no store has it open,
// so that another process can open the file (DuckDB locks it per process). A later open in this
// process opens it afresh, through DuckDB's cache. No-op for a file not open in this process.
func ReleaseDuckDB(path string) error {
	key, _, err := duckKey(path)
	if err != nil || key == "" {
		return err
	}
	duckInstances.Lock()
	defer duckInstances.Unlock()
	in := duckInstances.m[key]
	if in == nil {
		return nil
	}
	if in.stores > 0 {
		return errs.E(errs.Unavailable, "in_use", "duckdb: %s: %d stores still open", path, in.stores)
	}
	delete(duckInstances.m, key)
	return in.db.Close()
}

// dropDuckDB forgets a file whose first open failed, and closes its instance, so that the next
// open tries afresh.
func dropDuckDB(key string, db *sql.DB) {
	if key == "" {
		db.Close()
		return
	}
	duckInstances.Lock()
	defer duckInstances.Unlock()
	if in := duckInstances.m[key]; in != nil && in.db == db {
		if in.stores--; in.stores <= 0 {
			delete(duckInstances.m, key)
			db.Close()
		}
	}
}

func quoteIdent(s string) string  { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
func quoteString(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }
