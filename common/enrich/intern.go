package enrich

import (
	"bytes"
	"hash/maphash"
	"unsafe"
)

// internCache remembers recently made strings so that the values audit
// streams repeat all the time (user agents, source addresses, RBAC reasons,
// resource paths, ARNs) cost no allocation after their first appearance.
// It is direct-mapped and per Result, so it needs no locking.
type internCache struct {
	slots [128]internSlot
}

type internSlot struct {
	raw, val string // raw JSON string content (escapes kept) and its value
	plain    bool   // raw was plain text, not JSON string content
}

var internSeed = maphash.MakeSeed()

// get returns the unescaped string for the JSON string content raw.
func (c *internCache) get(raw []byte) string { return c.lookup(raw, false) }

// plain returns b as a string (no unescaping).
func (c *internCache) plain(b []byte) string { return c.lookup(b, true) }

func (c *internCache) lookup(raw []byte, plain bool) string {
	if len(raw) == 0 {
		return ""
	}
	if len(raw) > 512 { // rare and large: not worth a slot
		if plain {
			return string(raw)
		}
		return unquote(raw)
	}
	s := &c.slots[maphash.Bytes(internSeed, raw)&127]
	if s.plain == plain && s.raw == string(raw) { // this conversion does not allocate
		return s.val
	}
	s.raw, s.plain = string(raw), plain
	if plain || bytes.IndexByte(raw, '\\') < 0 {
		s.val = s.raw
	} else {
		s.val = unquote(raw)
	}
	return s.val
}

// bytesToString returns a string sharing b's memory; b must never be
// modified afterwards.
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
