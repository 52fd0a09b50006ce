package audit

import (
	"encoding/binary"
	"strings"

	"github.com/auditlane/auditlane/common/provider"
	"github.com/auditlane/auditlane/internal/jsonstr"
)

// Indexes of the string fields collected into Event.strs.
const (
	sAPIVersion = iota
	sLevel
	sAuditID
	sStage
	sRequestURI
	sVerb
	sUsername
	sUID
	sResource
	sNamespace
	sName
	sObjUID
	sAPIGroup
	sObjAPIVersion
	sSubresource
	sRequestReceived
	sStageTimestamp
	sTimestamp
	sCreationTimestamp
	sKind
	numStrs
)

// internable marks the string fields whose values are usually one of
// intern's constants.
const internable = 1<<sAPIVersion | 1<<sLevel | 1<<sStage | 1<<sVerb | 1<<sKind

// strRef locates a collected string: in Event.strs[start:end], or, when
// lit is set, a constant.
type strRef struct {
	start, end int32
	lit        string
}

// memberPos records one top-level member in input order.
type memberPos struct {
	m                          Member // numMembers for members not recorded by name
	keyStart, valStart, valEnd int
}

// memberItems is the internal id of an EventList's items member;
// memberProvider marks the top-level keys of cloud providers' record
// formats (see common/provider).
const (
	memberItems    = numMembers + 1
	memberProvider = numMembers + 2
)

// parseState is per-event scratch kept in the Event to avoid allocations.
type parseState struct {
	refs        [numStrs]strRef
	have        uint32 // the refs set by this parse, one bit per index
	groups      []strRef
	members     []memberPos
	isList      bool
	hasAPIGroup bool
	// isProvider: a cloud provider's record (AKS, GKE) rather than an Event.
	isProvider  bool
	sawProvider bool
	// hasOrigin: the event was converted from a provider's record (origin
	// says which); set by the splitter after parse.
	hasOrigin bool
	origin    provider.Origin
}

// reset clears e for a new parse, keeping Raw, positions and buffers. It
// clears field by field: spans and refs are only read where their bits in
// present and have are set, so the two arrays (about 1 KB) stay as they are.
func (e *Event) reset() {
	e.APIVersion, e.Level, e.AuditID, e.Stage, e.RequestURI, e.Verb = "", "", "", "", "", ""
	e.User = UserInfo{Groups: e.User.Groups[:0]}
	e.HasObjectRef = false
	e.ObjectRef = ObjectRef{}
	e.ResponseCode = 0
	e.RequestReceivedTimestamp, e.StageTimestamp = "", ""
	e.Legacy = false
	e.present = 0
	e.strs = e.strs[:0]
	ps := &e.parseState
	ps.have = 0
	ps.groups, ps.members = ps.groups[:0], ps.members[:0]
	ps.isList, ps.hasAPIGroup, ps.isProvider, ps.sawProvider, ps.hasOrigin = false, false, false, false, false
}

