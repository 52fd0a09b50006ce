package provider

import (
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fastjson"
)

// pubsub converts a Pub/Sub push body {"message":{...},"subscription":...},
// a pull result element {"ackId":...,"message":{...}} or a bare
// PubsubMessage {"data":...,"messageId":...}: message.data is the base64 of
// a LogEntry.
func (o *Out) pubsub(obj []byte, depth int) {
	origin := Origin{Provider: "gke", Format: FormatGKEPubSub}
	var msg, sub []byte
	if err := readSlots(GKE, "", obj, []slot{{"message", &msg, '{'}, {"subscription", &sub, '"'}}); err != nil {
		o.fail(obj, err, "", origin)
		return
	}
	field := "message"
	if msg == nil {
		msg, field = obj, ""
	}
	var data, id, id2 []byte
	if err := readSlots(GKE, field, msg, []slot{{"data", &data, '"'}, {"messageId", &id, '"'}, {"message_id", &id2, '"'}}); err != nil {
		o.fail(obj, err, "", origin)
		return
	}
	if id == nil {
		id = id2
	}
	df := strings.TrimPrefix(field+".data", ".")
	if isNull(data) {
		o.fail(obj, fail(GKE, df, ErrMissing, ""), "", origin)
		return
	}
	payload, err := decodeBase64(data[1 : len(data)-1])
	if err == nil {
		payload, err = gunzip(payload)
	}
	if err != nil {
		o.fail(obj, fail(GKE, df, ErrValue, err.Error()), "", origin)
		return
	}
	if err := validate(GKE, df, payload); err != nil {
		o.fail(obj, err, "", origin)
		return
	}
	extra := [...]annotation{{AnnGCPPubSubID, id}, {AnnGCPPubSubSub, sub}}
	switch detect(payload) {
	case wGKE:
		o.one(GKE, payload, &origin, func(dst []byte) ([]byte, error) { return unwrapGKE(dst, payload, &origin, extra[:]) })
	case wNone:
		if isLogEntry(payload) {
			o.fail(payload, fail(GKE, df, ErrNotAudit, "a LogEntry without an AuditLog protoPayload"), "", origin)
			return
		}
		o.fail(obj, fail(GKE, df, ErrValue, "does not hold a LogEntry"), "", origin)
	default:
		o.fail(obj, fail(GKE, df, ErrValue, "holds another wrapper"), "", origin)
	}
}

// isLogEntry reports an object with the members every LogEntry has.
func isLogEntry(obj []byte) bool {
	it, ok := newObjIter(obj, 0)
	if !ok {
		return false
	}
	n := 0
	for {
		key, _, _, _, ok := it.next()
		if !ok {
			return n >= 2
		}
		switch string(key) {
		case "logName", "insertId", "resource", "timestamp", "receiveTimestamp":
			n++
		}
	}
}

// pubsubPull converts each receivedMessages[] element of a pull response.
func (o *Out) pubsubPull(obj []byte, depth int) {
	var msgs []byte
	origin := Origin{Provider: "gke", Format: FormatGKEPubSub}
	if err := readSlots(GKE, "", obj, []slot{{"receivedMessages", &msgs, '['}}); err != nil {
		o.fail(obj, err, "", origin)
		return
	}
	arr, _ := newArrIter(msgs, 0)
	for {
		s, e, ok := arr.next()
		if !ok {
			return
		}
		el := msgs[s:e]
		if _, ok := newObjIter(el, 0); !ok {
			o.fail(el, typeErr(GKE, "receivedMessages[]", "object", el), "", origin)
			continue
		}
		o.pubsub(el, depth+1)
	}
}

var bqParsers fastjson.ParserPool

// bqLabels restores the label keys BigQuery sanitised ("." and "/" become
// "_") for the labels the apiserver writes; other keys stay sanitised.
var bqLabels = map[string]string{
	"authorization_k8s_io_decision":                     "authorization.k8s.io/decision",
	"authorization_k8s_io_reason":                       "authorization.k8s.io/reason",
	"pod_security_kubernetes_io_enforce_policy":         "pod-security.kubernetes.io/enforce-policy",
	"pod_security_kubernetes_io_audit_violations":       "pod-security.kubernetes.io/audit-violations",
	"pod_security_kubernetes_io_exempt":                 "pod-security.kubernetes.io/exempt",
	"apiserver_latency_k8s_io_total":                    "apiserver.latency.k8s.io/total",
	"k8s_io_deprecated":                                 "k8s.io/deprecated",
	"k8s_io_removed_release":                            "k8s.io/removed-release",
	"authentication_k8s_io_legacy_token":                "authentication.k8s.io/legacy-token",
	"authentication_k8s_io_stale_token":                 "authentication.k8s.io/stale-token",
	"authentication_k8s_io_issued_credential_id":        "authentication.k8s.io/issued-credential-id",
	"authentication_k8s_io_credential_id":               "authentication.k8s.io/credential-id",
	"mutation_webhook_admission_k8s_io_round_0_index_0": "mutation.webhook.admission.k8s.io/round_0_index_0",
}

