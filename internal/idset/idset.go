// Package idset is a compact set of 64-bit id hashes (about 11 bytes per id), for the
// deduplication of event ids in the intake log and the history store. A false duplicate needs
// a 64-bit collision: odds about n²/2⁶⁵ for n ids.
package idset

// Set is a set of 64-bit hashes: 256 open-addressing tables with linear probing, so growth
// rehashes one small table at a time. Slots hold the hash; 0 marks an empty slot.
type Set struct {
	shards [256]idShard
	n      int
}

type idShard struct {
	slots []uint64
	n     int
}

// Has reports whether h is in the set.
func (s *Set) Has(h uint64) bool {
	if h == 0 {
		h = 1
	}
	sh := &s.shards[h>>56]
	if len(sh.slots) == 0 {
		return false
	}
	mask := uint64(len(sh.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch sh.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

// Add adds h.
func (s *Set) Add(h uint64) {
	if h == 0 {
		h = 1
	}
	sh := &s.shards[h>>56]
	if (sh.n+1)*4 > len(sh.slots)*3 {
		sh.grow()
	}
	if sh.insert(h) {
		sh.n++
		s.n++
	}
}

func (sh *idShard) insert(h uint64) bool {
	mask := uint64(len(sh.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch sh.slots[i] {
		case h:
			return false
		case 0:
			sh.slots[i] = h
			return true
		}
	}
}

func (sh *idShard) grow() {
	old := sh.slots
	sh.slots = make([]uint64, max(16, 2*len(old)))
	for _, h := range old {
		if h != 0 {
			sh.insert(h)
		}
	}
}

// Len is the number of hashes in the set.
func (s *Set) Len() int { return s.n }
