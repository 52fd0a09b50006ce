package provider

import (
	"strings"
)

// Origin says where a converted Event came from. The decoder copies it onto
// the Event (audit.Event.Origin) so enrichment and shaping need not parse
// annotations again.
type Origin struct {
	// Provider is "eks", "gke" or "aks" when the wrapper names the managed
	// service (a CloudWatch log group /aws/eks/NAME/cluster, a GKE
	// LogEntry, an AKS resource log), else "".
	Provider string
	// Format is the wrapper's name (see the package doc's mapping table):
	// "aks-resource-log", "gke-log-entry", "cloudwatch-subscription", ...
	Format string
	// ClusterName and ClusterID identify the cluster as the wrapper names
	// it: the GKE cluster_name and projects/P/locations/L/clusters/C, the
	// AKS managed cluster name and resource ID, the EKS cluster name of the
	// log group. AccountID is the GCP project, Azure subscription or AWS
	// account.
	ClusterName, ClusterID, AccountID string
}

// Unit is one piece of a converted record: an audit Event, or why a piece
// could not be converted.
type Unit struct {
	// Out.Buf[Start:End] is the Event JSON (one line, audit.k8s.io/v1
	// unless the source Event had another version) or, when Err is set,
	// the bytes of the piece that failed, kept for a dead letter.
	Start, End int
	// Err is an *Error (ErrNotAudit for a record of another log category
	// or service, ErrTruncated for a message its transport cut).
	Err error
	// AuditID is the piece's auditID when known, also for a failed piece
	// (a truncated CloudWatch message's ID is read from its prefix).
	AuditID string
	Origin  Origin
}

// Out collects the units of converted records. Reuse it: Reset keeps the
// memory.
type Out struct {
	Buf   []byte
	Units []Unit
	tmp   []byte // decompressed or decoded payloads
	tmp2  []byte
}

// Reset forgets all units.
func (o *Out) Reset() { o.Buf, o.Units = o.Buf[:0], o.Units[:0] }

// Bytes returns the bytes of unit u.
func (o *Out) Bytes(u *Unit) []byte { return o.Buf[u.Start:u.End] }

// fail appends a failed unit holding a copy of raw.
func (o *Out) fail(raw []byte, err error, auditID string, origin Origin) {
	start := len(o.Buf)
	o.Buf = append(o.Buf, raw...)
	o.Units = append(o.Units, Unit{Start: start, End: len(o.Buf), Err: err, AuditID: auditID, Origin: origin})
}

// Format names, as written to annotations[auditlane.io/format].
const (
	FormatAKSResourceLog     = "aks-resource-log"        // Azure Monitor resource log record (Event Hubs, storage)
	FormatAzureDiagnostics   = "azure-diagnostics"       // Log Analytics AzureDiagnostics row (log_s)
	FormatAKSAuditTable      = "aks-audit-table"         // Log Analytics AKSAudit / AKSAuditAdmin row
	FormatGKELogEntry        = "gke-log-entry"           // Cloud Logging LogEntry (JSON or gcloud YAML)
	FormatGKEPubSub          = "gke-pubsub"              // Pub/Sub push or pull message carrying a LogEntry
	FormatGKEBigQuery        = "gke-bigquery"            // BigQuery export row of a cloudaudit table
	FormatCloudWatch         = "cloudwatch-subscription" // subscription filter DATA_MESSAGE (Kinesis, Firehose, Lambda)
	FormatCloudWatchEvents   = "cloudwatch-events"       // filter-log-events / get-log-events output
	FormatCloudWatchInsights = "cloudwatch-insights"     // Logs Insights result row (@message)
	FormatCloudWatchExport   = "cloudwatch-export"       // export-task line "<RFC 3339 time> <event>"
)

// wrapper identifies a top-level object by its keys.
type wrapper uint8

const (
	wNone wrapper = iota
	wAKS
	wAKSBatch
	wAzureDiag
	wAKSTable
	wGKE
	wBigQuery
	wPubSubPush
	wPubSubPull
	wPubSubMessage
	wCWData
	wCWLambda
	wCWEvents
	wCWInsights
)

// detect reads the top-level keys of obj (not yet validated) and names its
// wrapper format.
func detect(obj []byte) wrapper {
	it, ok := newObjIter(obj, 0)
	if !ok {
		return wNone
	}
	var w wrapper
	var message, ackID, subscription, typ []byte
	for {
		key, _, vs, ve, ok := it.next()
		if !ok {
			break
		}
		v := obj[vs:ve]
		switch string(key) {
		case "kind":
			if string(v) == `"Event"` || string(v) == `"EventList"` {
				return wNone
			}
		case "protoPayload":
			return wGKE
		case "protopayload_auditlog":
			return wBigQuery
		case "records":
			if w == wNone {
				w = wAKSBatch
			}
		case "properties", "category":
			w = wAKS
		case "log_s":
			return wAzureDiag
		case "Type":
			typ = v
		case "AuditId", "RequestUri":
			return wAKSTable
		case "messageType", "logEvents":
			return wCWData
		case "awslogs":
			return wCWLambda
		case "events":
			if len(v) > 0 && v[0] == '[' {
				w = wCWEvents
			}
		case "@message":
			return wCWInsights
		case "receivedMessages":
			return wPubSubPull
		case "message":
			message = v
		case "ackId":
			ackID = v
		case "subscription":
			subscription = v
		}
	}
	switch string(typ) {
	case `"AKSAudit"`, `"AKSAuditAdmin"`:
		return wAKSTable
	case `"AzureDiagnostics"`:
		return wAzureDiag
	}
	if len(message) > 0 && message[0] == '{' {
		switch {
		case subscription != nil:
			return wPubSubPush
		case ackID != nil:
			return wPubSubMessage
		}
		// A bare PubsubMessage ({"data":...,"messageId":...}) has no
		// "message" member; see below.
	}
	return w
}

