package policy

import (
	"io"
	"os"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
)

// Rule returns the rule as written; RuleMatches agrees with Decide: the
// rule Decide picks is the first whose RuleMatches holds.
func TestRuleSpecAndMatches(t *testing.T) {
	p, err := Load("../../examples/policies/cost-saving.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := p.Rule(3)
	if r.Level != LevelRequestResponse || len(r.Verbs) != 4 || len(r.Namespaces) != 1 || r.Namespaces[0] != "kube-system" ||
		len(r.Resources) != 1 || r.Resources[0].Group != "" || r.Resources[0].ResourceNames[0] != "aws-auth" || r.Line == 0 {
		t.Errorf("rule 3: %+v", r)
	}
	r.Verbs[0] = "changed"
	if p.Rule(3).Verbs[0] == "changed" {
		t.Error("Rule shares its slices with the policy")
	}
	f, err := os.Open("../../examples/data/sample-audit.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d := audit.NewDecoder(f)
	n := 0
	for {
		ev, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		first := -1
		for i := 0; i < p.Rules(); i++ {
			if p.RuleMatches(i, ev) {
				first = i
				break
			}
		}
		if got := p.Decide(ev).Rule; got != first {
			t.Fatalf("event %s: Decide picks rule %d, RuleMatches first holds for %d", ev.AuditID, got, first)
		}
		n++
	}
	if n < 4000 {
		t.Fatalf("%d events", n)
	}
}
