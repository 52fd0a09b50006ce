package audit

import (
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// strClass marks bytes that end the fast run of a JSON string: the closing
// quote, a backslash, control characters and non-ASCII bytes (which must
// form valid UTF-8).
var strClass = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	for c := 0x80; c < 0x100; c++ {
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

// specialMask flags, in the high bit of each byte, the bytes of the
// little-endian word x that are '"', '\\', below 0x20 or above 0x7f. The
// lowest flagged byte is exact (borrows only flag bytes above a true
// match), which is all the scanners use.
//
// Per byte, without a borrow in: x^'"' - 1 has its high bit set when x is
// '"' or when x^'"' >= 0x81, that is x >= 0x80 except 0xa2; x^'\\' - 1
// likewise for '\\'; x - 0x20 has it set when x < 0x20 or x >= 0xa0,
// which covers 0xa2. Every other flag is on a byte above 0x7f, special
// anyway, so no "&^ x" masks are needed.
func specialMask(x uint64) uint64 {
	q, s := x^quote, x^bslsh
	return ((q - lsb) | (s - lsb) | (x - ctl)) & msb
}

// nextSpecial returns the index of the first string-special byte (see
// strClass) at or after i, or len(b).
func nextSpecial(b []byte, i int) int {
	i = plainRun(b, i)
	for i < len(b) && !strClass[b[i]] {
		i++
	}
	return i
}

// syntaxErr builds a syntax error at position i. It is kept out of line
// so the scanners' hot paths carry a call, not the allocation.
//
//go:noinline
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

// plainRun returns the index of the first string-special byte (see
// strClass) at or after j, found eight bytes at a time, or the index where
// fewer than eight bytes remain. It is small enough to inline.
//
// The loop is written so the compiler proves every access in bounds: with
// 0 <= j <= len(b)-8 it emits no bounds checks in the loop.
func plainRun(b []byte, j int) int {
	if j < 0 {
		return j
	}
	for ; j <= len(b)-8; j += 8 {
		if m := specialMask(binary.LittleEndian.Uint64(b[j:])); m != 0 {
			return j + bits.TrailingZeros64(m)>>3
		}
	}
	return j
}

// scanString validates the string starting at b[i] == '"' (escapes,
// control characters, UTF-8) and returns the index after its closing quote
// and whether it contains escapes. Plain printable-ASCII strings, the
// common case, are scanned eight bytes at a time without a call.
func scanString(b []byte, i int) (int, bool, *DecodeError) {
	if j := plainRun(b, i+1); j < len(b) && b[j] == '"' {
		return j + 1, false, nil
	} else {
		return scanStringSlow(b, i, j)
	}
}

// scanStringSlow continues scanning the string that starts at b[start]
// from b[i], byte by byte where needed.
func scanStringSlow(b []byte, start, i int) (int, bool, *DecodeError) {
	escaped := false
	for {
		if i = nextSpecial(b, i); i >= len(b) {
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
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n == 1 {
				return i, escaped, &DecodeError{Pos: i, Index: -1, Err: ErrUTF8}
			}
			i += n
		default:
			return i, escaped, syntaxErr(i, "control character in string")
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
// and returns the index after it. depth is the nesting level of b[i]. It
// alternates between fast, a call-free loop over the common tokens (plain
// strings, simple integers, literals, the first 64 levels of nesting), and
// slow, which takes one step of any kind, reports errors and keeps deeper
// nesting. Keeping calls out of the fast loop keeps its state in registers.
func skipValue(b []byte, i, depth int) (int, *DecodeError) {
	var k skipStack
	k.lim = min(64, maxDepth-depth)
	st := stValue
	for {
		if i, st = k.fast(b, i, st); st == stDone {
			return i, nil
		}
		var err *DecodeError
		if i, st, err = k.slow(b, i, depth, st); err != nil {
			return i, err
		}
	}
}

// The states of skipValue's scanners: what b[i] should start.
const (
	stValue = iota // a value
	stKey          // an object key (after '{' or ',' and space)
	stAfter        // space, then ',' or a closer, or the end at level 0
	stDone         // the value is complete
)

// skipStack is skipValue's explicit stack of open containers, one bit per
// level (set: object). kinds is a shift register holding the innermost 64
// levels, the innermost in bit 0, so the scanners test one bit without a
// variable shift; outer levels pushed out of it, rare in real events,
// spill to deep, which only slow touches.
type skipStack struct {
	kinds uint64
	deep  []uint64 // bit n: the kind of level n, for levels pushed out of kinds
	level int      // open containers
	lim   int      // fast opens containers only below this level
}

// push opens a container at the next level.
func (k *skipStack) push(obj bool) {
	if l := k.level - 64; l >= 0 {
		w, bit := l>>6, uint64(1)<<(l&63)
		if w >= len(k.deep) {
			k.deep = append(k.deep, 0)
		}
		if k.kinds>>63 != 0 {
			k.deep[w] |= bit
		} else {
			k.deep[w] &^= bit
		}
	}
	k.kinds <<= 1
	if obj {
		k.kinds |= 1
	}
	k.level++
}

// pop closes the innermost container.
func (k *skipStack) pop() {
	k.level--
	k.kinds >>= 1
	if l := k.level - 64; l >= 0 {
		k.kinds |= (k.deep[l>>6] >> (l & 63) & 1) << 63
	}
}

// fast scans from b[i] in state st while the tokens are common ones and
// returns where it stopped and the state there: stDone, or a state for
// slow to take one step in. It makes no calls. Compact JSON is the common
// case, so whitespace is only looked for where the expected byte is not
// found.
func (k *skipStack) fast(b []byte, i, st int) (int, int) {
	kinds, level, lim := k.kinds, k.level, k.lim
	switch st {
	case stKey:
		goto key
	case stAfter:
		goto after
	}
value:
	if i < len(b) {
		switch c := b[i]; {
		case c == '"':
			if j := plainRun(b, i+1); j < len(b) && b[j] == '"' {
				i = j + 1
				goto after
			}
		case c == '{' || c == '[':
			if level >= lim {
				break
			}
			j := skipWS(b, i+1)
			if j < len(b) && (b[j] == '}' && c == '{' || b[j] == ']' && c == '[') {
				i = j + 1
				goto after
			}
			i = j
			level++
			if c == '{' {
				kinds = kinds<<1 | 1
				goto key
			}
			kinds <<= 1
			goto value
		case '0' <= c && c <= '9':
			j := i + 1
			if c != '0' {
				for j < len(b) && '0' <= b[j] && b[j] <= '9' {
					j++
				}
			}
			if j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E') {
				break // fraction or exponent: slow validates
			}
			i = j
			goto after
		case c == 't':
			if len(b)-i >= 4 && string(b[i:i+4]) == "true" {
				i += 4
				goto after
			}
		case c == 'f':
			if len(b)-i >= 5 && string(b[i:i+5]) == "false" {
				i += 5
				goto after
			}
		case c == 'n':
			if len(b)-i >= 4 && string(b[i:i+4]) == "null" {
				i += 4
				goto after
			}
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			i = skipWS(b, i)
			goto value
		}
	}
	st = stValue
	goto out
after:
	if level == 0 {
		st = stDone
		goto out
	}
	if i < len(b) && level <= 64 {
		obj := kinds&1 != 0
		switch c := b[i]; {
		case c == ',':
			i++
			if obj {
				goto key
			}
			goto value
		case c == '}' && obj, c == ']' && !obj:
			i++
			level--
			kinds >>= 1
			goto after
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			i = skipWS(b, i)
			goto after
		}
	}
	st = stAfter
	goto out
key:
	if i < len(b) {
		switch b[i] {
		case '"':
			if j := plainRun(b, i+1); j < len(b)-1 && b[j] == '"' {
				if b[j+1] == ':' {
					i = j + 2
					goto value
				}
				if j = skipWS(b, j+1); j < len(b) && b[j] == ':' {
					i = j + 1
					goto value
				}
			}
		case ' ', '\n', '\t', '\r':
			i = skipWS(b, i)
			goto key
		}
	}
	st = stKey
out:
	k.kinds, k.level = kinds, level
	return i, st
}

// slow takes one step from b[i] in state st, for any token, and returns
// the next state. Errors are reported here.
func (k *skipStack) slow(b []byte, i, depth, st int) (int, int, *DecodeError) {
	var err *DecodeError
	switch st {
	case stKey:
		if i >= len(b) || b[i] != '"' {
			return i, st, syntaxErr(i, "expected object key")
		}
		if i, _, err = scanString(b, i); err != nil {
			return i, st, err
		}
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ':' {
			return i, st, syntaxErr(i, "expected ':' after object key")
		}
		return skipWS(b, i+1), stValue, nil
	case stAfter:
		if k.level == 0 {
			return i, stDone, nil
		}
		i = skipWS(b, i)
		obj := k.kinds&1 != 0
		if i >= len(b) {
			if obj {
				return i, st, syntaxErr(i, "unexpected end of input in object")
			}
			return i, st, syntaxErr(i, "unexpected end of input in array")
		}
		switch c := b[i]; {
		case c == ',':
			if obj {
				return skipWS(b, i+1), stKey, nil
			}
			return skipWS(b, i+1), stValue, nil
		case c == '}' && obj, c == ']' && !obj:
			k.pop()
			return i + 1, stAfter, nil
		case obj:
			return i, st, syntaxErr(i, "expected ',' or '}' in object")
		default:
			return i, st, syntaxErr(i, "expected ',' or ']' in array")
		}
	}
	if i >= len(b) {
		return i, st, syntaxErr(i, "unexpected end of input")
	}
	switch c := b[i]; {
	case c == '"':
		i, _, err = scanString(b, i)
	case c == '{' || c == '[':
		if depth+k.level >= maxDepth {
			return i, st, syntaxErr(i, "nesting too deep")
		}
		i = skipWS(b, i+1)
		if i < len(b) && (b[i] == '}' && c == '{' || b[i] == ']' && c == '[') {
			return i + 1, stAfter, nil
		}
		obj := c == '{'
		k.push(obj)
		if obj {
			return i, stKey, nil
		}
		return i, stValue, nil
	case c == '-' || '0' <= c && c <= '9':
		i, err = scanNumber(b, i)
	case c == 't':
		i, err = scanLiteral(b, i, "true")
	case c == 'f':
		i, err = scanLiteral(b, i, "false")
	case c == 'n':
		i, err = scanLiteral(b, i, "null")
	default:
		return i, st, syntaxErr(i, "invalid character "+quoteChar(c)+" looking for a value")
	}
	return i, stAfter, err
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
		if i, err = skipValue(b, i, 1); err != nil {
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
