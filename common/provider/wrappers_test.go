package provider_test

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/provider"
)

// These tests wrap real audit events (the Falco trace files and
// audit2rbac's demo log kept in examples/data/gen/fixtures) and real GKE
// LogEntries (Google KHI's test logs, testdata/khi) in every export format
// that has no public sample, and check that each converted Event equals
// the original field for field, carries the wrapper's metadata, and is one
// line. See testdata/SOURCES.md.

// realEvents returns the real audit events of the repository's fixtures,
// one compact JSON object each.
func realEvents(t testing.TB) [][]byte {
	t.Helper()
	var evs [][]byte
	files, _ := filepath.Glob("../../examples/data/gen/fixtures/*/*")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range bytes.Split(data, []byte("\n")) {
			l = bytes.TrimSpace(l)
			if len(l) > 0 && l[0] == '{' && json.Valid(l) {
				var b bytes.Buffer
				json.Compact(&b, l)
				evs = append(evs, b.Bytes())
			}
		}
	}
	if len(evs) < 80 {
		t.Fatalf("only %d real events", len(evs))
	}
	return evs
}

// khiEntries returns KHI's Kubernetes LogEntries as JSON.
func khiEntries(t testing.TB) [][]byte {
	t.Helper()
	var out [][]byte
	files, _ := filepath.Glob("testdata/khi/container_recorder_*.yaml")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	if len(out) != 3 {
		t.Fatalf("%d KHI entries", len(out))
	}
	return out
}

type result struct {
	events  [][]byte
	origins []provider.Origin
	errs    []error
}

// viaRecords splits raw with audit.Records (the Fluent Bit and collector
// path).
func viaRecords(raw []byte) result {
	var r result
	var ev audit.Event
	audit.Records(raw, &ev, func(e *audit.Event, err error) bool {
		if err != nil {
			r.errs = append(r.errs, err)
			return true
		}
		o, _ := e.Origin()
		r.events = append(r.events, bytes.Clone(e.Raw))
		r.origins = append(r.origins, o)
		return true
	})
	return r
}

// viaDecoder reads raw as a stream (files, stdin, the CLI).
func viaDecoder(raw []byte) result {
	var r result
	d := audit.NewDecoder(bytes.NewReader(raw))
	for {
		e, err := d.Next()
		if err != nil {
			var de *audit.DecodeError
			if errors.As(err, &de) {
				r.errs = append(r.errs, err)
				continue
			}
			return r
		}
		o, _ := e.Origin()
		r.events = append(r.events, bytes.Clone(e.Raw))
		r.origins = append(r.origins, o)
	}
}

func asMap(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return m
}

// splitAnn removes annotations from m and returns them split into the
// auditlane.io/* ones and the rest.
func splitAnn(m map[string]any) (ours, theirs map[string]any) {
	ours, theirs = map[string]any{}, map[string]any{}
	a, _ := m["annotations"].(map[string]any)
	delete(m, "annotations")
	for k, v := range a {
		if strings.HasPrefix(k, provider.Prefix) {
			ours[k] = v
		} else {
			theirs[k] = v
		}
	}
	return
}

