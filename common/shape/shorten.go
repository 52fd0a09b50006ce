package shape

import (
	"slices"
	"strconv"
	"unicode/utf8"
)

// ShortenKeep is how many bytes of a shortened string are kept (at least);
// the rest is replaced by a marker "...[truncated N bytes]".
const ShortenKeep = 64

type strSpan struct{ start, end int } // string content, between the quotes

// shorten cuts the largest string values in out.Body until it fits max
// bytes or no string is long enough to help. Cuts never split a UTF-8
// sequence or an escape (a surrogate pair counts as one).
func (o *Output) shorten(max int) {
	body := o.Body
	o.spans = collectStrings(body, o.spans[:0])
	slices.SortFunc(o.spans, func(a, b strSpan) int { return (b.end - b.start) - (a.end - a.start) })
	excess := len(body) - max
	type cut struct {
		span strSpan
		keep int
	}
	var cuts [16]cut
	plan := cuts[:0]
	for _, s := range o.spans {
		if excess <= 0 {
			break
		}
		l := s.end - s.start
		if l <= ShortenKeep+len(markerFor(l)) {
			break // sorted: the rest are shorter
		}
		keep := l - excess - len(markerFor(l))
		if keep < ShortenKeep {
			keep = ShortenKeep
		}
		keep = safeCut(body[s.start:s.end], keep)
		saving := l - keep - len(markerFor(l-keep))
		if saving <= 0 {
			continue
		}
		plan = append(plan, cut{s, keep})
		excess -= saving
	}
	if len(plan) == 0 {
		return
	}
	slices.SortFunc(plan, func(a, b cut) int { return a.span.start - b.span.start })
	out := o.work[:0]
	pos := 0
	for _, c := range plan {
		out = append(out, body[pos:c.span.start+c.keep]...)
		out = append(out, markerFor(c.span.end-c.span.start-c.keep)...)
		pos = c.span.end
	}
	out = append(out, body[pos:]...)
	o.work, o.Body = o.Body, out
	o.Shortened = len(plan)
}

func markerFor(cut int) string {
	return "...[truncated " + strconv.Itoa(cut) + " bytes]"
}

// safeCut returns the largest n <= keep such that s[:n] ends on a
// character boundary of the escaped JSON string content s.
func safeCut(s []byte, keep int) int {
	i := 0
	for i < len(s) {
		n := 1
		switch c := s[i]; {
		case c == '\\':
			n = 2
			if i+1 < len(s) && s[i+1] == 'u' {
				n = 6
				if i+12 <= len(s) && isHighSurrogate(s[i+2:i+6]) && s[i+6] == '\\' && s[i+7] == 'u' {
					n = 12
				}
			}
		case c >= utf8.RuneSelf:
			_, n = utf8.DecodeRune(s[i:])
		}
		if i+n > keep {
			break
		}
		i += n
	}
	return i
}

func isHighSurrogate(h []byte) bool {
	v, err := strconv.ParseUint(string(h), 16, 16)
	return err == nil && v >= 0xD800 && v <= 0xDBFF
}

// collectStrings appends the spans of every string value (not key) in the
// valid JSON text b.
func collectStrings(b []byte, spans []strSpan) []strSpan {
	var stackBuf [64]byte
	stack := stackBuf[:0]
	expectKey := false
	for i := 0; i < len(b); i++ {
		switch b[i] {
		case '{':
			stack = append(stack, '{')
			expectKey = true
		case '[':
			stack = append(stack, '[')
			expectKey = false
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			expectKey = false
		case ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1] == '{'
		case ':':
			expectKey = false
		case '"':
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			if !expectKey {
				spans = append(spans, strSpan{i + 1, j})
			}
			i = j
		}
	}
	return spans
}
