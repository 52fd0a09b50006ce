package provider

import "strings"

// aksRecord holds the raw values of one AKS resource log record.
type aksRecord struct {
	time, resourceID, category, properties, records []byte
}

func unwrapAKS(dst, obj []byte, origin *Origin) ([]byte, error) {
	var r aksRecord
	it, _ := newObjIter(obj, 0)
	for {
		key, _, vs, ve, ok := it.next()
		if !ok {
			break
		}
		v := obj[vs:ve]
		switch string(key) {
		case "time":
			r.time = v
		case "resourceId":
			r.resourceID = v
		case "category":
			r.category = v
		case "properties":
			r.properties = v
		case "records":
			r.records = v
		}
	}
	if r.properties == nil && r.records != nil {
		return dst, fail(AKS, "records", ErrValue, "a batch of records; split it with Records")
	}
	for _, f := range [...]struct {
		name string
		v    []byte
	}{{"time", r.time}, {"resourceId", r.resourceID}, {"category", r.category}} {
		if !isNull(f.v) && f.v[0] != '"' {
			return dst, typeErr(AKS, f.name, "string", f.v)
		}
	}
	if err := aksCategory("category", r.category); err != nil {
		return dst, err
	}
	setAKSOrigin(origin, r.resourceID)
	if isNull(r.properties) {
		return dst, fail(AKS, "properties", ErrMissing, "")
	}
	if r.properties[0] != '{' {
		return dst, typeErr(AKS, "properties", "object", r.properties)
	}
	var log, pod []byte
	pit, _ := newObjIter(r.properties, 0)
	for {
		key, _, vs, ve, ok := pit.next()
		if !ok {
			break
		}
		switch string(key) {
		case "log":
			log = r.properties[vs:ve]
		case "pod":
			pod = r.properties[vs:ve]
		}
	}
	if !isNull(pod) && pod[0] != '"' {
		return dst, typeErr(AKS, "properties.pod", "string", pod)
	}
	if isNull(log) {
		return dst, fail(AKS, "properties.log", ErrMissing, "")
	}
	add := [...]annotation{
		{AnnProvider, []byte(`"aks"`)}, {AnnFormat, quoted(origin.Format)},
		{AnnAKSCategory, r.category}, {AnnAKSResourceID, r.resourceID}, {AnnAKSPod, pod}, {AnnAKSTime, r.time},
	}
	return appendInnerEvent(dst, AKS, "properties.log", log, add[:])
}

// aksCategory accepts the audit categories (or none) and turns any other
// into ErrNotAudit.
func aksCategory(field string, category []byte) error {
	if isNull(category) {
		return nil
	}
	switch c := category[1 : len(category)-1]; string(c) {
	case "kube-audit", "kube-audit-admin":
		return nil
	default:
		return fail(AKS, field, ErrNotAudit, quoteShort(c)+" is not an audit category (kube-audit, kube-audit-admin)")
	}
}

// setAKSOrigin reads the cluster from a resource ID
// /SUBSCRIPTIONS/S/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/NAME
// (a raw JSON string).
func setAKSOrigin(origin *Origin, resourceID []byte) {
	if isNull(resourceID) {
		return
	}
	var buf [256]byte
	id := string(str(resourceID, buf[:]))
	origin.ClusterID = id
	parts := strings.Split(strings.Trim(id, "/"), "/")
	for i := 0; i+1 < len(parts); i += 2 {
		switch strings.ToLower(parts[i]) {
		case "subscriptions":
			origin.AccountID = parts[i+1]
		case "managedclusters":
			origin.ClusterName = parts[i+1]
		}
	}
}

// quoted returns s as a raw JSON string ("" for an empty s: left out).
func quoted(s string) []byte {
	if s == "" {
		return nil
	}
	return appendQuote(nil, s)
}

// appendInnerEvent appends the audit Event that log holds (a JSON string
// holding it, or the object itself), byte for byte except for its
// annotations member, which gets the annotations add (those with a nil
// value are left out) before the Event's own ones not under Prefix. field
// names log in errors; a log that does not hold an audit Event is
// ErrNotEvent.
func appendInnerEvent(dst []byte, k Kind, field string, log []byte, add []annotation) ([]byte, error) {
	var ev []byte
	switch log[0] {
	case '{':
		ev = log
	case '"':
		bp := scratchPool.Get().(*[]byte)
		defer func() { scratchPool.Put(bp) }()
		*bp = unescape((*bp)[:0], log[1:len(log)-1])
		ev = *bp
		s := skipWS(ev, 0)
		if s >= len(ev) {
			return dst, fail(k, field, ErrNotEvent, "empty string")
		}
		if err := validate(k, field, ev); err != nil {
			return dst, fail(k, field, ErrNotEvent, "the string is not JSON")
		}
		if ev[s] != '{' {
			return dst, fail(k, field, ErrNotEvent, "the string holds a JSON "+jsonType(ev[s:]))
		}
	default:
		return dst, typeErr(k, field, "string or object", log)
	}
	return appendEvent(dst, k, field, ev, add)
}

