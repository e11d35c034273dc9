// Package store is the history store: every accepted event with its derived fields, and the
// period queries the REST API and the audits make. Implementations: DuckDB (embedded, the
// default; store_duckdb.go) and ClickHouse (production). One conformance suite (storetest)
// runs against each.
package store

import (
	"context"
	"time"

	"zhili/event"
)

// Record is one stored event: the contract fields (personal ones included: the store is the
// only place they live, protected), plus what the aggregator derived.
type Record struct {
	event.Event
	Offset     uint64    // position in the intake log
	Received   time.Time // arrival time at the server
	RegionPath []string  // root → deepest region code; empty when unlocated
	Lon, Lat   float64   // the point in the store's CRS (WGS-84); 0,0 with HasPoint false when none
	HasPoint   bool
}

// Batch is one atomic write: the records and the intake position they bring the store up to.
type Batch struct {
	Records    []Record
	Checkpoint uint64 // intake offset after the last record in this batch
}

// SeriesQuery asks for counts over time.
type SeriesQuery struct {
	Region   string        // region code; matches every event whose RegionPath contains it ("" = all)
	From, To time.Time     // [From, To)
	Step     time.Duration // bucket width; ≥ 1h steps are aligned to Loc's midnight
	Category string        // "" = all
	Types    []event.Type  // event types counted; empty = case.reported only
	Loc      *time.Location
}

// Point is one bucket of a series.
type Point struct {
	T     time.Time `json:"t"`
	Count int64     `json:"count"`
}

// RegionQuery asks for counts per child region of Region over a period, or per descendant at
// a deeper Level.
type RegionQuery struct {
	Region string // parent region code ("" = top level)
	Depth  int    // depth of Region in the tree (root = 0); children are at Depth+1
	Level  int    // depth of the regions counted; 0 (or ≤ Depth) means Depth+1
	UpTo   uint64 // when > 0, only records with Offset ≤ UpTo (a consistent cut of the intake log)
	// Cut, when non-nil, is a consistent cut of a partitioned intake log: only records of
	// partition p with Offset ≤ Cut[p]; partitions missing from Cut are excluded. A store
	// that is not Partitioned holds partition 0 only.
	Cut      map[int]uint64
	From, To time.Time
	Category string
	Types    []event.Type // empty = case.reported only
}

// CubeQuery asks for a space-time cube: counts per region at Level under Region (as
// RegionQuery) × time bucket (as SeriesQuery), for emerging-hotspot analysis.
type CubeQuery struct {
	RegionQuery
	Step time.Duration
	Loc  *time.Location
}

// CubeSeries is one region's dense series in a cube.
type CubeSeries struct {
	Region string  `json:"region"`
	Points []Point `json:"points"`
}

// PointQuery selects located events for the levels that are not regions (H3 cells): the
// events of Types (case.reported when empty) in [From, To) that have a point, of Category when
// set, with the cuts of the log of RegionQuery (UpTo, Cut). Region and Depth select as in
// RegionQuery; Level is not used.
type PointQuery = RegionQuery

// LocatedEvent is one event's time and point (WGS-84).
type LocatedEvent struct {
	At       time.Time
	Lon, Lat float64
}

// RegionCount is the count for one child region.
type RegionCount struct {
	Region string `json:"region"`
	Count  int64  `json:"count"`
}

// CaseQuery selects cases for audits: those whose first case.reported lies in [From, To),
// optionally under Region (at Depth in the tree, as RegionQuery) and of one Category.
type CaseQuery struct {
	Region   string
	Depth    int
	From, To time.Time
	Category string
	// IDs, when not nil, keeps only these cases (at most MaxCaseQueryIDs; empty: none): a
	// reader re-reading the cases a write changed.
	IDs []string
}

// Partitioned is a store shared by the owners of several intake partitions (ClickHouse in a
// scaled-out deployment). Partition(p) is the view through which the owner of partition p
// writes: its Write, Checkpoint, Replay and EventIDs concern partition p only; its queries
// cover the whole history. The Partitioned store itself is the view of partition 0.
type Partitioned interface {
	Store
	Partition(p int) Store
}

// ctxCheckRows is how often (in rows) a query that calls back per record checks its context:
// the callbacks (an audit's per-case work) run in Go, after the database has answered, so the
// driver's own cancellation does not reach them.
const ctxCheckRows = 256

// DataVersioned is a store that tells when its data may have changed, for readers that keep
// what they read: DataVersion returns a number never returned before after any write (or open
// of a file written elsewhere) that could change what a query returns; it may also change
// without one. A reader that keeps a result under the version it saw before the query may
// give it again while the version is unchanged. An error means the store cannot tell now (the
// ClickHouse store on a cluster never can): the reader reads as if it could not keep anything.
type DataVersioned interface {
	DataVersion(ctx context.Context) (uint64, error)
}

