package store

import (
	"path/filepath"
	"strings"
	"testing"
)

// Options in the DSN (as the server passes --store-memory) reach DuckDB.
func TestDuckDBDSNOptions(t *testing.T) {
	st, err := OpenDuckDB(filepath.Join(t.TempDir(), "h.duckdb") + "?memory_limit=256MB")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var v string
	if err := st.db.QueryRow(`SELECT current_setting('memory_limit')`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v, "244") && !strings.HasPrefix(v, "256") {
		t.Fatalf("memory_limit = %q, want 256 MB", v)
	}
}
