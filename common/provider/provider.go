package provider

import (
	"errors"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/valyala/fastjson"
)

// Kind names a provider format.
type Kind uint8

// The provider formats.
const (
	// None: not a provider record (an audit Event, or something else).
	None Kind = iota
	// AKS: an Azure Monitor resource log record of category kube-audit or
	// kube-audit-admin, or a {"records":[...]} batch of them.
	AKS
	// GKE: a Cloud Logging LogEntry carrying a Cloud Audit Logs AuditLog
	// for a Kubernetes API call.
	GKE
	// EKS: CloudWatch Logs wrappers (subscription messages, exports).
	EKS
)

// String returns "none", "aks", "gke" or "eks".
func (k Kind) String() string {
	switch k {
	case AKS:
		return "aks"
	case GKE:
		return "gke"
	case EKS:
		return "eks"
	}
	return "none"
}

// Prefix starts every annotation Unwrap adds; it equals
// enrich.AnnotationPrefix.
const Prefix = "auditlane.io/"

// Annotation keys Unwrap writes into the Event.
const (
	AnnProvider      = Prefix + "provider"                // "aks", "gke" or "eks"
	AnnFormat        = Prefix + "format"                  // the wrapper format (Format* constants)
	AnnReconstructed = Prefix + "reconstructed"           // GKE: Event fields rebuilt rather than copied
	AnnAKSResourceID = Prefix + "aks-resource-id"         // resourceId
	AnnAKSCategory   = Prefix + "aks-category"            // category
	AnnAKSPod        = Prefix + "aks-pod"                 // properties.pod
	AnnAKSTime       = Prefix + "aks-time"                // time
	AnnGCPProject    = Prefix + "gcp-project"             // resource.labels.project_id
	AnnGCPLocation   = Prefix + "gcp-location"            // resource.labels.location
	AnnGCPCluster    = Prefix + "gcp-cluster"             // resource.labels.cluster_name
	AnnGCPLogName    = Prefix + "gcp-log-name"            // logName
	AnnGCPInsertID   = Prefix + "gcp-insert-id"           // insertId
	AnnGCPReceived   = Prefix + "gcp-receive-timestamp"   // receiveTimestamp
	AnnGCPCallerIP   = Prefix + "gcp-caller-ip"           // callerIp that is not an IP address
	AnnGCPDelegation = Prefix + "gcp-delegation"          // authenticationInfo.serviceAccountDelegationInfo (JSON)
	AnnGCPSeverity   = Prefix + "gcp-severity"            // severity
	AnnGCPOperation  = Prefix + "gcp-operation-producer"  // operation.producer
	AnnGCPPubSubID   = Prefix + "gcp-pubsub-message-id"   // Pub/Sub messageId
	AnnGCPPubSubSub  = Prefix + "gcp-pubsub-subscription" // Pub/Sub push subscription
	AnnAKSTable      = Prefix + "aks-table"               // Log Analytics table (Type)
	AnnAKSSkipped    = Prefix + "aks-skipped-objects"     // bodies Log Analytics replaced by "skipped-too-big-size-object"
	AnnAWSLogGroup   = Prefix + "aws-log-group"           // logGroup
	AnnAWSLogStream  = Prefix + "aws-log-stream"          // logStream
	AnnAWSAccount    = Prefix + "aws-account-id"          // owner
	AnnAWSEventID    = Prefix + "aws-event-id"            // logEvents[].id / eventId
	AnnAWSTimestamp  = Prefix + "aws-timestamp"           // the log event's timestamp (RFC 3339)
	AnnAWSIngestion  = Prefix + "aws-ingestion-time"      // ingestionTime (RFC 3339)
)

// Sentinel causes of an unwrap failure; test with errors.Is.
var (
	// ErrSyntax: the record is not valid JSON or not valid UTF-8.
	ErrSyntax = errors.New("invalid JSON")
	// ErrMissing: a required field is absent (or null).
	ErrMissing = errors.New("missing")
	// ErrType: a field has the wrong JSON type.
	ErrType = errors.New("wrong type")
	// ErrValue: a field has a value this package does not convert (a log
	// category other than kube-audit, a non-Kubernetes GCP method, ...).
	ErrValue = errors.New("unsupported value")
	// ErrNotEvent: properties.log does not hold an audit Event.
	ErrNotEvent = errors.New("not an audit Event")
	// ErrNotProvider: the record is in no provider format.
	ErrNotProvider = errors.New("not a provider record")
	// ErrNotAudit: the record is a provider's log record of another kind
	// (an AKS kube-apiserver or guard category, a GKE container.googleapis.com
	// entry, a CloudWatch control message or a non-audit log line): not an
	// error in the input, just not an audit event. Callers count it as
	// skipped.
	ErrNotAudit = errors.New("not an audit record")
	// ErrTruncated: the transport cut the record ([Truncated...] from
	// CloudWatch Logs); Unit.AuditID holds the event's ID when readable.
	ErrTruncated = errors.New("truncated by the transport")
)

// Error reports why a provider record could not be unwrapped. Messages
// quote only record metadata (field names, categories, method names),
// never request or response bodies.
type Error struct {
	// Kind is the format the record was read as.
	Kind Kind
	// Field is the path of the offending field in the provider record
	// ("properties.log", "protoPayload.methodName"); "" for the record.
	Field string
	// Err is one of the sentinel errors above.
	Err error
	// Detail adds specifics ("expected object, found string").
	Detail string
}

