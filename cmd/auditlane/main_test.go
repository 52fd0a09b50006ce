package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const testPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  users: ["system:kube-proxy"]
  verbs: ["watch"]
- level: Metadata
  resources:
  - group: ""
    resources: ["secrets"]
- level: Request
  verbs: ["get", "list", "watch"]
  omitStages: ["ResponseStarted"]
- level: RequestResponse
  resources:
  - group: ""
  omitManagedFields: true
`

const events = `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a1","stage":"ResponseComplete","verb":"watch","user":{"username":"system:kube-proxy"},"objectRef":{"resource":"endpoints","apiVersion":"v1"},"requestURI":"/api/v1/endpoints?watch=true"}
{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"a2","stage":"ResponseComplete","verb":"get","user":{"username":"alice"},"objectRef":{"resource":"secrets","namespace":"ns","name":"s","apiVersion":"v1"},"requestURI":"/api/v1/namespaces/ns/secrets/s","responseObject":{"kind":"Secret","data":{"k":"c2VjcmV0"}}}
{"kind":"Event","level":"RequestResponse","auditID":"a3","stage":"RequestReceived","verb":"create","user":{"username":"bob"},"objectRef":{"resource":"pods","namespace":"ns","apiVersion":"v1"},"requestURI":"/api/v1/namespaces/ns/pods"}
{"kind":"Event","level":"RequestResponse","auditID":"a4","stage":"ResponseComplete","verb":"create","user":{"username":"bob"},"objectRef":{"resource":"pods","namespace":"ns","apiVersion":"v1"},"requestURI":"/api/v1/namespaces/ns/pods","requestObject":{"metadata":{"name":"p","managedFields":[{"manager":"kubectl"}]}}}
{"kind": 0}
{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"b1","stage":"ResponseStarted","verb":"watch","user":{"username":"carol"},"objectRef":{"resource":"deployments","apiGroup":"apps"},"requestURI":"/apis/apps/v1/deployments?watch=1"},{"auditID":"b2","stage":"ResponseComplete","verb":"get","user":{"username":"carol"},"requestURI":"/healthz"}]}
`

func writeFiles(t *testing.T) (policyPath, logPath string) {
	t.Helper()
	dir := t.TempDir()
	policyPath = filepath.Join(dir, "policy.yaml")
	logPath = filepath.Join(dir, "audit.log")
	if err := os.WriteFile(policyPath, []byte(testPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logPath, []byte(events), 0o644); err != nil {
		t.Fatal(err)
	}
	return
}

func TestEvalContract(t *testing.T) {
	policyPath, logPath := writeFiles(t)
	var stdout, stderr bytes.Buffer
	err := run([]string{"policy", "eval", "--policy", policyPath, logPath}, nil, &stdout, &stderr)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("exit %v, want status 1 for the undecodable line; stderr %s", err, &stderr)
	}
	// Decisions worked out by hand from the policy above.
	want := []string{
		`{"auditID":"a1","level":"None","omitStages":["RequestReceived"],"omitManagedFields":false,"dropped":true,"rule":0}`,
		`{"auditID":"a2","level":"Metadata","omitStages":["RequestReceived"],"omitManagedFields":false,"dropped":false,"rule":1}`,
		`{"auditID":"a3","level":"RequestResponse","omitStages":["RequestReceived"],"omitManagedFields":true,"dropped":true,"rule":3}`,
		`{"auditID":"a4","level":"RequestResponse","omitStages":["RequestReceived"],"omitManagedFields":true,"dropped":false,"rule":3}`,
		"ERROR line 5",
		`{"auditID":"b1","level":"Request","omitStages":["RequestReceived","ResponseStarted"],"omitManagedFields":false,"dropped":true,"rule":2}`,
		// A rule without resources or nonResourceURLs matches non-resource
		// requests too, as in the apiserver's checker.
		`{"auditID":"b2","level":"Request","omitStages":["RequestReceived","ResponseStarted"],"omitManagedFields":false,"dropped":false,"rule":2}`,
	}
	lines := strings.Split(strings.TrimSuffix(stdout.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), &stdout)
	}
	for i, l := range lines {
		if strings.HasPrefix(want[i], "ERROR") {
			var e struct {
				Error string `json:"error"`
				Line  int    `json:"line"`
			}
			if err := json.Unmarshal([]byte(l), &e); err != nil || e.Line != 5 || !strings.Contains(e.Error, "kind: wrong type") {
				t.Errorf("line %d: %s", i+1, l)
			}
			continue
		}
		if l != want[i] {
			t.Errorf("line %d:\n got  %s\n want %s", i+1, l, want[i])
		}
	}
}

func TestEvalErrors(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run([]string{"policy", "eval"}, strings.NewReader(""), &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "--policy") {
		t.Errorf("missing policy: %v", err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n"), 0o644)
	err := run([]string{"policy", "eval", "--policy", bad}, strings.NewReader(""), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "line 4") {
		t.Errorf("bad policy error should name the file and line: %v", err)
	}
	if err := run([]string{"frobnicate"}, nil, &stdout, &stderr); err == nil {
		t.Error("unknown command accepted")
	}
}

func TestProcess(t *testing.T) {
	policyPath, logPath := writeFiles(t)
	dir := t.TempDir()
	out, dead := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "dead.jsonl")
	var stdout, stderr bytes.Buffer
	err := run([]string{"process", logPath, "--policy", policyPath, "--out", out, "--dead-letter", dead}, nil, &stdout, &stderr)
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("exit %v, want 1 (one rejected input)", err)
	}
	if !strings.Contains(stderr.String(), "7 events in") || !strings.Contains(stderr.String(), "3 kept") ||
		!strings.Contains(stderr.String(), "3 dropped by policy") || !strings.Contains(stderr.String(), "1 rejected") {
		t.Errorf("summary: %s", &stderr)
	}
	data, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 3 {
		t.Fatalf("kept %d events:\n%s", len(lines), data)
	}
	var a2, a4, b2 map[string]any
	json.Unmarshal([]byte(lines[0]), &a2)
	json.Unmarshal([]byte(lines[1]), &a4)
	json.Unmarshal([]byte(lines[2]), &b2)
	if b2["auditID"] != "b2" || b2["level"] != "Request" {
		t.Errorf("EventList item without level should gain the decided level: %s", lines[2])
	}
	if a2["auditID"] != "a2" || a2["level"] != "Metadata" || a2["responseObject"] != nil {
		t.Errorf("secret read not lowered to Metadata: %s", lines[0])
	}
	if strings.Contains(lines[0], "c2VjcmV0") {
		t.Error("secret data leaked into the output")
	}
	wantReq := map[string]any{"metadata": map[string]any{"name": "p"}}
	if a4["auditID"] != "a4" || !reflect.DeepEqual(a4["requestObject"], wantReq) {
		t.Errorf("managed fields not cut: %s", lines[1])
	}
	dl, _ := os.ReadFile(dead)
	var letter map[string]any
	if err := json.Unmarshal(dl, &letter); err != nil {
		t.Fatalf("dead letter %q: %v", dl, err)
	}
	if letter["reason"] != "wrong_type" || letter["prefix"] != `{"kind": 0}` || letter["size"] != 11.0 || letter["line"] != 5.0 {
		t.Errorf("dead letter %v", letter)
	}
}

func TestPolicyTestReport(t *testing.T) {
	policyPath, logPath := writeFiles(t)
	var stdout, stderr bytes.Buffer
	if err := run([]string{"policy", "test", "--policy", policyPath, "--output", "json", logPath}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("%v: %s", err, &stderr)
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Total.Events != 6 || rep.Total.Kept != 3 || rep.Dropped != 3 || rep.Rejected != 1 {
		t.Errorf("totals %+v dropped %d rejected %d", rep.Total, rep.Dropped, rep.Rejected)
	}
	var matched, kept int64
	for _, r := range rep.ByRule {
		matched += r.Events
		kept += r.Kept
	}
	if matched != rep.Total.Events || kept != rep.Total.Kept {
		t.Errorf("per-rule rows add up to %d/%d, want %d/%d", matched, kept, rep.Total.Events, rep.Total.Kept)
	}
	if rep.BytesSaved != rep.Total.BytesIn-rep.Total.BytesOut || rep.BytesSaved <= 0 {
		t.Errorf("bytes saved %d", rep.BytesSaved)
	}
	if len(rep.TopUsers) == 0 || rep.TopUsers[0].Key != "bob" {
		t.Errorf("top users %+v", rep.TopUsers)
	}
	if rep.CostNote == "" {
		t.Error("events without timestamps should have no cost estimate")
	}
	stdout.Reset()
	if err := run([]string{"policy", "test", "--policy", policyPath, logPath}, nil, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"events in", "bytes saved", "TOP USER", "RULE", "monthly cost"} {
		if !strings.Contains(stdout.String(), s) {
			t.Errorf("table lacks %q", s)
		}
	}
}

func TestCostEstimate(t *testing.T) {
	dir := t.TempDir()
	policyPath := filepath.Join(dir, "p.yaml")
	os.WriteFile(policyPath, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"), 0o644)
	// Two 1000-byte-ish events one hour apart.
	pad := strings.Repeat("x", 900)
	ev := func(id, ts string) string {
		return `{"auditID":"` + id + `","stage":"ResponseComplete","level":"Metadata","stageTimestamp":"` + ts + `","userAgent":"` + pad + `"}`
	}
	log := ev("1", "2024-01-01T00:00:00Z") + "\n" + ev("2", "2024-01-01T01:00:00Z") + "\n"
	var stdout, stderr bytes.Buffer
	if err := run([]string{"policy", "test", "--policy", policyPath, "--output", "json", "--price-per-gb", "2"}, strings.NewReader(log), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var rep report
	json.Unmarshal(stdout.Bytes(), &rep)
	wantGB := 0.90 * float64(rep.Total.BytesIn) / (1 << 30) / 3600 * 30 * 24 * 3600
	near := func(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Abs(b) }
	if rep.SpanSeconds != 3600 || !near(rep.MonthlyGBBefore, wantGB) || !near(rep.MonthlyBefore, 2*wantGB) {
		t.Errorf("span %v, monthly %v GB $%v; want %v GB", rep.SpanSeconds, rep.MonthlyGBBefore, rep.MonthlyBefore, wantGB)
	}
}

func TestCostIgnoresStragglers(t *testing.T) {
	dir := t.TempDir()
	policyPath := filepath.Join(dir, "p.yaml")
	os.WriteFile(policyPath, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Metadata\n"), 0o644)
	var log strings.Builder
	// 200 events over 199 minutes, plus a few from years before.
	for i := 0; i < 5; i++ {
		log.WriteString(`{"auditID":"old","stage":"ResponseComplete","stageTimestamp":"2017-01-01T00:00:00Z"}` + "\n")
	}
	for i := 0; i < 200; i++ {
		ts := time.Date(2024, 1, 1, 0, i, 0, 0, time.UTC).Format(time.RFC3339)
		log.WriteString(`{"auditID":"e","stage":"ResponseComplete","stageTimestamp":"` + ts + `"}` + "\n")
	}
	var stdout, stderr bytes.Buffer
	if err := run([]string{"policy", "test", "--policy", policyPath, "--output", "json"}, strings.NewReader(log.String()), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	var rep report
	json.Unmarshal(stdout.Bytes(), &rep)
	if rep.First.Year() != 2024 || rep.SpanSeconds < 3*3600 || rep.SpanSeconds > 199*60 {
		t.Errorf("window %v to %v (%v s) should ignore the 2017 straggler", rep.First, rep.Last, rep.SpanSeconds)
	}
}