// parse decodes e.Raw into e.
func (e *Event) parse() *DecodeError {
	e.reset()
	b := e.Raw
	i := skipWS(b, 0)
	if i >= len(b) {
		return syntaxErr(i, "empty input")
	}
	if b[i] != '{' {
		end, err := skipValue(b, i, 0)
		if err != nil {
			return err
		}
		if j := skipWS(b, end); j < len(b) {
			return syntaxErr(j, "extra data after the value")
		}
		return &DecodeError{Pos: i, Index: -1, Err: ErrNotObject, Detail: "found " + jsonType(b[i])}
	}
	o := objScan{b: b, i: i + 1}
	var typeErr *DecodeError   // reported once the whole value is known to be valid JSON
	prev := Member(numMembers) // the member just decoded, for predicting the next key
	for {
		// The member most likely to follow prev (firstPredicted), checked
		// here in the loop; then the other predictions, then a key scan.
		m, ok := Member(0), false
		if j := o.i + o.n; prev <= numMembers && j >= 0 && len(b)-j > 32 && (o.n == 0 || b[o.i] == ',') {
			c := &firstPredicted[prev]
			if prev == MemberResponseStatus && e.refs[sLevel].lit == LevelMetadata && e.have&(1<<sLevel) != 0 {
				c = &afterStatusMetadata
			}
			if c.n != 0 && c.is(b[j:j+32:j+32]) {
				o.keyStart = j
				o.i = j + len(c.key)
				if b[o.i] <= ' ' {
					o.i = skipWS(b, o.i)
				}
				o.n = 1
				m, ok = c.m, true
			}
		}
		if !ok {
			m, ok = o.predict(prev)
		}
		if !ok {
			key, more, err := o.next()
			if err != nil {
				return err
			}
			if !more {
				break
			}
			m = topMember(key)
		}
		prev = m
		var err *DecodeError
		start := o.i
		if m == numMembers {
			o.i, err = skipValue(b, start, 1)
		} else {
			o.i, err = e.member(m, start)
			if err != nil && err.Err != ErrSyntax {
				if typeErr == nil {
					typeErr = err
				}
				o.i, err = skipValue(b, start, 1)
			}
		}
		if err != nil {
			return err
		}
		e.members = append(e.members, memberPos{m: m, keyStart: o.keyStart, valStart: start, valEnd: o.i})
		if m < numMembers {
			e.spans[m] = Span{KeyStart: o.keyStart, ValStart: start, ValEnd: o.i}
			e.present |= 1 << m
		}
	}
	if j := skipWS(b, o.i); j < len(b) {
		return syntaxErr(j, "extra data after the event object")
	}
	e.Raw = b[:o.i] // without trailing space
	if typeErr != nil {
		return typeErr
	}
	return e.finish()
}

// member decodes the value of a recorded top-level member at b[i].
func (e *Event) member(m Member, i int) (int, *DecodeError) {
	b := e.Raw
	switch m {
	case MemberKind:
		return e.str(i, sKind, "kind")
	case MemberAPIVersion:
		return e.str(i, sAPIVersion, "apiVersion")
	case MemberLevel:
		return e.str(i, sLevel, "level")
	case MemberAuditID:
		return e.str(i, sAuditID, "auditID")
	case MemberStage:
		return e.str(i, sStage, "stage")
	case MemberRequestURI:
		return e.str(i, sRequestURI, "requestURI")
	case MemberVerb:
		return e.str(i, sVerb, "verb")
	case MemberRequestReceivedTimestamp:
		return e.str(i, sRequestReceived, "requestReceivedTimestamp")
	case MemberStageTimestamp:
		return e.str(i, sStageTimestamp, "stageTimestamp")
	case MemberTimestamp:
		return e.str(i, sTimestamp, "timestamp")
	case MemberUserAgent:
		return e.expectType(i, '"', "userAgent")
	case MemberUser:
		return e.user(i)
	case MemberObjectRef:
		return e.objectRef(i)
	case MemberResponseStatus:
		return e.responseStatus(i)
	case MemberMetadata:
		return e.metadata(i)
	case MemberImpersonatedUser, MemberAnnotations:
		return e.expectType(i, '{', m.String())
	case MemberSourceIPs:
		return e.expectType(i, '[', "sourceIPs")
	case memberItems:
		return e.expectType(i, '[', "items")
	case memberProvider:
		e.sawProvider = true
	}
	return skipValue(b, i, 1)
}

// expectType validates the value at b[i] and checks it is null or starts
// with want ('"', '{' or '[').
func (e *Event) expectType(i int, want byte, field string) (int, *DecodeError) {
	b := e.Raw
	if want == '"' && i < len(b) && b[i] == '"' {
		j, _, err := scanString(b, i)
		return j, err
	}
	if i < len(b) && b[i] != want && b[i] != 'n' {
		if _, err := skipValue(b, i, 1); err != nil {
			return i, err
		}
		return i, typeErr(i, field, want, b[i])
	}
	return skipValue(b, i, 1)
}

