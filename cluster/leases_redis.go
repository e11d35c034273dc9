package cluster

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisLeases keeps leases as keys with a TTL (SET NX PX) and membership in a sorted set
// scored by expiry, under the tenant's key prefix.
type RedisLeases struct {
	c      redis.UniversalClient
	prefix string
	owner  string
	ttl    time.Duration
}

var _ Leases = (*RedisLeases)(nil)

// NewRedisLeases returns the leases of owner. prefix is the tenant's key prefix (e.g. "zhili:");
// ttl bounds how long a dead process keeps its partitions (default 6 s).
func NewRedisLeases(c redis.UniversalClient, prefix, owner string, ttl time.Duration) *RedisLeases {
	if ttl <= 0 {
		ttl = 6 * time.Second
	}
	return &RedisLeases{c: c, prefix: prefix, owner: owner, ttl: ttl}
}

func (r *RedisLeases) key(p int) string { return r.prefix + "lease:" + strconv.Itoa(p) }

// TTL is the lease time.
func (r *RedisLeases) TTL() time.Duration { return r.ttl }

// Owner is this process's name.
func (r *RedisLeases) Owner() string { return r.owner }

// Acquire takes the lease of partition p if it is free.
func (r *RedisLeases) Acquire(ctx context.Context, p int) (bool, error) {
	return r.c.SetNX(ctx, r.key(p), r.owner, r.ttl).Result()
}

var renewScript = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`)

var releaseScript = redis.NewScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1]) else return 0 end`)

// Renew extends the lease while this owner holds it.
func (r *RedisLeases) Renew(ctx context.Context, p int) (bool, error) {
	n, err := renewScript.Run(ctx, r.c, []string{r.key(p)}, r.owner, r.ttl.Milliseconds()).Int()
	return n == 1, err
}

// Release gives the lease up if this owner holds it.
func (r *RedisLeases) Release(ctx context.Context, p int) error {
	return releaseScript.Run(ctx, r.c, []string{r.key(p)}, r.owner).Err()
}

// Heartbeat marks this owner alive and counts the live owners.
func (r *RedisLeases) Heartbeat(ctx context.Context) (int, error) {
	key := r.prefix + "members"
	now := time.Now()
	pipe := r.c.TxPipeline()
	pipe.ZAdd(ctx, key, redis.Z{Score: float64(now.Add(r.ttl).UnixMilli()), Member: r.owner})
	pipe.ZRemRangeByScore(ctx, key, "-inf", strconv.FormatInt(now.UnixMilli(), 10))
	n := pipe.ZCard(ctx, key)
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	return int(n.Val()), nil
}

// Leave removes this owner from the members at once (on a graceful stop).
func (r *RedisLeases) Leave(ctx context.Context) error {
	return r.c.ZRem(ctx, r.prefix+"members", r.owner).Err()
}
