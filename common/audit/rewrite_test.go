package audit

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func decodeAny(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("output is not valid JSON: %v\n%s", err, b)
	}
	return m
}

func TestRewriteIdentityIsByteExact(t *testing.T) {
	files, _ := filepath.Glob("testdata/falco/*.json")
	var w Rewrite
	var ev Event
	n := 0
	for _, f := range files {
		data, _ := os.ReadFile(f)
		for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
			if Parse(line, &ev) != nil {
				continue
			}
			w.Reset()
			if out := w.AppendTo(nil, &ev); !bytes.Equal(out, line) {
				t.Fatalf("%s: identity rewrite changed bytes:\n%s\n%s", f, out, line)
			}
			n++
		}
	}
	if n < 50 {
		t.Fatalf("only %d events checked", n)
	}
}

func TestRewriteDropSetAdd(t *testing.T) {
	in := []byte(`{ "kind" : "Event", "level":"RequestResponse","requestObject":{"a":1},"verb":"get", "responseObject":[1,2], "auditID":"x" }`)
	var ev Event
	if err := Parse(in, &ev); err != nil {
		t.Fatal(err)
	}
	var w Rewrite
	w.Reset()
	w.Drop(MemberRequestObject)
	w.Drop(MemberResponseObject)
	w.SetString(MemberLevel, "Metadata")
	w.SetValue(MemberAnnotations, []byte(`{"k":"v"}`))
	w.SetString(MemberStageTimestamp, "2020-01-01T00:00:00Z")
	out := w.AppendTo(nil, &ev)
	want := map[string]any{"kind": "Event", "level": "Metadata", "verb": "get", "auditID": "x",
		"annotations": map[string]any{"k": "v"}, "stageTimestamp": "2020-01-01T00:00:00Z"}
	if got := decodeAny(t, out); !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v\n%s", got, want, out)
	}
	// Dropping the first and the last members leaves valid JSON.
	w.Reset()
	w.Drop(MemberKind)
	w.Drop(MemberAuditID)
	if got := decodeAny(t, w.AppendTo(nil, &ev)); len(got) != 4 || got["kind"] != nil {
		t.Errorf("got %v", got)
	}
	// Dropping everything gives {}.
	w.Reset()
	for m := Member(0); m < numMembers; m++ {
		w.Drop(m)
	}
	if out := w.AppendTo(nil, &ev); string(out) != "{}" {
		t.Errorf("got %s", out)
	}
}

// stripManaged is the reference: encoding/json removal of managedFields
// from an object, its list items and table row objects.
func stripManaged(v any) {
	obj, ok := v.(map[string]any)
	if !ok {
		return
	}
	strip := func(o any) {
		if o, ok := o.(map[string]any); ok {
			if md, ok := o["metadata"].(map[string]any); ok {
				delete(md, "managedFields")
			}
		}
	}
	strip(obj)
	if items, ok := obj["items"].([]any); ok {
		for _, it := range items {
			strip(it)
		}
	}
	if rows, ok := obj["rows"].([]any); ok {
		for _, r := range rows {
			if r, ok := r.(map[string]any); ok {
				strip(r["object"])
			}
		}
	}
}

func TestCutManagedFields(t *testing.T) {
	mf := `[{"manager":"kubectl","operation":"Update","fieldsV1":{"f:metadata":{}}}]`
	objects := []string{
		`{"metadata":{"managedFields":` + mf + `}}`,
		`{"metadata":{"managedFields":` + mf + `,"name":"a"}}`,
		`{"metadata":{"name":"a", "managedFields" : ` + mf + ` ,"uid":"u"}}`,
		`{"metadata":{"name":"a","managedFields":` + mf + `}}`,
		`{"kind":"PodList","items":[{"metadata":{"name":"p1","managedFields":` + mf + `}},{"metadata":{"managedFields":` + mf + `}},{"metadata":{"name":"p3"}}],"metadata":{"resourceVersion":"1"}}`,
		`{"kind":"Table","rows":[{"cells":["a"],"object":{"kind":"PartialObjectMetadata","metadata":{"name":"a","managedFields":` + mf + `}}}]}`,
		`{"spec":{"metadata":{"managedFields":[]}},"metadata":{}}`,
		`{"metadata":"oops"}`,
	}
	for _, obj := range objects {
		in := []byte(`{"kind":"Event","requestObject":` + obj + `,"responseObject":` + obj + `}`)
		var ev Event
		if err := Parse(in, &ev); err != nil {
			t.Fatalf("%s: %v", obj, err)
		}
		var w Rewrite
		w.Reset()
		w.CutManagedFields(&ev, MemberRequestObject)
		w.CutManagedFields(&ev, MemberResponseObject)
		out := w.AppendTo(nil, &ev)
		got := decodeAny(t, out)
		want := decodeAny(t, in)
		stripManaged(want["requestObject"])
		stripManaged(want["responseObject"])
		if !reflect.DeepEqual(got, want) {
			t.Errorf("object %s:\n got  %s", obj, out)
		}
		if bytes.Contains(out, []byte("managedFields\":[{")) {
			t.Errorf("managed fields left in %s", out)
		}
	}
}

func TestAppendQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "q\"b\\s", "ctl\x00\x1f\n\r\t", "ünï", "<html>&"} {
		got := AppendQuote(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil || back != s {
			t.Errorf("%q -> %s -> %q (%v)", s, got, back, err)
		}
	}
}
