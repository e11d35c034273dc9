package dashboard

import (
	"os"
	"testing"

	"zhili/internal/testsvc"
)

// TestMain stops the ClickHouse server the package's tests share (testsvc.SharedClickHouse).
func TestMain(m *testing.M) {
	os.Exit(testsvc.RunShared(m))
}
