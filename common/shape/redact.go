package shape

import (
	"strings"
	"unicode/utf8"

	"github.com/buger/jsonparser"

	"github.com/auditlane/auditlane/common/audit"
)

// Redacted replaces every redacted value.
const Redacted = "REDACTED"

var redactedJSON = []byte(`"` + Redacted + `"`)

// redactBodies redacts Secret contents and tokens in the bodies w keeps.
// Edits go into w as Replace ranges inside the bodies (leaf values only, so
// they never overlap the policy's managedFields cuts).
func (o *Output) redactBodies(ev *audit.Event, w *audit.Rewrite) int {
	if !ev.HasObjectRef {
		return 0
	}
	ref := &ev.ObjectRef
	var kind int
	switch {
	case ref.APIGroup == "" && ref.Resource == "secrets" && ref.Subresource == "":
		kind = 1
	case ref.APIGroup == "" && ref.Resource == "serviceaccounts" && ref.Subresource == "token":
		kind = 2
	case ref.APIGroup == "authentication.k8s.io" && ref.Resource == "tokenreviews":
		kind = 3
	default:
		return 0
	}
	n := 0
	for _, m := range [2]audit.Member{audit.MemberRequestObject, audit.MemberResponseObject} {
		sp := ev.Span(m)
		if !sp.Present() || w.Dropped(m) {
			continue
		}
		body, base := ev.Raw[sp.ValStart:sp.ValEnd], sp.ValStart
		switch kind {
		case 1:
			n += o.redactSecretBody(body, base, w)
		case 2:
			n += redactString(body, base, w, "status", "token")
		case 3:
			n += redactString(body, base, w, "spec", "token")
		}
	}
	return n
}

// redactSecretBody handles a Secret, a SecretList, a merge patch (same
// shape as a Secret) and a JSON patch (array of operations).
func (o *Output) redactSecretBody(body []byte, base int, w *audit.Rewrite) int {
	n := 0
	switch {
	case len(body) > 0 && body[0] == '[':
		jsonparser.ArrayEach(body, func(op []byte, t jsonparser.ValueType, off int, _ error) {
			if t != jsonparser.Object {
				return
			}
			v, vt, end, err := jsonparser.Get(op, "value")
			if err != nil || vt == jsonparser.Null {
				return
			}
			n += o.replaceValue(base+off, v, vt, end, w)
		})
	case len(body) > 0 && body[0] == '{':
		if items, t, end, err := jsonparser.Get(body, "items"); err == nil && t == jsonparser.Array {
			start := end - len(items)
			jsonparser.ArrayEach(items, func(item []byte, t jsonparser.ValueType, off int, _ error) {
				if t == jsonparser.Object {
					n += o.redactSecretObject(item, base+start+off, w)
				}
			})
		}
		n += o.redactSecretObject(body, base, w)
	}
	return n
}

func (o *Output) redactSecretObject(obj []byte, base int, w *audit.Rewrite) int {
	n := 0
	for _, key := range [2]string{"data", "stringData"} {
		v, t, end, err := jsonparser.Get(obj, key)
		if err != nil || t == jsonparser.Null {
			continue
		}
		n += o.replaceValue(base, v, t, end, w)
	}
	n += redactString(obj, base, w, "metadata", "annotations", "kubectl.kubernetes.io/last-applied-configuration")
	return n
}

// replaceValue replaces the value v (as returned by jsonparser.Get, ending
// at end, relative to base): objects keep their keys with every value
// redacted, anything else becomes "REDACTED".
func (o *Output) replaceValue(base int, v []byte, t jsonparser.ValueType, end int, w *audit.Rewrite) int {
	if t != jsonparser.Object {
		start := end - len(v)
		if t == jsonparser.String {
			start -= 2
		}
		w.Replace(base+start, base+end, redactedJSON)
		return 1
	}
	from := len(o.arena)
	o.arena = append(o.arena, '{')
	count := 0
	jsonparser.ObjectEach(v, func(key, _ []byte, _ jsonparser.ValueType, _ int) error {
		if count > 0 {
			o.arena = append(o.arena, ',')
		}
		count++
		o.arena = appendQuoteBytes(o.arena, key)
		o.arena = append(o.arena, ':')
		o.arena = append(o.arena, redactedJSON...)
		return nil
	})
	o.arena = append(o.arena, '}')
	w.Replace(base+end-len(v), base+end, o.arena[from:len(o.arena):len(o.arena)])
	return 1
}

// redactString replaces the string at path in obj.
func redactString(obj []byte, base int, w *audit.Rewrite, path ...string) int {
	v, t, end, err := jsonparser.Get(obj, path...)
	if err != nil || t != jsonparser.String {
		return 0
	}
	w.Replace(base+end-len(v)-2, base+end, redactedJSON)
	return 1
}

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