// CaseChanges is a DataVersioned store that also tells which cases its data changed for, so
// that a reader keeping per-case results can re-read those cases alone. CasesChangedSince
// returns the case ids of every write that made a version after v (a superset is allowed: a
// write that failed is counted); ok is false when it cannot tell (v older than what it keeps,
// or more than MaxChangedCases ids), and the reader must read everything again.
type CaseChanges interface {
	DataVersioned
	CasesChangedSince(ctx context.Context, v uint64) (ids []string, ok bool, err error)
}

// SurveysVersioned is a store that tells when its survey records (evaluation.survey) may have
// changed: SurveysVersion returns a number never returned before after any write holding a
// survey record (or an open), and the same number across writes without one. A reader that
// keeps the survey records it read under the version it saw before reading may give them again
// while the version is unchanged. An error means it cannot tell now.
type SurveysVersioned interface {
	SurveysVersion(ctx context.Context) (uint64, error)
}

// HistoryBeginning is a store that tells when its history begins: the time of its earliest
// stored case report (ok false when it holds none). A period that begins before it holds no
// case for its first days: audits and evaluations say so rather than count those days as quiet.
type HistoryBeginning interface {
	HistoryBegins(ctx context.Context) (at time.Time, ok bool, err error)
}

// MaxChangedCases bounds the ids CasesChangedSince returns: beyond it a reader is better off
// reading its results again whole.
const MaxChangedCases = 5000

// MaxCaseQueryIDs bounds CaseQuery.IDs.
const MaxCaseQueryIDs = 1000

// Store is the history store.
//
// Contract:
//   - Write is atomic and idempotent on event id: a record whose id is already stored is
//     skipped, never counted twice; the checkpoint is stored in the same transaction, so after a
//     crash Checkpoint tells exactly where to resume reading the intake log.
//   - Once Write returns nil, the batch survives a crash of the process.
//   - Queries see every write that returned before they started.
//   - Replay yields every stored record ordered by (At, Offset).
//   - A record superseded by a correction (another record of the same case and type naming it
//     in Event.Supersedes, event.Superseded) stays stored and is returned by Replay,
//     CaseEvents, Cases and Versions, but is counted by no period query (Series, RegionCounts,
//     Cube; with a cut of the log, only corrections within the cut count), and a case's first
//     report (Cases, CaseRegions) is its first report not superseded.
//   - A query stops when its ctx is done and returns an error that wraps ctx's error
//     (errors.Is(err, context.Canceled) or context.DeadlineExceeded): the database is told to
//     stop (DuckDB interrupts the statement, ClickHouse gets the query cancelled), and a
//     query that calls back per record stops between records.
type Store interface {
	Write(ctx context.Context, b Batch) error
	Checkpoint(ctx context.Context) (uint64, error)
	Replay(ctx context.Context, fn func(Record) error) error
	EventIDs(ctx context.Context, fn func(id string) error) error
	Count(ctx context.Context) (int64, error)
	Series(ctx context.Context, q SeriesQuery) ([]Point, error)
	RegionCounts(ctx context.Context, q RegionQuery) ([]RegionCount, error)
	// Cube returns a dense series per region that has events, ordered by region code.
	Cube(ctx context.Context, q CubeQuery) ([]CubeSeries, error)
	// Points calls fn once per located event selected by q (superseded events left out, as by
	// the period queries), in no particular order; it stops at fn's first error and returns it.
	Points(ctx context.Context, q PointQuery, fn func(LocatedEvent) error) error
	CaseEvents(ctx context.Context, caseID string) ([]Record, error)
	// CaseRegions returns, for each of ids that is a reported case (one with a stored
	// case.reported, of any partition), the leaf region code of its first report by
	// (At, Offset, id): the region it was reported in, "" when that report is unlocated. Ids
	// without a stored report are left out.
	CaseRegions(ctx context.Context, ids []string) (map[string]string, error)
	// Cases calls fn once per case selected by q, in order of first report (then case id), with
	// every stored event of the case (of any partition, also those outside the period), ordered
	// by (At, Offset), personal fields included. Stops at fn's first error and returns it.
	Cases(ctx context.Context, q CaseQuery, fn func(caseID string, recs []Record) error) error
	// Versions returns, for each of ids that is stored (of any partition), its versions in
	// order: the record with that id, then the record of the same case and type that
	// supersedes it (Event.Supersedes), then the one superseding that, and so on; the last is
	// the version in force. When several records supersede one, the latest by intake offset
	// (then id) is followed. Ids not stored are left out. Personal fields included.
	Versions(ctx context.Context, ids []string) (map[string][]Record, error)
	// Surveys calls fn once per stored evaluation.survey record (of any partition), superseded
	// ones included (event.Live leaves them out), ordered by (At, Offset, id). Stops at fn's
	// first error and returns it.
	Surveys(ctx context.Context, fn func(Record) error) error
	Ping(ctx context.Context) error
	Close() error
}
