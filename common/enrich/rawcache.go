package enrich

import (
	"bytes"
	"hash/maphash"
)

// rawCache remembers what was derived from recently seen raw JSON values
// (a user object, an annotations object): audit streams repeat them all
// the time, and looking a value up costs a hash and a comparison where
// deriving again means walking the JSON. It is two-way set-associative and
// per Result, so it needs no locking. What is cached must be a pure
// function of the raw bytes.
type rawCache[V any] struct {
	sets [rawSets][2]rawEntry[V] // [0] is the most recently used
}

const (
	rawSets   = 32   // a power of two
	rawMaxLen = 4096 // longer values are not cached
)

type rawEntry[V any] struct {
	key  []byte
	used bool
	v    V
}

// get returns the entry for raw and whether it was there. On a miss the
// entry is reset for raw and the caller fills it; nil means raw is not
// cached (too long), and the caller derives without the cache.
func (c *rawCache[V]) get(raw []byte) (v *V, hit bool) {
	if len(raw) > rawMaxLen {
		return nil, false
	}
	set := &c.sets[maphash.Bytes(internSeed, raw)&(rawSets-1)]
	if e := &set[0]; e.used && bytes.Equal(e.key, raw) {
		return &e.v, true
	}
	if e := &set[1]; e.used && bytes.Equal(e.key, raw) {
		set[0], set[1] = set[1], set[0]
		return &set[0].v, true
	}
	set[0], set[1] = set[1], set[0] // the older one makes way
	e := &set[0]
	var zero V
	e.key, e.used, e.v = append(e.key[:0], raw...), true, zero
	return &e.v, false
}
