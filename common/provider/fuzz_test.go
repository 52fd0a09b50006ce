package provider_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/provider"
)

// FuzzUnwrap: Unwrap never panics; it returns an error (leaving dst as it
// was) or valid JSON that audit.Parse accepts. Records never panics either.
// The seed corpus is testdata/fuzz/FuzzUnwrap plus every fixture.
func FuzzUnwrap(f *testing.F) {
	for _, dir := range []string{"aks", "gke"} {
		files, _ := filepath.Glob(filepath.Join("testdata", dir, "*.json"))
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, obj []byte) {
		_ = provider.Detect(obj)
		check := func(rec []byte) {
			dst := []byte("x")
			out, kind, err := provider.Unwrap(dst, rec)
			if err != nil {
				if string(out) != "x" {
					t.Fatalf("dst changed on error %v: %q", err, out)
				}
				return
			}
			out = out[1:]
			if !json.Valid(out) {
				t.Fatalf("invalid JSON output %q from %q", out, rec)
			}
			var ev audit.Event
			perr := audit.Parse(out, &ev)
			if perr == nil {
				return
			}
			if kind == provider.GKE {
				t.Fatalf("audit.Parse: %v\noutput %q\ninput %q", perr, out, rec)
			}
			// AKS: the Event is the record's own; Unwrap must not break one
			// that audit.Parse accepts.
			inner := aksInner(t, rec)
			if err := audit.Parse(inner, &ev); err == nil {
				t.Fatalf("audit.Parse rejects the output (%v) but accepts the inner Event\noutput %q\ninput %q", perr, out, rec)
			}
		}
		check(obj)
		_, _ = provider.Records(obj, func(rec []byte) error { check(rec); return nil })
	})
}

// aksInner returns properties.log of an AKS record, decoded with
// encoding/json.
func aksInner(t *testing.T, rec []byte) []byte {
	var r struct {
		Properties struct {
			Log json.RawMessage `json:"log"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(rec, &r); err != nil {
		t.Fatalf("encoding/json rejects a record Unwrap accepted: %v", err)
	}
	var s string
	if err := json.Unmarshal(r.Properties.Log, &s); err == nil {
		return []byte(s)
	}
	return r.Properties.Log
}

// FuzzConvert: Convert never panics; every unit it returns is either an
// error or valid one-line JSON; ExportLine and the audit splitter (which
// also turns YAML, gzip and concatenated values into JSON) never panic.
// Seeds: testdata/fuzz/FuzzConvert plus a wrapper of each format built
// around a real event.
func FuzzConvert(f *testing.F) {
	evs := realEvents(f)[:3]
	data := dataMessage(evs, true)
	f.Add(data)
	f.Add(mustJSON(map[string]any{"awslogs": map[string]string{"data": base64.StdEncoding.EncodeToString(gz(data))}}))
	f.Add(append(append([]byte{}, data...), data...))
	f.Add([]byte(`{"events":[{"logStreamName":"kube-apiserver-audit-1","timestamp":1,"message":` + string(mustJSON(string(evs[0]))) + `}]}`))
	f.Add([]byte(`{"@message":` + string(mustJSON(string(evs[1]))) + `,"@log":"1:/aws/eks/c/cluster"}`))
	f.Add([]byte("2024-05-14T10:02:11.402Z " + string(evs[2])))
	for _, e := range khiEntries(f)[:1] {
		f.Add(mustJSON(map[string]any{"message": map[string]any{"data": base64.StdEncoding.EncodeToString(e), "messageId": "1"}, "subscription": "s"}))
		f.Add([]byte(`{"receivedMessages":[{"ackId":"a","message":{"data":"` + base64.StdEncoding.EncodeToString(e) + `"}}]}`))
	}
	f.Add([]byte(`{"protopayload_auditlog":{"methodName":"io.k8s.core.v1.pods.get","requestJson":"{}"},"insertId":"i","timestamp":"2024-05-14 10:02:11 UTC"}`))
	f.Add([]byte(`{"Type":"AKSAudit","AuditId":"a","Level":"Metadata","User":"{\"username\":\"u\"}","RequestObject":"skipped-too-big-size-object"}`))
	f.Add([]byte(`{"Category":"kube-audit","log_s":` + string(mustJSON(string(evs[0]))) + `,"ResourceId":"/SUBSCRIPTIONS/S/MANAGEDCLUSTERS/C"}`))
	f.Add([]byte("insertId: x\nprotoPayload:\n  methodName: io.k8s.core.v1.pods.get\n---\na: [1, {b: c}]\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var o provider.Out
		_ = provider.Convert(&o, in)
		_ = provider.ExportLine(&o, in)
		for i := range o.Units {
			u := &o.Units[i]
			if u.Err != nil {
				continue
			}
			b := o.Bytes(u)
			if !json.Valid(b) {
				t.Fatalf("unit %d is not valid JSON: %q (input %q)", i, b, in)
			}
			if bytes.ContainsAny(b, "\n\r") {
				t.Fatalf("unit %d spans lines: %q", i, b)
			}
		}
		var ev audit.Event
		audit.Records(in, &ev, func(e *audit.Event, err error) bool {
			if err == nil && !json.Valid(e.Raw) {
				t.Fatalf("Records yields invalid JSON %q", e.Raw)
			}
			return true
		})
	})
}
