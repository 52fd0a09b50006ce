package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"unicode/utf8"
)

// addSeeds adds every fixture line and some hand-written edge cases.
func addSeeds(f *testing.F) {
	files, _ := filepath.Glob("testdata/falco/*.json")
	files = append(files, "testdata/demo.log")
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		for _, l := range bytes.Split(data, []byte("\n")) {
			if len(l) > 0 {
				f.Add(l)
			}
		}
	}
	for _, s := range []string{
		`{}`, `[]`, `{"kind":0}`, `{"kind":"EventList","items":[{"verb":"get"}]}`,
		`{"user":{"groups":["a",1]}}`, `{"responseStatus":{"code":1e3}}`, `{"a":"\ud800"}`,
		`{"verb":"get"` + "\n" + `{"verb":"list"}`, "{\"a\":\"\xff\"}", `{"a":[[[[[]]]]]}`,
		`{"requestObject":{"metadata":{"managedFields":[],"name":"x"}}}`, `{"x":-0.5e+7,"y":true,"z":null}`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzParse checks Parse against encoding/json: accepted input is valid
// JSON whose fields match the reference decoding; valid UTF-8 JSON objects
// are only refused for semantic reasons, never as syntax errors.
func FuzzParse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev Event
		err := Parse(data, &ev)
		valid := json.Valid(data) && utf8.Valid(data)
		if err == nil {
			if !valid {
				t.Fatalf("accepted invalid JSON %q", data)
			}
			if ref, ok := exactRef(data); ok && !hasDuplicateMembers(&ev) {
				got := []any{ev.Verb, ev.Stage, ev.RequestURI, ev.User.Username, groupsOrNil(ev.User.Groups), ev.HasObjectRef}
				if !reflect.DeepEqual(got, ref) {
					t.Fatalf("fields differ from encoding/json for %q:\n got  %q\n want %q", data, got, ref)
				}
			}
			// An identity rewrite is valid JSON too.
			var w Rewrite
			w.Reset()
			if out := w.AppendTo(nil, &ev); !json.Valid(out) {
				t.Fatalf("identity rewrite invalid: %q", out)
			}
			return
		}
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("error %T is not a *DecodeError", err)
		}
		if valid && errors.Is(err, ErrSyntax) {
			t.Fatalf("valid JSON %q refused as a syntax error: %v", data, err)
		}
		if !valid && !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrUTF8) {
			t.Fatalf("invalid JSON %q refused for %v", data, err)
		}
		_ = err.Error()
	})
}

// FuzzDecoder runs the stream decoder on arbitrary input: it terminates,
// never panics, returns only valid events, and reports the bytes of each
// rejected value.
func FuzzDecoder(f *testing.F) {
	addSeeds(f)
	f.Add([]byte("{\n  \"verb\": \"get\"\n}\n[{\"verb\":\"list\"}]\n{\"kind\":\"EventList\",\"items\":[]}\n"))
	f.Add([]byte(`[{"verb":"get"},1,{"kind":"EventList","items":[]}, "x" ,[{"verb":"x"}]]`))
	f.Add([]byte("{\n  \"kind\": \"EventList\",\n  \"items\": [\n    {\"verb\": \"get\"},\n    {\"verb\": \"list\"}\n  ],\n  \"metadata\": {}\n}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		decoderInvariants(t, data, NewDecoder(bytes.NewReader(data)))
		// A 16-byte read buffer streams every list longer than that.
		streamed := decoderInvariants(t, data, newDecoderSize(bytes.NewReader(data), 16))
		// On one valid value, streaming agrees with Records wherever
		// Records finds nothing wrong (a streamed list returns its good
		// items before a fault found later; Records refuses it whole).
		if !json.Valid(data) || bytes.Contains(data, []byte("\n{")) || bytes.Contains(data, []byte("\n[")) {
			return
		}
		var whole []string
		bad := false
		var ev Event
		Records(data, &ev, func(e *Event, err error) bool {
			if err != nil {
				whole, bad = append(whole, "!"), true
			} else {
				whole = append(whole, e.AuditID+"/"+e.Verb)
			}
			return true
		})
		if !bad && fmt.Sprint(whole) != fmt.Sprint(streamed) {
			t.Fatalf("Records %v, streamed %v", whole, streamed)
		}
		if bad && !slices.Contains(streamed, "!") {
			t.Fatalf("Records %v, streamed without an error: %v", whole, streamed)
		}
	})
}

