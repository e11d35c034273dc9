// Package intake is the durable intake log between the ingest API and the aggregator: an
// accepted event is in the log before the API acknowledges it. Implementations: a file log
// (embedded default; intake_wal.go) and a Redis stream (production).
package intake

import (
	"context"
)

// Record is one event to append: its id (the dedupe key), its partition key, and its encoded
// form.
type Record struct {
	ID string
	// Key is the partition key (the case id, so that one case's events stay in order in one
	// partition); "" means the id. A log with one partition ignores it.
	Key  string
	Data []byte
}

// Entry is one logged event, encoded as canonical JSON (personal fields included).
type Entry struct {
	Offset uint64 // 1-based, strictly increasing
	ID     string // event id
	Data   []byte
}

// Intake is the durable, deduplicating intake log.
//
// Contract:
//   - Append is atomic per call and idempotent on id: for each entry it reports whether the id
//     was already accepted (by this call or an earlier one), and stores only new ids. When it
//     returns nil every new entry is durable (survives a crash of the process and the machine's
//     page cache, i.e. fsync'ed).
//   - Read returns entries with Offset > after, in offset order, at most max of them; it blocks
//     until at least one is there or ctx is done.
//   - Commit(upTo) tells the log that every entry ≤ upTo is safely in the history store; the
//     log may then discard them. It never forgets their ids.
type Intake interface {
	Append(ctx context.Context, recs []Record) (dup []bool, err error)
	Read(ctx context.Context, after uint64, max int) ([]Entry, error)
	Commit(ctx context.Context, upTo uint64) error
	Close() error
}