func typeErr(i int, field string, want, got byte) *DecodeError {
	return &DecodeError{Pos: i, Index: -1, Field: field, Err: ErrType,
		Detail: "expected " + jsonType(want) + ", found " + jsonType(got)}
}

// str decodes a string (or null) into refs[ref].
func (e *Event) str(i, ref int, field string) (int, *DecodeError) {
	b := e.Raw
	if i < len(b) && b[i] == '"' {
		j, esc := plainRun(b, i+1), false
		if j < len(b) && b[j] == '"' {
			j++
		} else {
			var err *DecodeError
			if j, esc, err = scanStringSlow(b, i, j); err != nil {
				return j, err
			}
		}
		e.refs[ref] = e.collect(b[i:j], esc, internable&(1<<ref) != 0)
		e.have |= 1 << ref
		return j, nil
	}
	return e.expectType(i, '"', field)
}

// collect records the string s (with quotes) and returns its reference.
// internable marks fields whose values are usually one of intern's
// constants (kind, apiVersion, level, stage, verb, group names).
func (e *Event) collect(s []byte, esc, internable bool) strRef {
	if !esc {
		if internable {
			if lit, ok := intern(s[1 : len(s)-1]); ok {
				return strRef{lit: lit}
			}
		}
		start := len(e.strs)
		e.strs = append(e.strs, s[1:len(s)-1]...)
		return strRef{start: int32(start), end: int32(len(e.strs))}
	}
	start := len(e.strs)
	e.strs = jsonstr.AppendUnescaped(e.strs, s[1:len(s)-1])
	return strRef{start: int32(start), end: int32(len(e.strs))}
}

func (e *Event) user(i int) (int, *DecodeError) {
	b := e.Raw
	if i >= len(b) || b[i] != '{' {
		return e.expectType(i, '{', "user")
	}
	o := objScan{b: b, i: i + 1}
	for {
		key, more, err := o.next()
		if err != nil || !more {
			return o.i, err
		}
		switch string(key) {
		case `"username"`:
			o.i, err = e.str(o.i, sUsername, "user.username")
		case `"uid"`:
			o.i, err = e.str(o.i, sUID, "user.uid")
		case `"groups"`:
			o.i, err = e.groupList(o.i)
		case `"extra"`:
			o.i, err = e.expectType(o.i, '{', "user.extra")
		default:
			o.i, err = skipValue(b, o.i, 2)
		}
		if err != nil {
			return o.i, err
		}
	}
}

func (e *Event) groupList(i int) (int, *DecodeError) {
	b := e.Raw
	if i >= len(b) || b[i] != '[' {
		return e.expectType(i, '[', "user.groups")
	}
	e.groups = e.groups[:0]
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		if i >= len(b) {
			return i, syntaxErr(i, "unexpected end of input in array")
		}
		if b[i] != '"' {
			if _, err := skipValue(b, i, 3); err != nil {
				return i, err
			}
			return i, typeErr(i, "user.groups", '"', b[i])
		}
		j, esc, err := scanString(b, i)
		if err != nil {
			return j, err
		}
		e.groups = append(e.groups, e.collect(b[i:j], esc, true))
		i = skipWS(b, j)
		if i >= len(b) {
			return i, syntaxErr(i, "unexpected end of input in array")
		}
		if b[i] == ']' {
			return i + 1, nil
		}
		if b[i] != ',' {
			return i, syntaxErr(i, "expected ',' or ']' in array")
		}
		i = skipWS(b, i+1)
	}
}

