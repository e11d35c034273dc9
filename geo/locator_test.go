package geo_test

import (
	"testing"

	"zhili/geo"
	"zhili/geo/locatortest"
)

// Every locator passes the one conformance suite, on the Xinyang tree the package's other tests
// parse.
func init() {
	locatortest.Xinyang = func() (*geo.Tree, error) { return geo.XinyangOnce() }
}

func TestTreeLocatorConformance(t *testing.T) {
	locatortest.Run(t, func(tr *geo.Tree) geo.Locator { return geo.TreeLocator{T: tr} })
}

func TestIndexedLocatorConformance(t *testing.T) {
	locatortest.Run(t, func(tr *geo.Tree) geo.Locator { return geo.NewIndexedLocator(tr) })
}
