package enrich

import (
	"bytes"
	"hash/maphash"
	"unsafe"
)

// internCache remembers recently made strings so that the values audit
// streams repeat all the time (user agents, source addresses, RBAC reasons,
// resource paths, ARNs) cost no allocation after their first appearance,
// together with what was derived from them (a parsed user agent or RBAC
// reason, an address class), which is a pure function of the string.
// It is two-way set-associative (a string shares its set with one other,
// the least recently used of the two makes way) and per Result, so it
// needs no locking.
type internCache struct {
	sets [internSets][2]internSlot // [0] is the most recently used
	tmp  internSlot                // for strings not worth a slot
}

const internSets = 256 // a power of two

type internSlot struct {
	raw, val string // raw JSON string content (escapes kept) and its value
	plain    bool   // raw was plain text, not JSON string content
	// derived holds values derived from val, made on first use; its have
	// bits are cleared when the slot is given to another string.
	derived *derived
}

// derived are values computed from an interned string.
type derived struct {
	have uint8

	rbac   RBACReason
	rbacOK bool

	ua           UserAgent
	uaAKS, uaACK bool // provider hints in a user agent (see detectProvider)
	ipClass      string
}

const (
	haveRBAC uint8 = 1 << iota
	haveUA
	haveUAHints
	haveIPClass
)

var internSeed = maphash.MakeSeed()

// get returns the unescaped string for the JSON string content raw.
func (c *internCache) get(raw []byte) string { return c.lookup(raw, false).val }

// plain returns b as a string (no unescaping).
func (c *internCache) plain(b []byte) string { return c.lookup(b, true).val }

// lookup returns the slot of raw. For the empty and the rare large strings
// it is a temporary slot, valid until the next lookup.
func (c *internCache) lookup(raw []byte, plain bool) *internSlot {
	if len(raw) == 0 || len(raw) > 512 { // large: not worth a slot
		t := &c.tmp
		switch {
		case len(raw) == 0:
			t.val = ""
		case plain:
			t.val = string(raw)
		default:
			t.val = unquote(raw)
		}
		if t.derived != nil {
			t.derived.have = 0
		}
		return t
	}
	set := &c.sets[maphash.Bytes(internSeed, raw)&(internSets-1)]
	if s := &set[0]; s.plain == plain && s.raw == string(raw) { // this conversion does not allocate
		return s
	}
	if s := &set[1]; s.plain == plain && s.raw == string(raw) {
		set[0], set[1] = set[1], set[0]
		return &set[0]
	}
	set[0], set[1] = set[1], set[0] // the older one makes way, keeping its derived memory
	s := &set[0]
	s.raw, s.plain = string(raw), plain
	if plain || bytes.IndexByte(raw, '\\') < 0 {
		s.val = s.raw
	} else {
		s.val = unquote(raw)
	}
	if s.derived != nil {
		s.derived.have = 0
	}
	return s
}

func (s *internSlot) d(bit uint8) (*derived, bool) {
	if s.derived == nil {
		s.derived = new(derived)
	}
	ok := s.derived.have&bit != 0
	s.derived.have |= bit
	return s.derived, ok
}

// rbac returns ParseRBACReason(s.val).
func (s *internSlot) rbac() (RBACReason, bool) {
	d, ok := s.d(haveRBAC)
	if !ok {
		d.rbac, d.rbacOK = ParseRBACReason(s.val)
	}
	return d.rbac, d.rbacOK
}

// userAgent returns ParseUserAgent(s.val).
func (s *internSlot) userAgent() UserAgent {
	d, ok := s.d(haveUA)
	if !ok {
		d.ua = ParseUserAgent(s.val)
	}
	return d.ua
}

// uaHints returns the provider hints of the user agent s.val.
func (s *internSlot) uaHints() (aks, ack bool) {
	d, ok := s.d(haveUAHints)
	if !ok {
		d.uaAKS, d.uaACK = userAgentHints(s.val)
	}
	return d.uaAKS, d.uaACK
}

// ipClass returns ClassifyIP(s.val).
func (s *internSlot) ipClass() string {
	d, ok := s.d(haveIPClass)
	if !ok {
		d.ipClass = ClassifyIP(s.val)
	}
	return d.ipClass
}

// bytesToString returns a string sharing b's memory; b must never be
// modified afterwards.
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}
