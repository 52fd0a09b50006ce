package lint

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/policy"
	"github.com/auditlane/auditlane/common/whatif"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const (
	examples = "../../../examples/policies"
	sample   = "../../../examples/data/sample-audit.log"
)

// lintFile lints a policy, with the sample's traffic when withLog is set.
func lintFile(t *testing.T, path string, withLog bool) []Finding {
	t.Helper()
	if !withLog {
		p, err := policy.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return Check(p).Findings()
	}
	set := pipeline.DefaultSettings()
	if err := set.Set("policy_file", path); err != nil {
		t.Fatal(err)
	}
	eng, err := whatif.New(whatif.Options{Settings: set})
	if err != nil {
		t.Fatal(err)
	}
	l := Check(eng.Policy())
	f, err := os.Open(sample)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := audit.NewDecoder(f)
	for {
		ev, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		o := eng.Add(ev)
		l.Observe(ev, &o)
	}
	return l.Findings()
}

// TestGolden pins the contract checks outside the project rely on: codes,
// severities, rule indexes, event counts, messages and the JSON shape, for
// the three example policies, a policy with one of each static finding, a
// clean one, and the example policies on the bundled sample. Run with
// -update after a deliberate change, and say so in the changelog.
func TestGolden(t *testing.T) {
	cases := []struct {
		name, policy string
		withLog      bool
	}{
		{"ack-default", filepath.Join(examples, "ack-default.yaml"), false},
		{"eks", filepath.Join(examples, "eks.yaml"), false},
		{"cost-saving", filepath.Join(examples, "cost-saving.yaml"), false},
		{"everything-wrong", "testdata/everything-wrong.yaml", false},
		{"clean", "testdata/clean.yaml", false},
		{"ack-default-sample", filepath.Join(examples, "ack-default.yaml"), true},
		{"eks-sample", filepath.Join(examples, "eks.yaml"), true},
		{"cost-saving-sample", filepath.Join(examples, "cost-saving.yaml"), true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fs := lintFile(t, c.policy, c.withLog)
			var got bytes.Buffer
			if err := WriteJSON(&got, fs); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", c.name+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), want) {
				t.Errorf("findings changed (run with -update if deliberate):\n got  %s\n want %s", got.Bytes(), want)
			}
			// The shape: exactly {"findings":[{code, severity, rule, message, events}]}.
			var doc map[string][]map[string]any
			if err := json.Unmarshal(got.Bytes(), &doc); err != nil || len(doc) != 1 || doc["findings"] == nil {
				t.Fatalf("not {\"findings\":[...]}: %s", got.Bytes())
			}
			for _, f := range doc["findings"] {
				if len(f) != 5 || f["code"] == nil || f["message"] == "" || f["rule"] == nil || f["events"] == nil ||
					!slices.Contains([]any{"high", "medium", "low"}, f["severity"]) {
					t.Errorf("finding %v", f)
				}
				if !slices.ContainsFunc(Codes, func(c [2]string) bool { return c[0] == f["code"] }) {
					t.Errorf("code %v is not in Codes", f["code"])
				}
			}
		})
	}
}

// Every static code fires on the policy built to trigger it, at the rule
// that causes it; the clean policy has no finding.
func TestEveryStaticCheck(t *testing.T) {
	fs := lintFile(t, "testdata/everything-wrong.yaml", false)
	want := map[string][]int{
		CodeStreamingNotLogged:     {0},
		CodeSecretBodies:           {1},
		CodeRBACWriteNotLogged:     {2},
		CodeShadowedRule:           {3},
		CodeImpersonationNotLogged: {4},
		CodeManagedFieldsKept:      {1, 5},
		CodeNoCatchAll:             {-1},
		CodeRequestReceivedKept:    {-1},
	}
	got := map[string][]int{}
	for _, f := range fs {
		got[f.Code] = append(got[f.Code], f.Rule)
	}
	for code, rules := range want {
		for _, r := range rules {
			if !slices.Contains(got[code], r) {
				t.Errorf("%s at rule %d missing; findings: %v", code, r, got)
			}
		}
	}
	if ExitCode(fs) != 1 {
		t.Errorf("exit code %d with high findings", ExitCode(fs))
	}
	if clean := lintFile(t, "testdata/clean.yaml", false); len(clean) != 0 || ExitCode(clean) != 0 {
		t.Errorf("clean policy: %v", clean)
	}
}