// sameEvent checks that got (converted) equals want (the original Event)
// in every field, keeps its annotations, and adds the wanted auditlane.io
// annotations.
func sameEvent(t *testing.T, name string, got, want []byte, ann map[string]string) {
	t.Helper()
	if bytes.ContainsAny(got, "\n\r") {
		t.Errorf("%s: converted event spans lines: %s", name, got)
	}
	g, w := asMap(t, got), asMap(t, want)
	gOurs, gTheirs := splitAnn(g)
	_, wTheirs := splitAnn(w)
	if !reflect.DeepEqual(g, w) {
		t.Errorf("%s: fields differ\n got %v\nwant %v", name, g, w)
	}
	if !reflect.DeepEqual(gTheirs, wTheirs) {
		t.Errorf("%s: annotations %v, want %v", name, gTheirs, wTheirs)
	}
	for k, v := range ann {
		if v == "*" {
			if gOurs[k] == nil || gOurs[k] == "" {
				t.Errorf("%s: annotation %s missing (%v)", name, k, gOurs)
			}
			continue
		}
		if gOurs[k] != v {
			t.Errorf("%s: annotation %s = %v, want %q", name, k, gOurs[k], v)
		}
	}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

const ms0 = 1715680931402 // a CloudWatch timestamp (ms)

// dataMessage builds a subscription filter DATA_MESSAGE around events,
// with one text log line of the same stream (not audit) when text is set.
func dataMessage(events [][]byte, text bool) []byte {
	var le []map[string]any
	for i, e := range events {
		le = append(le, map[string]any{"id": fmt.Sprintf("3736%08d", i), "timestamp": ms0 + i, "message": string(e)})
	}
	if text {
		le = append(le, map[string]any{"id": "x", "timestamp": ms0, "message": `I0514 10:02:11.402318      11 trace.go:236] Trace[1]: "Update" took 512ms`})
	}
	return mustJSON(map[string]any{"messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "/aws/eks/prod-euw1/cluster",
		"logStream": "kube-apiserver-audit-0a1b2c3d4e5f", "subscriptionFilters": []string{"audit-to-firehose"}, "logEvents": le})
}

var eksAnn = map[string]string{
	"auditlane.io/provider": "eks", "auditlane.io/aws-log-group": "/aws/eks/prod-euw1/cluster",
	"auditlane.io/aws-log-stream": "kube-apiserver-audit-0a1b2c3d4e5f", "auditlane.io/aws-account-id": "111122223333",
	"auditlane.io/aws-event-id": "*", "auditlane.io/aws-timestamp": "*",
}

func withFormat(ann map[string]string, format string) map[string]string {
	m := map[string]string{"auditlane.io/format": format}
	for k, v := range ann {
		m[k] = v
	}
	return m
}

// checkAll compares the converted events with the originals in order and
// checks the errors: wantErrs counts errors by sentinel.
func checkAll(t *testing.T, name string, r result, want [][]byte, ann map[string]string, wantErrs map[error]int) {
	t.Helper()
	if len(r.events) != len(want) {
		t.Fatalf("%s: %d events, want %d (errors %v)", name, len(r.events), len(want), r.errs)
	}
	for i := range want {
		sameEvent(t, fmt.Sprintf("%s[%d]", name, i), r.events[i], want[i], ann)
	}
	got := map[error]int{}
	for _, err := range r.errs {
		for _, s := range []error{audit.ErrNotAudit, audit.ErrTruncated, audit.ErrProvider, audit.ErrSyntax} {
			if errors.Is(err, s) {
				got[s]++
				break
			}
		}
	}
	if len(r.errs) != sum(wantErrs) || !reflect.DeepEqual(got, nonZero(wantErrs)) {
		t.Errorf("%s: errors %v, want %v", name, r.errs, wantErrs)
	}
}

func sum(m map[error]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func nonZero(m map[error]int) map[error]int {
	out := map[error]int{}
	for k, v := range m {
		if v > 0 {
			out[k] = v
		}
	}
	return out
}

func TestCloudWatchWrappers(t *testing.T) {
	evs := realEvents(t)
	data := dataMessage(evs, true)
	notAudit := map[error]int{audit.ErrNotAudit: 1}
	ann := withFormat(eksAnn, provider.FormatCloudWatch)

	t.Run("subscription DATA_MESSAGE", func(t *testing.T) {
		checkAll(t, "records", viaRecords(data), evs, ann, notAudit)
		checkAll(t, "stream", viaDecoder(data), evs, ann, notAudit)
		r := viaRecords(data)
		for _, o := range r.origins {
			if o.Provider != "eks" || o.ClusterName != "prod-euw1" || o.AccountID != "111122223333" || o.Format != provider.FormatCloudWatch {
				t.Fatalf("origin %+v", o)
			}
		}
	})
	t.Run("Lambda awslogs.data", func(t *testing.T) {
		in := mustJSON(map[string]any{"awslogs": map[string]string{"data": base64.StdEncoding.EncodeToString(gz(data))}})
		checkAll(t, "records", viaRecords(in), evs, ann, notAudit)
		checkAll(t, "stream", viaDecoder(in), evs, ann, notAudit)
	})
	t.Run("Firehose concatenated", func(t *testing.T) {
		// Firehose writes each record's DATA_MESSAGE back to back, with no
		// separator; S3 objects are gzip (several members).
		third := len(evs) / 3
		parts := [][]byte{dataMessage(evs[:third], false), dataMessage(evs[third:2*third], true), dataMessage(evs[2*third:], false)}
		concat := bytes.Join(parts, nil)
		checkAll(t, "records", viaRecords(concat), evs, ann, notAudit)
		checkAll(t, "stream", viaDecoder(concat), evs, ann, notAudit)
		var gzipped []byte
		for _, p := range parts {
			gzipped = append(gzipped, gz(p)...)
		}
		checkAll(t, "records gzip", viaRecords(gzipped), evs, ann, notAudit)
	})
	t.Run("filter-log-events", func(t *testing.T) {
		var le []map[string]any
		for i, e := range evs {
			le = append(le, map[string]any{"logStreamName": "kube-apiserver-audit-0a1b2c3d4e5f", "timestamp": ms0 + i,
				"message": string(e), "ingestionTime": ms0 + 900, "eventId": fmt.Sprintf("3736%020d", i)})
		}
		out, _ := json.MarshalIndent(map[string]any{"events": le, "searchedLogStreams": []any{}}, "", "    ")
		a := map[string]string{"auditlane.io/format": provider.FormatCloudWatchEvents, "auditlane.io/provider": "eks",
			"auditlane.io/aws-log-stream": "kube-apiserver-audit-0a1b2c3d4e5f", "auditlane.io/aws-event-id": "*",
			"auditlane.io/aws-timestamp": "*", "auditlane.io/aws-ingestion-time": "*"}
		checkAll(t, "records", viaRecords(out), evs, a, nil)
		checkAll(t, "stream (pretty)", viaDecoder(out), evs, a, nil)
	})
	t.Run("export task lines", func(t *testing.T) {
		var b bytes.Buffer
		for i, e := range evs {
			fmt.Fprintf(&b, "%s %s\n", time.UnixMilli(ms0+int64(i)).UTC().Format("2006-01-02T15:04:05.000Z"), e)
		}
		a := map[string]string{"auditlane.io/format": provider.FormatCloudWatchExport, "auditlane.io/aws-timestamp": "*"}
		checkAll(t, "stream", viaDecoder(b.Bytes()), evs, a, nil)
		line, _, _ := bytes.Cut(b.Bytes(), []byte("\n"))
		checkAll(t, "record", viaRecords(line), evs[:1], a, nil)
	})
	t.Run("Logs Insights export", func(t *testing.T) {
		var rows []map[string]any
		for i, e := range evs {
			rows = append(rows, map[string]any{"@timestamp": time.UnixMilli(ms0 + int64(i)).UTC().Format("2006-01-02 15:04:05.000"),
				"@message": string(e), "@logStream": "kube-apiserver-audit-0a1b2c3d4e5f", "@log": "111122223333:/aws/eks/prod-euw1/cluster"})
		}
		out, _ := json.MarshalIndent(rows, "", "  ")
		a := withFormat(eksAnn, provider.FormatCloudWatchInsights)
		delete(a, "auditlane.io/aws-event-id")
		checkAll(t, "records", viaRecords(out), evs, a, nil)
		checkAll(t, "stream", viaDecoder(out), evs, a, nil)
	})
	t.Run("truncated and control messages", func(t *testing.T) {
		cut := evs[0][:bytes.Index(evs[0], []byte(`"auditID"`))+60] // cut after the auditID
		le := []map[string]any{
			{"id": "1", "timestamp": ms0, "message": string(cut) + provider.TruncatedMarker},
			{"id": "2", "timestamp": ms0, "message": string(evs[1])},
		}
		in := mustJSON(map[string]any{"messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "/aws/eks/prod-euw1/cluster",
			"logStream": "kube-apiserver-audit-0a1b2c3d4e5f", "logEvents": le})
		r := viaRecords(in)
		checkAll(t, "records", r, evs[1:2], ann, map[error]int{audit.ErrTruncated: 1})
		var de *audit.DecodeError
		id := asMap(t, evs[0])["auditID"].(string)
		if !errors.As(r.errs[0], &de) || de.AuditID != id || !strings.Contains(de.Error(), id) {
			t.Errorf("truncated message error %v lacks auditID %s", r.errs[0], id)
		}
		ctl := []byte(`{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1715680931402,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}`)
		checkAll(t, "control", viaRecords(ctl), nil, nil, notAudit)
	})
}

func TestAzureWrappers(t *testing.T) {
	evs := realEvents(t)
	rid := "/SUBSCRIPTIONS/0B1F6471-1BF0-4DDA-AEC3-CB9272F09590/RESOURCEGROUPS/RG-PROD/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS-PROD-WEU"
	t.Run("Event Hub batch mixing categories", func(t *testing.T) {
		var recs []any
		for i, e := range evs {
			var log any = string(e)
			cat := "kube-audit"
			if i%2 == 1 {
				log, cat = json.RawMessage(e), "kube-audit-admin" // properties.log as an object
			}
			recs = append(recs, map[string]any{"time": "2024-05-14T09:21:37.5123456Z", "resourceId": rid, "category": cat,
				"operationName": "Microsoft.ContainerService/managedClusters/diagnosticLogs/Read",
				"properties":    map[string]any{"log": log, "stream": "stdout", "pod": "kube-apiserver-7b9c6d8f4-x2x7q"}})
			if i%20 == 0 {
				recs = append(recs, map[string]any{"time": "2024-05-14T09:21:37Z", "resourceId": rid, "category": "kube-apiserver",
					"properties": map[string]any{"log": "I0514 09:21:37.512 1 controller.go:615] quota admission added evaluator", "pod": "kube-apiserver-7b9c6d8f4-x2x7q"}},
					map[string]any{"time": "2024-05-14T09:21:37Z", "resourceId": rid, "category": "guard",
						"properties": map[string]any{"log": `{"level":"info","msg":"authorized"}`, "pod": "guard-5d4f"}})
			}
		}
		in := mustJSON(map[string]any{"records": recs})
		ann := map[string]string{"auditlane.io/provider": "aks", "auditlane.io/format": provider.FormatAKSResourceLog,
			"auditlane.io/aks-resource-id": rid, "auditlane.io/aks-pod": "kube-apiserver-7b9c6d8f4-x2x7q", "auditlane.io/aks-time": "*", "auditlane.io/aks-category": "*"}
		notAudit := map[error]int{audit.ErrNotAudit: 2 * ((len(evs) + 19) / 20)}
		r := viaRecords(in)
		checkAll(t, "records", r, evs, ann, notAudit)
		checkAll(t, "stream", viaDecoder(in), evs, ann, notAudit)
		if o := r.origins[0]; o.ClusterName != "AKS-PROD-WEU" || o.ClusterID != rid || o.AccountID != "0B1F6471-1BF0-4DDA-AEC3-CB9272F09590" {
			t.Errorf("origin %+v", o)
		}
	})
	t.Run("Log Analytics AzureDiagnostics", func(t *testing.T) {
		var rows []any
		for _, e := range evs {
			rows = append(rows, map[string]any{"TenantId": "6c4a2f0e-0000-4000-8000-000000000001", "TimeGenerated": "2024-05-14T09:21:37.512Z",
				"ResourceId": rid, "Category": "kube-audit", "ResourceProvider": "MICROSOFT.CONTAINERSERVICE", "log_s": string(e),
				"pod_s": "kube-apiserver-7b9c6d8f4-x2x7q", "stream_s": "stdout", "Type": "AzureDiagnostics"})
		}
		rows = append(rows, map[string]any{"TimeGenerated": "2024-05-14T09:21:37.512Z", "ResourceId": rid, "Category": "cluster-autoscaler", "log_s": "I0514 scale-up", "Type": "AzureDiagnostics"})
		in, _ := json.MarshalIndent(rows, "", " ")
		ann := map[string]string{"auditlane.io/provider": "aks", "auditlane.io/format": provider.FormatAzureDiagnostics,
			"auditlane.io/aks-table": "AzureDiagnostics", "auditlane.io/aks-category": "kube-audit", "auditlane.io/aks-resource-id": rid}
		checkAll(t, "stream", viaDecoder(in), evs, ann, map[error]int{audit.ErrNotAudit: 1})
		checkAll(t, "records", viaRecords(in), evs, ann, map[error]int{audit.ErrNotAudit: 1})
	})
	t.Run("Log Analytics AKSAudit table", func(t *testing.T) {
		var rows []any
		var want [][]byte
		for i, e := range evs {
			m := asMap(t, e)
			if m["level"] == nil || m["impersonatedUser"] != nil || m["requestReceivedTimestamp"] == nil {
				continue // the table has no column for these: see doc.go
			}
			dyn := func(k string) any {
				v, ok := m[k]
				if !ok {
					return nil
				}
				if i%2 == 0 {
					return v // dynamic columns as objects
				}
				return string(mustJSON(v)) // or as JSON text, as some exports write them
			}
			row := map[string]any{"TimeGenerated": m["stageTimestamp"], "Level": m["level"], "AuditId": m["auditID"], "Stage": m["stage"],
				"RequestUri": m["requestURI"], "Verb": m["verb"], "User": dyn("user"), "SourceIps": dyn("sourceIPs"), "UserAgent": m["userAgent"],
				"ObjectRef": dyn("objectRef"), "ResponseStatus": dyn("responseStatus"), "RequestObject": dyn("requestObject"),
				"ResponseObject": dyn("responseObject"), "RequestReceivedTime": m["requestReceivedTimestamp"], "StageReceivedTime": m["stageTimestamp"],
				"Annotations": dyn("annotations"), "PodName": "kube-apiserver-7b9c6d8f4-x2x7q", "Type": "AKSAudit", "_ResourceId": strings.ToLower(rid)}
			for k, v := range row {
				if v == nil {
					delete(row, k)
				}
			}
			rows = append(rows, row)
			// What comes back: the Event as audit.k8s.io/v1, members the
			// table keeps.
			for _, k := range []string{"metadata", "timestamp"} {
				delete(m, k)
			}
			m["apiVersion"] = "audit.k8s.io/v1"
			m["kind"] = "Event"
			want = append(want, mustJSON(m))
		}
		if len(rows) < 30 {
			t.Fatalf("only %d rows", len(rows))
		}
		rows = append(rows, map[string]any{"Type": "AKSAuditAdmin", "AuditId": "x", "Verb": "get", "Stage": "ResponseComplete", "Level": "Metadata",
			"RequestUri": "/api/v1/namespaces/a/secrets/b", "RequestObject": "skipped-too-big-size-object"})
		in, _ := json.Marshal(rows)
		r := viaRecords(in)
		ann := map[string]string{"auditlane.io/provider": "aks", "auditlane.io/format": provider.FormatAKSAuditTable, "auditlane.io/aks-table": "AKSAudit"}
		if len(r.events) != len(want)+1 {
			t.Fatalf("%d events, errors %v", len(r.events), r.errs)
		}
		skipped := r.events[len(want)]
		r.events = r.events[:len(want)]
		checkAll(t, "records", r, want, ann, nil)
		if s := asMap(t, skipped); s["requestObject"] != nil || s["annotations"].(map[string]any)["auditlane.io/aks-skipped-objects"] != "requestObject" {
			t.Errorf("skipped body: %s", skipped)
		}
	})
}

func TestGCPWrappers(t *testing.T) {
	entries := khiEntries(t)
	// The baseline: each LogEntry converted as it is.
	var want [][]byte
	for _, e := range entries {
		r := viaRecords(e)
		if len(r.events) != 1 {
			t.Fatalf("baseline: %v", r.errs)
		}
		want = append(want, r.events[0])
	}
	// The wrappers add their own annotations; compare without them.
	strip := func(r result, keys ...string) result {
		for i, e := range r.events {
			m := asMap(t, e)
			a := m["annotations"].(map[string]any)
			for _, k := range keys {
				delete(a, k)
			}
			a["auditlane.io/format"] = provider.FormatGKELogEntry
			r.events[i] = mustJSON(m)
		}
		return r
	}
	gkeAnn := map[string]string{"auditlane.io/provider": "gke", "auditlane.io/gcp-cluster": "sample-cluster", "auditlane.io/gcp-project": "sample-project"}
	t.Run("gcloud pretty JSON", func(t *testing.T) {
		var arr []json.RawMessage
		for _, e := range entries {
			arr = append(arr, e)
		}
		pretty, _ := json.MarshalIndent(arr, "", "  ")
		checkAll(t, "stream", viaDecoder(pretty), want, gkeAnn, nil)
		checkAll(t, "records", viaRecords(pretty), want, gkeAnn, nil)
	})
	t.Run("Pub/Sub push", func(t *testing.T) {
		for i, e := range entries {
			in := mustJSON(map[string]any{"message": map[string]any{"data": base64.StdEncoding.EncodeToString(e), "messageId": fmt.Sprint(9000 + i),
				"publishTime": "2024-11-29T11:38:30.123Z", "attributes": map[string]string{"logging.googleapis.com/timestamp": "2024-11-29T11:38:27Z"}},
				"subscription": "projects/sample-project/subscriptions/gke-audit-push"})
			r := viaRecords(in)
			if len(r.events) == 1 {
				a := asMap(t, r.events[0])["annotations"].(map[string]any)
				if a["auditlane.io/gcp-pubsub-message-id"] != fmt.Sprint(9000+i) || a["auditlane.io/format"] != provider.FormatGKEPubSub {
					t.Errorf("pubsub annotations %v", a)
				}
			}
			checkAll(t, "push", strip(r, "auditlane.io/gcp-pubsub-message-id", "auditlane.io/gcp-pubsub-subscription"), want[i:i+1], gkeAnn, nil)
		}
	})
	t.Run("Pub/Sub pull", func(t *testing.T) {
		var msgs []any
		for i, e := range entries {
			msgs = append(msgs, map[string]any{"ackId": "ack" + fmt.Sprint(i), "message": map[string]any{"data": base64.StdEncoding.EncodeToString(e), "messageId": fmt.Sprint(i)}})
		}
		// A message that holds a LogEntry of another kind.
		msgs = append(msgs, map[string]any{"ackId": "x", "message": map[string]any{"messageId": "x", "data": base64.StdEncoding.EncodeToString(
			[]byte(`{"insertId":"x","logName":"projects/p/logs/stdout","textPayload":"hello","timestamp":"2024-11-29T11:38:27Z"}`))}})
		in := mustJSON(map[string]any{"receivedMessages": msgs})
		checkAll(t, "REST pull", strip(viaRecords(in), "auditlane.io/gcp-pubsub-message-id"), want, gkeAnn, map[error]int{audit.ErrNotAudit: 1})
		// gcloud pubsub subscriptions pull --format=json: an array.
		arr, _ := json.MarshalIndent(msgs, "", "  ")
		checkAll(t, "gcloud pull", strip(viaDecoder(arr), "auditlane.io/gcp-pubsub-message-id"), want, gkeAnn, map[error]int{audit.ErrNotAudit: 1})
	})
	t.Run("BigQuery export rows", func(t *testing.T) {
		var rows bytes.Buffer
		for _, e := range entries {
			var m map[string]any
			json.Unmarshal(e, &m)
			pp := m["protoPayload"].(map[string]any)
			delete(m, "protoPayload")
			delete(pp, "@type")
			for _, k := range []string{"request", "response"} {
				if v, ok := pp[k]; ok {
					pp[k+"Json"] = string(mustJSON(v))
					delete(pp, k)
				}
			}
			if st, ok := pp["status"].(map[string]any); ok {
				if c, ok := st["code"]; ok {
					st["code"] = fmt.Sprint(c) // bq writes integers as strings
				}
			}
			m["protopayload_auditlog"] = pp
			labels := map[string]any{}
			for k, v := range m["labels"].(map[string]any) {
				labels[strings.NewReplacer(".", "_", "/", "_", "-", "_").Replace(k)] = v
			}
			m["labels"] = labels
			ts, _ := time.Parse(time.RFC3339Nano, m["timestamp"].(string))
			m["timestamp"] = ts.UTC().Format("2006-01-02 15:04:05.999999") + " UTC"
			if op, ok := m["operation"].(map[string]any); ok {
				op["first"], op["last"] = fmt.Sprint(op["first"]), fmt.Sprint(op["last"])
			}
			rows.Write(mustJSON(m))
			rows.WriteByte('\n')
		}
		r := viaDecoder(rows.Bytes())
		if len(r.events) != len(want) {
			t.Fatalf("%d events: %v", len(r.events), r.errs)
		}
		for i := range want {
			g, w := asMap(t, r.events[i]), asMap(t, want[i])
			ga, wa := g["annotations"].(map[string]any), w["annotations"].(map[string]any)
			delete(g, "annotations")
			delete(w, "annotations")
			if !reflect.DeepEqual(g, w) {
				t.Errorf("bigquery[%d]:\n got %v\nwant %v", i, g, w)
			}
			// Label keys the apiserver writes are restored; others stay
			// sanitised (mutation.webhook..._index_3).
			for _, k := range []string{"authorization.k8s.io/decision", "authorization.k8s.io/reason", "auditlane.io/gcp-cluster"} {
				if ga[k] != wa[k] {
					t.Errorf("bigquery[%d]: %s = %v, want %v", i, k, ga[k], wa[k])
				}
			}
			if ga["auditlane.io/format"] != provider.FormatGKEBigQuery {
				t.Errorf("format %v", ga["auditlane.io/format"])
			}
		}
	})
	t.Run("no @type", func(t *testing.T) {
		var m map[string]any
		json.Unmarshal(entries[0], &m)
		delete(m["protoPayload"].(map[string]any), "@type")
		checkAll(t, "records", viaRecords(mustJSON(m)), want[:1], gkeAnn, nil)
	})
	t.Run("gcloud YAML stream", func(t *testing.T) {
		var b bytes.Buffer
		files, _ := filepath.Glob("testdata/khi/*.yaml")
		sort.Strings(files)
		for _, f := range files {
			data, _ := os.ReadFile(f)
			b.WriteString("---\n")
			b.Write(data)
		}
		r := viaDecoder(b.Bytes())
		if len(r.events) != 3 || len(r.errs) != 9 {
			t.Fatalf("%d events, %d errors: %v", len(r.events), len(r.errs), r.errs)
		}
		for _, err := range r.errs {
			if !errors.Is(err, audit.ErrNotAudit) {
				t.Errorf("container.googleapis.com entry: %v, want ErrNotAudit", err)
			}
		}
	})
}

// TestPantherSamples reads the AKS and GKE records of Panther's rule tests:
// stubs whose Events lack level (AKS) or whose LogEntries lack insertId and
// timestamp (GKE) are rejected with those reasons; the complete ones
// convert.
func TestPantherSamples(t *testing.T) {
	for _, c := range []struct {
		file       string
		ok, reject int
	}{{"panther/aks.jsonl", 34, 0}, {"panther/gke.jsonl", 1, 50}} {
		data := read(t, c.file)
		r := viaDecoder(data)
		if len(r.events) != c.ok || len(r.errs) != c.reject {
			t.Errorf("%s: %d events, %d errors, want %d, %d: %v", c.file, len(r.events), len(r.errs), c.ok, c.reject, r.errs)
		}
		for _, e := range r.events {
			if bytes.ContainsAny(e, "\n\r") {
				t.Errorf("multi-line: %s", e)
			}
		}
	}
}
