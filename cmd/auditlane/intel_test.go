package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/policy"
	"github.com/auditlane/auditlane/common/provider/providertest"
	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
)

func exitCode(err error) int {
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.code
	}
	return 2 // what main does with any other error
}

type lintDoc struct {
	Findings []struct {
		Code     string `json:"code"`
		Severity string `json:"severity"`
		Rule     int    `json:"rule"`
		Message  string `json:"message"`
		Events   int64  `json:"events"`
	} `json:"findings"`
}

// The lint contract: JSON shape, exit 1 on a high finding, 0 otherwise, 2
// on bad input.
func TestLintContract(t *testing.T) {
	const clean = "../../common/policy/lint/testdata/clean.yaml"
	const wrong = "../../common/policy/lint/testdata/everything-wrong.yaml"
	cases := []struct {
		args []string
		code int
	}{
		{[]string{"--policy", clean}, 0},
		{[]string{"--policy", wrong}, 1},
		{[]string{"--policy", filepath.Join(policyDir, "cost-saving.yaml")}, 0},
		{[]string{"--policy", filepath.Join(policyDir, "cost-saving.yaml"), samplePath}, 1}, // drops anonymous-allowed probes
		{[]string{"--policy", filepath.Join(policyDir, "ack-default.yaml")}, 1},             // TokenRequests at RequestResponse
		{[]string{"--policy", "/nonexistent.yaml"}, 2},
		{[]string{"--policy", clean, "/nonexistent.log"}, 2},
		{[]string{"--policy", clean, "--output", "xml"}, 2},
		{[]string{}, 2},
	}
	for _, c := range cases {
		var stdout, stderr bytes.Buffer
		err := run(append([]string{"policy", "lint", "--output", "json"}, c.args...), nil, &stdout, &stderr)
		if got := exitCode(err); got != c.code {
			t.Errorf("%v: exit %d (%v), want %d", c.args, got, err, c.code)
			continue
		}
		if c.code == 2 {
			continue
		}
		var doc lintDoc
		if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
			t.Errorf("%v: %v: %s", c.args, err, &stdout)
		}
		high := false
		for _, f := range doc.Findings {
			high = high || f.Severity == "high"
		}
		if high != (c.code == 1) {
			t.Errorf("%v: exit %d with findings %+v", c.args, c.code, doc.Findings)
		}
	}
	// The table is the default.
	var stdout, stderr bytes.Buffer
	run([]string{"policy", "lint", "--policy", wrong}, nil, &stdout, &stderr)
	if !strings.Contains(stdout.String(), "SEVERITY") || !strings.Contains(stdout.String(), "shadowed-rule") {
		t.Errorf("table:\n%s", &stdout)
	}
}

// suggest writes nothing, prints the smallest budget and exits 2 when the
// budget cannot be met; otherwise it writes a policy that policy test
// prices within the budget and lint finds nothing high in.
func TestSuggestCLI(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run([]string{"policy", "suggest", "--budget-gb-month", "0.2", samplePath}, nil, &stdout, &stderr)
	if exitCode(err) != 2 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "the smallest budget that works is") {
		t.Fatalf("infeasible: exit %v, stdout %d bytes, stderr %s", err, stdout.Len(), &stderr)
	}
	for _, args := range [][]string{
		{"--budget-gb-month", "2"},
		{"--budget-usd-month", "2", "--price-per-gb", "0.25"}, // 8 GB
		{"--budget-usd-month", "1.5", "--price-model", "cloudwatch-ia"},
	} {
		stdout.Reset()
		stderr.Reset()
		if err := run(append(append([]string{"policy", "suggest"}, args...), samplePath), nil, &stdout, &stderr); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, &stderr)
		}
		if _, err := policy.Parse("suggested", stdout.Bytes()); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		path := filepath.Join(t.TempDir(), "suggested.yaml")
		os.WriteFile(path, stdout.Bytes(), 0o644)
		rep := policyTestJSON(t, "--policy", path, samplePath)
		budget := map[string]float64{"--budget-gb-month": 2, "--budget-usd-month": 8}[args[0]]
		if args[len(args)-1] == "cloudwatch-ia" {
			budget = 6
		}
		if rep.MonthlyGBAfter > budget || rep.SecurityLost != 0 {
			t.Errorf("%v: policy test says %.3f GB/month, %d security-relevant events lost", args, rep.MonthlyGBAfter, rep.SecurityLost)
		}
		var lo, le bytes.Buffer
		if err := run([]string{"policy", "lint", "--policy", path, samplePath}, nil, &lo, &le); exitCode(err) != 0 {
			t.Errorf("%v: lint of the suggestion exits %d:\n%s", args, exitCode(err), &lo)
		}
	}
	for _, bad := range [][]string{{}, {"--budget-gb-month", "1", "--budget-usd-month", "1"}, {"--budget-gb-month", "-1"}, {"--budget-gb-month", "1", "--set", "nope=1"}, {"--budget-gb-month", "1", "--set", "policy_file=x.yaml"}} {
		if err := run(append(append([]string{"policy", "suggest"}, bad...), samplePath), nil, &stdout, &stderr); exitCode(err) != 2 {
			t.Errorf("%v: exit %d", bad, exitCode(err))
		}
	}
}