// isPubSubMessage reports a bare PubsubMessage object: data plus messageId
// or publishTime.
func isPubSubMessage(obj []byte) bool {
	it, ok := newObjIter(obj, 0)
	if !ok {
		return false
	}
	data, id := false, false
	for {
		key, _, _, _, ok := it.next()
		if !ok {
			return data && id
		}
		switch string(key) {
		case "data":
			data = true
		case "messageId", "message_id", "publishTime", "publish_time":
			id = true
		}
	}
}

// Convert reads obj, one JSON object that is not an audit Event, as a cloud
// provider's record or a batch of them, and appends what it holds to o:
// one Unit per record (an Event, or an error for a record that is not an
// audit event or cannot be converted). It returns an *Error with
// ErrNotProvider when obj is in no known format (o unchanged), or with
// ErrSyntax when obj is not valid JSON.
//
// Detection is by content only (see the package doc for each format).
func Convert(o *Out, obj []byte) error {
	w := detect(obj)
	if w == wNone && isPubSubMessage(obj) {
		w = wPubSubMessage
	}
	if w == wNone {
		return fail(None, "", ErrNotProvider, "no member of a known provider format")
	}
	k := w.kind()
	if err := validate(k, "", obj); err != nil {
		return err
	}
	o.convert(w, obj, 0)
	return nil
}

func (w wrapper) kind() Kind {
	switch w {
	case wAKS, wAKSBatch, wAzureDiag, wAKSTable:
		return AKS
	case wGKE, wBigQuery, wPubSubPush, wPubSubPull, wPubSubMessage:
		return GKE
	}
	return EKS
}

// maxDepth bounds wrappers nested in wrappers (a Lambda payload holding a
// DATA_MESSAGE, a Pub/Sub message holding a LogEntry).
const maxDepth = 4

// convert appends the units of the valid JSON object obj of format w.
func (o *Out) convert(w wrapper, obj []byte, depth int) {
	if depth > maxDepth {
		o.fail(obj, fail(w.kind(), "", ErrValue, "wrappers nested too deep"), "", Origin{})
		return
	}
	switch w {
	case wAKS:
		origin := Origin{Provider: "aks", Format: FormatAKSResourceLog}
		o.one(AKS, obj, &origin, func(dst []byte) ([]byte, error) { return unwrapAKS(dst, obj, &origin) })
	case wAKSBatch:
		o.aksBatch(obj)
	case wAzureDiag:
		origin := Origin{Provider: "aks", Format: FormatAzureDiagnostics}
		o.one(AKS, obj, &origin, func(dst []byte) ([]byte, error) { return unwrapAzureDiagnostics(dst, obj, &origin) })
	case wAKSTable:
		origin := Origin{Provider: "aks", Format: FormatAKSAuditTable}
		o.one(AKS, obj, &origin, func(dst []byte) ([]byte, error) { return o.unwrapAKSTable(dst, obj, &origin) })
	case wGKE:
		origin := Origin{Provider: "gke", Format: FormatGKELogEntry}
		o.one(GKE, obj, &origin, func(dst []byte) ([]byte, error) { return unwrapGKE(dst, obj, &origin, nil) })
	case wBigQuery:
		origin := Origin{Provider: "gke", Format: FormatGKEBigQuery}
		o.one(GKE, obj, &origin, func(dst []byte) ([]byte, error) { return o.unwrapBigQuery(dst, obj, &origin) })
	case wPubSubPush, wPubSubMessage:
		o.pubsub(obj, depth)
	case wPubSubPull:
		o.pubsubPull(obj, depth)
	case wCWData:
		o.cloudWatchData(obj)
	case wCWLambda:
		o.cloudWatchLambda(obj, depth)
	case wCWEvents:
		o.cloudWatchEvents(obj)
	case wCWInsights:
		o.cloudWatchInsights(obj)
	}
}

// one converts a single record with conv; a failure keeps obj.
func (o *Out) one(k Kind, obj []byte, origin *Origin, conv func(dst []byte) ([]byte, error)) {
	start := len(o.Buf)
	buf, err := conv(o.Buf)
	if err != nil {
		o.Buf = buf[:start]
		o.fail(obj, err, auditIDOf(obj), *origin)
		return
	}
	o.Buf = buf
	o.compactFrom(start)
	o.Units = append(o.Units, Unit{Start: start, End: len(o.Buf), AuditID: auditIDOf(o.Buf[start:]), Origin: *origin})
}

// aksBatch converts each record of {"records":[...]}.
func (o *Out) aksBatch(obj []byte) {
	_, err := Records(obj, func(rec []byte) error {
		switch detect(rec) {
		case wAzureDiag:
			o.convert(wAzureDiag, rec, 1)
		default:
			if _, ok := newObjIter(rec, 0); !ok {
				o.fail(rec, typeErr(AKS, "records[]", "object", rec), "", Origin{Provider: "aks", Format: FormatAKSResourceLog})
				return nil
			}
			o.convert(wAKS, rec, 1)
		}
		return nil
	})
	if err != nil {
		o.fail(obj, err, "", Origin{Provider: "aks", Format: FormatAKSResourceLog})
	}
}

// auditIDOf finds the auditID member value of a (possibly cut) Event text
// without parsing it: the bytes after `"auditID":"` up to the next quote.
func auditIDOf(b []byte) string {
	const key = `"auditID":"`
	i := strings.Index(string(b), key)
	if i < 0 {
		return ""
	}
	rest := b[i+len(key):]
	for j, c := range rest {
		switch {
		case c == '"':
			return string(rest[:j])
		case c == '\\' || c < 0x20 || j >= 128:
			return ""
		}
	}
	return ""
}
