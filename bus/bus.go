// Package bus is the live bus between aggregators and the dashboard read model in every server
// process. Implementations: in-process (embedded default; bus_memory.go) and Redis (production).
// One conformance suite (bustest) runs against each.
package bus

import "context"

// Bus carries opaque payloads on named channels.
//
// Contract:
//   - Publish delivers payload to every subscription of channel that exists when Publish
//     starts, in publish order per publisher; payloads are never modified by the bus and must
//     not be modified by subscribers.
//   - Delivery is lossless: when a subscription's buffer is full, Publish waits (back-pressure
//     to the aggregator) until there is room or ctx is done.
//   - Close ends every subscription (their channels are closed); Publish after Close returns an
//     error. Close is idempotent.
type Bus interface {
	Publish(ctx context.Context, channel string, payload []byte) error
	Subscribe(ctx context.Context, channel string) (Subscription, error)
	Close() error
}

// Subscription receives payloads of one channel, in order.
type Subscription interface {
	C() <-chan []byte
	Close() error
}
