package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"600MiB": 600 << 20, "2GiB": 2 << 30, "1GB": 1e9, "512 MB": 512e6, "4096": 4096, "64KiB": 64 << 10, "10B": 10} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1MiB", "1.5GiB", "12 parsecs", "9999999999GiB"} {
		if got, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) = %d, want an error", in, got)
		}
	}
}

// A memory limit that is not a size, or too small to run in, stops serve before it starts.
func TestServeRefusesBadMemoryLimit(t *testing.T) {
	for _, v := range []string{"lots", "1MiB"} {
		err := runServe(context.Background(), []string{"--data", t.TempDir(), "--listen", "127.0.0.1:0", "--memory-limit", v}, &bytes.Buffer{}, &bytes.Buffer{})
		if err == nil || !strings.Contains(err.Error(), "--memory-limit") {
			t.Errorf("--memory-limit %s: %v", v, err)
		}
	}
}