// decoderInvariants decodes data with d: it terminates, never panics,
// returns only valid events with positions, and reports the bytes of
// each rejected value. It returns the auditID/verb of each event and "!"
// for each error.
func decoderInvariants(t *testing.T, data []byte, d *Decoder) []string {
	t.Helper()
	var out []string
	d.MaxSize = 4096
	for n := 0; ; n++ {
		if n > len(data)+2 {
			t.Fatalf("more results (%d) than input bytes", n)
		}
		ev, err := d.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T: %v", err, err)
			}
			if de.Line < 1 || de.Offset < 0 || de.Offset > int64(len(data)) {
				t.Fatalf("bad position in %v", err)
			}
			out = append(out, "!")
			continue
		}
		if !json.Valid(ev.Raw) {
			t.Fatalf("decoded invalid event %q", ev.Raw)
		}
		if ev.Line < 1 {
			t.Fatalf("event without line")
		}
		out = append(out, ev.AuditID+"/"+ev.Verb)
	}
}

// FuzzRewrite drops members and cuts managed fields according to the fuzz
// input; the output must be valid JSON without the dropped members.
func FuzzRewrite(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var ev Event
		if Parse(data, &ev) != nil || len(data) == 0 {
			return
		}
		var w Rewrite
		w.Reset()
		mask := uint32(data[len(data)-1])<<3 | uint32(len(data))
		for m := Member(0); m < numMembers; m++ {
			if mask&(1<<(uint(m)%32)) != 0 && m%3 == 0 {
				w.Drop(m)
			}
		}
		w.CutManagedFields(&ev, MemberRequestObject)
		w.CutManagedFields(&ev, MemberResponseObject)
		w.SetString(MemberLevel, "Metadata")
		out := w.AppendTo(nil, &ev)
		var got map[string]json.RawMessage
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("invalid output %q from %q: %v", out, data, err)
		}
		for m := Member(0); m < numMembers; m++ {
			if _, ok := got[m.String()]; ok && w.Dropped(m) {
				t.Fatalf("dropped member %s still present in %q", m, out)
			}
		}
		if string(got["level"]) != `"Metadata"` {
			t.Fatalf("level not set: %q", out)
		}
	})
}

// exactRef reads verb, stage, requestURI, user.username, user.groups and
// the presence of objectRef with encoding/json, matching keys exactly.
func exactRef(data []byte) ([]any, bool) {
	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		return nil, false
	}
	str := func(v any) string { s, _ := v.(string); return s }
	user, _ := m["user"].(map[string]any)
	var groups []string
	if gs, ok := user["groups"].([]any); ok {
		for _, g := range gs {
			groups = append(groups, str(g))
		}
	}
	_, hasRef := m["objectRef"].(map[string]any)
	return []any{str(m["verb"]), str(m["stage"]), str(m["requestURI"]), str(user["username"]), groups, hasRef}, true
}

func groupsOrNil(g []string) []string {
	if len(g) == 0 {
		return nil
	}
	return g
}

// hasDuplicateMembers reports repeated top-level keys, which encoding/json
// and the decoder resolve differently at nested levels.
func hasDuplicateMembers(ev *Event) bool {
	seen := map[string]bool{}
	for _, mp := range ev.members {
		k := string(ev.Raw[mp.keyStart:mp.valStart])
		if seen[k] {
			return true
		}
		seen[k] = true
	}
	return false
}
