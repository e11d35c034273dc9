package app

import (
	"flag"
	"os"
	"testing"

	"zhili/internal/testsvc"
)

// TestMain runs the tests four at a time unless -parallel is given (they mostly wait on servers
// and timers) and stops the ClickHouse server they share (testsvc.SharedClickHouse).
func TestMain(m *testing.M) {
	flag.Parse()
	testsvc.DefaultParallel(4)
	os.Exit(testsvc.RunShared(m))
}