// Error implements error: "aks: properties.log: not an audit Event: ...".
func (e *Error) Error() string {
	msg := e.Kind.String() + ": "
	if e.Field != "" {
		msg += e.Field + ": "
	}
	msg += e.Err.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns the sentinel cause.
func (e *Error) Unwrap() error { return e.Err }

func fail(k Kind, field string, err error, detail string) error {
	return &Error{Kind: k, Field: field, Err: err, Detail: detail}
}

// quoteShort quotes a metadata value for an error message, cut to 64 bytes.
func quoteShort(b []byte) string {
	if len(b) > 64 {
		b = b[:64]
		for len(b) > 0 && !utf8.Valid(b) {
			b = b[:len(b)-1]
		}
		return strconv.Quote(string(b)) + "..."
	}
	return strconv.Quote(string(b))
}

func jsonType(v []byte) string {
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func typeErr(k Kind, field, want string, got []byte) error {
	return fail(k, field, ErrType, "expected "+want+", found "+jsonType(got))
}

// Detect reports which provider format the JSON object obj is, looking at
// its top-level keys only: a protoPayload member means GKE; a properties,
// category or records member means AKS; kind or apiVersion of an audit
// Event (or anything else) means None. obj should be valid JSON; on other
// input Detect returns a guess and never panics.
func Detect(obj []byte) Kind {
	it, ok := newObjIter(obj, 0)
	if !ok {
		return None
	}
	for {
		key, _, vs, ve, ok := it.next()
		if !ok {
			return None
		}
		switch string(key) {
		case "protoPayload":
			return GKE
		case "properties", "category", "records":
			return AKS
		case "kind":
			if v := obj[vs:ve]; string(v) == `"Event"` || string(v) == `"EventList"` {
				return None
			}
		case "apiVersion":
			if v := obj[vs:ve]; len(v) > 14 && string(v[:14]) == `"audit.k8s.io/` {
				return None
			}
		}
	}
}

// validate checks that b is one valid JSON value in valid UTF-8.
func validate(k Kind, field string, b []byte) error {
	if !utf8.Valid(b) {
		return fail(k, field, ErrSyntax, "invalid UTF-8")
	}
	if err := fastjson.ValidateBytes(b); err != nil {
		return fail(k, field, ErrSyntax, "")
	}
	if controlInString(b) {
		return fail(k, field, ErrSyntax, "control character in string")
	}
	return nil
}

// controlInString reports whether a string in the JSON b holds a raw
// control character, which JSON forbids: fastjson lets one through in a
// string that also holds an escape.
func controlInString(b []byte) bool {
	in := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case !in:
			in = c == '"'
		case c == '\\':
			i++
		case c == '"':
			in = false
		case c < 0x20:
			return true
		}
	}
	return false
}

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// Unwrap converts one provider record obj into audit.k8s.io/v1 Event JSON
// appended to dst and reports the record's format.
//
// AKS records yield the Event inside properties.log, copied byte for byte
// except for its annotations member, which gains the AKS metadata. GKE
// records yield an Event rebuilt from the LogEntry (see the package doc for
// every mapping); requestObject and responseObject are the AuditLog's
// request and response copied byte for byte without their "@type" member.
// Added annotations start with Prefix; annotations under Prefix already in
// the source (Event annotations, LogEntry labels) are dropped so a record
// cannot forge them.
//
// On error dst is returned unchanged (with its original length) and the
// error is an *Error naming the field. A {"records":[...]} batch is an
// error here: split it with Records first.
func Unwrap(dst, obj []byte) ([]byte, Kind, error) {
	k := Detect(obj)
	if k == None {
		return dst, None, fail(None, "", ErrNotProvider, "no protoPayload, properties or category member")
	}
	if err := validate(k, "", obj); err != nil {
		return dst, k, err
	}
	if _, ok := newObjIter(obj, 0); !ok {
		return dst, k, fail(k, "", ErrType, "expected object, found "+jsonType(obj[skipWS(obj, 0):]))
	}
	n := len(dst)
	var err error
	switch k {
	case AKS:
		dst, err = unwrapAKS(dst, obj, &Origin{Provider: "aks", Format: FormatAKSResourceLog})
	case GKE:
		dst, err = unwrapGKE(dst, obj, &Origin{Provider: "gke", Format: FormatGKELogEntry}, nil)
	}
	if err != nil {
		return dst[:n], k, err
	}
	return dst, k, nil
}

// Records splits an Azure Monitor batch {"records":[...]} (the form Event
// Hubs and the diagnostic-setting exports deliver) and calls fn with the raw
// bytes of each element in order; the bytes alias obj. It reports whether
// obj was such a batch: for any other object it returns false and does
// nothing. An error from fn stops the walk and is returned; callers that
// want one outcome per record handle the record's error inside fn and
// return nil. Elements are passed as they are, even when they are not
// objects, so Unwrap can reject each with its reason.
func Records(obj []byte, fn func(rec []byte) error) (bool, error) {
	it, ok := newObjIter(obj, 0)
	if !ok {
		return false, nil
	}
	vs, ve, found := 0, 0, false
	for {
		key, _, s, e, ok := it.next()
		if !ok {
			break
		}
		if keyIs(key, "records") {
			vs, ve, found = s, e, true
		}
	}
	if !found {
		return false, nil
	}
	if err := validate(AKS, "", obj); err != nil {
		return true, err
	}
	arr, ok := newArrIter(obj[:ve], vs)
	if !ok {
		return true, typeErr(AKS, "records", "array", obj[vs:ve])
	}
	for {
		s, e, ok := arr.next()
		if !ok {
			return true, nil
		}
		if err := fn(obj[s:e]); err != nil {
			return true, err
		}
	}
}