// policy test --html writes the page with the lint findings and, when a
// budget is given, the suggested policy (or why there is none).
func TestPolicyTestHTML(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		budget string
		want   []string
	}{
		{"3", []string{`data-chart="timeline"`, "Lint findings", "risk-tag-dropped", "Suggested policy", "apiVersion: audit.k8s.io/v1"}},
		{"0.1", []string{"Suggested policy", "the smallest budget that works is"}},
	} {
		page := filepath.Join(dir, "report-"+c.budget+".html")
		var stdout, stderr bytes.Buffer
		err := run([]string{"policy", "test", "--policy", filepath.Join(policyDir, "cost-saving.yaml"), "--html", page, "--budget-gb-month", c.budget, samplePath}, nil, &stdout, &stderr)
		if err != nil {
			t.Fatalf("%v\n%s", err, &stderr)
		}
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range c.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("budget %s: page lacks %q", c.budget, w)
			}
		}
		if !strings.Contains(stdout.String(), "bytes saved") {
			t.Errorf("the table still goes to stdout: %s", &stdout)
		}
	}
}

// The four parts work on a log pulled with `auditlane pull`: the bundled
// sample served by the CloudWatch Logs test server as an EKS cluster's
// audit stream, pulled, then priced, linted, suggested and reported; the
// what-if of the pulled log equals that of the sample it came from.
func TestIntelligenceOnPulledLog(t *testing.T) {
	srv, err := cwtest.New(cwtest.Options{Region: "eu-west-1", Credentials: map[string]cwtest.Credential{"AKIDPULL": {SecretAccessKey: "pull-secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDPULL")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "pull-secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	data, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	// CloudWatch's own timestamps: spread over the last 70 minutes.
	start := time.Now().Add(-70 * time.Minute)
	for i, l := range lines {
		srv.AddEvents("/aws/eks/prod/cluster", "kube-apiserver-audit-1", cwtest.Event{Timestamp: start.Add(time.Duration(i) * time.Second).UnixMilli(), Message: l})
	}
	dir := t.TempDir()
	pulled := filepath.Join(dir, "eks.log")
	var stdout, stderr bytes.Buffer
	if err := run([]string{"pull", "--from", "cloudwatch", "--group", "/aws/eks/prod/cluster", "--region", "eu-west-1", "--endpoint", srv.URL,
		"--since", "2h", "--look-back", "0", "--out", pulled}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("pull: %v\n%s", err, &stderr)
	}
	pol := filepath.Join(policyDir, "cost-saving.yaml")
	fromPull, fromSample := policyTestJSON(t, "--policy", pol, pulled), policyTestJSON(t, "--policy", pol, samplePath)
	if fromPull.Total != fromSample.Total || fromPull.MonthlyGBAfter != fromSample.MonthlyGBAfter {
		t.Errorf("pulled log %+v, sample %+v", fromPull.Total, fromSample.Total)
	}
	stdout.Reset()
	if err := run([]string{"policy", "lint", "--policy", pol, "--output", "json", pulled}, nil, &stdout, &stderr); exitCode(err) != 1 ||
		!strings.Contains(stdout.String(), `"risk-tag-dropped"`) {
		t.Errorf("lint on the pulled log: exit %d\n%s", exitCode(err), &stdout)
	}
	stdout.Reset()
	if err := run([]string{"policy", "suggest", "--budget-gb-month", "2", pulled}, nil, &stdout, &stderr); err != nil || !strings.Contains(stdout.String(), "kind: Policy") {
		t.Errorf("suggest on the pulled log: %v\n%s", err, &stderr)
	}
	page := filepath.Join(dir, "eks.html")
	if err := run([]string{"policy", "test", "--policy", pol, "--html", page, "--budget-gb-month", "2", pulled}, nil, &stdout, &stderr); err != nil {
		t.Fatalf("html: %v", err)
	}
	if b, _ := os.ReadFile(page); !bytes.Contains(b, []byte("Suggested policy")) {
		t.Error("page without the suggested policy")
	}
}

// Provider records that are not audit events are skipped by policy test
// as by process: counted as skipped, neither events nor rejected.
func TestPolicyTestSkipsNotAudit(t *testing.T) {
	samples, err := providertest.Samples()
	if err != nil {
		t.Fatal(err)
	}
	pol := filepath.Join(policyDir, "cost-saving.yaml")
	n := 0
	for _, s := range samples {
		if s.NotAudit == 0 {
			continue
		}
		n++
		in := filepath.Join(t.TempDir(), "in")
		os.WriteFile(in, append(s.Body, '\n'), 0o644)
		rep := policyTestJSON(t, "--policy", pol, in)
		if rep.Skipped != int64(s.NotAudit) || rep.Rejected != 0 || rep.Total.Events != int64(s.Events) {
			t.Errorf("%s: events %d skipped %d rejected %d, want %d events and %d skipped", s.Name, rep.Total.Events, rep.Skipped, rep.Rejected, s.Events, s.NotAudit)
		}
		var stdout, stderr bytes.Buffer
		if err := run([]string{"policy", "lint", "--policy", pol, in}, nil, &stdout, &stderr); strings.Contains(stderr.String(), "could not be decoded") {
			t.Errorf("%s: lint calls skipped records undecodable: %v %s", s.Name, err, &stderr)
		}
	}
	if n == 0 {
		t.Fatal("no provider sample with records that are not audit events")
	}
}