func (e *Event) objectRef(i int) (int, *DecodeError) {
	b := e.Raw
	if i >= len(b) || b[i] != '{' {
		if i < len(b) && b[i] == 'n' {
			return scanLiteral(b, i, "null")
		}
		return e.expectType(i, '{', "objectRef")
	}
	e.HasObjectRef = true
	o := objScan{b: b, i: i + 1}
	for {
		key, more, err := o.next()
		if err != nil || !more {
			return o.i, err
		}
		switch string(key) {
		case `"resource"`:
			o.i, err = e.str(o.i, sResource, "objectRef.resource")
		case `"namespace"`:
			o.i, err = e.str(o.i, sNamespace, "objectRef.namespace")
		case `"name"`:
			o.i, err = e.str(o.i, sName, "objectRef.name")
		case `"uid"`:
			o.i, err = e.str(o.i, sObjUID, "objectRef.uid")
		case `"apiGroup"`:
			e.hasAPIGroup = true
			o.i, err = e.str(o.i, sAPIGroup, "objectRef.apiGroup")
		case `"apiVersion"`:
			o.i, err = e.str(o.i, sObjAPIVersion, "objectRef.apiVersion")
		case `"subresource"`:
			o.i, err = e.str(o.i, sSubresource, "objectRef.subresource")
		case `"resourceVersion"`:
			o.i, err = e.expectType(o.i, '"', "objectRef.resourceVersion")
		default:
			o.i, err = skipValue(b, o.i, 2)
		}
		if err != nil {
			return o.i, err
		}
	}
}

func (e *Event) responseStatus(i int) (int, *DecodeError) {
	b := e.Raw
	if i >= len(b) || b[i] != '{' {
		return e.expectType(i, '{', "responseStatus")
	}
	o := objScan{b: b, i: i + 1}
	for {
		key, more, err := o.next()
		if err != nil || !more {
			return o.i, err
		}
		if string(key) == `"code"` && o.i < len(b) && b[o.i] != 'n' {
			start := o.i
			if b[start] != '-' && (b[start] < '0' || b[start] > '9') {
				if _, err := skipValue(b, start, 2); err != nil {
					return start, err
				}
				return start, typeErr(start, "responseStatus.code", '0', b[start])
			}
			if o.i, err = scanNumber(b, start); err != nil {
				return o.i, err
			}
			code, ok := parseInt32(b[start:o.i])
			if !ok {
				return start, &DecodeError{Pos: start, Index: -1, Field: "responseStatus.code", Err: ErrType, Detail: "expected a 32-bit integer"}
			}
			e.ResponseCode = code
			continue
		}
		if o.i, err = skipValue(b, o.i, 2); err != nil {
			return o.i, err
		}
	}
}

func (e *Event) metadata(i int) (int, *DecodeError) {
	b := e.Raw
	if i >= len(b) || b[i] != '{' {
		return e.expectType(i, '{', "metadata")
	}
	o := objScan{b: b, i: i + 1}
	for {
		key, more, err := o.next()
		if err != nil || !more {
			return o.i, err
		}
		if string(key) == `"creationTimestamp"` {
			o.i, err = e.str(o.i, sCreationTimestamp, "metadata.creationTimestamp")
		} else {
			o.i, err = skipValue(b, o.i, 2)
		}
		if err != nil {
			return o.i, err
		}
	}
}

func parseInt32(b []byte) (int, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 || len(b) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	if n > 1<<31-1 || n < -1<<31 {
		return 0, false
	}
	return n, true
}

