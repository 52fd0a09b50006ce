package provider

import (
	"github.com/auditlane/auditlane/internal/jsonstr"
)

// The scanner below walks JSON that Unwrap has already validated (see
// validate). It still never indexes out of range on arbitrary bytes,
// because Detect runs it on unvalidated input.

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipWS(b []byte, i int) int {
	for i < len(b) && isWS(b[i]) {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"') and
// whether it holds escapes.
func skipString(b []byte, i int) (int, bool) {
	esc := false
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			esc = true
			i++
		case '"':
			return i + 1, esc
		}
	}
	return len(b), esc
}

// skipValue returns the index after the value starting at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		j, _ := skipString(b, i)
		return j
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i, _ = skipString(b, i)
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
	default:
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return len(b)
	}
}

// objIter walks the members of one JSON object.
type objIter struct {
	b []byte
	i int
}

// newObjIter starts at the object beginning at b[i]; ok is false when the
// value there is not an object.
func newObjIter(b []byte, i int) (objIter, bool) {
	i = skipWS(b, i)
	if i >= len(b) || b[i] != '{' {
		return objIter{}, false
	}
	return objIter{b: b, i: i + 1}, true
}

// next returns the next member: the raw key (between the quotes, escapes
// kept), the key's opening quote, and the value's bounds.
func (o *objIter) next() (key []byte, keyStart, vs, ve int, ok bool) {
	b := o.b
	i := skipWS(b, o.i)
	if i < len(b) && b[i] == ',' {
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] != '"' {
		o.i = len(b)
		return nil, 0, 0, 0, false
	}
	keyStart = i
	ke, _ := skipString(b, i)
	if ke-1 <= i {
		o.i = len(b)
		return nil, 0, 0, 0, false
	}
	key = b[i+1 : ke-1]
	i = skipWS(b, ke)
	if i < len(b) && b[i] == ':' {
		i++
	}
	vs = skipWS(b, i)
	ve = skipValue(b, vs)
	if ve <= vs {
		o.i = len(b)
		return nil, 0, 0, 0, false
	}
	o.i = ve
	return key, keyStart, vs, ve, true
}

// arrIter walks the elements of one JSON array.
type arrIter struct {
	b []byte
	i int
}

func newArrIter(b []byte, i int) (arrIter, bool) {
	i = skipWS(b, i)
	if i >= len(b) || b[i] != '[' {
		return arrIter{}, false
	}
	return arrIter{b: b, i: i + 1}, true
}

func (a *arrIter) next() (vs, ve int, ok bool) {
	b := a.b
	i := skipWS(b, a.i)
	if i < len(b) && b[i] == ',' {
		i = skipWS(b, i+1)
	}
	if i >= len(b) || b[i] == ']' {
		a.i = len(b)
		return 0, 0, false
	}
	ve = skipValue(b, i)
	if ve <= i {
		a.i = len(b)
		return 0, 0, false
	}
	a.i = ve
	return i, ve, true
}

// keyIs reports whether the raw key equals want, decoding escapes when the
// key has any.
func keyIs(raw []byte, want string) bool {
	for _, c := range raw {
		if c == '\\' {
			var buf [64]byte
			return string(unescape(buf[:0], raw)) == want
		}
	}
	return string(raw) == want
}

// keyHasPrefix reports whether the raw key starts with prefix.
func keyHasPrefix(raw []byte, prefix string) bool {
	for _, c := range raw {
		if c == '\\' {
			var buf [64]byte
			u := unescape(buf[:0], raw)
			return len(u) >= len(prefix) && string(u[:len(prefix)]) == prefix
		}
	}
	return len(raw) >= len(prefix) && string(raw[:len(prefix)]) == prefix
}

// unescape appends the decoded content of a JSON string (between its
// quotes) to dst; see jsonstr.AppendUnescaped.
func unescape(dst, raw []byte) []byte { return jsonstr.AppendUnescaped(dst, raw) }

// appendQuote appends s as a JSON string, as audit.AppendQuote does.
func appendQuote[S ~string | ~[]byte](dst []byte, s S) []byte { return jsonstr.AppendQuote(dst, s) }

// appendCompact appends the valid JSON v without the whitespace between
// tokens (strings are copied as they are).
func appendCompact(dst, v []byte) []byte {
	for i := 0; i < len(v); {
		switch c := v[i]; {
		case c == '"':
			j, _ := skipString(v, i)
			dst = append(dst, v[i:j]...)
			i = j
		case isWS(c):
			i++
		default:
			dst = append(dst, c)
			i++
		}
	}
	return dst
}

// compactJSON is appendCompact into dst[:0] when v holds whitespace between
// tokens, else v itself.
func compactJSON(dst, v []byte) []byte {
	if !hasNewline(v) {
		return v
	}
	return appendCompact(dst[:0], v)
}

// hasNewline reports whether v holds a raw line break (in valid JSON always
// whitespace between tokens: strings escape theirs).
func hasNewline(v []byte) bool {
	for _, c := range v {
		if c == '\n' || c == '\r' {
			return true
		}
	}
	return false
}
