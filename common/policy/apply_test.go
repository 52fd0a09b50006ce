package policy

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
)

func TestApply(t *testing.T) {
	const mf = `"managedFields":[{"manager":"m"}]`
	full := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"x","stage":"ResponseComplete","verb":"create",` +
		`"requestObject":{"metadata":{"name":"a",` + mf + `}},"responseObject":{"metadata":{` + mf + `,"uid":"u"}}}`
	reqLevel := `{"kind":"Event","level":"Request","stage":"ResponseComplete","requestObject":{"metadata":{` + mf + `}}}`
	legacy := `{"kind":"Event","apiVersion":"audit.k8s.io/v1beta1","level":"Metadata","timestamp":"2018-10-25T14:09:12Z","metadata":{"creationTimestamp":"2018-10-25T14:09:13Z"},"stage":"ResponseComplete"}`
	cases := []struct {
		name string
		in   string
		d    Decision
		want map[string]any // nil = dropped
	}{
		{"none drops", full, Decision{Level: LevelNone, Rule: 2}, nil},
		{"omitted stage drops", full, Decision{Level: LevelMetadata, OmitStages: StageResponseComplete}, nil},
		{"other stage omitted keeps", full, Decision{Level: LevelRequestResponse, OmitStages: StageRequestReceived}, map[string]any{
			"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "RequestResponse", "auditID": "x", "stage": "ResponseComplete", "verb": "create",
			"requestObject":  map[string]any{"metadata": map[string]any{"name": "a", "managedFields": []any{map[string]any{"manager": "m"}}}},
			"responseObject": map[string]any{"metadata": map[string]any{"uid": "u", "managedFields": []any{map[string]any{"manager": "m"}}}}}},
		{"metadata strips bodies", full, Decision{Level: LevelMetadata}, map[string]any{
			"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Metadata", "auditID": "x", "stage": "ResponseComplete", "verb": "create"}},
		{"request strips response and managed fields", full, Decision{Level: LevelRequest, OmitManagedFields: true}, map[string]any{
			"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request", "auditID": "x", "stage": "ResponseComplete", "verb": "create",
			"requestObject": map[string]any{"metadata": map[string]any{"name": "a"}}}},
		{"cannot raise level", reqLevel, Decision{Level: LevelRequestResponse, OmitManagedFields: true}, map[string]any{
			"kind": "Event", "level": "Request", "stage": "ResponseComplete", "requestObject": map[string]any{"metadata": map[string]any{}}}},
		{"legacy timestamps added", legacy, Decision{Level: LevelRequestResponse}, map[string]any{
			"kind": "Event", "apiVersion": "audit.k8s.io/v1beta1", "level": "Metadata", "timestamp": "2018-10-25T14:09:12Z",
			"metadata": map[string]any{"creationTimestamp": "2018-10-25T14:09:13Z"}, "stage": "ResponseComplete",
			"requestReceivedTimestamp": "2018-10-25T14:09:12Z", "stageTimestamp": "2018-10-25T14:09:13Z"}},
	}
	var w audit.Rewrite
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var ev audit.Event
			if err := audit.Parse([]byte(tc.in), &ev); err != nil {
				t.Fatal(err)
			}
			w.Reset()
			kept := Apply(&ev, tc.d, &w)
			if kept != (tc.want != nil) {
				t.Fatalf("kept = %v", kept)
			}
			if !kept {
				if !w.Empty() {
					t.Error("dropped event has edits")
				}
				return
			}
			out := w.AppendTo(nil, &ev)
			var got map[string]any
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("invalid output %s: %v", out, err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %s", out)
			}
		})
	}
}
