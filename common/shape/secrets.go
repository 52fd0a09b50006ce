package shape

import (
	"bytes"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/internal/jsonstr"
)

// This file redacts Secrets and tokens in the request and response bodies
// an event keeps, in every shape they take in an audit event:
//
//   - a Secret (kind Secret, or any object in a body of the secrets
//     resource): data and stringData values, and the
//     kubectl.kubernetes.io/last-applied-configuration annotation, which
//     holds a copy of them;
//   - lists (SecretList, List: items[]), meta.k8s.io Tables with
//     includeObject=Object (rows[].object), watch events (object);
//   - merge and strategic merge patches and server-side apply bodies of
//     Secrets (the same shape as a Secret, often without kind), JSON
//     patches of Secrets (every operation's value: paths such as /data/x,
//     /stringData or /metadata/annotations/... all carry secret values),
//     and bodies of the secrets resource that are a JSON string (an apply
//     body the apiserver recorded verbatim);
//   - TokenRequest status.token and TokenReview spec.token;
//   - Secrets nested anywhere else (found by kind), duplicate keys (every
//     occurrence is visited, not the first), and keys written with escapes
//     ("d\u0061ta").
//
// Values are replaced by "REDACTED"; an object value keeps its keys.

// bodyKind is what the objectRef says a body holds.
type bodyKind uint8

const (
	bodyOther bodyKind = iota
	bodySecrets
	bodyTokenRequest
	bodyTokenReview
)

// redactor walks one body and adds Replace edits to w.
type redactor struct {
	raw             []byte
	w               *audit.Rewrite
	o               *Output
	secrets, tokens bool
	n               int
	key             []byte // scratch: an unescaped key or string
	lastKeyRaw      []byte // the JSON text of the key whose value is visited
}

// redactBodies redacts Secrets and tokens in the bodies w keeps and
// returns how many values it replaced.
func (o *Output) redactBodies(ev *audit.Event, w *audit.Rewrite, secrets, tokens bool) int {
	kind := bodyOther
	if ev.HasObjectRef {
		ref := &ev.ObjectRef
		switch {
		case ref.APIGroup == "" && ref.Resource == "secrets" && ref.Subresource == "":
			kind = bodySecrets
		case ref.APIGroup == "" && ref.Resource == "serviceaccounts" && ref.Subresource == "token":
			kind = bodyTokenRequest
		case ref.APIGroup == "authentication.k8s.io" && ref.Resource == "tokenreviews":
			kind = bodyTokenReview
		}
	}
	r := redactor{raw: ev.Raw, w: w, o: o, secrets: secrets, tokens: tokens}
	for _, m := range [2]audit.Member{audit.MemberRequestObject, audit.MemberResponseObject} {
		sp := ev.Span(m)
		if !sp.Present() || w.Dropped(m) {
			continue
		}
		body := ev.Raw[sp.ValStart:sp.ValEnd]
		k := kind
		switch {
		case k == bodySecrets && !secrets, (k == bodyTokenRequest || k == bodyTokenReview) && !tokens:
			k = bodyOther
		}
		// Bodies of other resources are walked only when they may hold a
		// Secret or a token (a nested object of that kind).
		if k == bodyOther && !(secrets && bytes.Contains(body, []byte("Secret"))) &&
			!(tokens && bytes.Contains(body, []byte("TokenRe"))) {
			continue
		}
		r.body(sp.ValStart, sp.ValEnd, k)
	}
	return r.n
}

// body handles a whole request or response body raw[i:end].
func (r *redactor) body(i, end int, k bodyKind) {
	i = r.ws(i)
	if i >= end {
		return
	}
	switch r.raw[i] {
	case '{':
		switch k {
		case bodySecrets:
			r.object(i, ctxSecretish)
		case bodyTokenRequest:
			r.object(i, ctxTokenRequest)
		case bodyTokenReview:
			r.object(i, ctxTokenReview)
		default:
			r.object(i, ctxNone)
		}
	case '[':
		if k == bodySecrets {
			r.jsonPatch(i)
		} else {
			r.array(i, ctxNone)
		}
	case '"':
		if k == bodySecrets {
			// An apply body recorded as a string: all of it may be secret.
			r.replace(i, r.skip(i))
		}
	}
}

