package shape

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/buger/jsonparser"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/enrich"
)

func readLine(t testing.TB, name string, repl ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(strings.SplitN(string(data), "\n", 2)[0])
	for i := 0; i+1 < len(repl); i += 2 {
		if !strings.Contains(line, repl[i]) {
			t.Fatalf("%s: %q not found", name, repl[i])
		}
		line = strings.Replace(line, repl[i], repl[i+1], 1)
	}
	return line
}

// parse decodes line into a fresh Event that owns its memory. (Not
// Event.Clone: it shares the member positions AppendTo reads with the
// decoder's reused event.)
func parse(t testing.TB, line string) *audit.Event {
	t.Helper()
	ev := new(audit.Event)
	if err := audit.Parse([]byte(line), ev); err != nil {
		t.Fatalf("parse: %v\n%s", err, line)
	}
	return ev
}

func newShaper(t testing.TB, cfg Config) *Shaper {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func enrichResult(t testing.TB, ev *audit.Event) *enrich.Result {
	t.Helper()
	cfg := enrich.DefaultConfig()
	cfg.ClusterName = "prod"
	en, err := enrich.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var r enrich.Result
	en.Enrich(ev, &r)
	return &r
}

// members returns the raw value of each top-level member of a JSON object.
func members(t testing.TB, b []byte) map[string]string {
	t.Helper()
	if !json.Valid(b) || !utf8.Valid(b) {
		t.Fatalf("invalid JSON output: %s", b)
	}
	m := map[string]string{}
	err := jsonparser.ObjectEach(b, func(k, v []byte, typ jsonparser.ValueType, _ int) error {
		if typ == jsonparser.String {
			m[string(k)] = `"` + string(v) + `"`
		} else {
			m[string(k)] = string(v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func allEvents(t testing.TB) []*audit.Event {
	var evs []*audit.Event
	files, _ := filepath.Glob("../enrich/testdata/*/*")
	for _, f := range files {
		if strings.HasSuffix(f, "fal_01_003.json") || strings.HasSuffix(f, ".md") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		audit.ForEach(data, func(ev *audit.Event, err error) bool {
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			evs = append(evs, parse(t, string(ev.Raw)))
			return true
		})
	}
	if len(evs) < 80 {
		t.Fatalf("corpus has %d events", len(evs))
	}
	return evs
}

// TestUntouchedPartsAreByteIdentical shapes every corpus event with
// annotations on and checks that every member but annotations keeps its
// bytes, and that the event's own annotation entries are kept verbatim.
func TestUntouchedPartsAreByteIdentical(t *testing.T) {
	s := newShaper(t, Config{Layout: LayoutJSON})
	var w audit.Rewrite
	var out Output
	for _, ev := range allEvents(t) {
		w.Reset()
		r := enrichResult(t, ev)
		if err := s.Shape(ev, &w, r, &out); err != nil {
			t.Fatal(err)
		}
		in, got := members(t, ev.Raw), members(t, out.Body)
		for k, v := range in {
			if k == "annotations" {
				continue
			}
			if got[k] != v {
				t.Fatalf("%s: member %s changed:\n in %s\nout %s", ev.AuditID, k, v, got[k])
			}
		}
		own := ev.Value(audit.MemberAnnotations)
		if len(own) > 2 && !strings.HasPrefix(got["annotations"], string(own[:len(own)-1])+",") {
			t.Fatalf("%s: own annotations not kept verbatim:\n in %s\nout %s", ev.AuditID, own, got["annotations"])
		}
		var anns map[string]string
		if err := json.Unmarshal([]byte(got["annotations"]), &anns); err != nil {
			t.Fatal(err)
		}
		if anns[enrich.AnnClusterName] != "prod" {
			t.Fatalf("%s: annotations %v", ev.AuditID, anns)
		}
		// The output is still a valid audit.k8s.io Event.
		if err := audit.Parse(out.Body, new(audit.Event)); err != nil {
			t.Fatalf("%s: output does not decode: %v", ev.AuditID, err)
		}
	}
	// Without enrichment and edits the output is the input.
	for _, ev := range allEvents(t)[:10] {
		w.Reset()
		if err := s.Shape(ev, &w, nil, &out); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out.Body, ev.Raw) {
			t.Fatalf("unchanged event rewritten:\n in %s\nout %s", ev.Raw, out.Body)
		}
	}
}

func TestStaleAuditlaneAnnotationsReplaced(t *testing.T) {
	ev := parse(t, readLine(t, "exec_pod.json", `{"annotations":{`, `{"annotations":{"auditlane.io/risk-tags":"forged","keep":"me",`))
	var w audit.Rewrite
	var out Output
	if err := newShaper(t, Config{}).Shape(ev, &w, enrichResult(t, ev), &out); err != nil {
		t.Fatal(err)
	}
	var e struct{ Annotations map[string]string }
	if err := json.Unmarshal(out.Body, &e); err != nil {
		t.Fatal(err)
	}
	if e.Annotations["auditlane.io/risk-tags"] != "exec-into-pod" || e.Annotations["keep"] != "me" ||
		e.Annotations["authorization.k8s.io/decision"] != "allow" {
		t.Errorf("annotations %v", e.Annotations)
	}
	if bytes.Count(out.Body, []byte(`"auditlane.io/risk-tags"`)) != 1 {
		t.Errorf("duplicate key in %s", out.Body)
	}
	// An event without annotations gains the member.
	ev = parse(t, readLine(t, "exec_pod.json", `{"annotations":{"authorization.k8s.io/decision":"allow","authorization.k8s.io/reason":""},`, `{`))
	w.Reset()
	if err := newShaper(t, Config{}).Shape(ev, &w, enrichResult(t, ev), &out); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(out.Body, &e); err != nil || e.Annotations["auditlane.io/user-kind"] != "human" {
		t.Errorf("%v %v", err, e.Annotations)
	}
}

const secretBody = `{"kind":"Secret","apiVersion":"v1","metadata":{"name":"example-secret","namespace":"default","annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\"data\":{\"password\":\"aHVudGVyMg==\"}}\n","team":"a"},"managedFields":[{"manager":"kubectl","fieldsV1":{"f:data":{"f:password":{}}}}]},"data":{"password":"aHVudGVyMg==","user":"YWRtaW4="},"stringData":{"token":"s3cr3t-t0k3n"},"type":"Opaque"}`

func TestRedactSecrets(t *testing.T) {
	listBody := `{"kind":"SecretList","apiVersion":"v1","metadata":{"resourceVersion":"1"},"items":[` + secretBody + `,{"metadata":{"name":"b"},"data":{"k":"c3VwZXJzZWNyZXQ="}}]}`
	patchBody := `[{"op":"replace","path":"/data/password","value":"bmV3cGFzcw=="},{"op":"add","path":"/stringData","value":{"api-key":"plain-key-123"}}]`
	secretWords := []string{"aHVudGVyMg==", "YWRtaW4=", "s3cr3t-t0k3n", "c3VwZXJzZWNyZXQ=", "bmV3cGFzcw==", "plain-key-123"}
	for _, tc := range []struct {
		name, line string
		redacted   int
	}{
		{"create", readLine(t, "create_secret.json", `"level":"Metadata"`, `"level":"RequestResponse"`,
			`"requestReceivedTimestamp"`, `"requestObject":`+secretBody+`,"responseObject":`+secretBody+`,"requestReceivedTimestamp"`), 6},
		{"list", readLine(t, "create_secret.json", `"level":"Metadata"`, `"level":"RequestResponse"`, `"verb":"create"`, `"verb":"list"`,
			`"requestReceivedTimestamp"`, `"responseObject":`+listBody+`,"requestReceivedTimestamp"`), 4},
		{"json patch", readLine(t, "create_secret.json", `"level":"Metadata"`, `"level":"Request"`, `"verb":"create"`, `"verb":"patch"`,
			`"requestReceivedTimestamp"`, `"requestObject":`+patchBody+`,"requestReceivedTimestamp"`), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := parse(t, tc.line)
			s := newShaper(t, Config{RedactSecrets: true})
			var w audit.Rewrite
			w.Reset()
			w.CutManagedFields(ev, audit.MemberRequestObject) // as the policy may do
			w.CutManagedFields(ev, audit.MemberResponseObject)
			var out Output
			if err := s.Shape(ev, &w, nil, &out); err != nil {
				t.Fatal(err)
			}
			if out.Redacted != tc.redacted {
				t.Errorf("redacted %d values, want %d", out.Redacted, tc.redacted)
			}
			for _, sw := range secretWords {
				if bytes.Contains(out.Body, []byte(sw)) {
					t.Errorf("secret %s leaked: %s", sw, out.Body)
				}
			}
			if !json.Valid(out.Body) {
				t.Fatalf("invalid JSON: %s", out.Body)
			}
			if s.Stats().RedactedSecrets != 1 {
				t.Errorf("stats %+v", s.Stats())
			}
			// Keys and everything else stay.
			for _, keep := range []string{`"password":"REDACTED"`, `"team":"a"`, `"type":"Opaque"`} {
				if tc.name != "json patch" && !bytes.Contains(out.Body, []byte(keep)) {
					t.Errorf("%s missing: %s", keep, out.Body)
				}
			}
			if bytes.Contains(out.Body, []byte("managedFields")) {
				t.Errorf("managedFields cut lost: %s", out.Body)
			}
		})
	}
	// Dropped bodies are not touched (and stay dropped).
	ev := parse(t, readLine(t, "create_secret.json", `"requestReceivedTimestamp"`, `"requestObject":`+secretBody+`,"requestReceivedTimestamp"`))
	var w audit.Rewrite
	w.Reset()
	w.Drop(audit.MemberRequestObject)
	var out Output
	if err := newShaper(t, Config{RedactSecrets: true}).Shape(ev, &w, nil, &out); err != nil {
		t.Fatal(err)
	}
	if out.Redacted != 0 || bytes.Contains(out.Body, []byte("requestObject")) {
		t.Errorf("dropped body: redacted %d, %s", out.Redacted, out.Body)
	}
	// Without redaction configured, bodies are kept as they are.
	w.Reset()
	if err := newShaper(t, Config{}).Shape(ev, &w, nil, &out); err != nil || !bytes.Equal(out.Body, ev.Raw) {
		t.Errorf("redaction off changed the event: %v", err)
	}
}

func TestRedactTokens(t *testing.T) {
	tokenReq := readLine(t, "create_serviceaccount.json", `"resource":"serviceaccounts"`, `"resource":"serviceaccounts","subresource":"token"`,
		`"requestReceivedTimestamp"`, `"responseObject":{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","spec":{"audiences":["api"]},"status":{"token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl","expirationTimestamp":"2024-01-01T00:00:00Z"}},"requestReceivedTimestamp"`)
	tokenReview := readLine(t, "create_serviceaccount.json", `"resource":"serviceaccounts"`, `"resource":"tokenreviews","apiGroup":"authentication.k8s.io"`,
		`"requestObject":{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"creationTimestamp":null,"name":"myacct"}}`,
		`"requestObject":{"apiVersion":"authentication.k8s.io/v1","kind":"TokenReview","spec":{"token":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"}}`)
	for name, line := range map[string]string{"token request": tokenReq, "token review": tokenReview} {
		ev := parse(t, line)
		var w audit.Rewrite
		var out Output
		if err := newShaper(t, Config{RedactTokens: true}).Shape(ev, &w, nil, &out); err != nil {
			t.Fatal(err)
		}
		if out.Redacted != 1 || bytes.Contains(out.Body, []byte("c2lnbmF0dXJl")) || !json.Valid(out.Body) {
			t.Errorf("%s: redacted %d: %s", name, out.Redacted, out.Body)
		}
	}
}

func TestRedactQuery(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"/api/v1/pods?watch=true&token=abc123", "/api/v1/pods?watch=true&token=REDACTED"},
		{"/api/v1/pods?ACCESS_TOKEN=abc&limit=5", "/api/v1/pods?ACCESS_TOKEN=REDACTED&limit=5"},
		{"/apis/x?foo=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefgh", "/apis/x?foo=REDACTED"},
		{"/api/v1/namespaces/default/pods/p/exec?command=bash&stdin=true", ""},
		{"/api/v1/pods", ""},
		{"/api?token=", ""},
		{"/api?password=a&x-amz-signature=b&sig=c", "/api?password=REDACTED&x-amz-signature=REDACTED&sig=REDACTED"},
		// Names compare with Unicode case folding: U+017F folds to "s".
		{"/api?\u017fecret=a&Sig=b&sigs=c", "/api?\u017fecret=REDACTED&Sig=REDACTED&sigs=c"},
	} {
		out, n := RedactQuery(nil, tc.in)
		if need := queryNeedsRedaction(tc.in); need != (n > 0) {
			t.Errorf("queryNeedsRedaction(%q) = %v, RedactQuery replaced %d", tc.in, need, n)
		}
		if tc.want == "" {
			if n != 0 {
				t.Errorf("RedactQuery(%q) = %q, %d", tc.in, out, n)
			}
			continue
		}
		if string(out) != tc.want {
			t.Errorf("RedactQuery(%q) = %q, want %q", tc.in, out, tc.want)
		}
	}
	ev := parse(t, readLine(t, "exec_pod.json", `stdin=true&stdout=true`, `stdin=true&access_token=very-secret&stdout=true`))
	var w audit.Rewrite
	var out Output
	s := newShaper(t, Config{RedactQueryTokens: true})
	if err := s.Shape(ev, &w, nil, &out); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out.Body, []byte("very-secret")) || !bytes.Contains(out.Body, []byte("access_token=REDACTED&stdout=true")) || s.Stats().RedactedQueries != 1 {
		t.Errorf("%s %+v", out.Body, s.Stats())
	}
}

func TestTruncateBodies(t *testing.T) {
	ev := parse(t, readLine(t, "create_nginx_pod_privileged.json"))
	s := newShaper(t, Config{MaxEventSize: 1800})
	var w audit.Rewrite
	var out Output
	r := enrichResult(t, ev)
	if err := s.Shape(ev, &w, r, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Body) > 1800 || !out.Truncated || out.Shortened != 0 {
		t.Fatalf("len %d truncated %v shortened %d", len(out.Body), out.Truncated, out.Shortened)
	}
	m := members(t, out.Body)
	if _, ok := m["requestObject"]; ok {
		t.Error("requestObject kept")
	}
	if _, ok := m["responseObject"]; ok {
		t.Error("responseObject kept")
	}
	var e struct{ Annotations map[string]string }
	json.Unmarshal(out.Body, &e)
	if e.Annotations[TruncatedAnnotation] != "true" || e.Annotations[enrich.AnnRiskTags] != "privileged-pod" {
		t.Errorf("annotations %v", e.Annotations)
	}
	if st := s.Stats(); st.Truncated != 1 || st.Events != 1 || st.Shortened != 0 || st.TooLarge != 0 {
		t.Errorf("stats %+v", st)
	}
	// Below the limit nothing happens.
	w.Reset()
	if err := newShaper(t, Config{MaxEventSize: 1 << 20}).Shape(ev, &w, nil, &out); err != nil || out.Truncated || !bytes.Equal(out.Body, ev.Raw) {
		t.Errorf("small event changed: %v", err)
	}
}

// TestShortenNeverSplitsCharacters shortens a long user agent made of
// multi-byte characters, escapes and surrogate pairs at many sizes and
// checks the result is valid JSON and UTF-8 that decodes, with a marker.
func TestShortenNeverSplitsCharacters(t *testing.T) {
	unit := `é日本\u00e9\"\\\ud83d\ude00x`
	long := strings.Repeat(unit, 400)
	for max := 1024; max <= 3000; max += 37 {
		ev := parse(t, readLine(t, "exec_pod.json", `"auditID"`, `"userAgent":"`+long+`","auditID"`))
		s := newShaper(t, Config{MaxEventSize: max})
		var w audit.Rewrite
		var out Output
		if err := s.Shape(ev, &w, nil, &out); err != nil {
			t.Fatalf("max %d: %v", max, err)
		}
		if len(out.Body) > max || !out.Truncated || out.Shortened != 1 {
			t.Fatalf("max %d: len %d truncated %v shortened %d", max, len(out.Body), out.Truncated, out.Shortened)
		}
		if !utf8.Valid(out.Body) || !json.Valid(out.Body) {
			t.Fatalf("max %d: invalid output %s", max, out.Body)
		}
		var e struct {
			UserAgent   string
			RequestURI  string
			Annotations map[string]string
		}
		if err := json.Unmarshal(out.Body, &e); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(e.UserAgent, "...[truncated ") || strings.ContainsRune(e.UserAgent, utf8.RuneError) {
			t.Fatalf("max %d: user agent %q", max, e.UserAgent)
		}
		if e.RequestURI != ev.RequestURI || e.Annotations[TruncatedAnnotation] != "true" {
			t.Fatalf("max %d: other fields changed", max)
		}
		if st := s.Stats(); st.Shortened != 1 || st.Truncated != 1 {
			t.Fatalf("stats %+v", st)
		}
	}
}

func TestTooLargeIsAnErrorAndCounted(t *testing.T) {
	ips := strings.Repeat(`"10.0.0.1",`, 300) + `"10.0.0.2"`
	ev := parse(t, readLine(t, "exec_pod.json", `"sourceIPs":["192.168.99.1"]`, `"sourceIPs":[`+ips+`]`))
	s := newShaper(t, Config{MaxEventSize: 1024})
	var w audit.Rewrite
	var out Output
	err := s.Shape(ev, &w, nil, &out)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), ev.AuditID) {
		t.Fatalf("err = %v", err)
	}
	if st := s.Stats(); st.TooLarge != 1 || st.Events != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestSLSLayout(t *testing.T) {
	ev := parse(t, readLine(t, "eks-blog.jsonl"))
	r := enrichResult(t, ev)
	s := newShaper(t, Config{Layout: LayoutSLS})
	var w audit.Rewrite
	var out Output
	if err := s.Shape(ev, &w, r, &out); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var order []string
	for _, f := range out.Fields {
		if _, dup := got[f.Key]; dup {
			t.Errorf("duplicate key %s", f.Key)
		}
		got[f.Key] = f.Value
		order = append(order, f.Key)
	}
	want := map[string]string{
		"kind": "Event", "apiVersion": "audit.k8s.io/v1", "level": "Request", "verb": "list",
		"requestURI": "/api/v1/nodes?limit=100",
		"user":       `{"username":"eks:k8s-metrics","groups":["system:authenticated"]}`,
		"sourceIPs":  `["172.16.42.46"]`,
		"objectRef":  `{"resource":"nodes","apiVersion":"v1"}`,
		"userAgent":  "eks-k8s-metrics/v0.0.0 (linux/amd64) kubernetes/$Format",
		// enrichment keys
		"k8s.cluster.name": "prod", "auditlane.cluster.provider": "eks", "user.name": "eks:k8s-metrics",
		"http.response.status_code": "200", "auditlane.rbac.role.name": "eks:k8s-metrics",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if order[0] != "kind" || !strings.Contains(got["annotations"], `"auditlane.io/cluster-name":"prod"`) {
		t.Errorf("order %v annotations %s", order, got["annotations"])
	}
	// Escaped strings are unescaped.
	ev = parse(t, readLine(t, "exec_pod.json", `"verb":"create"`, `"verb":"create","userAgent":"a\"b\u00e9"`))
	w.Reset()
	if err := s.Shape(ev, &w, nil, &out); err != nil {
		t.Fatal(err)
	}
	for _, f := range out.Fields {
		if f.Key == "userAgent" && f.Value != `a"bé` {
			t.Errorf("userAgent %q", f.Value)
		}
	}
}

func TestAttributesLayout(t *testing.T) {
	ev := parse(t, readLine(t, "exec_pod.json"))
	r := enrichResult(t, ev)
	var w audit.Rewrite
	var out Output
	if err := newShaper(t, Config{Layout: LayoutAttributes}).Shape(ev, &w, r, &out); err != nil {
		t.Fatal(err)
	}
	want := r.AppendFields(nil)
	if len(out.Fields) != len(want) {
		t.Fatalf("%d fields, want %d", len(out.Fields), len(want))
	}
	for i := range want {
		if out.Fields[i] != want[i] {
			t.Errorf("field %d = %v, want %v", i, out.Fields[i], want[i])
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Layout: "xml"}, `layout: unknown layout "xml"`},
		{Config{MaxEventSize: -1}, "max_event_size: -1 is too small"},
		{Config{MaxEventSize: 100}, "max_event_size: 100 is too small"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("New(%+v) = %v", tc.cfg, err)
		}
	}
	s := newShaper(t, Config{MaxEventSize: 262144})
	if s.Config().Layout != LayoutJSON {
		t.Errorf("default layout %q", s.Config().Layout)
	}
}
