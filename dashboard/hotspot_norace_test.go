//go:build !race

package dashboard

const raceSeeds = 0
