package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	alaudit "github.com/auditlane/auditlane/common/audit"
	alpolicy "github.com/auditlane/auditlane/common/policy"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apiserver/pkg/apis/audit"
	"k8s.io/apiserver/pkg/apis/audit/validation"
	auditapi "k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
)

const (
	samplePath    = "../sample-audit.log"
	eventListPath = "../eventlist.json"
	badInputPath  = "../bad-input.log"
	policyPath    = "../recorded-policy.yaml"
)

// The flags documented in ../README.md.
var (
	sampleArgs    = []string{"-out", samplePath}
	eventListArgs = []string{"-format", "eventlist", "-n", "50", "-fixtures=false", "-out", eventListPath}
)

// regenerate runs the command with args, writing to a temporary file
// instead of the -out given, and returns the bytes.
func regenerate(t *testing.T, args []string) []byte {
	t.Helper()
	out := t.TempDir() + "/out"
	a := append([]string(nil), args...)
	for i := range a {
		if a[i] == "-out" {
			a[i+1] = out
		}
	}
	if err := run(a, nil, io.Discard); err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCommittedFilesUpToDate regenerates the bundled files with the
// documented commands and requires byte-for-byte equality, so the generator
// and the committed data never drift apart.
func TestCommittedFilesUpToDate(t *testing.T) {
	for _, tc := range []struct {
		path string
		args []string
	}{{samplePath, sampleArgs}, {eventListPath, eventListArgs}} {
		want, err := os.ReadFile(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		got := regenerate(t, tc.args)
		if !bytes.Equal(got, want) {
			line := 1 + bytes.Count(got[:firstDiff(got, want)], []byte("\n"))
			t.Errorf("%s differs from `go run ./examples/data/gen %s` (first difference on line %d); regenerate it",
				tc.path, strings.Join(tc.args, " "), line)
		}
	}
}

func firstDiff(a, b []byte) int {
	n := min(len(a), len(b))
	for i := 0; i < n; i++ {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

func TestDeterministic(t *testing.T) {
	cfg := config{seed: 7, n: 300, start: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), format: "lines", fixtures: true}
	a, err := generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := generate(cfg)
	if !bytes.Equal(a, b) {
		t.Fatal("same config gave different output")
	}
	cfg.seed = 8
	c, _ := generate(cfg)
	if bytes.Equal(a, c) {
		t.Fatal("different seeds gave the same output")
	}
	if !bytes.Contains(a, []byte(`"requestReceivedTimestamp":"2025-01-02T03:0`)) {
		t.Error("-start not honoured")
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-start", "yesterday"},
		{"-n", "-1"},
		{"-format", "yaml"},
		{"-format", "eventlist"}, // the fixtures need -fixtures=false
		{"-nosuchflag"},
		{"extra"},
		{"-out", t.TempDir() + "/missing/dir/file"},
	} {
		if err := run(append([]string{"-n", "5"}, args...), io.Discard, io.Discard); err == nil {
			t.Errorf("run %v: no error", args)
		}
	}
	var out bytes.Buffer
	if err := run([]string{"-n", "5", "-fixtures=false"}, &out, io.Discard); err != nil || bytes.Count(out.Bytes(), []byte("\n")) != 5 {
		t.Errorf("-n 5 to stdout: %v, %d lines", err, bytes.Count(out.Bytes(), []byte("\n")))
	}
}

// sampleEvents reads the committed sample; fixture reports which lines are
// verbatim fixture lines.
func sampleEvents(t *testing.T) (lines [][]byte, fixture []bool) {
	t.Helper()
	data, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	fx, err := fixtureLines()
	if err != nil {
		t.Fatal(err)
	}
	isFx := map[string]bool{}
	for _, l := range fx {
		isFx[string(l)] = true
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := bytes.Clone(sc.Bytes())
		lines = append(lines, l)
		fixture = append(fixture, isFx[string(l)])
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines, fixture
}

type event struct {
	Kind       string `json:"kind"`
	APIVersion string `json:"apiVersion"`
	Level      string `json:"level"`
	AuditID    string `json:"auditID"`
	Stage      string `json:"stage"`
	RequestURI string `json:"requestURI"`
	Verb       string `json:"verb"`
	User       struct {
		Username string              `json:"username"`
		Groups   []string            `json:"groups"`
		Extra    map[string][]string `json:"extra"`
	} `json:"user"`
	ObjectRef      *ObjectRef          `json:"objectRef"`
	ResponseStatus *struct{ Code int } `json:"responseStatus"`
	RequestObject  json.RawMessage     `json:"requestObject"`
	ResponseObject json.RawMessage     `json:"responseObject"`
	Received       string              `json:"requestReceivedTimestamp"`
	StageTS        string              `json:"stageTimestamp"`
	Timestamp      string              `json:"timestamp"`
	Annotations    map[string]string   `json:"annotations"`
	UserAgent      string              `json:"userAgent"`
	SourceIPs      []string            `json:"sourceIPs"`
}

func TestSampleShape(t *testing.T) {
	lines, fixture := sampleEvents(t)
	if n := len(lines); n < 3000 || n > 5000 {
		t.Errorf("%d events, want 3000-5000", n)
	}
	if st, _ := os.Stat(samplePath); st.Size() > 10<<20 {
		t.Errorf("sample is %d bytes, want < 10 MiB", st.Size())
	}
	// Every fixture line is present exactly once.
	fx, _ := fixtureLines()
	if len(fx) != 51+37 {
		t.Errorf("%d embedded fixture events, want 88 (51 Falco, 37 audit2rbac)", len(fx))
	}
	count := map[string]int{}
	for i, l := range lines {
		if fixture[i] {
			count[string(l)]++
		}
	}
	for _, l := range fx {
		if count[string(l)] != 1 {
			t.Errorf("fixture line present %d times: %.80s", count[string(l)], l)
		}
	}
	for i, l := range lines {
		if !utf8.Valid(l) {
			t.Fatalf("line %d: invalid UTF-8", i+1)
		}
		var e event
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if e.Kind != "Event" {
			t.Fatalf("line %d: kind %q", i+1, e.Kind)
		}
		if e.AuditID == "" || e.Verb == "" || e.RequestURI == "" || e.Stage == "" || e.Level == "" || e.User.Username == "" {
			t.Fatalf("line %d: missing a required field", i+1)
		}
	}
}

// TestGeneratedEventsConsistent checks what the generator claims about its
// events: levels and stages follow recorded-policy.yaml (checked with the
// upstream evaluator), bodies follow levels, timestamps are ordered.
func TestGeneratedEventsConsistent(t *testing.T) {
	ev := loadPolicy(t)
	lines, fixture := sampleEvents(t)
	uris := map[string]string{}
	for i, l := range lines {
		if fixture[i] {
			continue
		}
		var e event
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		attrs := authorizer.AttributesRecord{
			User: &user.DefaultInfo{Name: e.User.Username, Groups: e.User.Groups},
			Verb: e.Verb,
			Path: strings.SplitN(e.RequestURI, "?", 2)[0],
		}
		if r := e.ObjectRef; r != nil {
			attrs.ResourceRequest = true
			attrs.APIGroup, attrs.Resource, attrs.Subresource = r.APIGroup, r.Resource, r.Subresource
			attrs.Namespace, attrs.Name = r.Namespace, r.Name
		}
		dec := ev.EvaluatePolicyRule(attrs)
		if string(dec.Level) != e.Level {
			t.Errorf("line %d: level %s, policy says %s (%s %s by %s)", i+1, e.Level, dec.Level, e.Verb, e.RequestURI, e.User.Username)
		}
		for _, s := range dec.OmitStages {
			if string(s) == e.Stage {
				t.Errorf("line %d: stage %s is omitted by the policy", i+1, e.Stage)
			}
		}
		switch e.Level {
		case levelMetadata:
			if e.RequestObject != nil || e.ResponseObject != nil {
				t.Errorf("line %d: Metadata event with a body", i+1)
			}
		case levelRequest:
			if e.ResponseObject != nil {
				t.Errorf("line %d: Request event with a responseObject", i+1)
			}
		}
		if e.Stage == stageReceived && (e.ResponseStatus != nil || e.RequestObject != nil || e.Annotations != nil) {
			t.Errorf("line %d: RequestReceived event carries response data or annotations", i+1)
		}
		if e.Stage != stageReceived && (e.ResponseStatus == nil || e.Annotations["authorization.k8s.io/decision"] == "") {
			t.Errorf("line %d: %s event without responseStatus or decision", i+1, e.Stage)
		}
		if e.ResponseStatus != nil && e.ResponseStatus.Code == 403 && e.Annotations["authorization.k8s.io/decision"] != "forbid" {
			t.Errorf("line %d: 403 not marked forbid", i+1)
		}
		r0, err0 := time.Parse(time.RFC3339Nano, e.Received)
		s0, err1 := time.Parse(time.RFC3339Nano, e.StageTS)
		if err0 != nil || err1 != nil || s0.Before(r0) {
			t.Errorf("line %d: bad timestamps %q %q", i+1, e.Received, e.StageTS)
		}
		if u, ok := uris[e.AuditID]; ok && u != e.RequestURI {
			t.Errorf("line %d: auditID %s reused for another request", i+1, e.AuditID)
		}
		uris[e.AuditID] = e.RequestURI
	}
}

func loadPolicy(t *testing.T) auditapi.PolicyRuleEvaluator {
	t.Helper()
	raw, err := os.ReadFile(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	p := &audit.Policy{}
	dec := serializer.NewCodecFactory(auditapi.Scheme, serializer.EnableStrict).UniversalDecoder()
	if _, _, err := dec.Decode(raw, nil, p); err != nil {
		t.Fatalf("recorded-policy.yaml: %v", err)
	}
	if errs := validation.ValidatePolicy(p); len(errs) > 0 {
		t.Fatalf("recorded-policy.yaml: %v", errs.ToAggregate())
	}
	return policy.NewPolicyRuleEvaluator(p)
}

// TestSampleCoverage pins the mix the README promises, so a change to the
// generator cannot silently drop a kind of event.
func TestSampleCoverage(t *testing.T) {
	lines, fixture := sampleEvents(t)
	var gen [][]byte
	for i, l := range lines {
		if !fixture[i] {
			gen = append(gen, l)
		}
	}
	want := map[string]int{
		`"stage":"RequestReceived"`:                              50,
		`"stage":"ResponseStarted"`:                              100,
		`"stage":"Panic"`:                                        1,
		`"level":"Metadata"`:                                     200,
		`"level":"Request"`:                                      500,
		`"level":"RequestResponse"`:                              500,
		`"username":"eks:`:                                       20,
		`"username":"system:node:ip-`:                            100,
		`"username":"system:node:fargate-ip-`:                    5,
		`"username":"system:node:cn-hangzhou.`:                   50,
		`"username":"27634412345678901"`:                         5,
		`"username":"kubernetes-admin"`:                          10,
		`"username":"system:anonymous"`:                          20,
		`"canonicalArn":["arn:aws:iam::`:                         100,
		`"username":"system:kube-proxy"`:                         5,
		`"username":"system:serviceaccount:kube-system:coredns"`: 20,
		`"subresource":"exec"`:                                   3,
		`"subresource":"attach"`:                                 1,
		`"subresource":"portforward"`:                            1,
		`"code":403`:                                             20,
		`"authorization.k8s.io/decision":"forbid"`:               20,
		`"resource":"leases"`:                                    500,
		`/configmaps/aws-auth`:                                   1,
		`"subresource":"token"`:                                  20,
		`"resource":"certificatesigningrequests"`:                1,
		`"resource":"clusterrolebindings"`:                       1,
		`"privileged":true`:                                      1,
		`"pod-security.kubernetes.io/audit-violations"`:          1,
		`"kind":"Table"`:                                         5,
		`"kind":"PodList"`:                                       1,
		`"kind":"Secret"`:                                        1,
		`"managedFields":[`:                                      500,
		`"kind":"Lease"`:                                         500,
		`"$setElementOrder/conditions"`:                          20,
		`"userAgent":"Mozilla/5.0`:                               5,
		`"userAgent":"Go-http-client/1.1"`:                       3,
		`"userAgent":"kubectl/v1.`:                               50,
		`"userAgent":"kubelet/v1.`:                               200,
		`kube-controller-manager/v1.`:                            100,
		`"apiVersion":"audit.k8s.io/v1beta1"`:                    1,
		`RBAC: allowed by ClusterRoleBinding`:                    500,
	}
	for s, min := range want {
		n := 0
		for _, l := range gen {
			if bytes.Contains(l, []byte(s)) {
				n++
			}
		}
		if n < min {
			t.Errorf("%d generated events contain %s, want >= %d", n, s, min)
		}
	}
	legacyNoVersion := 0
	for _, l := range gen {
		if !bytes.Contains(l, []byte(`"apiVersion":"audit.k8s.io/`)) && bytes.Contains(l, []byte(`"timestamp":`)) {
			legacyNoVersion++
		}
	}
	if legacyNoVersion == 0 {
		t.Error("no generated event without apiVersion")
	}
	// Machine traffic dominates, as in real clusters.
	system := 0
	for _, l := range gen {
		var e event
		_ = json.Unmarshal(l, &e)
		u := e.User.Username
		if strings.HasPrefix(u, "system:") || strings.HasPrefix(u, "eks:") {
			system++
		}
	}
	if frac := float64(system) / float64(len(gen)); frac < 0.75 {
		t.Errorf("system identities send %.0f%% of requests, want >= 75%%", frac*100)
	}
}

func TestEventList(t *testing.T) {
	raw, err := os.ReadFile(eventListPath)
	if err != nil {
		t.Fatal(err)
	}
	var l struct {
		Kind       string            `json:"kind"`
		APIVersion string            `json:"apiVersion"`
		Items      []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(raw, &l); err != nil {
		t.Fatal(err)
	}
	if l.Kind != "EventList" || l.APIVersion != "audit.k8s.io/v1" || len(l.Items) != 50 {
		t.Fatalf("kind %q apiVersion %q with %d items", l.Kind, l.APIVersion, len(l.Items))
	}
	for i, it := range l.Items {
		var e event
		if err := json.Unmarshal(it, &e); err != nil || e.Kind != "Event" || e.APIVersion != "audit.k8s.io/v1" {
			t.Errorf("item %d: %v kind %q apiVersion %q", i, err, e.Kind, e.APIVersion)
		}
	}
}

// TestBadInput keeps bad-input.log what ../README.md says it is: line by
// line, which lines are good events and why the others are not.
func TestBadInput(t *testing.T) {
	raw, err := os.ReadFile(badInputPath)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSuffix(raw, []byte("\n")), []byte("\n"))
	want := []string{
		"good", "syntax", "good", "truncated", "kind-type", "good", "apiVersion",
		"utf8", "not-object", "good", "kind", "empty", "good", "syntax",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d", len(lines), len(want))
	}
	for i, l := range lines {
		if got := classify(l); got != want[i] {
			t.Errorf("line %d: %s, want %s", i+1, got, want[i])
		}
	}
}

func classify(l []byte) string {
	if len(bytes.TrimSpace(l)) == 0 {
		return "empty"
	}
	if !utf8.Valid(l) {
		return "utf8"
	}
	var v any
	if err := json.Unmarshal(l, &v); err != nil {
		var s *json.SyntaxError
		if ok := asSyntax(err, &s); ok && s.Offset >= int64(len(l)) {
			return "truncated"
		}
		return "syntax"
	}
	m, ok := v.(map[string]any)
	if !ok {
		return "not-object"
	}
	k, ok := m["kind"].(string)
	if !ok {
		return "kind-type"
	}
	if k != "Event" {
		return "kind"
	}
	if av, ok := m["apiVersion"]; ok && av != "audit.k8s.io/v1" && av != "audit.k8s.io/v1beta1" {
		return "apiVersion"
	}
	return "good"
}

func asSyntax(err error, target **json.SyntaxError) bool {
	s, ok := err.(*json.SyntaxError)
	if ok {
		*target = s
	}
	return ok
}

func BenchmarkGenerate(b *testing.B) {
	cfg := config{seed: 1, n: 1000, start: time.Date(2024, 5, 14, 9, 0, 0, 0, time.UTC), format: "lines"}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		out, err := generate(cfg)
		if err != nil {
			b.Fatal(err)
		}
		n = len(out)
	}
	b.SetBytes(int64(n))
}

// TestProjectDecoderOnBadInput runs bad-input.log through auditlane's own
// decoder: every line yields exactly one event or one error, with the cause
// the README documents.
func TestProjectDecoderOnBadInput(t *testing.T) {
	f, err := os.Open(badInputPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want := map[int][]error{
		1: nil, 3: nil, 6: nil, 10: nil, 13: nil,
		2:  {alaudit.ErrSyntax},
		4:  {alaudit.ErrSyntax},
		5:  {alaudit.ErrType},
		7:  {alaudit.ErrAPIVersion},
		8:  {alaudit.ErrUTF8},
		9:  {alaudit.ErrNotObject},
		11: {alaudit.ErrKind},
		14: {alaudit.ErrSyntax, alaudit.ErrNotObject},
	}
	seen := map[int]int{}
	d := alaudit.NewDecoder(f)
	for {
		ev, err := d.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var line int
		if err != nil {
			var de *alaudit.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("non-DecodeError %v", err)
			}
			line = de.Line
			causes, ok := want[line]
			if !ok || causes == nil {
				t.Errorf("line %d: unexpected error %v", line, err)
			} else if !slices.ContainsFunc(causes, func(c error) bool { return errors.Is(err, c) }) {
				t.Errorf("line %d: %v, want one of %v", line, err, causes)
			}
		} else {
			line = ev.Line
			if causes, ok := want[line]; !ok || causes != nil {
				t.Errorf("line %d decoded, want an error", line)
			}
		}
		seen[line]++
	}
	for line := range want {
		if seen[line] != 1 {
			t.Errorf("line %d: %d outcomes, want 1", line, seen[line])
		}
	}
}

// TestProjectEngineOnSample decodes every sample line with common/audit and
// checks that common/policy, loading recorded-policy.yaml, gives every
// generated event the level it carries.
func TestProjectEngineOnSample(t *testing.T) {
	pol, err := alpolicy.Load(policyPath)
	if err != nil {
		t.Fatal(err)
	}
	lines, fixture := sampleEvents(t)
	var ev alaudit.Event
	for i, l := range lines {
		if err := alaudit.Parse(l, &ev); err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if fixture[i] {
			continue
		}
		d := pol.Decide(&ev)
		if d.Level.String() != ev.Level {
			t.Errorf("line %d: level %s, common/policy says %s", i+1, ev.Level, d.Level)
		}
		if st, _ := alpolicy.ParseStage(ev.Stage); d.OmitStages&st != 0 {
			t.Errorf("line %d: stage %s omitted by common/policy", i+1, ev.Stage)
		}
	}
}
