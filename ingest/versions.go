package ingest

import (
	"context"
	"strings"

	"zhili/errs"
	"zhili/event"
)

// VersionLookup gives the stored versions of events by stored id: the event with the id, then
// each correction of it in order, the last in force (store.Store.Versions). Ids not stored are
// left out.
type VersionLookup func(ctx context.Context, ids []string) (map[string][]event.Event, error)

// Version says what the history store holds under one event's id (POST /api/v1/events/versions).
type Version struct {
	Line int    `json:"line"`
	ID   string `json:"id"` // as sent
	// Stored: the history store holds an event under this id (an event accepted moments ago
	// may be in the intake log only: not yet).
	Stored bool `json:"stored"`
	// Latest is the id (as the source names it) of the version in force: the id itself, or the
	// last correction of it; Revisions counts the versions (1: never corrected).
	Latest    string `json:"latest,omitempty"`
	Revisions int    `json:"revisions,omitempty"`
	// Same: the line's content (every field but id and supersedes) is the version in force's.
	Same bool `json:"same"`
}

// VersionsReply answers a versions request line by line.
type VersionsReply struct {
	Versions []Version   `json:"versions"`
	Rejected []Rejection `json:"rejected"`
}

// ContentDigest identifies an event's content apart from its id and the event it supersedes,
// so that a correction can be compared with what it would replace (Digest otherwise).
func ContentDigest(ev event.Event) (uint64, error) {
	ev.ID, ev.Supersedes = "", ""
	return Digest(&ev)
}

// Versions validates a body like Ingest (the key's ids, types and report regions), stores
// nothing, and tells for each good line whether the history store holds an event under its id,
// the version in force of it (following corrections), and whether the line's content is that
// version's: what a source needs to send a correction (supersedes) only when its data changed,
// whatever the intake log still remembers. A source learns nothing but about its own ids.
func (d *Door) Versions(ctx context.Context, contentType string, body []byte, pol *Policy, lookup VersionLookup) (VersionsReply, error) {
	if pol == nil {
		pol = &Policy{}
	}
	goods, rejected, _, err := d.validate(contentType, body, pol)
	if err != nil {
		return VersionsReply{}, err
	}
	reply := VersionsReply{Versions: []Version{}, Rejected: rejected}
	ids := make([]string, len(goods))
	for i, g := range goods {
		ids[i] = StoredID(pol.Name, g.ev.ID)
	}
	if len(goods) == 0 {
		return reply, nil
	}
	held, err := lookup(ctx, ids)
	if err != nil {
		if errs.CodeOf(err) == errs.Internal {
			err = errs.Wrap(errs.Unavailable, "store", err, "history store unavailable")
		}
		return VersionsReply{}, err
	}
	prefix := StoredID(pol.Name, "")
	for i, g := range goods {
		v := Version{Line: g.n, ID: g.id}
		if chain := held[ids[i]]; len(chain) > 0 {
			last := chain[len(chain)-1]
			v.Stored, v.Revisions, v.Latest = true, len(chain), strings.TrimPrefix(last.ID, prefix)
			a, err1 := ContentDigest(g.ev)
			b, err2 := ContentDigest(last)
			v.Same = err1 == nil && err2 == nil && a == b
		}
		reply.Versions = append(reply.Versions, v)
	}
	return reply, nil
}
