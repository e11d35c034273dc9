package store_test

import (
	"flag"
	"os"
	"testing"

	"zhili/internal/testsvc"
)

// TestMain runs four tests at a time unless -parallel is given (the conformance cases mostly
// wait on ClickHouse's DDL and DuckDB's file syncs) and stops the ClickHouse server that the
// package's tests share (testsvc.SharedClickHouse).
func TestMain(m *testing.M) {
	flag.Parse()
	testsvc.DefaultParallel(4)
	os.Exit(testsvc.RunShared(m))
}
