package enrich

import (
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestConfigYAMLKeys checks the documented snake_case keys decode.
func TestConfigYAMLKeys(t *testing.T) {
	src := `
cluster_name: prod
cluster_id: c-1
provider: eks
enrich_identity: true
enrich_network: true
risk_tags: true
risk_rules_disable: [forbidden-human]
risk_rules:
  - name: probe-from-internet
    severity: high
    match:
      sourceIP.class: [public]
      user.kind: [anonymous, unauthenticated]
enrich_annotations: true
`
	var c Config
	if err := yaml.Unmarshal([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	if c.ClusterName != "prod" || c.ClusterID != "c-1" || c.Provider != "eks" || !c.Identity || c.Request || !c.Network ||
		!c.RiskTags || !c.Annotations || !slices.Equal(c.RiskRulesDisable, []string{"forbidden-human"}) ||
		len(c.RiskRules) != 1 || c.RiskRules[0].Severity != "high" || len(c.RiskRules[0].Match["user.kind"]) != 2 {
		t.Fatalf("%+v", c)
	}
	e := mustNew(t, c)
	var r Result
	e.Enrich(loadEvents(t, "seeds/eks-blog.jsonl")[2], &r) // anonymous probe, public IP
	if !slices.Equal(r.Tags, []string{"probe-from-internet"}) || r.Severity != SeverityHigh {
		t.Errorf("tags %v %v", r.Tags, r.Severity)
	}
}
