package audit

import (
	"bytes"
	"slices"

	"github.com/auditlane/auditlane/internal/jsonstr"
)

// Rewrite collects edits to one event and writes the result in a single
// pass that copies every untouched byte of Event.Raw. The top level is
// written compactly ({"k":v,...}, input member order, whitespace between
// members dropped); member values keep their bytes except where edited.
//
// A Rewrite is reusable: Reset it before each event.
type Rewrite struct {
	drop    uint32 // members to omit
	set     uint32 // members with replacement values
	values  [numMembers][]byte
	edits   []edit
	sorted  bool
	arena   []byte // backs SetString values
	inArena uint32 // members whose value is arena[offs[m][0]:offs[m][1]]
	offs    [numMembers][2]int
	tmp     []byte // compaction
}

type edit struct {
	start, end int
	b          []byte
}

// Reset clears all edits.
func (w *Rewrite) Reset() {
	w.drop, w.set = 0, 0
	clear(w.values[:])
	w.edits = w.edits[:0]
	w.sorted = true
	w.arena = w.arena[:0]
	w.inArena = 0
}

// Drop removes top-level member m (every occurrence).
func (w *Rewrite) Drop(m Member) {
	w.drop |= 1 << m
}

// Dropped reports whether m is dropped.
func (w *Rewrite) Dropped(m Member) bool { return w.drop&(1<<m) != 0 }

// SetValue replaces the value of top-level member m with the JSON value v,
// adding the member at the end when the event lacks it. v is not copied.
func (w *Rewrite) SetValue(m Member, v []byte) {
	w.drop &^= 1 << m
	w.set |= 1 << m
	w.inArena &^= 1 << m
	w.values[m] = v
}

// SetString sets member m to the JSON string s.
func (w *Rewrite) SetString(m Member, s string) {
	start := len(w.arena)
	w.arena = AppendQuote(w.arena, s)
	w.SetValue(m, nil)
	w.inArena |= 1 << m
	w.offs[m] = [2]int{start, len(w.arena)}
}

// value returns the replacement value of m.
func (w *Rewrite) value(m Member) []byte {
	if w.inArena&(1<<m) != 0 {
		return w.arena[w.offs[m][0]:w.offs[m][1]]
	}
	return w.values[m]
}

// Replace replaces Raw[start:end] with b. Ranges must lie inside one
// member's value and must not overlap each other. b is not copied.
func (w *Rewrite) Replace(start, end int, b []byte) {
	if n := len(w.edits); n > 0 && w.edits[n-1].start > start {
		w.sorted = false
	}
	w.edits = append(w.edits, edit{start, end, b})
}

// Empty reports whether the Rewrite changes nothing.
func (w *Rewrite) Empty() bool { return w.drop == 0 && w.set == 0 && len(w.edits) == 0 }

// AppendTo appends the rewritten event to dst.
func (w *Rewrite) AppendTo(dst []byte, ev *Event) []byte {
	if !w.sorted {
		slices.SortFunc(w.edits, func(a, b edit) int { return a.start - b.start })
		w.sorted = true
	}
	raw := ev.Raw
	start := len(dst)
	dst = append(dst, '{')
	first := true
	written := uint32(0)
	k := 0 // next edit
	for _, mp := range ev.members {
		if mp.m < numMembers && w.drop&(1<<mp.m) != 0 {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		if mp.m < numMembers && w.set&(1<<mp.m) != 0 {
			dst = append(dst, raw[mp.keyStart:mp.valStart]...)
			dst = append(dst, w.value(mp.m)...)
			written |= 1 << mp.m
			continue
		}
		pos := mp.keyStart
		for k < len(w.edits) && w.edits[k].start < mp.keyStart {
			k++ // edit inside a dropped or replaced member
		}
		for k < len(w.edits) && w.edits[k].end <= mp.valEnd {
			e := w.edits[k]
			dst = append(dst, raw[pos:e.start]...)
			dst = append(dst, e.b...)
			pos = e.end
			k++
		}
		dst = append(dst, raw[pos:mp.valEnd]...)
	}
	for m := Member(0); m < numMembers; m++ {
		if w.set&(1<<m) != 0 && written&(1<<m) == 0 {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, '"')
			dst = append(dst, memberNames[m]...)
			dst = append(dst, '"', ':')
			dst = append(dst, w.value(m)...)
		}
	}
	dst = append(dst, '}')
	// One line per event: a member that holds a line break (a
	// pretty-printed event or body) is compacted; output without one is
	// left byte for byte as it is.
	if out := dst[start:]; bytes.IndexByte(out, '\n') >= 0 || bytes.IndexByte(out, '\r') >= 0 {
		w.tmp = append(w.tmp[:0], out...)
		dst = AppendCompact(dst[:start], w.tmp)
	}
	return dst
}

