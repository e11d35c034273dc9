package store

import (
	"os"
	"strings"
	"testing"
)

// schemaFile is the reference schema under deploy/: generated from the migrations, so that the
// documentation cannot drift from what `zhili migrate` creates.
const schemaFile = "../deploy/clickhouse/single/schema.sql"

func renderSchemaFile() string {
	var b strings.Builder
	b.WriteString(`-- Zhili history store, single node: what the migrations (store/clickhouse_migrate.go) create.
-- Reference only: ` + "`zhili migrate`" + ` (or OpenClickHouse) applies it and records schema_migrations.
-- Generated: ZHILI_UPDATE_SCHEMA=1 go test ./store -run TestSchemaFile (a test keeps it current).
-- Two variants: servers >= 20.3 (LowCardinality, bloom-filter index on case_id; TTL when a
-- retention is configured) and older servers such as 18.16 (plain String). The rollup_day zone
-- is the deployment zone at migration time (default Asia/Shanghai). Columns added by later
-- migrations come as ALTER TABLE … ADD COLUMN, which the store runs only when the column is missing.
`)
	for _, v := range []struct {
		title        string
		major, minor int
	}{{"servers >= 20.3 (shown for 23.8)", 23, 8}, {"servers < 20.3 (18.16, what the tests run)", 18, 16}} {
		b.WriteString("\n-- ===== " + v.title + " =====\n")
		for _, st := range ClickHouseSchema(v.major, v.minor, ClickHouseOptions{}) {
			b.WriteString(strings.TrimSpace(st) + ";\n\n")
		}
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

func TestSchemaFile(t *testing.T) {
	want := renderSchemaFile()
	if os.Getenv("ZHILI_UPDATE_SCHEMA") == "1" {
		if err := os.WriteFile(schemaFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is not what the migrations create; regenerate it with ZHILI_UPDATE_SCHEMA=1 go test ./store -run TestSchemaFile", schemaFile)
	}
}
