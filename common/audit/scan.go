package audit

import (
	"bytes"
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// strClass marks bytes that end the fast run of a JSON string: the closing
// quote, a backslash, and control characters.
var strClass = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t['"'] = true
	t['\\'] = true
	return
}()

// SWAR constants: eight bytes tested at once.
const (
	lsb   = 0x0101010101010101
	msb   = 0x8080808080808080
	quote = '"' * lsb
	bslsh = '\\' * lsb
	ctl   = 0x20 * lsb
)

// hasStringSpecial reports whether any byte of the little-endian word x is
// '"', '\\' or a control character (< 0x20). The test is exact: a byte with
// the high bit set never matches.
func hasStringSpecial(x uint64) bool {
	q := x ^ quote
	s := x ^ bslsh
	return ((q-lsb)&^q|(s-lsb)&^s|(x-ctl)&^x)&msb != 0
}

// skipPlain returns the index of the first string-special byte at or after
// i (len(b) if none).
func skipPlain(b []byte, i int) int {
	for i+8 <= len(b) && !hasStringSpecial(binary.LittleEndian.Uint64(b[i:])) {
		i += 8
	}
	for i < len(b) && !strClass[b[i]] {
		i++
	}
	return i
}

// syntaxErr builds a syntax error at position i.
func syntaxErr(i int, detail string) *DecodeError {
	return &DecodeError{Pos: i, Index: -1, Err: ErrSyntax, Detail: detail}
}

