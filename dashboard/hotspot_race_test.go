//go:build race

package dashboard

// raceSeeds: under the race detector (several times slower) the planted-truth test runs fewer
// seeds; the statistics are checked by the ordinary run.
const raceSeeds = 4
