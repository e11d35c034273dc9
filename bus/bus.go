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
//   - Delivery is lossless while a subscription keeps up: a slow subscription holds the
//     payloads back instead of dropping them. Where they wait depends on the implementation:
//     the in-process bus makes Publish wait until the subscription's buffer has room or ctx is
//     done (back-pressure to the publisher); the Redis bus buffers them in the channel's stream
//     (Publish never waits for subscribers) and only loses payloads a subscription fell so far
//     behind on that the stream was trimmed past them (counted as gaps).
//   - Retain stores payload as channel's retained message under key, replacing the previous
//     one for that key, without publishing it. Subscribe first delivers the channel's retained
//     messages (one per key, in any order), then the payloads published after the
//     subscription; subscriptions that already exist do not receive retained messages. A
//     publisher that retains a message and then publishes it reaches every subscription at
//     least once, however their timing interleaves.
//   - Health returns nil while the bus works, the last connection error while its backend is
//     unreachable, and ErrClosed after Close.
//   - Close ends every subscription (their channels are closed); Publish, Retain and Subscribe
//     after Close return ErrClosed. Close is idempotent.
type Bus interface {
	Publish(ctx context.Context, channel string, payload []byte) error
	Retain(ctx context.Context, channel, key string, payload []byte) error
	Subscribe(ctx context.Context, channel string) (Subscription, error)
	Health() error
	Close() error
}

// Subscription receives payloads of one channel, in order.
type Subscription interface {
	C() <-chan []byte
	Close() error
}