// With traffic, risk-tagged events the policy drops become findings that
// name the rule and count the events, and the counts agree with the
// what-if engine's.
func TestRiskTagsFromTraffic(t *testing.T) {
	pol := filepath.Join(examples, "cost-saving.yaml")
	fs := lintFile(t, pol, true)
	dropped := map[int]int64{}
	for _, f := range fs {
		if f.Code == CodeRiskTagDropped {
			dropped[f.Rule] += f.Events
			if !strings.Contains(f.Message, "tagged ") {
				t.Errorf("message %q", f.Message)
			}
		}
	}
	if len(dropped) == 0 {
		t.Fatal("no risk-tag-dropped finding on cost-saving with the sample (it drops anonymous /healthz probes)")
	}
	set := pipeline.DefaultSettings()
	set.Set("policy_file", pol)
	eng, _ := whatif.New(whatif.Options{Settings: set})
	f, _ := os.Open(sample)
	defer f.Close()
	d := audit.NewDecoder(f)
	want := map[int]int64{}
	for {
		ev, err := d.Next()
		if err != nil {
			break
		}
		o := eng.Add(ev)
		if o.Completion && o.Lost && o.Enrich != nil && len(o.Enrich.Tags) > 0 {
			want[o.Result.Decision.Rule] += int64(len(o.Enrich.Tags))
		}
	}
	if fmt.Sprint(dropped) != fmt.Sprint(want) {
		t.Errorf("risk-tag-dropped events by rule %v, engine says %v", dropped, want)
	}
}

