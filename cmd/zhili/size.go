package main

import (
	"errors"
	"strconv"
	"strings"
)

// parseBytes reads a size: a whole number of bytes with an optional unit, KiB/MiB/GiB (powers
// of 1024) or KB/MB/GB (powers of 1000), e.g. 600MiB.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mul    int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mul := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if strings.HasSuffix(num, u.suffix) {
			num, mul = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mul
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("not a size")
	}
	if n > (1<<62)/mul {
		return 0, errors.New("size too large")
	}
	return n * mul, nil
}
