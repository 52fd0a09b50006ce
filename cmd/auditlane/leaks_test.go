package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlane/auditlane/internal/secretshapes"
)

// TestProcessSecretShapes runs every shape a Secret or a token takes
// through `auditlane process` — as JSON lines, as one EventList, and as
// undecodable input holding secrets — with redact_secrets on, a size limit
// and a dead letter: no marker in the output, the dead letter or stderr.
func TestProcessSecretShapes(t *testing.T) {
	shapes := secretshapes.Shapes(time.Now())
	var lines, items []string
	for _, s := range shapes {
		lines = append(lines, s.Event)
		items = append(items, s.Event)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "audit.log")
	body := strings.Join(lines, "\n") + "\n" +
		`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + strings.Join(items, ",") + "]}\n" +
		shapes[0].Event[:len(shapes[0].Event)/2] + "\n"
	if err := os.WriteFile(in, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, dead := filepath.Join(dir, "out.jsonl"), filepath.Join(dir, "dead.jsonl")
	var stdout, stderr bytes.Buffer
	_ = run([]string{"process", "--set", "redact_secrets=on", "--set", "max_event_size=1200", "--out", out, "--dead-letter", dead, in}, nil, &stdout, &stderr)
	o, _ := os.ReadFile(out)
	d, _ := os.ReadFile(dead)
	if n := bytes.Count(o, []byte("\n")); n < len(shapes) {
		t.Fatalf("%d events out for %d shapes twice:\n%s", n, len(shapes), &stderr)
	}
	if !bytes.Contains(d, []byte(`"reason":"invalid_json"`)) {
		t.Errorf("the truncated line is not dead-lettered:\n%s", d)
	}
	for where, b := range map[string][]byte{"output": o, "dead letter": d, "stderr": stderr.Bytes(), "stdout": stdout.Bytes()} {
		if i := bytes.Index(b, []byte(secretshapes.MarkerPrefix)); i >= 0 {
			t.Errorf("a marker reached the %s: …%s…", where, b[max(0, i-200):min(len(b), i+60)])
		}
	}
}

// TestEvalSkipsNotAudit: records of a provider's export that are not audit
// events (an AKS kube-apiserver line beside kube-audit ones) are skipped,
// not decision errors.
func TestEvalSkipsNotAudit(t *testing.T) {
	policyPath, _ := writeFiles(t)
	var stdout, stderr bytes.Buffer
	err := run([]string{"policy", "eval", "--policy", policyPath, "../../common/provider/testdata/aks/records-batch.json"}, nil, &stdout, &stderr)
	if err != nil {
		t.Fatalf("eval: %v\n%s", err, &stderr)
	}
	if n := bytes.Count(stdout.Bytes(), []byte("\n")); n != 2 || bytes.Contains(stdout.Bytes(), []byte(`"error"`)) {
		t.Fatalf("decisions:\n%s", &stdout)
	}
	if !strings.Contains(stderr.String(), "1 record(s) skipped") {
		t.Errorf("stderr: %s", &stderr)
	}
}
