package geo_test

import (
	"testing"

	"zhili/geo"
	"zhili/geo/locatortest"
)

// Every locator passes the one conformance suite.

func TestTreeLocatorConformance(t *testing.T) {
	locatortest.Run(t, func(tr *geo.Tree) geo.Locator { return geo.TreeLocator{T: tr} })
}

func TestIndexedLocatorConformance(t *testing.T) {
	locatortest.Run(t, func(tr *geo.Tree) geo.Locator { return geo.NewIndexedLocator(tr) })
}