// ctx is what an object is known to be from where it sits.
type ctx uint8

const (
	ctxNone         ctx = iota
	ctxSecretish        // a body of the secrets resource: a Secret, a list, a table, a watch event or a patch
	ctxSecret           // a Secret
	ctxTokenRequest     // a TokenRequest (status.token)
	ctxTokenReview      // a TokenReview (spec.token)
)

// object visits the object at raw[i] and returns the index after it.
func (r *redactor) object(i int, c ctx) int {
	switch kind := r.kindOf(i); kind {
	case "Secret":
		if r.secrets {
			c = ctxSecret
		}
	case "TokenRequest":
		if r.tokens {
			c = ctxTokenRequest
		}
	case "TokenReview":
		if r.tokens {
			c = ctxTokenReview
		}
	case "":
		// A Secret patch or apply body has no kind: in a body of the
		// secrets resource, an object without kind is a Secret.
		if c == ctxSecretish {
			c = ctxSecret
		}
	default:
		if c == ctxSecret {
			c = ctxNone
		}
	}
	return r.members(i, func(key []byte, vs int) int {
		switch c {
		case ctxSecret:
			switch string(key) {
			case "data", "stringData":
				return r.replaceValue(vs)
			case "metadata":
				return r.metadata(vs)
			}
		case ctxSecretish:
			switch string(key) {
			case "items":
				return r.array(vs, ctxSecretish)
			case "rows":
				return r.rows(vs)
			case "object":
				return r.value(vs, ctxSecretish)
			}
		case ctxTokenRequest:
			if string(key) == "status" {
				return r.field(vs, "token")
			}
		case ctxTokenReview:
			if string(key) == "spec" {
				return r.field(vs, "token")
			}
		}
		return r.value(vs, ctxNone)
	})
}

// metadata redacts kubectl's copy of a Secret in the annotations.
func (r *redactor) metadata(i int) int {
	if r.raw[i] != '{' {
		return r.skip(i)
	}
	return r.members(i, func(key []byte, vs int) int {
		if string(key) != "annotations" || r.raw[vs] != '{' {
			return r.value(vs, ctxNone)
		}
		return r.members(vs, func(key []byte, as int) int {
			if string(key) == "kubectl.kubernetes.io/last-applied-configuration" {
				return r.replace(as, r.skip(as))
			}
			return r.skip(as)
		})
	})
}

// field redacts every member name of the object at raw[i] (a status or
// spec holding a token).
func (r *redactor) field(i int, name string) int {
	if r.raw[i] != '{' {
		return r.skip(i)
	}
	return r.members(i, func(key []byte, vs int) int {
		if string(key) == name && r.raw[vs] != 'n' {
			return r.replace(vs, r.skip(vs))
		}
		return r.value(vs, ctxNone)
	})
}

// rows visits a Table's rows: each row's object is a Secret when the
// table lists secrets.
func (r *redactor) rows(i int) int {
	if r.raw[i] != '[' {
		return r.skip(i)
	}
	return r.elements(i, func(es int) int {
		if r.raw[es] != '{' {
			return r.skip(es)
		}
		return r.members(es, func(key []byte, vs int) int {
			if string(key) == "object" {
				return r.value(vs, ctxSecretish)
			}
			return r.value(vs, ctxNone)
		})
	})
}

// jsonPatch redacts the value of every operation of a JSON patch of a
// Secret.
func (r *redactor) jsonPatch(i int) int {
	return r.elements(i, func(es int) int {
		if r.raw[es] != '{' {
			return r.skip(es)
		}
		return r.members(es, func(key []byte, vs int) int {
			if string(key) == "value" && r.raw[vs] != 'n' {
				return r.replaceValue(vs)
			}
			return r.skip(vs)
		})
	})
}