func TestShadowed(t *testing.T) {
	for _, c := range []struct {
		rules string
		want  []int // shadowed rules
	}{
		{"- level: None\n- level: Metadata\n", []int{1}},
		{"- level: None\n  users: [a]\n- level: Metadata\n  users: [a]\n  verbs: [get]\n", []int{1}},
		{"- level: None\n  users: [a]\n- level: Metadata\n  users: [a, b]\n", nil},
		{"- level: None\n  verbs: [get]\n- level: Metadata\n  verbs: [get]\n  resources: [{group: \"\"}]\n", []int{1}},
		{"- level: None\n  resources: [{group: \"\", resources: [pods]}]\n- level: Metadata\n  resources: [{group: \"\", resources: [pods/log]}]\n", nil},
		{"- level: None\n  resources: [{group: \"\", resources: [\"pods/*\"]}]\n- level: Metadata\n  resources: [{group: \"\", resources: [pods/log]}]\n", []int{1}},
		{"- level: None\n  resources: [{group: \"\", resources: [\"*/status\"]}]\n- level: Metadata\n  resources: [{group: \"\", resources: [pods/status, nodes/status]}]\n", []int{1}},
		{"- level: None\n  resources: [{group: \"*\"}]\n- level: Metadata\n  namespaces: [kube-system]\n", []int{1}},
		{"- level: None\n  resources: [{group: \"*\"}]\n- level: Metadata\n", nil},
		{"- level: None\n  nonResourceURLs: [\"/healthz*\"]\n- level: Metadata\n  nonResourceURLs: [/healthz/etcd, /healthz]\n", []int{1}},
		{"- level: None\n  nonResourceURLs: [\"/healthz*\"]\n- level: Metadata\n  nonResourceURLs: [\"/health*\"]\n", nil},
		{"- level: None\n  userGroups: [g1]\n- level: None\n  userGroups: [g2]\n- level: Metadata\n  userGroups: [g1, g2]\n", []int{2}},
		{"- level: None\n  users: [a]\n  verbs: [get]\n- level: None\n  users: [a]\n  verbs: [list]\n- level: Metadata\n  users: [a]\n  verbs: [get, list]\n", []int{2}},
		{"- level: None\n  resources: [{group: \"\", resources: [secrets], resourceNames: [x]}]\n- level: Metadata\n  resources: [{group: \"\", resources: [secrets]}]\n", nil},
		{"- level: None\n  resources: [{group: \"\", resources: [secrets]}]\n- level: Metadata\n  resources: [{group: \"\", resources: [secrets], resourceNames: [x]}]\n", []int{1}},
	} {
		p, err := policy.Parse("t", []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n"+c.rules))
		if err != nil {
			t.Fatal(err)
		}
		v := vocabOf(p)
		var got []int
		for j := 1; j < p.Rules(); j++ {
			budget := shadowProbeBudget
			if _, ok := shadowedBy(p, j, &v, &budget); ok {
				got = append(got, j)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("rules:\n%s shadowed %v, want %v", c.rules, got, c.want)
		}
	}
}

// A rule reported shadowed never decides an event: random policies over a
// small vocabulary, random events over the same vocabulary and then some.
func TestShadowedNeverDecides(t *testing.T) {
	r := rand.New(rand.NewPCG(16, 1))
	pick := func(vs ...string) []string {
		var out []string
		for _, v := range vs {
			if r.IntN(3) == 0 {
				out = append(out, v)
			}
		}
		return out
	}
	users, groups, verbs := []string{"a", "b", "c"}, []string{"g1", "g2"}, []string{"get", "list", "create"}
	nss, res := []string{"", "ns1", "ns2"}, []string{"pods", "pods/log", "secrets", "*/status", "pods/*", "nodes"}
	apiGroups := []string{"", "apps"}
	urls := []string{"/healthz", "/healthz*", "/api*", "/metrics"}
	shadowedFound := 0
	for range 200 {
		var b strings.Builder
		b.WriteString("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n")
		n := 2 + r.IntN(5)
		for range n {
			b.WriteString("- level: Metadata\n")
			q := func(vs []string) string {
				s := make([]string, len(vs))
				for i, v := range vs {
					s[i] = fmt.Sprintf("%q", v)
				}
				return "[" + strings.Join(s, ",") + "]"
			}
			if u := pick(users...); len(u) > 0 {
				b.WriteString("  users: " + q(u) + "\n")
			}
			if g := pick(groups...); len(g) > 0 {
				b.WriteString("  userGroups: " + q(g) + "\n")
			}
			if v := pick(verbs...); len(v) > 0 {
				b.WriteString("  verbs: " + q(v) + "\n")
			}
			switch r.IntN(3) {
			case 0:
				if ns := pick(nss...); len(ns) > 0 {
					b.WriteString("  namespaces: " + q(ns) + "\n")
				}
				if rs := pick(res...); len(rs) > 0 {
					b.WriteString("  resources: [{group: " + fmt.Sprintf("%q", apiGroups[r.IntN(2)]) + ", resources: " + q(rs) + "}]\n")
				}
			case 1:
				if u := pick(urls...); len(u) > 0 {
					b.WriteString("  nonResourceURLs: " + q(u) + "\n")
				}
			}
		}
		p, err := policy.Parse("t", []byte(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		v := vocabOf(p)
		shadowed := map[int]bool{}
		for j := 1; j < p.Rules(); j++ {
			budget := shadowProbeBudget
			if _, ok := shadowedBy(p, j, &v, &budget); ok {
				shadowed[j] = true
				shadowedFound++
			}
		}
		allUsers, allGroups := append(users, "z"), append(groups, "gz")
		for range 1500 {
			var pr probe
			var gs []string
			for _, g := range allGroups {
				if r.IntN(3) == 0 {
					gs = append(gs, g)
				}
			}
			pr.set(allUsers[r.IntN(len(allUsers))], gs, append(verbs, "watch")[r.IntN(4)])
			if r.IntN(3) > 0 {
				rs := []string{"pods", "secrets", "nodes", "deployments", "x"}[r.IntN(5)]
				sub := []string{"", "", "log", "status", "y"}[r.IntN(5)]
				pr.resource(append(apiGroups, "zz")[r.IntN(3)], rs, sub, append(nss, "ns3")[r.IntN(4)], "")
			} else {
				pr.nonResource([]string{"/healthz", "/healthz/etcd", "/api", "/apis/x", "/metrics", "/other"}[r.IntN(6)])
			}
			if d := p.Decide(&pr.ev); d.Rule > 0 && shadowed[d.Rule] {
				t.Fatalf("rule %d reported shadowed but decides %s\n%s", d.Rule, pr.describe(), b.String())
			}
		}
	}
	if shadowedFound == 0 {
		t.Error("no shadowed rule in 200 random policies: the test tests nothing")
	}
}

func TestOutputs(t *testing.T) {
	fs := []Finding{{Code: CodeNoCatchAll, Severity: Medium, Rule: -1, Message: "m"}, {Code: CodeManagedFieldsKept, Severity: Low, Rule: 2, Message: "n", Events: 3}}
	var b bytes.Buffer
	WriteJSON(&b, fs)
	if b.String() != `{"findings":[{"code":"no-catch-all","severity":"medium","rule":-1,"message":"m","events":0},{"code":"managed-fields-kept","severity":"low","rule":2,"message":"n","events":3}]}`+"\n" {
		t.Errorf("json %s", &b)
	}
	b.Reset()
	WriteJSON(&b, nil)
	if b.String() != "{\"findings\":[]}\n" {
		t.Errorf("empty json %s", &b)
	}
	if ExitCode(fs) != 0 || ExitCode(append(fs, Finding{Severity: High})) != 1 {
		t.Error("exit codes")
	}
	b.Reset()
	WriteTable(&b, fs)
	if !strings.Contains(b.String(), "SEVERITY") || !strings.Contains(b.String(), "managed-fields-kept") {
		t.Errorf("table %s", &b)
	}
}