// AppendCompact appends the valid JSON v to dst without the whitespace
// between its tokens; strings are copied as they are.
func AppendCompact(dst, v []byte) []byte {
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(v) {
				k := bytes.IndexAny(v[j:], "\"\\")
				if k < 0 {
					j = len(v)
					break
				}
				j += k
				if v[j] == '\\' {
					j += 2
					continue
				}
				j++
				break
			}
			dst = append(dst, v[i:min(j, len(v))]...)
			i = j
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		default:
			// Copy up to the next string or whitespace.
			j := i + 1
			for j < len(v) && v[j] != '"' && v[j] != ' ' && v[j] != '\t' && v[j] != '\n' && v[j] != '\r' {
				j++
			}
			dst = append(dst, v[i:j]...)
			i = j
		}
	}
	return dst
}

// CutManagedFields removes metadata.managedFields from the object held in
// member m (requestObject or responseObject), from each item of a list
// object, and from each row object of a meta.k8s.io Table, as the
// apiserver's omitManagedFields does. It reports how many it cut.
func (w *Rewrite) CutManagedFields(ev *Event, m Member) int {
	s := ev.Span(m)
	if !s.Present() || ev.Raw[s.ValStart] != '{' {
		return 0
	}
	return w.cutManaged(ev.Raw, s.ValStart, true)
}

// cutManaged handles the object at b[i]; top allows list and table
// handling (one level, as the apiserver does).
func (w *Rewrite) cutManaged(b []byte, i int, top bool) int {
	n := 0
	o := objScan{b: b, i: i + 1}
	for {
		key, more, err := o.next()
		if err != nil || !more {
			return n
		}
		start := o.i
		end, _ := skipValue(b, start, 1)
		switch {
		case string(key) == `"metadata"` && b[start] == '{':
			n += w.cutMember(b, start, `"managedFields"`)
		case top && string(key) == `"items"` && b[start] == '[':
			n += w.eachElement(b, start, func(j int) int { return w.cutManaged(b, j, false) })
		case top && string(key) == `"rows"` && b[start] == '[':
			n += w.eachElement(b, start, func(j int) int {
				return w.eachMember(b, j, `"object"`, func(v int) int { return w.cutManaged(b, v, false) })
			})
		}
		o.i = end
	}
}

// eachElement calls fn with the start of each object element of the array
// at b[i].
func (w *Rewrite) eachElement(b []byte, i int, fn func(int) int) int {
	n := 0
	i = skipWS(b, i+1)
	for i < len(b) && b[i] != ']' {
		end, err := skipValue(b, i, 1)
		if err != nil {
			return n
		}
		if b[i] == '{' {
			n += fn(i)
		}
		i = skipWS(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
		}
	}
	return n
}

// eachMember calls fn with the value start of member key of the object at
// b[i] when that value is an object.
func (w *Rewrite) eachMember(b []byte, i int, key string, fn func(int) int) int {
	if b[i] != '{' {
		return 0
	}
	n := 0
	o := objScan{b: b, i: i + 1}
	for {
		k, more, err := o.next()
		if err != nil || !more {
			return n
		}
		start := o.i
		if string(k) == key && b[start] == '{' {
			n += fn(start)
		}
		if o.i, err = skipValue(b, start, 2); err != nil {
			return n
		}
	}
}

// cutMember records the removal of member key from the object at b[i],
// including one separating comma.
func (w *Rewrite) cutMember(b []byte, i int, key string) int {
	n := 0
	o := objScan{b: b, i: i + 1}
	prevEnd := -1 // end of the previous member's value
	for {
		k, more, err := o.next()
		if err != nil || !more {
			return n
		}
		keyStart, start := o.keyStart, o.i
		if o.i, err = skipValue(b, start, 2); err != nil {
			return n
		}
		if string(k) == key && n == 0 {
			if prevEnd >= 0 {
				// Not first: cut from the end of the previous value.
				w.Replace(prevEnd, o.i, nil)
			} else {
				// First: cut up to the next key, or the whole member.
				next := skipWS(b, o.i)
				if next < len(b) && b[next] == ',' {
					next = skipWS(b, next+1)
					w.Replace(keyStart, next, nil)
				} else {
					w.Replace(keyStart, o.i, nil)
				}
			}
			n++
		}
		prevEnd = o.i
	}
}

// AppendQuote appends s as a JSON string, escaping as encoding/json does
// with HTML escaping off.
func AppendQuote(dst []byte, s string) []byte { return jsonstr.AppendQuote(dst, s) }