// appendEvent appends ev, a valid JSON object holding an audit Event, with
// the annotations add.
func appendEvent(dst []byte, k Kind, field string, ev []byte, add []annotation) ([]byte, error) {
	ann, err := eventAnnotations(k, field, ev)
	if err != nil {
		return dst, err
	}
	n := 0
	for _, a := range add {
		if !isNull(a.v) {
			add[n] = a
			n++
		}
	}
	add = add[:n]
	start := skipWS(ev, 0)
	end := len(ev)
	for end > start && isWS(ev[end-1]) {
		end--
	}
	if ann.vs > 0 {
		dst = append(dst, ev[start:ann.vs]...)
		dst = appendAnnotations(dst, add, ev[ann.vs:ann.ve])
		return append(dst, ev[ann.ve:end]...), nil
	}
	// No annotations member: add one before the closing brace.
	dst = append(dst, ev[start:end-1]...)
	if ann.members {
		dst = append(dst, ',')
	}
	dst = append(dst, `"annotations":`...)
	dst = appendAnnotations(dst, add, nil)
	return append(dst, '}'), nil
}

// annotation is one added annotation: key and raw JSON string value.
type annotation struct {
	key string
	v   []byte
}

func isNull(v []byte) bool { return len(v) == 0 || v[0] == 'n' }

// eventInfo is what unwrapAKS needs to know about the Event object.
type eventInfo struct {
	vs, ve  int  // annotations value bounds (vs == 0: absent or null)
	members bool // the object has at least one member
}

// eventAnnotations checks that ev (a valid JSON object) is an audit Event
// and locates its annotations.
func eventAnnotations(k Kind, field string, ev []byte) (eventInfo, error) {
	var info eventInfo
	var kind, apiVersion []byte
	hasAuditID, hasStage := false, false
	it, _ := newObjIter(ev, 0)
	for {
		key, _, vs, ve, ok := it.next()
		if !ok {
			break
		}
		info.members = true
		v := ev[vs:ve]
		switch string(key) {
		case "kind":
			kind = v
		case "apiVersion":
			apiVersion = v
		case "auditID":
			hasAuditID = true
		case "stage":
			hasStage = true
		case "annotations":
			if isNull(v) {
				info.vs, info.ve = vs, ve // replaced by an object
				break
			}
			if v[0] != '{' {
				return info, typeErr(k, field+".annotations", "object", v)
			}
			info.vs, info.ve = vs, ve
		}
	}
	switch {
	case string(kind) == `"Event"`:
	case kind != nil && !isNull(kind):
		return info, fail(k, field, ErrNotEvent, "kind is "+shortRaw(kind))
	case apiVersion != nil && !isNull(apiVersion):
		if len(apiVersion) < 15 || string(apiVersion[:14]) != `"audit.k8s.io/` {
			return info, fail(k, field, ErrNotEvent, "apiVersion is "+shortRaw(apiVersion))
		}
	case !hasAuditID || !hasStage:
		return info, fail(k, field, ErrNotEvent, "no kind, apiVersion, auditID or stage")
	}
	return info, nil
}

// shortRaw renders a raw JSON value for an error message.
func shortRaw(v []byte) string {
	if len(v) > 0 && v[0] == '"' {
		return quoteShort(v[1 : len(v)-1])
	}
	return jsonType(v)
}

// appendAnnotations writes an annotations object: the added annotations,
// then the members of old (a JSON object or nil) whose keys do not start
// with Prefix.
func appendAnnotations(dst []byte, add []annotation, old []byte) []byte {
	dst = append(dst, '{')
	first := true
	for _, a := range add {
		if isNull(a.v) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendQuote(dst, a.key)
		dst = append(dst, ':')
		dst = append(dst, a.v...)
	}
	if old == nil || old[0] != '{' {
		return append(dst, '}')
	}
	it, _ := newObjIter(old, 0)
	for {
		key, ks, _, ve, ok := it.next()
		if !ok {
			break
		}
		if keyHasPrefix(key, Prefix) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, old[ks:ve]...)
	}
	return append(dst, '}')
}
