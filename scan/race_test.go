//go:build race

package scan

// raceOn: the race detector slows the scans about twentyfold, so the validations run fewer
// analyses (still with real assertions, their tolerances widened by the smaller counts).
const raceOn = true
