// Package providertest builds provider export wrappers around the
// repository's real audit events (the Falco and audit2rbac fixtures in
// examples/data/gen/fixtures) and real GKE LogEntries (KHI's, in
// common/provider/testdata/khi), for front-end tests that feed each wrapper
// through auditlane process, the Fluent Bit plugin or the collector.
package providertest

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"go.yaml.in/yaml/v3"
)

// Sample is one record in one wrapper format.
type Sample struct {
	Name string
	// Body is the record as a front end receives it (a Fluent Bit record
	// value, a collector log body, a file).
	Body []byte
	// Events is how many audit events it holds, NotAudit how many records
	// are not audit events (counted as skipped).
	Events, NotAudit int
	// Provider is the provider annotation every event must carry ("" when
	// the wrapper does not name one).
	Provider string
}

func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// Events returns n real audit events (compact JSON).
func Events(n int) ([][]byte, error) {
	files, _ := filepath.Glob(filepath.Join(root(), "examples/data/gen/fixtures/*/*"))
	var evs [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, l := range bytes.Split(data, []byte("\n")) {
			l = bytes.TrimSpace(l)
			if len(l) > 0 && l[0] == '{' && json.Valid(l) && bytes.Contains(l, []byte(`"level"`)) {
				var b bytes.Buffer
				json.Compact(&b, l)
				evs = append(evs, b.Bytes())
				if len(evs) == n {
					return evs, nil
				}
			}
		}
	}
	return evs, nil
}

// LogEntries returns KHI's GKE Kubernetes LogEntries as JSON.
func LogEntries() ([][]byte, error) {
	files, _ := filepath.Glob(filepath.Join(root(), "common/provider/testdata/khi/container_recorder_*.yaml"))
	var out [][]byte
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var v any
		if err := yaml.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// Samples returns one record per wrapper format, each around real events.
func Samples() ([]Sample, error) {
	evs, err := Events(6)
	if err != nil {
		return nil, err
	}
	entries, err := LogEntries()
	if err != nil {
		return nil, err
	}
	var le []map[string]any
	for i, e := range evs {
		le = append(le, map[string]any{"id": fmt.Sprint(i), "timestamp": 1715680931402 + i, "message": string(e)})
	}
	le = append(le, map[string]any{"id": "t", "timestamp": 1715680931402, "message": "I0514 10:02:11.402318 11 trace.go:236] Trace"})
	data := mustJSON(map[string]any{"messageType": "DATA_MESSAGE", "owner": "111122223333", "logGroup": "/aws/eks/prod/cluster",
		"logStream": "kube-apiserver-audit-0a1b", "subscriptionFilters": []string{"f"}, "logEvents": le})
	var fle []map[string]any
	for i, e := range evs {
		fle = append(fle, map[string]any{"logStreamName": "kube-apiserver-audit-0a1b", "timestamp": 1715680931402 + i, "message": string(e), "eventId": fmt.Sprint(i)})
	}
	filter, _ := json.MarshalIndent(map[string]any{"events": fle}, "", "  ")
	var recs []any
	for i, e := range evs {
		var log any = string(e)
		if i%2 == 1 {
			log = json.RawMessage(e)
		}
		recs = append(recs, map[string]any{"time": "2024-05-14T09:21:37Z", "category": "kube-audit",
			"resourceId": "/SUBSCRIPTIONS/S1/RESOURCEGROUPS/G/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/AKS1",
			"properties": map[string]any{"log": log, "pod": "kube-apiserver-1"}})
	}
	recs = append(recs, map[string]any{"category": "kube-apiserver", "properties": map[string]any{"log": "I0514 started"}},
		map[string]any{"category": "guard", "properties": map[string]any{"log": "{}"}})
	var rows []any
	for _, e := range evs {
		rows = append(rows, map[string]any{"Category": "kube-audit", "log_s": string(e), "ResourceId": "/SUBSCRIPTIONS/S1/MANAGEDCLUSTERS/AKS1", "Type": "AzureDiagnostics"})
	}
	pretty, _ := json.MarshalIndent(json.RawMessage(entries[0]), "", "  ")
	return []Sample{
		{Name: "cloudwatch-subscription", Body: data, Events: len(evs), NotAudit: 1, Provider: "eks"},
		{Name: "cloudwatch-lambda", Body: mustJSON(map[string]any{"awslogs": map[string]string{"data": base64.StdEncoding.EncodeToString(gz(data))}}), Events: len(evs), NotAudit: 1, Provider: "eks"},
		{Name: "firehose-concatenated", Body: append(append([]byte{}, data...), data...), Events: 2 * len(evs), NotAudit: 2, Provider: "eks"},
		{Name: "filter-log-events", Body: filter, Events: len(evs), Provider: "eks"},
		{Name: "export-line", Body: append([]byte("2024-05-14T10:02:11.402Z "), evs[0]...), Events: 1},
		{Name: "insights", Body: mustJSON(map[string]any{"@message": string(evs[1]), "@log": "111122223333:/aws/eks/prod/cluster", "@logStream": "kube-apiserver-audit-0a1b"}), Events: 1, Provider: "eks"},
		{Name: "eventhub-mixed", Body: mustJSON(map[string]any{"records": recs}), Events: len(evs), NotAudit: 2, Provider: "aks"},
		{Name: "azure-diagnostics", Body: mustJSON(rows), Events: len(evs), Provider: "aks"},
		{Name: "pubsub-push", Body: mustJSON(map[string]any{"message": map[string]any{"data": base64.StdEncoding.EncodeToString(entries[0]), "messageId": "1"}, "subscription": "projects/p/subscriptions/s"}), Events: 1, Provider: "gke"},
		{Name: "gke-pretty", Body: pretty, Events: 1, Provider: "gke"},
	}, nil
}
