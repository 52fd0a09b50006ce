// Package slssrc reads Kubernetes audit events that Alibaba Cloud ACK
// wrote to an SLS logstore (audit-${clusterid}), for the auditlane command
// and the collector receiver.
//
// ACK stores each audit event as one SLS log whose keys are the event's
// top-level fields; nested values (user, objectRef, responseStatus,
// annotations, sourceIPs, requestObject, …) are JSON text. Rebuild turns
// such a log back into the audit Event JSON.
//
// Two readers: Consumer follows a logstore through the SDK's consumer-group
// library (replicas share shards through the service's leases and
// heartbeats, a dead replica's shards move to the others), committing a
// shard's checkpoint only after the callback accepted the data; PullRange
// reads a receive-time range once (for auditlane pull).
package slssrc

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/sink"
)

// stringKeys are the top-level audit Event fields that are strings; their
// values are always quoted, whatever they look like.
var stringKeys = map[string]bool{
	"kind": true, "apiVersion": true, "level": true, "auditID": true, "stage": true,
	"requestURI": true, "verb": true, "userAgent": true,
	"requestReceivedTimestamp": true, "stageTimestamp": true,
}

// jsonKeys are the top-level fields whose values ACK stores as JSON text.
var jsonKeys = map[string]bool{
	"user": true, "impersonatedUser": true, "objectRef": true, "responseStatus": true,
	"annotations": true, "sourceIPs": true, "requestObject": true, "responseObject": true,
}

// Rebuild appends to dst the audit Event JSON object rebuilt from one SLS
// log in ACK's key layout, keys in log order. Keys starting with "__" (SLS
// metadata such as __time__, __topic__, __tag__:…) are left out. The values
// of jsonKeys must be JSON objects or arrays (or empty: omitted); other
// values that are JSON objects or arrays are embedded too; everything else
// is a JSON string. Duplicate keys and invalid JSON in jsonKeys are
// errors.
func Rebuild(dst []byte, fields []sink.Field) ([]byte, error) {
	start := len(dst)
	dst = append(dst, '{')
	seen := make(map[string]bool, len(fields))
	n := 0
	for _, f := range fields {
		if f.Key == "" || strings.HasPrefix(f.Key, "__") {
			continue
		}
		if seen[f.Key] {
			return dst[:start], fmt.Errorf("slssrc: rebuild: key %q appears twice", f.Key)
		}
		seen[f.Key] = true
		v := strings.TrimSpace(f.Value)
		raw := false
		switch {
		case stringKeys[f.Key]:
		case jsonKeys[f.Key]:
			if v == "" || v == "null" {
				continue
			}
			if (v[0] != '{' && v[0] != '[') || !json.Valid([]byte(v)) {
				return dst[:start], fmt.Errorf("slssrc: rebuild: %s is not a JSON object or array", f.Key)
			}
			raw = true
		default:
			raw = v != "" && (v[0] == '{' || v[0] == '[') && json.Valid([]byte(v))
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = audit.AppendQuote(dst, f.Key)
		dst = append(dst, ':')
		if raw {
			dst = append(dst, v...)
		} else {
			dst = audit.AppendQuote(dst, f.Value)
		}
	}
	if n == 0 {
		return dst[:start], fmt.Errorf("slssrc: rebuild: the log has no event fields")
	}
	return append(dst, '}'), nil
}
