package testsvc

import (
	"flag"
	"fmt"
	"runtime"
)

// DefaultParallel sets -test.parallel to n when the command line did not give it and the
// machine has fewer than n CPUs: for a package whose tests mostly wait (on servers, pages,
// timers), not compute. Call it from TestMain after flag.Parse.
func DefaultParallel(n int) {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set && runtime.GOMAXPROCS(0) < n {
		_ = flag.Set("test.parallel", fmt.Sprint(n))
	}
}