// finish checks kind and apiVersion, normalises legacy forms and
// materialises the strings with one allocation.
func (e *Event) finish() *DecodeError {
	s := string(e.strs)
	str := func(r strRef) string {
		if r.lit != "" {
			return r.lit
		}
		return s[r.start:r.end]
	}
	get := func(ref int) string {
		if e.have&(1<<ref) == 0 {
			return ""
		}
		return str(e.refs[ref])
	}
	kind := get(sKind)
	switch kind {
	case "", "Event":
	case "EventList":
		e.isList = true
	default:
		sp := e.spans[MemberKind]
		return &DecodeError{Pos: sp.ValStart, Index: -1, Field: "kind", Err: ErrKind, Detail: `"` + kind + `"`}
	}
	e.APIVersion = get(sAPIVersion)
	if e.sawProvider && !e.isList && e.APIVersion == "" && kind == "" {
		e.isProvider = true
		return nil
	}
	switch e.APIVersion {
	case "", VersionV1, VersionV1beta1, VersionV1alpha1:
	default:
		sp := e.spans[MemberAPIVersion]
		return &DecodeError{Pos: sp.ValStart, Index: -1, Field: "apiVersion", Err: ErrAPIVersion, Detail: `"` + e.APIVersion + `"`}
	}
	if kind == "Event" && len(e.members) == 1 {
		return &DecodeError{Pos: -1, Index: -1, Err: ErrKind, Detail: "not an audit Event: kind Event and nothing else"}
	}
	if kind == "" && !e.isList {
		// Without a kind, an object must carry an Event member to count as
		// one: a stray log line ({"message":...}) or a collector's group
		// marker is not an audit event.
		has := false
		for _, m := range [...]Member{MemberAuditID, MemberStage, MemberVerb, MemberRequestURI, MemberUser} {
			has = has || e.present&(1<<m) != 0
		}
		if !has {
			// Perhaps a provider's wrapper (CloudWatch, Pub/Sub, Log
			// Analytics, ...): the splitter asks common/provider and
			// reports ErrKind when it is none.
			e.isProvider = true
			return nil
		}
	}
	if e.isList {
		for _, mp := range e.members {
			if mp.m == memberItems {
				return nil
			}
		}
		return &DecodeError{Pos: -1, Index: -1, Field: "items", Err: ErrType, Detail: "EventList without items"}
	}
	e.Level = get(sLevel)
	e.AuditID = get(sAuditID)
	e.Stage = get(sStage)
	e.RequestURI = get(sRequestURI)
	e.Verb = get(sVerb)
	e.User.Username = get(sUsername)
	e.User.UID = get(sUID)
	for _, g := range e.groups {
		e.User.Groups = append(e.User.Groups, str(g))
	}
	e.ObjectRef = ObjectRef{
		Resource:    get(sResource),
		Namespace:   get(sNamespace),
		Name:        get(sName),
		UID:         get(sObjUID),
		APIGroup:    get(sAPIGroup),
		APIVersion:  get(sObjAPIVersion),
		Subresource: get(sSubresource),
	}
	if e.HasObjectRef && !e.hasAPIGroup {
		if g, v, ok := strings.Cut(e.ObjectRef.APIVersion, "/"); ok {
			e.ObjectRef.APIGroup, e.ObjectRef.APIVersion = g, v
			e.Legacy = true
		}
	}
	e.RequestReceivedTimestamp = get(sRequestReceived)
	e.StageTimestamp = get(sStageTimestamp)
	ts, created := get(sTimestamp), get(sCreationTimestamp)
	if e.RequestReceivedTimestamp == "" && (ts != "" || created != "") {
		e.RequestReceivedTimestamp = firstNonEmpty(ts, created)
		e.Legacy = true
	}
	if e.StageTimestamp == "" && (ts != "" || created != "") {
		e.StageTimestamp = firstNonEmpty(created, ts)
		e.Legacy = true
	}
	return nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// canonicalOrder lists the members in the order the apiserver writes them
// (the field order of audit/v1 Event); next[m] is the member after m.
var canonicalOrder = [...]Member{
	MemberKind, MemberAPIVersion, MemberLevel, MemberAuditID, MemberStage,
	MemberRequestURI, MemberVerb, MemberUser, MemberImpersonatedUser,
	MemberSourceIPs, MemberUserAgent, MemberObjectRef, MemberResponseStatus,
	MemberRequestObject, MemberResponseObject, MemberRequestReceivedTimestamp,
	MemberStageTimestamp, MemberAnnotations,
}

// predictions[m] holds the quoted keys with colon ("level":) of the
// members that may follow m in canonical order, nearest first, and
// predictions[numMembers] those that may start an object.
var predictions = func() (p [numMembers + 1][]predicted) {
	at := map[Member]int{}
	for i, m := range canonicalOrder {
		at[m] = i
	}
	add := func(from Member, i int) {
		for k := i; k < len(canonicalOrder) && k < i+3; k++ {
			m := canonicalOrder[k]
			p[from] = append(p[from], newPredicted(m))
		}
	}
	add(numMembers, 0)
	for _, m := range canonicalOrder {
		add(m, at[m]+1)
	}
	return
}()

// firstPredicted[m] is the member most likely to follow m: the next in
// the apiserver's order, except that impersonatedUser, rarely present, is
// passed over. afterStatusMetadata replaces it after responseStatus at
// level Metadata, where the apiserver writes no request or response
// object.
var firstPredicted = func() (p [numMembers + 1]predicted) {
	for m := range p {
		for _, c := range predictions[m] {
			if c.m != MemberImpersonatedUser {
				p[m] = c
				break
			}
		}
	}
	return
}()

var afterStatusMetadata = newPredicted(MemberRequestReceivedTimestamp)

// predicted is a key to try, held as little-endian words so a match costs
// a few word compares rather than a call to memequal.
type predicted struct {
	m     Member
	n     int       // words used
	words [4]uint64 // the key, zero-padded
	masks [4]uint64 // the bytes of each word that belong to the key
	key   string
}

func newPredicted(m Member) predicted {
	key := `"` + memberNames[m] + `":`
	c := predicted{m: m, key: key, n: (len(key) + 7) / 8}
	if c.n > len(c.words) {
		panic("audit: predicted key too long: " + key)
	}
	for i := 0; i < len(key); i++ {
		c.words[i/8] |= uint64(key[i]) << (8 * (i % 8))
		c.masks[i/8] |= 0xff << (8 * (i % 8))
	}
	return c
}

// at reports whether b[i:] starts with the key followed by at least one
// more byte.
func (c *predicted) at(b []byte, i int) bool {
	if i < 0 || len(b)-i <= 32 {
		return len(b)-i > len(c.key) && string(b[i:i+len(c.key)]) == c.key
	}
	return c.is(b[i : i+32 : i+32])
}

// is reports whether the 32 bytes w start with the key, comparing four
// masked words without branches. It is small enough to inline.
func (c *predicted) is(w []byte) bool {
	w = w[:32]
	return (binary.LittleEndian.Uint64(w)^c.words[0])&c.masks[0]|
		(binary.LittleEndian.Uint64(w[8:])^c.words[1])&c.masks[1]|
		(binary.LittleEndian.Uint64(w[16:])^c.words[2])&c.masks[2]|
		(binary.LittleEndian.Uint64(w[24:])^c.words[3])&c.masks[3] == 0
}

// predict tries, for compact JSON in the apiserver's member order, the
// keys that may follow prev: on a match it consumes the separator and the
// key and returns the member. It returns false to let next() decide.
func (o *objScan) predict(prev Member) (Member, bool) {
	if prev > numMembers {
		return 0, false
	}
	b, i := o.b, o.i
	if o.n > 0 {
		if i >= len(b) || b[i] != ',' {
			return 0, false
		}
		i++
	}
	cs := predictions[prev]
	for k := range cs {
		if c := &cs[k]; c.at(b, i) {
			o.keyStart = i
			o.i = i + len(c.key)
			if o.i < len(b) && b[o.i] <= ' ' {
				o.i = skipWS(b, o.i)
			}
			o.n = 1
			return c.m, true
		}
	}
	return 0, false
}

// objScan iterates over the members of a JSON object.
type objScan struct {
	b        []byte
	i        int // after '{' initially; then after each value
	n        int // 1 once a member was read, else 0
	keyStart int
}

// next moves to the next member's value (at o.i) and returns its quoted
// key, or more == false after the closing brace (o.i then follows it).
// Keys containing escapes are returned unescaped (with quotes).
func (o *objScan) next() (key []byte, more bool, err *DecodeError) {
	b := o.b
	i := skipWS(b, o.i)
	if i >= len(b) {
		return nil, false, syntaxErr(i, "unexpected end of input in object")
	}
	if o.n > 0 {
		if b[i] == '}' {
			o.i = i + 1
			return nil, false, nil
		}
		if b[i] != ',' {
			return nil, false, syntaxErr(i, "expected ',' or '}' in object")
		}
		i = skipWS(b, i+1)
	} else if b[i] == '}' {
		o.i = i + 1
		return nil, false, nil
	}
	if i >= len(b) || b[i] != '"' {
		return nil, false, syntaxErr(i, "expected object key")
	}
	j, esc := plainRun(b, i+1), false
	if j < len(b) && b[j] == '"' {
		j++
	} else {
		var serr *DecodeError
		if j, esc, serr = scanStringSlow(b, i, j); serr != nil {
			return nil, false, serr
		}
	}
	key = b[i:j]
	if esc {
		key = append(jsonstr.AppendUnescaped([]byte{'"'}, key[1:len(key)-1]), '"')
	}
	o.keyStart = i
	i = skipWS(b, j)
	if i >= len(b) || b[i] != ':' {
		return nil, false, syntaxErr(i, "expected ':' after object key")
	}
	o.i = skipWS(b, i+1)
	o.n = 1
	return key, true, nil
}

// topMember maps a quoted top-level key to its Member.
func topMember(key []byte) Member {
	switch string(key) {
	case `"kind"`:
		return MemberKind
	case `"apiVersion"`:
		return MemberAPIVersion
	case `"level"`:
		return MemberLevel
	case `"auditID"`:
		return MemberAuditID
	case `"stage"`:
		return MemberStage
	case `"requestURI"`:
		return MemberRequestURI
	case `"verb"`:
		return MemberVerb
	case `"user"`:
		return MemberUser
	case `"impersonatedUser"`:
		return MemberImpersonatedUser
	case `"sourceIPs"`:
		return MemberSourceIPs
	case `"userAgent"`:
		return MemberUserAgent
	case `"objectRef"`:
		return MemberObjectRef
	case `"responseStatus"`:
		return MemberResponseStatus
	case `"requestObject"`:
		return MemberRequestObject
	case `"responseObject"`:
		return MemberResponseObject
	case `"requestReceivedTimestamp"`:
		return MemberRequestReceivedTimestamp
	case `"stageTimestamp"`:
		return MemberStageTimestamp
	case `"annotations"`:
		return MemberAnnotations
	case `"metadata"`:
		return MemberMetadata
	case `"timestamp"`:
		return MemberTimestamp
	case `"items"`:
		return memberItems
	case `"protoPayload"`, `"properties"`, `"category"`, `"records"`:
		return memberProvider
	}
	return numMembers
}

// intern returns a constant for frequent short values so they need no
// copy.
func intern(b []byte) (string, bool) {
	switch string(b) {
	case "get":
		return "get", true
	case "list":
		return "list", true
	case "watch":
		return "watch", true
	case "create":
		return "create", true
	case "update":
		return "update", true
	case "patch":
		return "patch", true
	case "delete":
		return "delete", true
	case "ResponseComplete":
		return StageResponseComplete, true
	case "ResponseStarted":
		return StageResponseStarted, true
	case "RequestReceived":
		return StageRequestReceived, true
	case "Metadata":
		return LevelMetadata, true
	case "Request":
		return LevelRequest, true
	case "RequestResponse":
		return LevelRequestResponse, true
	case "Event":
		return "Event", true
	case VersionV1:
		return VersionV1, true
	case "system:authenticated":
		return "system:authenticated", true
	}
	return "", false
}

// itemsStart returns the offset of an EventList's items array.
func (e *Event) itemsStart() int {
	for _, mp := range e.members {
		if mp.m == memberItems {
			return mp.valStart
		}
	}
	return -1
}
