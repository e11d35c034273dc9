// Package access decides who may do what. A principal is what one secret (a source's API key or
// a screen's, leader's or evaluator's token) stands for: its roles, the region subtrees it is
// limited to and, for sources, the event types it may send. Every route and live topic names
// the roles it admits (server/access.go); the configuration that defines principals fails
// closed (config.go).
package access

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"zhili/event"
)

// Role is what a principal is for.
type Role uint8

const (
	Source    Role = iota // sends events; never reads
	Screen                // live topics of its regions, the region tree and today's series
	Leader                // what screens see plus history and hotspot reviews
	Evaluator             // audits, case timelines and evaluation data
	Officer               // personal fields (reporter, address, summary) in case timelines
	Admin                 // configuration and the access log
	numRoles
)

var roleNames = [numRoles]string{"source", "screen", "leader", "evaluator", "officer", "admin"}

func (r Role) String() string {
	if r < numRoles {
		return roleNames[r]
	}
	return fmt.Sprintf("role(%d)", uint8(r))
}

// AllRoles lists every role in order.
func AllRoles() []Role {
	out := make([]Role, numRoles)
	for i := range out {
		out[i] = Role(i)
	}
	return out
}

// ParseRole names a role; an unknown name is an error.
func ParseRole(s string) (Role, error) {
	for i, n := range roleNames {
		if n == strings.TrimSpace(s) {
			return Role(i), nil
		}
	}
	return 0, fmt.Errorf("unknown role %q (known: %s)", s, strings.Join(roleNames[:], ", "))
}

// Set is a set of roles.
type Set uint16

// Of builds a set.
func Of(rs ...Role) Set {
	var s Set
	for _, r := range rs {
		s |= 1 << r
	}
	return s
}

// Has reports whether r is in s.
func (s Set) Has(r Role) bool { return s&(1<<r) != 0 }

// Meets reports whether s and o share a role.
func (s Set) Meets(o Set) bool { return s&o != 0 }

// Roles lists the set's roles in order.
func (s Set) Roles() []Role {
	var out []Role
	for _, r := range AllRoles() {
		if s.Has(r) {
			out = append(out, r)
		}
	}
	return out
}

func (s Set) String() string {
	var names []string
	for _, r := range s.Roles() {
		names = append(names, r.String())
	}
	return strings.Join(names, ",")
}

// Readers are the roles that read (every role but Source).
var Readers = Of(Screen, Leader, Evaluator, Officer, Admin)

// Principal is what one secret stands for.
type Principal struct {
	Name    string
	Roles   Set
	Regions []string     // region subtrees it is limited to; empty: the whole tree
	Types   []event.Type // Source: the event types it may send; empty: all
	// Tenant is the tenant it belongs to (nil: the deployment has no tenants). Its Regions then
	// lie under the tenant's roots (they are the roots when the config names none).
	Tenant *Tenant
}

// Keyring maps secrets to principals. Secrets are kept as SHA-256 digests and compared in
// constant time against every entry, so neither timing nor a map lookup tells how close a guess
// came. A configured secret may be given already hashed as "sha256:<64 hex digits>".
type Keyring struct {
	entries []keyEntry
	tenants []*Tenant // the config's tenants: section (nil: none)
}

type keyEntry struct {
	digest [sha256.Size]byte
	p      *Principal
}

// HashPrefix marks a secret given as its SHA-256 digest.
const HashPrefix = "sha256:"

// Digest returns the stored form of a plain secret: "sha256:" and its hex digest.
func Digest(secret string) string {
	d := sha256.Sum256([]byte(secret))
	return HashPrefix + hex.EncodeToString(d[:])
}

// Add registers a secret (plain, or hashed with HashPrefix). A secret added twice is an error.
func (k *Keyring) Add(secret string, p *Principal) error {
	var d [sha256.Size]byte
	if h, ok := strings.CutPrefix(secret, HashPrefix); ok {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != sha256.Size {
			return fmt.Errorf("%s secret must be %d hex digits", HashPrefix, 2*sha256.Size)
		}
		copy(d[:], b)
	} else {
		if strings.TrimSpace(secret) == "" {
			return fmt.Errorf("empty secret")
		}
		d = sha256.Sum256([]byte(secret))
	}
	if _, dup := k.find(d); dup {
		return fmt.Errorf("secret given twice")
	}
	k.entries = append(k.entries, keyEntry{digest: d, p: p})
	return nil
}

// Lookup returns the principal of a presented secret. It visits every entry whatever matches.
func (k *Keyring) Lookup(secret string) (*Principal, bool) {
	if k == nil || secret == "" {
		return nil, false
	}
	return k.find(sha256.Sum256([]byte(secret)))
}

func (k *Keyring) find(d [sha256.Size]byte) (*Principal, bool) {
	var found *Principal
	for i := range k.entries {
		if subtle.ConstantTimeCompare(k.entries[i].digest[:], d[:]) == 1 {
			found = k.entries[i].p
		}
	}
	return found, found != nil
}

// Clone returns a keyring with the same entries, to which more may be added.
func (k *Keyring) Clone() *Keyring {
	if k == nil {
		return &Keyring{}
	}
	return &Keyring{entries: slices.Clone(k.entries), tenants: k.tenants}
}

// Tenants lists the configured tenants (none: the deployment is one tenant, as without them).
func (k *Keyring) Tenants() []*Tenant {
	if k == nil {
		return nil
	}
	return k.tenants
}

// Len is the number of secrets.
func (k *Keyring) Len() int {
	if k == nil {
		return 0
	}
	return len(k.entries)
}

// Count returns how many principals hold a role in s.
func (k *Keyring) Count(s Set) int {
	n := 0
	for _, e := range k.Principals() {
		if e.Roles.Meets(s) {
			n++
		}
	}
	return n
}

// Principals lists the principals, in the order added.
func (k *Keyring) Principals() []*Principal {
	if k == nil {
		return nil
	}
	out := make([]*Principal, 0, len(k.entries))
	for _, e := range k.entries {
		if !slices.Contains(out, e.p) {
			out = append(out, e.p)
		}
	}
	return out
}