// unwrapBigQuery converts a row of a BigQuery log sink table
// (cloudaudit_googleapis_com_activity / _data_access): the AuditLog is in
// protopayload_auditlog with requestJson and responseJson as strings,
// label keys are sanitised, and timestamps and numbers may be strings
// ("2024-05-14 10:02:11.402318 UTC", "6", "true"). The row is rebuilt as a
// LogEntry and converted as one.
func (o *Out) unwrapBigQuery(dst, obj []byte, origin *Origin) ([]byte, error) {
	p := bqParsers.Get()
	defer bqParsers.Put(p)
	row, err := p.ParseBytes(obj)
	if err != nil {
		return dst, fail(GKE, "", ErrSyntax, "")
	}
	var a fastjson.Arena
	pp := row.Get("protopayload_auditlog")
	if pp == nil || pp.Type() != fastjson.TypeObject {
		return dst, typeErr(GKE, "protopayload_auditlog", "object", obj[:0])
	}
	entry := a.NewObject()
	for _, k := range [...]string{"insertId", "logName", "severity", "resource", "operation", "labels", "timestamp", "receiveTimestamp"} {
		v := row.Get(k)
		if v == nil || v.Type() == fastjson.TypeNull {
			continue
		}
		switch k {
		case "timestamp", "receiveTimestamp":
			t, ok := bqTime(v)
			if !ok {
				return dst, fail(GKE, k, ErrValue, "not a timestamp")
			}
			v = a.NewString(t)
		case "operation":
			if v.Type() == fastjson.TypeObject {
				for _, b := range [...]string{"first", "last"} {
					if f := v.Get(b); f != nil && f.Type() == fastjson.TypeString {
						if s := string(f.GetStringBytes()); s == "true" {
							v.Set(b, a.NewTrue())
						} else if s == "false" {
							v.Set(b, a.NewFalse())
						}
					}
				}
			}
		case "labels":
			if v.Type() == fastjson.TypeObject {
				l := a.NewObject()
				v.GetObject().Visit(func(key []byte, lv *fastjson.Value) {
					if lv.Type() == fastjson.TypeNull {
						return
					}
					name := string(key)
					if r, ok := bqLabels[name]; ok {
						name = r
					}
					l.Set(name, lv)
				})
				v = l
			}
		}
		entry.Set(k, v)
	}
	payload := a.NewObject()
	payload.Set("@type", a.NewString(AuditLogType))
	var perr error
	pp.GetObject().Visit(func(key []byte, v *fastjson.Value) {
		if perr != nil || v.Type() == fastjson.TypeNull {
			return
		}
		switch k := string(key); k {
		case "requestJson", "responseJson", "metadataJson", "serviceDataJson":
			if v.Type() != fastjson.TypeString {
				break
			}
			inner, err := fastjson.ParseBytes(v.GetStringBytes())
			if err != nil {
				perr = fail(GKE, "protopayload_auditlog."+k, ErrSyntax, "")
				return
			}
			payload.Set(strings.TrimSuffix(k, "Json"), inner)
		case "status":
			if c := v.Get("code"); c != nil && c.Type() == fastjson.TypeString {
				if n, err := strconv.Atoi(string(c.GetStringBytes())); err == nil {
					v.Set("code", a.NewNumberInt(n))
				}
			}
			payload.Set(k, v)
		default:
			payload.Set(k, v)
		}
	})
	if perr != nil {
		return dst, perr
	}
	entry.Set("protoPayload", payload)
	bp := scratchPool.Get().(*[]byte)
	defer scratchPool.Put(bp)
	*bp = entry.MarshalTo((*bp)[:0])
	if err := validate(GKE, "", *bp); err != nil {
		return dst, err
	}
	return unwrapGKE(dst, *bp, origin, nil)
}

// bqTime reads a BigQuery TIMESTAMP as exported: RFC 3339,
// "2024-05-14 10:02:11.402318 UTC", or seconds since the epoch (a number
// or a string such as "1.715680931402318E9"); it returns RFC 3339.
func bqTime(v *fastjson.Value) (string, bool) {
	var s string
	switch v.Type() {
	case fastjson.TypeString:
		s = string(v.GetStringBytes())
	case fastjson.TypeNumber:
		s = v.String()
	default:
		return "", false
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return s, true
	}
	t := strings.TrimSuffix(strings.TrimSuffix(s, " UTC"), "+00:00")
	if len(t) >= 19 && t[10] == ' ' {
		t = t[:10] + "T" + t[11:] + "Z"
		if _, err := time.Parse(time.RFC3339Nano, t); err == nil {
			return t, true
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 {
		sec := int64(f)
		us := int64((f-float64(sec))*1e6 + 0.5)
		return time.Unix(sec, us*1000).UTC().Format(time.RFC3339Nano), true
	}
	return "", false
}
