// Package intake is the durable intake log between the ingest API and the aggregator: an
// accepted event is in the log before the API acknowledges it. Implementations: a file log
// (embedded default; intake_wal.go) and a Redis stream (production).
package intake

import (
	"context"
	"strconv"
)

// Record is one event to append: its id (the dedupe key), its partition key, its encoded form
// and the digest of its content.
type Record struct {
	ID string
	// Key is the partition key (the case id, so that one case's events stay in order in one
	// partition); "" means the id. A log with one partition ignores it.
	Key  string
	Data []byte
	// Digest identifies the record's content (the ingest door: the first 8 bytes of the
	// SHA-256 of the canonical event, arrival time left out). An id appended again with
	// another digest is a Conflict, with the same one a Duplicate. 0 means none: the id is only
	// deduplicated.
	Digest uint64
}

// Outcome is what Append did with one record.
type Outcome uint8

const (
	// Appended: a new id, stored.
	Appended Outcome = iota
	// Duplicate: the id was already accepted (by this call or an earlier one) with the same
	// digest, or one of the two has none. Not stored again.
	Duplicate
	// Conflict: the id was already accepted with another digest: another event under a taken
	// id. Not stored; the accepted copy stays.
	Conflict
)

func (o Outcome) String() string {
	switch o {
	case Appended:
		return "appended"
	case Duplicate:
		return "duplicate"
	case Conflict:
		return "conflict"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Compare is the outcome of an id accepted with digest had and appended again with got.
func Compare(had, got uint64) Outcome {
	if had != 0 && got != 0 && had != got {
		return Conflict
	}
	return Duplicate
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
//   - Append is atomic per call and idempotent on id: for each entry it reports its Outcome
//     (Appended; Duplicate when the id was already accepted, by this call or an earlier one;
//     Conflict when it was accepted with another Digest), and stores only new ids. The digest
//     of an accepted id is kept at least as long as its entry is in the log (also across a
//     reopen); an id known only from outside the log (the history store) has none, so any copy
//     of it is a Duplicate. When Append returns nil every new entry is durable (survives a
//     crash of the process and the machine's page cache, i.e. fsync'ed).
//   - Read returns entries with Offset > after, in offset order, at most max of them; it blocks
//     until at least one is there or ctx is done.
//   - Commit(upTo) tells the log that every entry ≤ upTo is safely in the history store; the
//     log may then discard them. It never forgets their ids.
type Intake interface {
	Append(ctx context.Context, recs []Record) ([]Outcome, error)
	Read(ctx context.Context, after uint64, max int) ([]Entry, error)
	Commit(ctx context.Context, upTo uint64) error
	Close() error
}
