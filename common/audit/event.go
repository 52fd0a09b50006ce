package audit

import (
	"strings"
	"time"
)

// API versions of audit.k8s.io events.
const (
	VersionV1       = "audit.k8s.io/v1"
	VersionV1beta1  = "audit.k8s.io/v1beta1"
	VersionV1alpha1 = "audit.k8s.io/v1alpha1"
)

// Audit levels, in increasing order of detail.
const (
	LevelNone            = "None"
	LevelMetadata        = "Metadata"
	LevelRequest         = "Request"
	LevelRequestResponse = "RequestResponse"
)

// Stages of a request.
const (
	StageRequestReceived  = "RequestReceived"
	StageResponseStarted  = "ResponseStarted"
	StageResponseComplete = "ResponseComplete"
	StagePanic            = "Panic"
)

// Member identifies a top-level Event member whose position the decoder
// records, so later steps can read or cut it without rescanning.
type Member uint8

// The recorded top-level members.
const (
	MemberKind Member = iota
	MemberAPIVersion
	MemberLevel
	MemberAuditID
	MemberStage
	MemberRequestURI
	MemberVerb
	MemberUser
	MemberImpersonatedUser
	MemberSourceIPs
	MemberUserAgent
	MemberObjectRef
	MemberResponseStatus
	MemberRequestObject
	MemberResponseObject
	MemberRequestReceivedTimestamp
	MemberStageTimestamp
	MemberAnnotations
	MemberMetadata  // legacy v1beta1 ObjectMeta
	MemberTimestamp // legacy v1beta1 timestamp
	numMembers
)

var memberNames = [numMembers]string{
	"kind", "apiVersion", "level", "auditID", "stage", "requestURI", "verb",
	"user", "impersonatedUser", "sourceIPs", "userAgent", "objectRef",
	"responseStatus", "requestObject", "responseObject",
	"requestReceivedTimestamp", "stageTimestamp", "annotations",
	"metadata", "timestamp",
}

// String returns the member's JSON key.
func (m Member) String() string {
	if m < numMembers {
		return memberNames[m]
	}
	return "unknown"
}

// Span locates one top-level member in Event.Raw: the key's opening quote at
// KeyStart, the value in Raw[ValStart:ValEnd]. A zero Span means absent.
type Span struct {
	KeyStart, ValStart, ValEnd int
}

// Present reports whether the member was in the event.
func (s Span) Present() bool { return s.ValEnd > 0 }

// UserInfo is the subset of authentication.k8s.io/v1 UserInfo the policy
// needs. Extra is left in the raw bytes (see Event.Value(MemberUser)).
type UserInfo struct {
	Username string
	UID      string
	Groups   []string
}

// ObjectRef is the event's objectRef. For v1alpha1 events whose apiVersion
// carried "group/version", APIGroup and APIVersion hold the split parts.
type ObjectRef struct {
	Resource    string
	Namespace   string
	Name        string
	UID         string
	APIGroup    string
	APIVersion  string
	Subresource string
}

// Event is a decoded audit event: the hot fields the policy and enricher
// read, and the positions of every recorded member in the raw bytes.
//
// Strings in an Event are ordinary immutable Go strings and stay valid
// forever. Raw and Groups, however, may refer to memory that the Decoder
// reuses: they are valid until the next call that decodes into the same
// Event. Use Clone to keep an Event.
type Event struct {
	// Raw is the event object exactly as read: valid JSON, valid UTF-8.
	Raw []byte
	// Line is the 1-based input line the event starts on (0 when unknown);
	// Offset is its byte offset in the input stream.
	Line   int
	Offset int64
	// Index is the event's position inside an EventList or array, or -1.
	Index int

	// APIVersion is the event's apiVersion; "" when the event has none.
	APIVersion string
	Level      string
	AuditID    string
	Stage      string
	RequestURI string
	Verb       string
	User       UserInfo
	// HasObjectRef reports a resource request: the event has an objectRef.
	HasObjectRef bool
	ObjectRef    ObjectRef
	// ResponseCode is responseStatus.code, 0 when absent.
	ResponseCode int
	// RequestReceivedTimestamp and StageTimestamp are the raw RFC 3339
	// strings, filled from the legacy timestamp and metadata.creationTimestamp
	// when the event predates them (see Legacy).
	RequestReceivedTimestamp string
	StageTimestamp           string
	// Legacy reports that normalisation changed something: timestamps taken
	// from legacy fields or a v1alpha1 objectRef.apiVersion split.
	Legacy bool

	// spans holds the members' positions; only those whose bit is set in
	// present are valid, so a new parse need not clear the array.
	spans   [numMembers]Span
	present uint32
	// strs collects the string fields above before they are materialised
	// in one allocation.
	strs []byte
	parseState
	// split holds the pending items of a list being split (Records,
	// Decoder).
	split splitter
}

// Span returns the position of member m in Raw.
func (e *Event) Span(m Member) Span {
	if m >= numMembers || e.present&(1<<m) == 0 {
		return Span{}
	}
	return e.spans[m]
}

// Value returns the raw JSON value of member m, or nil when absent.
func (e *Event) Value(m Member) []byte {
	s := e.Span(m)
	if !s.Present() {
		return nil
	}
	return e.Raw[s.ValStart:s.ValEnd]
}

// Path returns requestURI without its query string.
func (e *Event) Path() string {
	if i := strings.IndexByte(e.RequestURI, '?'); i >= 0 {
		return e.RequestURI[:i]
	}
	return e.RequestURI
}

// Time returns the event time: stageTimestamp, else requestReceivedTimestamp,
// parsed as RFC 3339 with optional fractional seconds. ok is false when
// neither parses.
func (e *Event) Time() (t time.Time, ok bool) {
	for _, s := range [2]string{e.StageTimestamp, e.RequestReceivedTimestamp} {
		if s == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Clone returns a deep copy that shares no memory with e.
func (e *Event) Clone() *Event {
	c := *e
	c.Raw = append([]byte(nil), e.Raw...)
	c.User.Groups = append([]string(nil), e.User.Groups...)
	c.strs = nil
	c.members = append([]memberPos(nil), e.members...)
	c.groups = nil // only used while parsing
	c.split = splitter{}
	return &c
}
