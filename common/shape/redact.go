package shape

import (
	"strings"
	"unicode/utf8"

	"github.com/auditlane/auditlane/common/audit"
)

// Redacted replaces every redacted value.
const Redacted = "REDACTED"

var redactedJSON = []byte(`"` + Redacted + `"`)

// SensitiveQueryParams are query parameter names (compared
// case-insensitively) whose values are always redacted in requestURI.
var SensitiveQueryParams = []string{
	"token", "access_token", "id_token", "refresh_token", "bearer", "auth", "authorization",
	"password", "passwd", "secret", "client_secret", "api_key", "apikey",
	"x-amz-security-token", "x-amz-signature", "x-amz-credential", "signature", "sig",
}

// RedactQuery appends uri to dst with the values of sensitive query
// parameters, and of any parameter whose value looks like a JWT, replaced by
// REDACTED, and reports how many it replaced. When n is 0 the appended text
// equals uri.
func RedactQuery(dst []byte, uri string) (out []byte, n int) {
	q := strings.IndexByte(uri, '?')
	if q < 0 {
		return dst, 0
	}
	out = append(dst, uri[:q+1]...)
	rest := uri[q+1:]
	for first := true; ; first = false {
		param, next, more := strings.Cut(rest, "&")
		if !first {
			out = append(out, '&')
		}
		key, val, hasVal := strings.Cut(param, "=")
		if hasVal && val != "" && (sensitiveParam(key) || looksLikeJWT(val)) {
			out = append(out, key...)
			out = append(out, '=')
			out = append(out, Redacted...)
			n++
		} else {
			out = append(out, param...)
		}
		if !more {
			break
		}
		rest = next
	}
	return out, n
}

func sensitiveParam(key string) bool {
	// Two strings whose first characters are ASCII and differ in more than
	// case are not equal under case folding: most names fail that test
	// without a call to EqualFold.
	if key == "" || key[0] >= utf8.RuneSelf {
		return sensitiveParamSlow(key)
	}
	lo := lowerASCII(key[0])
	up := lo
	if 'a' <= lo && lo <= 'z' {
		up = lo - ('a' - 'A')
	}
	for _, s := range SensitiveQueryParams {
		if s != "" && s[0] != lo && s[0] != up && s[0] < utf8.RuneSelf {
			continue
		}
		if strings.EqualFold(key, s) {
			return true
		}
	}
	return false
}

func sensitiveParamSlow(key string) bool {
	for _, s := range SensitiveQueryParams {
		if strings.EqualFold(key, s) {
			return true
		}
	}
	return false
}

// queryNeedsRedaction reports whether RedactQuery would replace anything
// in uri, without building its output.
func queryNeedsRedaction(uri string) bool {
	q := strings.IndexByte(uri, '?')
	if q < 0 {
		return false
	}
	rest := uri[q+1:]
	for {
		param, next, more := strings.Cut(rest, "&")
		key, val, hasVal := strings.Cut(param, "=")
		if hasVal && val != "" && (sensitiveParam(key) || looksLikeJWT(val)) {
			return true
		}
		if !more {
			return false
		}
		rest = next
	}
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// looksLikeJWT matches "eyJ<base64url>.<base64url>.<base64url>".
func looksLikeJWT(v string) bool {
	if !strings.HasPrefix(v, "eyJ") || len(v) < 20 {
		return false
	}
	dots := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '.':
			dots++
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '%', c == '=':
		default:
			return false
		}
	}
	return dots == 2
}

func (o *Output) redactQuery(ev *audit.Event, w *audit.Rewrite) int {
	if w.Dropped(audit.MemberRequestURI) || !queryNeedsRedaction(ev.RequestURI) {
		return 0
	}
	var n int
	o.uri, n = RedactQuery(o.uri[:0], ev.RequestURI)
	if n > 0 {
		w.SetString(audit.MemberRequestURI, string(o.uri))
	}
	return n
}

// appendQuoteBytes appends b as a JSON string.
func appendQuoteBytes(dst, b []byte) []byte {
	for _, c := range b {
		if c < 0x20 || c == '"' || c == '\\' {
			return audit.AppendQuote(dst, string(b))
		}
	}
	dst = append(dst, '"')
	dst = append(dst, b...)
	return append(dst, '"')
}
