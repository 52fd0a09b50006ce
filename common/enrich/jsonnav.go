package enrich

import (
	"bytes"
	"encoding/binary"
	"math/bits"

	"github.com/buger/jsonparser"
)

// A small navigator over JSON the decoder already validated. It skips
// strings with bytes.IndexByte (vectorised) instead of byte by byte, which
// makes looking up a member of a large request body cheap. Inputs that are
// not valid JSON give partial or empty results, never a panic.

// skipValue returns the index just past the value that starts at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

// skipString returns the index just past the string whose quote is b[i].
// It looks at eight bytes at a time for a quote or a backslash.
func skipString(b []byte, i int) int {
	const lsb, msb = 0x0101010101010101, 0x8080808080808080
	j := i + 1
	for j+8 <= len(b) {
		w := binary.LittleEndian.Uint64(b[j:])
		q := w ^ (lsb * '"')
		s := w ^ (lsb * '\\')
		if m := ((q-lsb)&^q | (s-lsb)&^s) & msb; m != 0 {
			k := j + bits.TrailingZeros64(m)/8 // the lowest match is exact
			if b[k] == '"' {
				return k + 1
			}
			j = k + 2 // skip the escaped character
			continue
		}
		j += 8
	}
	for j < len(b) {
		switch b[j] {
		case '"':
			return j + 1
		case '\\':
			j++
		}
		j++
	}
	return len(b)
}

// eachMember calls fn with the raw key (between the quotes) and the raw
// value of each member of the object obj, until fn returns false.
func eachMember(obj []byte, fn func(key, val []byte) bool) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return
	}
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] != '"' {
			return
		}
		ke := skipString(obj, i)
		key := obj[i+1 : max(i+1, ke-1)]
		i = skipSpace(obj, ke)
		if i >= len(obj) || obj[i] != ':' {
			return
		}
		i = skipSpace(obj, i+1)
		ve := skipValue(obj, i)
		if !fn(key, obj[i:ve]) {
			return
		}
		i = skipSpace(obj, ve)
		if i >= len(obj) || obj[i] != ',' {
			return
		}
		i++
	}
}

// memberIter walks the members of an object without a callback:
//
//	for it := iterMembers(obj); it.next(); {
//		use(it.key, it.val)
//	}
//
// It stops at the end of the object or at anything that is not valid JSON.
type memberIter struct {
	b        []byte
	i        int
	key, val []byte
}

// iterMembers returns an iterator over the members of the object obj (none
// when obj is not an object).
func iterMembers(obj []byte) memberIter {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return memberIter{i: -1}
	}
	return memberIter{b: obj, i: i + 1}
}

// next advances to the next member, reporting false at the end.
func (it *memberIter) next() bool {
	b, i := it.b, it.i
	if i < 0 {
		return false
	}
	it.i = -1
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != '"' {
		return false
	}
	ke := skipString(b, i)
	key := b[i+1 : max(i+1, ke-1)]
	i = skipSpace(b, ke)
	if i >= len(b) || b[i] != ':' {
		return false
	}
	i = skipSpace(b, i+1)
	ve := skipValue(b, i)
	it.key, it.val = key, b[i:ve]
	i = skipSpace(b, ve)
	if i < len(b) && b[i] == ',' {
		it.i = i + 1
	}
	return true
}

// firstElement returns the first raw element of the array arr, or nil.
func firstElement(arr []byte) []byte {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return nil
	}
	i = skipSpace(arr, i+1)
	if i >= len(arr) || arr[i] == ']' {
		return nil
	}
	if ve := skipValue(arr, i); ve > i {
		return arr[i:ve]
	}
	return nil
}

// eachElement calls fn with each raw element of the array arr.
func eachElement(arr []byte, fn func(val []byte)) {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return
	}
	i++
	for {
		i = skipSpace(arr, i)
		if i >= len(arr) || arr[i] == ']' {
			return
		}
		ve := skipValue(arr, i)
		if ve <= i {
			return
		}
		fn(arr[i:ve])
		i = skipSpace(arr, ve)
		if i >= len(arr) || arr[i] != ',' {
			return
		}
		i++
	}
}

// keyIs reports whether the raw key equals k, unescaping only when needed.
func keyIs(raw []byte, k string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == k
	}
	return unquote(raw) == k
}

// field returns the raw value at path in obj, or nil.
func field(obj []byte, path ...string) []byte {
	for _, k := range path {
		var found []byte
		eachMember(obj, func(key, val []byte) bool {
			if keyIs(key, k) {
				found = val
				return false
			}
			return true
		})
		if found == nil {
			return nil
		}
		obj = found
	}
	return obj
}

// object returns the object at path in obj, or nil.
func object(obj []byte, path ...string) []byte {
	v := field(obj, path...)
	if len(v) == 0 || v[0] != '{' {
		return nil
	}
	return v
}

// boolean reports whether the value at path is true.
func boolean(obj []byte, path ...string) bool {
	return string(field(obj, path...)) == "true"
}

// strAt returns the string at path in obj, unescaped, or "".
func strAt(obj []byte, path ...string) string {
	return str(field(obj, path...))
}

// str returns the raw JSON value v as a string when it is one, else "".
func str(v []byte) string {
	if len(v) < 2 || v[0] != '"' {
		return ""
	}
	return unquote(v[1 : len(v)-1])
}

// rawStr returns the content of the raw JSON string v (escapes kept), or nil.
func rawStr(v []byte) []byte {
	if len(v) < 2 || v[0] != '"' {
		return nil
	}
	return v[1 : len(v)-1]
}

// unquote returns the string content raw unescaped.
func unquote(raw []byte) string {
	i := bytes.IndexByte(raw, '\\')
	if i < 0 {
		return string(raw)
	}
	// Fast path for the common escapes (\" \\ \/ \n \t \r); \u goes to
	// jsonparser.
	orig := raw
	buf := make([]byte, 0, len(raw))
	for {
		buf = append(buf, raw[:i]...)
		if i+1 >= len(raw) {
			return string(orig)
		}
		switch c := raw[i+1]; c {
		case '"', '\\', '/':
			buf = append(buf, c)
		case 'n':
			buf = append(buf, '\n')
		case 't':
			buf = append(buf, '\t')
		case 'r':
			buf = append(buf, '\r')
		default:
			return unquoteSlow(orig)
		}
		raw = raw[i+2:]
		if i = bytes.IndexByte(raw, '\\'); i < 0 {
			buf = append(buf, raw...)
			return bytesToString(buf) // buf is ours and never changes again
		}
	}
}

func unquoteSlow(raw []byte) string {
	s, err := jsonparser.ParseString(raw)
	if err != nil {
		return string(raw)
	}
	return s
}

// strIs reports whether the JSON string content raw equals s, unescaping
// only when raw holds escapes (so "pods\/exec" cannot slip past).
func strIs(raw []byte, s string) bool {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw) == s
	}
	return unquote(raw) == s
}
