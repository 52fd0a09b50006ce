// Package jsonstr writes JSON strings. It has no dependencies, so every
// package that builds JSON by hand (the decoder's rewriter, the provider
// converters) shares one implementation.
package jsonstr

// AppendQuote appends s as a JSON string, escaping as encoding/json does
// with HTML escaping off: '"', '\\' and control characters; valid UTF-8 is
// copied as is.
func AppendQuote[S ~string | ~[]byte](dst []byte, s S) []byte {
	const hexdig = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexdig[c>>4], hexdig[c&15])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