// value visits any value.
func (r *redactor) value(i int, c ctx) int {
	switch r.raw[i] {
	case '{':
		return r.object(i, c)
	case '[':
		return r.array(i, c)
	}
	return r.skip(i)
}

func (r *redactor) array(i int, c ctx) int {
	return r.elements(i, func(es int) int { return r.value(es, c) })
}

// replaceValue replaces the value at raw[i]: an object keeps its keys with
// every value redacted; null stays; anything else becomes "REDACTED".
func (r *redactor) replaceValue(i int) int {
	end := r.skip(i)
	switch r.raw[i] {
	case 'n':
		return end
	case '{':
		o := r.o
		from := len(o.arena)
		o.arena = append(o.arena, '{')
		first := true
		r.members(i, func(_ []byte, vs int) int {
			if !first {
				o.arena = append(o.arena, ',')
			}
			first = false
			o.arena = append(o.arena, r.lastKeyRaw...)
			o.arena = append(o.arena, ':')
			o.arena = append(o.arena, redactedJSON...)
			return r.skip(vs)
		})
		o.arena = append(o.arena, '}')
		r.w.Replace(i, end, o.arena[from:len(o.arena):len(o.arena)])
		r.n++
		return end
	}
	return r.replace(i, end)
}

func (r *redactor) replace(i, end int) int {
	r.w.Replace(i, end, redactedJSON)
	r.n++
	return end
}

// kindOf returns the (unescaped) kind of the object at raw[i], "" when it
// has none.
func (r *redactor) kindOf(i int) string {
	kind := ""
	r.members(i, func(key []byte, vs int) int {
		end := r.skip(vs)
		if string(key) == "kind" && r.raw[vs] == '"' {
			kind = string(r.unquote(vs, end))
		}
		return end
	})
	return kind
}

// members calls fn for each member of the object at raw[i] (the key
// unescaped, the value's start) and returns the index after the object; fn
// returns the index after the value. r.lastKeyRaw holds the key's JSON text
// during fn.
func (r *redactor) members(i int, fn func(key []byte, vs int) int) int {
	b := r.raw
	i = r.ws(i + 1)
	for i < len(b) && b[i] != '}' {
		ks := i
		ke := r.skip(ks)
		key := r.unquote(ks, ke)
		i = r.ws(ke)
		if i >= len(b) || b[i] != ':' {
			return len(b)
		}
		vs := r.ws(i + 1)
		if vs >= len(b) {
			return len(b)
		}
		saved := r.lastKeyRaw
		r.lastKeyRaw = b[ks:ke]
		i = r.ws(fn(key, vs))
		r.lastKeyRaw = saved
		if i < len(b) && b[i] == ',' {
			i = r.ws(i + 1)
		}
	}
	return min(i+1, len(b))
}

// elements calls fn for each element of the array at raw[i].
func (r *redactor) elements(i int, fn func(es int) int) int {
	b := r.raw
	i = r.ws(i + 1)
	for i < len(b) && b[i] != ']' {
		i = r.ws(fn(i))
		if i < len(b) && b[i] == ',' {
			i = r.ws(i + 1)
		}
	}
	return min(i+1, len(b))
}

// unquote returns the string raw[s:e] (quotes included) unescaped; the
// result is valid until the next call.
func (r *redactor) unquote(s, e int) []byte {
	if e-s < 2 || r.raw[s] != '"' {
		return nil
	}
	in := r.raw[s+1 : e-1]
	if bytes.IndexByte(in, '\\') < 0 {
		return in
	}
	r.key = jsonstr.AppendUnescaped(r.key[:0], in)
	return r.key
}

func (r *redactor) ws(i int) int {
	for i < len(r.raw) {
		switch r.raw[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skip returns the index after the JSON value at raw[i] (the body was
// validated by the decoder; malformed input ends the walk safely).
func (r *redactor) skip(i int) int {
	b := r.raw
	if i >= len(b) {
		return len(b)
	}
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return len(b)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = r.skip(j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	}
	j := i
	for j < len(b) {
		switch b[j] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return j
		}
		j++
	}
	return j
}
