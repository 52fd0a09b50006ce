package provider

import (
	"unicode/utf8"

	"github.com/auditlane/auditlane/internal/jsonstr"
)

// The scanner below walks JSON that Unwrap has already validated
// (fastjson.ValidateBytes and utf8.Valid). It still never indexes out of
// range on arbitrary bytes, because Detect runs it on unvalidated input.

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

// unescape appends the decoded form of raw string content (between the
// quotes) to dst. Invalid escapes and unpaired surrogates become U+FFFD, so
// the result is always valid UTF-8 when raw is.
func unescape(dst, raw []byte) []byte {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c != '\\' {
			dst = append(dst, c)
			continue
		}
		i++
		if i >= len(raw) {
			break
		}
		switch raw[i] {
		case '"', '\\', '/':
			dst = append(dst, raw[i])
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(raw, i+1)
			if !ok {
				dst = utf8.AppendRune(dst, utf8.RuneError)
				continue
			}
			i += 4
			if r >= 0xd800 && r < 0xdc00 {
				if i+2 < len(raw) && raw[i+1] == '\\' && raw[i+2] == 'u' {
					if r2, ok := hex4(raw, i+3); ok && r2 >= 0xdc00 && r2 < 0xe000 {
						r = 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00)
						i += 6
						dst = utf8.AppendRune(dst, r)
						continue
					}
				}
				r = utf8.RuneError
			} else if r >= 0xdc00 && r < 0xe000 {
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default:
			dst = utf8.AppendRune(dst, utf8.RuneError)
		}
	}
	return dst
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// appendQuote appends s as a JSON string, as audit.AppendQuote does.
func appendQuote[S ~string | ~[]byte](dst []byte, s S) []byte { return jsonstr.AppendQuote(dst, s) }
