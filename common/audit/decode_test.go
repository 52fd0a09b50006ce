package audit

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"math/bits"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// refEvent is the reference decoding by encoding/json of the fields the
// decoder extracts.
type refEvent struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Level      string `json:"level"`
	AuditID    string `json:"auditID"`
	Stage      string `json:"stage"`
	RequestURI string `json:"requestURI"`
	Verb       string `json:"verb"`
	User       struct {
		Username string   `json:"username"`
		UID      string   `json:"uid"`
		Groups   []string `json:"groups"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		UID         string `json:"uid"`
		APIGroup    string `json:"apiGroup"`
		APIVersion  string `json:"apiVersion"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestReceivedTimestamp string `json:"requestReceivedTimestamp"`
	StageTimestamp           string `json:"stageTimestamp"`
}

// checkAgainstReference decodes raw with encoding/json and compares every
// field the decoder extracted (legacy normalisation aside).
func checkAgainstReference(t *testing.T, name string, raw []byte, ev *Event) {
	t.Helper()
	var ref refEvent
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatalf("%s: reference decode: %v", name, err)
	}
	groups := ev.User.Groups
	if len(groups) == 0 {
		groups = nil
	}
	got := []any{ev.APIVersion, ev.Level, ev.AuditID, ev.Stage, ev.RequestURI, ev.Verb, ev.User.Username, ev.User.UID, groups}
	want := []any{ref.APIVersion, ref.Level, ref.AuditID, ref.Stage, ref.RequestURI, ref.Verb, ref.User.Username, ref.User.UID, ref.User.Groups}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", name, got, want)
	}
	if (ref.ObjectRef != nil) != ev.HasObjectRef {
		t.Errorf("%s: HasObjectRef = %v, want %v", name, ev.HasObjectRef, ref.ObjectRef != nil)
	}
	if ref.ObjectRef != nil {
		o := ev.ObjectRef
		want := *ref.ObjectRef
		if !ev.Legacy || want.APIGroup != "" {
			gotRef := []string{o.Resource, o.Namespace, o.Name, o.UID, o.APIGroup, o.APIVersion, o.Subresource}
			wantRef := []string{want.Resource, want.Namespace, want.Name, want.UID, want.APIGroup, want.APIVersion, want.Subresource}
			if !reflect.DeepEqual(gotRef, wantRef) {
				t.Errorf("%s: objectRef\n got  %q\n want %q", name, gotRef, wantRef)
			}
		}
	}
	if ref.ResponseStatus != nil && ref.ResponseStatus.Code != ev.ResponseCode {
		t.Errorf("%s: ResponseCode = %d, want %d", name, ev.ResponseCode, ref.ResponseStatus.Code)
	}
	if ref.RequestReceivedTimestamp != "" && ref.RequestReceivedTimestamp != ev.RequestReceivedTimestamp {
		t.Errorf("%s: requestReceivedTimestamp = %q, want %q", name, ev.RequestReceivedTimestamp, ref.RequestReceivedTimestamp)
	}
	if ref.StageTimestamp != "" && ref.StageTimestamp != ev.StageTimestamp {
		t.Errorf("%s: stageTimestamp = %q, want %q", name, ev.StageTimestamp, ref.StageTimestamp)
	}
	if ev.RequestReceivedTimestamp == "" || ev.StageTimestamp == "" {
		t.Errorf("%s: timestamps not normalised: %q %q", name, ev.RequestReceivedTimestamp, ev.StageTimestamp)
	}
	// Every recorded member's value must be the JSON value encoding/json sees.
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	for m := Member(0); m < numMembers; m++ {
		v, ok := all[m.String()]
		if got := ev.Value(m); ok != (got != nil) || ok && !bytes.Equal(bytes.TrimSpace(v), got) {
			t.Errorf("%s: member %s = %q, want %q", name, m, got, v)
		}
	}
}

func TestFalcoFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/falco/*.json")
	if err != nil || len(files) != 47 {
		t.Fatalf("fixtures: %d files, %v", len(files), err)
	}
	events := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		d := NewDecoder(bytes.NewReader(data))
		lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
		for n := 0; ; n++ {
			ev, err := d.Next()
			if err == io.EOF {
				break
			}
			if filepath.Base(f) == "fal_01_003.json" {
				var de *DecodeError
				if !errors.As(err, &de) || !errors.Is(err, ErrType) || de.Field != "kind" || de.Line != 1 {
					t.Fatalf("fal_01_003: got %v, want a kind type error on line 1", err)
				}
				if !strings.Contains(err.Error(), "kind: wrong type: expected string, found number") {
					t.Errorf("error text: %v", err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			events++
			if ev.Line != n+1 {
				t.Errorf("%s: event %d on line %d", f, n, ev.Line)
			}
			checkAgainstReference(t, f, lines[n], ev)
		}
	}
	if events != 51 {
		t.Errorf("decoded %d events, want 51 (46 files with one event, one with 6)", events)
	}
}

func TestAudit2rbacLegacy(t *testing.T) {
	data, err := os.ReadFile("testdata/demo.log")
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	n := 0
	err = ForEach(data, func(ev *Event, err error) bool {
		if err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		checkAgainstReference(t, "demo.log", lines[n], ev)
		if !ev.Legacy {
			t.Errorf("line %d: legacy timestamps not reported", n+1)
		}
		var ref struct {
			Timestamp string `json:"timestamp"`
			Metadata  struct {
				CreationTimestamp string `json:"creationTimestamp"`
			} `json:"metadata"`
		}
		json.Unmarshal(lines[n], &ref)
		if ev.RequestReceivedTimestamp != ref.Timestamp || ev.StageTimestamp != ref.Metadata.CreationTimestamp {
			t.Errorf("line %d: timestamps %q %q from %q %q", n+1, ev.RequestReceivedTimestamp, ev.StageTimestamp, ref.Timestamp, ref.Metadata.CreationTimestamp)
		}
		n++
		return true
	})
	if err != nil || n != len(lines) {
		t.Fatalf("decoded %d of %d lines: %v", n, len(lines), err)
	}
}

func TestV1alpha1ObjectRefSplit(t *testing.T) {
	var ev Event
	raw := `{"kind":"Event","apiVersion":"audit.k8s.io/v1alpha1","objectRef":{"resource":"deployments","apiVersion":"apps/v1beta1","namespace":"ns"},"timestamp":"2017-01-02T03:04:05Z"}`
	if err := Parse([]byte(raw), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.ObjectRef.APIGroup != "apps" || ev.ObjectRef.APIVersion != "v1beta1" || !ev.Legacy {
		t.Errorf("objectRef = %+v legacy=%v", ev.ObjectRef, ev.Legacy)
	}
	if ev.RequestReceivedTimestamp != "2017-01-02T03:04:05Z" || ev.StageTimestamp != "2017-01-02T03:04:05Z" {
		t.Errorf("timestamps %q %q", ev.RequestReceivedTimestamp, ev.StageTimestamp)
	}
	// An explicit apiGroup is never overridden, and core "v1" is not split.
	raw = `{"verb":"get","objectRef":{"resource":"pods","apiGroup":"","apiVersion":"v1"}}`
	if err := Parse([]byte(raw), &ev); err != nil || ev.ObjectRef.APIGroup != "" || ev.ObjectRef.APIVersion != "v1" || ev.Legacy {
		t.Errorf("core objectRef = %+v legacy=%v err=%v", ev.ObjectRef, ev.Legacy, err)
	}
}

func TestEscapes(t *testing.T) {
	var ev Event
	raw := `{"user":{"username":"al\u00e9x\"\\\/\n","groups":["a\u0041","\ud83d\ude00","\ud800x"]},"requestURI":"/api?x=\u0026"}`
	if err := Parse([]byte(raw), &ev); err != nil {
		t.Fatal(err)
	}
	var ref refEvent
	json.Unmarshal([]byte(raw), &ref)
	if ev.User.Username != ref.User.Username || !reflect.DeepEqual(ev.User.Groups, ref.User.Groups) || ev.RequestURI != ref.RequestURI {
		t.Errorf("got %q %q %q, want %q %q %q", ev.User.Username, ev.User.Groups, ev.RequestURI, ref.User.Username, ref.User.Groups, ref.RequestURI)
	}
	// Escaped keys are matched after unescaping, as encoding/json does.
	if err := Parse([]byte(`{"\u0076erb":"get"}`), &ev); err != nil || ev.Verb != "get" {
		t.Errorf("escaped key: verb %q err %v", ev.Verb, err)
	}
}

func TestStreamShapes(t *testing.T) {
	a := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"a","verb":"get"}`
	b := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","auditID":"b","verb":"list"}`
	c := `{"kind":"Event","auditID":"c","verb":"watch"}`
	pretty := func(s string) string {
		var out bytes.Buffer
		json.Indent(&out, []byte(s), "", "  ")
		return out.String()
	}
	list := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + a + `,` + b + `]}`
	cases := []struct {
		name  string
		input string
		want  []string // auditIDs, or "!" for an error
	}{
		{"json lines", a + "\n" + b + "\n" + c + "\n", []string{"a", "b", "c"}},
		{"crlf and blank lines", a + "\r\n\r\n" + b + "\r\n", []string{"a", "b"}},
		{"no final newline", a + "\n" + b, []string{"a", "b"}},
		{"eventlist", list, []string{"a", "b"}},
		{"eventlist pretty", pretty(list) + "\n" + c, []string{"a", "b", "c"}},
		{"array", "[" + a + "," + b + "]\n" + c, []string{"a", "b", "c"}},
		{"array pretty", pretty("["+a+","+b+"]") + "\n", []string{"a", "b"}},
		{"pretty events", pretty(a) + "\n" + pretty(b) + "\n", []string{"a", "b"}},
		{"empty list", `{"kind":"EventList","items":[]}` + "\n" + a, []string{"a"}},
		{"truncated line then good", a[:30] + "\n" + b + "\n", []string{"!", "b"}},
		{"truncated outside string", a[:40] + "\n" + b + "\n", []string{"!", "b"}},
		{"truncated at end", a + "\n" + b[:50], []string{"a", "!"}},
		{"non-object line", a + "\n42\n\"x\"\n" + b, []string{"a", "!", "!", "b"}},
		{"array of non-objects", `[1,` + a + `]`, []string{"!", "a"}},
		{"kind zero", `{"kind": 0}` + "\n" + a, []string{"!", "a"}},
		{"bad version", `{"apiVersion":"audit.k8s.io/v2"}` + "\n" + a, []string{"!", "a"}},
		{"bad kind", `{"kind":"Pod"}` + "\n" + a, []string{"!", "a"}},
		{"invalid utf8", `{"auditID":"x` + "\xff" + `"}` + "\n" + a, []string{"!", "a"}},
		{"broken pretty value", "{\n  \"auditID\": \"x\",\n  \"verb\": \n" + a + "\n", []string{"!", "a"}},
		{"garbage", "}{][\n" + a, []string{"!", "a"}},
		{"nested eventlist", `{"kind":"EventList","items":[{"kind":"EventList","items":[]}]}` + "\n" + a, []string{"!", "a"}},
		{"two values on a line", a + " " + b + "\n" + c, []string{"a", "b", "c"}},
		{"concatenated values", a + b + a + "\n" + c, []string{"a", "b", "a", "c"}},
		{"concatenated then garbage", a + b + "x\n" + c, []string{"a", "b", "!", "c"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(tc.input))
			var got []string
			for len(got) < 20 {
				ev, err := d.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					var de *DecodeError
					if !errors.As(err, &de) {
						t.Fatalf("non-decode error %v", err)
					}
					got = append(got, "!")
					continue
				}
				got = append(got, ev.AuditID)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestErrorPositions(t *testing.T) {
	input := "{\"auditID\":\"a\"}\n{\"auditID\":\"b\",\"verb\":tru}\n{\"auditID\":\"c\",\"user\":{\"groups\":[\"x\",3]}}\n"
	d := NewDecoder(strings.NewReader(input))
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	_, err := d.Next()
	var de *DecodeError
	if !errors.As(err, &de) || !errors.Is(err, ErrSyntax) || de.Line != 2 || de.Offset != 16 || de.Pos != 22 {
		t.Fatalf("got %#v", err)
	}
	if want := "audit: line 2: invalid JSON: invalid literal (byte offset 38)"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	_, err = d.Next()
	if !errors.As(err, &de) || !errors.Is(err, ErrType) || de.Field != "user.groups" || de.Line != 3 {
		t.Fatalf("got %v", err)
	}
}

func TestMaxSize(t *testing.T) {
	big := `{"auditID":"big","requestObject":"` + strings.Repeat("x", 200<<10) + `"}`
	input := `{"auditID":"a"}` + "\n" + big + "\n" + `{"auditID":"b"}` + "\n"
	d := NewDecoder(strings.NewReader(input))
	d.MaxSize = 100 << 10
	var got []string
	for {
		ev, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("got %v", err)
			}
			var de *DecodeError
			errors.As(err, &de)
			if de.Line != 2 || de.Offset != 16 {
				t.Errorf("too-large error at line %d offset %d", de.Line, de.Offset)
			}
			got = append(got, "!")
			continue
		}
		got = append(got, ev.AuditID)
	}
	if !reflect.DeepEqual(got, []string{"a", "!", "b"}) {
		t.Errorf("got %q", got)
	}
	// The same line fits with the default limit.
	d = NewDecoder(strings.NewReader(input))
	n := 0
	for {
		_, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 3 {
		t.Errorf("default limit: %d events", n)
	}
}

func TestParseAllocations(t *testing.T) {
	data, err := os.ReadFile("testdata/falco/create_nginx_pod_privileged.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev Event
	if err := Parse(data, &ev); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(100, func() {
		if err := Parse(data, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("Parse allocates %v times per event, want <= 1", allocs)
	}
}

func TestCloneIsIndependent(t *testing.T) {
	var ev Event
	buf := []byte(`{"auditID":"a","user":{"username":"u","groups":["g1","g2"]}}`)
	if err := Parse(buf, &ev); err != nil {
		t.Fatal(err)
	}
	c := ev.Clone()
	if err := Parse([]byte(`{"user":{"username":"v","groups":["h1","h2"]},"verb":"get","auditID":"bbbbbbbbbbb"}`), &ev); err != nil {
		t.Fatal(err)
	}
	if c.AuditID != "a" || c.User.Username != "u" || !reflect.DeepEqual(c.User.Groups, []string{"g1", "g2"}) || string(c.Value(MemberAuditID)) != `"a"` {
		t.Errorf("clone changed: %+v", c)
	}
	// Rewriting the clone after the original was reused must still see the
	// clone's own member positions.
	var w Rewrite
	w.Reset()
	w.Drop(MemberUser)
	if out := string(w.AppendTo(nil, c)); out != `{"auditID":"a"}` {
		t.Errorf("rewrite of clone = %s", out)
	}
}

func TestSpecialMaskFirstByteIsExact(t *testing.T) {
	// For every byte value at every position, surrounded by other bytes,
	// the lowest flagged byte of specialMask is the first special byte.
	fillers := []byte{'a', 0xff, 0x80, '"', 0x1f, 0x7f, 0x20, '\\'}
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 8; pos++ {
			for _, f := range fillers {
				w := make([]byte, 8)
				for k := range w {
					if k < pos {
						w[k] = 'x'
					} else {
						w[k] = f
					}
				}
				w[pos] = byte(c)
				want := -1
				for k, b := range w {
					if strClass[b] {
						want = k
						break
					}
				}
				m := specialMask(binary.LittleEndian.Uint64(w))
				got := -1
				if m != 0 {
					got = bits.TrailingZeros64(m) >> 3
				}
				if got != want {
					t.Fatalf("%q: first special at %d, mask says %d", w, want, got)
				}
			}
		}
	}
}

func TestSpecialMaskRandomWords(t *testing.T) {
	// Random words biased towards the class edges: the lowest flagged
	// byte is the first special byte, whatever follows it.
	edges := []byte{0, 1, 0x1f, 0x20, 0x21, '"', 0x23, 0x5b, '\\', 0x5d, 0x7f, 0x80, 0x81, 0xa0, 0xa2, 0xdc, 0xff, 'a'}
	rng := uint64(7)
	for n := 0; n < 300000; n++ {
		var w [8]byte
		for k := range w {
			rng = rng*6364136223846793005 + 1442695040888963407
			if r := rng >> 33; r&1 == 0 {
				w[k] = edges[(r>>1)%uint64(len(edges))]
			} else {
				w[k] = byte(r >> 1)
			}
		}
		want := -1
		for k, c := range w {
			if strClass[c] {
				want = k
				break
			}
		}
		got := -1
		if m := specialMask(binary.LittleEndian.Uint64(w[:])); m != 0 {
			got = bits.TrailingZeros64(m) >> 3
		}
		if got != want {
			t.Fatalf("%q: first special at %d, mask says %d", w, want, got)
		}
	}
}

func TestScanStringAgainstEncodingJSON(t *testing.T) {
	pieces := []string{`a`, `\"`, `\\`, `\/`, `\n`, `\u00e9`, `\ud83d\ude00`, `\x`, `\u12`, "é", "\xff", "\xe2\x82", "\x01", "\t", `"`, `\`, ` `, "long-plain-text-run-", "€uro"}
	rng := uint64(1)
	for n := 0; n < 50000; n++ {
		var sb strings.Builder
		sb.WriteByte('"')
		for k := 0; k < int(n%11); k++ {
			rng = rng*6364136223846793005 + 1442695040888963407
			sb.WriteString(pieces[(rng>>33)%uint64(len(pieces))])
		}
		if n%4 != 0 {
			sb.WriteByte('"')
		}
		lit := []byte(sb.String())
		b := append(append([]byte(nil), lit...), []byte(`,"next"`)...)
		end, _, err := scanString(b, 0)
		// The reference: the shortest prefix that is a JSON string, valid UTF-8.
		refEnd := -1
		for k := 2; k <= len(b); k++ {
			if b[k-1] == '"' && json.Valid(b[:k]) {
				refEnd = k
				break
			}
		}
		ok := refEnd > 0 && utf8.Valid(b[:refEnd])
		if ok != (err == nil) || ok && end != refEnd {
			t.Fatalf("%q: scanString end %d err %v; reference end %d valid %v", lit, end, err, refEnd, ok)
		}
	}
}

func TestDeepNesting(t *testing.T) {
	// Mixed object/array nesting past the 64-level word into the spill
	// slice, and beyond the limit.
	for _, depth := range []int{63, 64, 65, 130, 200, maxDepth - 2, maxDepth + 5} {
		var open, close strings.Builder
		for k := 0; k < depth; k++ {
			if k%3 == 0 {
				open.WriteString(`{"k":`)
			} else {
				open.WriteString(`[`)
			}
		}
		for k := depth - 1; k >= 0; k-- {
			if k%3 == 0 {
				close.WriteString(`}`)
			} else {
				close.WriteString(`]`)
			}
		}
		in := `{"verb":"create","requestObject":` + open.String() + `1` + close.String() + `}`
		var ev Event
		err := Parse([]byte(in), &ev)
		if depth < maxDepth-1 && err != nil {
			t.Errorf("depth %d: %v", depth, err)
		}
		if depth > maxDepth && (err == nil || !strings.Contains(err.Error(), "nesting too deep")) {
			t.Errorf("depth %d: %v", depth, err)
		}
		// A mismatched closer at depth must be caught.
		bad := `{"verb":"create","requestObject":` + open.String() + `1` + strings.Replace(close.String(), "]", "}", 1) + `}`
		if depth < maxDepth-1 && strings.Contains(close.String(), "]") && Parse([]byte(bad), &ev) == nil {
			t.Errorf("depth %d: mismatched bracket accepted", depth)
		}
	}
}

func TestNotAnEvent(t *testing.T) {
	for in, ok := range map[string]bool{
		`{}`:                             false,
		`{"message":"GET /healthz 200"}`: false,
		`{"log":"x","stream":"stdout"}`:  false,
		`{"kind":"Event"}`:               false, // a kind and nothing else
		`{"kind":"Event","verb":"get"}`:  true,  // an explicit kind is trusted
		`{"auditID":"a"}`:                true,
		`{"user":{"username":"u"}}`:      true,
		`{"stage":"ResponseComplete","level":"Metadata"}`: true,
	} {
		var ev Event
		err := Parse([]byte(in), &ev)
		if ok != (err == nil) || !ok && !errors.Is(err, ErrKind) {
			t.Errorf("%s: %v", in, err)
		}
	}
}

// TestPredictedKeys checks the canonical-order fast path against the
// general one: near-miss keys, spacing and other orders decode alike.
func TestPredictedKeys(t *testing.T) {
	for _, in := range []string{
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a","stage":"ResponseComplete","requestURI":"/api","verb":"get","user":{"username":"u","groups":["g"]},"sourceIPs":["10.0.0.1"],"userAgent":"ua","objectRef":{"resource":"pods"},"responseStatus":{"code":200},"requestReceivedTimestamp":"2024-01-01T00:00:00Z","stageTimestamp":"2024-01-01T00:00:01Z"}`,
		`{"kind":"Event","levelx":"Request","level":"Metadata","auditID":"a","verbose":1,"verb":"get","user":{"username":"u"}}`,
		`{"kind" : "Event", "level": "Metadata","auditID" :"a","verb":"get" ,"user":{"username":"u"}}`,
		`{"verb":"get","user":{"username":"u"},"stage":"ResponseComplete","level":"Metadata","kind":"Event","auditID":"a"}`,
		`{"kind":"Event","kind":"Event","level":"Request","level":"Metadata","verb":"get","auditID":"a"}`,
	} {
		var ev Event
		if err := Parse([]byte(in), &ev); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		ref, _ := exactRef([]byte(in))
		got := []any{ev.Verb, ev.Stage, ev.RequestURI, ev.User.Username, groupsOrNil(ev.User.Groups), ev.HasObjectRef}
		if !reflect.DeepEqual(got, ref) {
			t.Errorf("%s:\n got  %q\n want %q", in, got, ref)
		}
		var m map[string]any
		json.Unmarshal([]byte(in), &m)
		if ev.Level != m["level"] || ev.AuditID != m["auditID"] {
			t.Errorf("%s: level %q auditID %q", in, ev.Level, ev.AuditID)
		}
		// Member spans agree with encoding/json's view of each value.
		var raw map[string]json.RawMessage
		json.Unmarshal([]byte(in), &raw)
		if v := ev.Value(MemberLevel); string(v) != string(raw["level"]) {
			t.Errorf("%s: level span %s, want %s", in, v, raw["level"])
		}
	}
}

func TestDeepNestingAgainstEncodingJSON(t *testing.T) {
	// Random mixes of objects and arrays nested past the 64 levels kept in
	// a word, with one closer swapped at a random depth in half of the
	// cases: the decoder must accept exactly what encoding/json accepts.
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 2000; n++ {
		depth := 1 + r.IntN(300)
		kinds := make([]bool, depth)
		var in strings.Builder
		in.WriteString(`{"verb":"get","requestObject":`)
		for k := range kinds {
			kinds[k] = r.IntN(2) == 0
			if kinds[k] {
				in.WriteString(`{"k":`)
			} else {
				in.WriteString(`[1,`)
			}
		}
		in.WriteString(`"x"`)
		swap := -1
		if n%2 == 1 {
			swap = r.IntN(depth)
		}
		for k := depth - 1; k >= 0; k-- {
			obj := kinds[k] != (k == swap)
			if obj {
				in.WriteString(`}`)
			} else {
				in.WriteString(`]`)
			}
		}
		in.WriteString(`}`)
		var ev Event
		err := Parse([]byte(in.String()), &ev)
		if want := json.Valid([]byte(in.String())); want != (err == nil) {
			t.Fatalf("depth %d swap %d: valid %v, got %v", depth, swap, want, err)
		}
	}
}