func skipWS(b []byte, i int) int {
	if i < len(b) && b[i] > ' ' {
		return i
	}
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// precheck validates b as UTF-8 and reports whether it is free of control
// bytes, in one pass over the printable-ASCII prefix (usually all of it).
func precheck(b []byte) (noCtl, validUTF8 bool) {
	i := 0
	for ; i+16 <= len(b); i += 16 {
		x0 := binary.LittleEndian.Uint64(b[i:])
		x1 := binary.LittleEndian.Uint64(b[i+8:])
		if (x0|x1|(x0-ctl)&^x0|(x1-ctl)&^x1)&msb != 0 {
			break
		}
	}
	rest := b[i:]
	return !hasControl(rest), utf8.Valid(rest)
}

// hasControl reports whether b holds a byte below 0x20. Compact JSON from
// the apiserver holds none; then strings need no control-byte check.
func hasControl(b []byte) bool {
	i := 0
	for ; i+32 <= len(b); i += 32 {
		x0 := binary.LittleEndian.Uint64(b[i:])
		x1 := binary.LittleEndian.Uint64(b[i+8:])
		x2 := binary.LittleEndian.Uint64(b[i+16:])
		x3 := binary.LittleEndian.Uint64(b[i+24:])
		if ((x0-ctl)&^x0|(x1-ctl)&^x1|(x2-ctl)&^x2|(x3-ctl)&^x3)&msb != 0 {
			break
		}
	}
	for ; i < len(b); i++ {
		if b[i] < 0x20 {
			return true
		}
	}
	return false
}

// scanString validates the string starting at b[i] == '"' and returns the
// index after its closing quote and whether it contains escapes. fast
// promises that b holds no control bytes, so the closing quote and the
// backslashes are found with bytes.IndexByte.
func scanString(b []byte, i int, fast bool) (int, bool, *DecodeError) {
	if fast {
		return scanStringFast(b, i)
	}
	start := i
	i++
	escaped := false
	for {
		i = skipPlain(b, i)
		if i >= len(b) {
			return i, escaped, syntaxErr(start, "unterminated string")
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, escaped, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(b) {
				return i, escaped, syntaxErr(i, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) || !isHex4(b[i+2:i+6]) {
					return i, escaped, syntaxErr(i, "invalid \\u escape")
				}
				i += 6
			default:
				return i, escaped, syntaxErr(i, "invalid escape in string")
			}
		default:
			return i, escaped, syntaxErr(i, "control character in string")
		}
	}
}

func scanStringFast(b []byte, i int) (int, bool, *DecodeError) {
	start := i
	escaped := false
	i++
	for {
		// Find the next '"' or '\\': eight bytes at a time for the first 32
		// bytes (most strings are short keys and values), then IndexByte.
		j, n := i, 0
		for ; n < 4 && j+8 <= len(b); n++ {
			x := binary.LittleEndian.Uint64(b[j:])
			q, s := x^quote, x^bslsh
			if ((q-lsb)&^q|(s-lsb)&^s)&msb != 0 {
				break
			}
			j += 8
		}
		if n == 4 {
			k := bytes.IndexByte(b[j:], '"')
			if k < 0 {
				return len(b), escaped, syntaxErr(start, "unterminated string")
			}
			if bs := bytes.IndexByte(b[j:j+k], '\\'); bs >= 0 {
				j += bs
			} else {
				j += k
			}
		} else {
			for j < len(b) && b[j] != '"' && b[j] != '\\' {
				j++
			}
			if j >= len(b) {
				return len(b), escaped, syntaxErr(start, "unterminated string")
			}
		}
		if b[j] == '"' {
			return j + 1, escaped, nil
		}
		escaped = true
		i = j
		if i+1 >= len(b) {
			return i, escaped, syntaxErr(i, "unterminated string")
		}
		switch b[i+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			i += 2
		case 'u':
			if i+6 > len(b) || !isHex4(b[i+2:i+6]) {
				return i, escaped, syntaxErr(i, "invalid \\u escape")
			}
			i += 6
		default:
			return i, escaped, syntaxErr(i, "invalid escape in string")
		}
	}
}

func isHex4(h []byte) bool {
	for _, c := range h[:4] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func hex4(h []byte) rune {
	var r rune
	for _, c := range h[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendUnquoted appends the contents of the validated JSON string s
// (including its quotes) to dst, resolving escapes as encoding/json does
// (invalid surrogates become U+FFFD).
func appendUnquoted(dst, s []byte) []byte {
	s = s[1 : len(s)-1]
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := i + 1
			for j < len(s) && s[j] != '\\' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
			continue
		}
		switch s[i+1] {
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
			r := hex4(s[i+2:])
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if r2 := utf16.DecodeRune(r, hex4(s[i+2:])); r2 != utf8.RuneError {
						dst = utf8.AppendRune(dst, r2)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

// scanNumber validates a JSON number starting at b[i].
func scanNumber(b []byte, i int) (int, *DecodeError) {
	start := i
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i >= len(b) {
		return i, syntaxErr(start, "invalid number")
	}
	if b[i] == '0' {
		i++
	} else if '1' <= b[i] && b[i] <= '9' {
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	} else {
		return i, syntaxErr(start, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		d := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == d {
			return i, syntaxErr(start, "invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		d := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == d {
			return i, syntaxErr(start, "invalid number")
		}
	}
	return i, nil
}

func scanLiteral(b []byte, i int, lit string) (int, *DecodeError) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, syntaxErr(i, "invalid literal")
	}
	return i + len(lit), nil
}

// skipValue validates the JSON value starting at b[i] (no leading space)
// and returns the index after it. depth is the nesting level of b[i]. It is
// an iterative state machine with an explicit stack of container kinds
// (one bit per level), so skipping large bodies costs no call per value.
func skipValue(b []byte, i, depth int, fast bool) (int, *DecodeError) {
	var stack [maxDepth/64 + 1]uint64 // bit set: object; clear: array
	level := 0                        // open containers
	obj := false                      // the innermost open container is an object
	var err *DecodeError
value:
	if i >= len(b) {
		return i, syntaxErr(i, "unexpected end of input")
	}
	switch c := b[i]; {
	case c == '"':
		if i, _, err = scanString(b, i, fast); err != nil {
			return i, err
		}
	case c == '{' || c == '[':
		if depth+level >= maxDepth {
			return i, syntaxErr(i, "nesting too deep")
		}
		w, bit := level>>6, uint64(1)<<(level&63)
		i = skipWS(b, i+1)
		if i < len(b) && (b[i] == '}' && c == '{' || b[i] == ']' && c == '[') {
			i++
			break
		}
		level++
		if c == '{' {
			stack[w] |= bit
			obj = true
			goto key
		}
		stack[w] &^= bit
		obj = false
		goto value
	case c == '-' || '0' <= c && c <= '9':
		if i, err = scanNumber(b, i); err != nil {
			return i, err
		}
	case c == 't':
		if i, err = scanLiteral(b, i, "true"); err != nil {
			return i, err
		}
	case c == 'f':
		if i, err = scanLiteral(b, i, "false"); err != nil {
			return i, err
		}
	case c == 'n':
		if i, err = scanLiteral(b, i, "null"); err != nil {
			return i, err
		}
	default:
		return i, syntaxErr(i, "invalid character "+quoteChar(c)+" looking for a value")
	}
	// After a complete value.
	for level > 0 {
		i = skipWS(b, i)
		if i >= len(b) {
			if obj {
				return i, syntaxErr(i, "unexpected end of input in object")
			}
			return i, syntaxErr(i, "unexpected end of input in array")
		}
		switch c := b[i]; {
		case c == ',':
			i = skipWS(b, i+1)
			if obj {
				goto key
			}
			goto value
		case c == '}' && obj, c == ']' && !obj:
			i++
			level--
			if level > 0 {
				obj = stack[(level-1)>>6]&(1<<((level-1)&63)) != 0
			}
		case obj:
			return i, syntaxErr(i, "expected ',' or '}' in object")
		default:
			return i, syntaxErr(i, "expected ',' or ']' in array")
		}
	}
	return i, nil
key:
	if i >= len(b) || b[i] != '"' {
		return i, syntaxErr(i, "expected object key")
	}
	if i, _, err = scanString(b, i, fast); err != nil {
		return i, err
	}
	i = skipWS(b, i)
	if i >= len(b) || b[i] != ':' {
		return i, syntaxErr(i, "expected ':' after object key")
	}
	i = skipWS(b, i+1)
	goto value
}

func quoteChar(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return "'" + string(c) + "'"
	}
	const hexdig = "0123456789abcdef"
	return "byte 0x" + string(hexdig[c>>4]) + string(hexdig[c&15])
}

// jsonType names the JSON type of the value starting with c, for errors.
func jsonType(c byte) string {
	switch {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	}
	return "number"
}

// arrayElements validates the array starting at b[at] and appends the
// [start, end) range of each element to items.
func arrayElements(b []byte, at int, items [][2]int) ([][2]int, *DecodeError) {
	i := skipWS(b, at)
	if i >= len(b) || b[i] != '[' {
		return items, syntaxErr(i, "expected array")
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return items, nil
	}
	for {
		start := i
		var err *DecodeError
		if i, err = skipValue(b, i, 1, false); err != nil {
			return items, err
		}
		items = append(items, [2]int{start, i})
		i = skipWS(b, i)
		if i >= len(b) {
			return items, syntaxErr(i, "unexpected end of input in array")
		}
		if b[i] == ']' {
			return items, nil
		}
		if b[i] != ',' {
			return items, syntaxErr(i, "expected ',' or ']' in array")
		}
		i = skipWS(b, i+1)
	}
}
