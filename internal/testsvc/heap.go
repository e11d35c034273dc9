package testsvc

import "runtime"

// HeapAfterGC is the heap in use after two forced collections (the second frees what the
// first's finalizers released): what a test's code still holds.
func HeapAfterGC() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
