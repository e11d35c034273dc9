package bus_test

import (
	"testing"

	"zhili/bus"
	"zhili/bus/bustest"
)

func TestMemoryBus(t *testing.T) {
	bustest.Run(t, func(t *testing.T) bus.Bus { return bus.NewMemory(64) }, bustest.Config{BlockingPublish: true})
}
