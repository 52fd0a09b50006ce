package enrich

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/auditlane/auditlane/common/config"
)

// Providers a cluster can run on. ProviderAuto (the empty string) means
// "detect from hints in the events".
const (
	ProviderAuto        = ""
	ProviderEKS         = "eks"
	ProviderACK         = "ack"
	ProviderGKE         = "gke"
	ProviderAKS         = "aks"
	ProviderSelfManaged = "self-managed"
)

// Config selects what the Enricher derives. Front ends map their own syntax
// onto it; the snake_case names in comments are the configuration keys used
// in error messages and in every front end.
type Config struct {
	// ClusterName (cluster_name) and ClusterID (cluster_id) are copied to
	// every event when set.
	ClusterName string `yaml:"cluster_name" json:"cluster_name" mapstructure:"cluster_name"`
	ClusterID   string `yaml:"cluster_id" json:"cluster_id" mapstructure:"cluster_id"`
	// Provider (provider) is one of eks, ack, gke, aks, self-managed, or ""
	// to detect it from hints (eks: users, aws-iam-authenticator uids, ...).
	Provider string `yaml:"provider" json:"provider" mapstructure:"provider"`
	// Identity (enrich_identity): user kind, effective user under
	// impersonation, service account and node names, cloud principal.
	Identity bool `yaml:"enrich_identity" json:"enrich_identity" mapstructure:"enrich_identity"`
	// Request (enrich_request): latency, response class, resource path,
	// read/write, parsed user agent.
	Request bool `yaml:"enrich_request" json:"enrich_request" mapstructure:"enrich_request"`
	// Authz (enrich_authz): authorization decision and reason, RBAC binding
	// and role.
	Authz bool `yaml:"enrich_authz" json:"enrich_authz" mapstructure:"enrich_authz"`
	// Network (enrich_network): class of each source IP.
	Network bool `yaml:"enrich_network" json:"enrich_network" mapstructure:"enrich_network"`
	// RiskTags (risk_tags): evaluate the rule table.
	RiskTags bool `yaml:"risk_tags" json:"risk_tags" mapstructure:"risk_tags"`
	// RiskRulesDisable (risk_rules_disable) names built-in rules to skip.
	RiskRulesDisable []string `yaml:"risk_rules_disable" json:"risk_rules_disable" mapstructure:"risk_rules_disable"`
	// RiskRules (risk_rules) adds simple field-match rules.
	RiskRules []RuleConfig `yaml:"risk_rules" json:"risk_rules" mapstructure:"risk_rules"`
	// Annotations (enrich_annotations): whether shaping should put the
	// derived values into the event as auditlane.io/* annotations. The
	// Enricher itself always fills Result; this flag is read by callers.
	Annotations bool `yaml:"enrich_annotations" json:"enrich_annotations" mapstructure:"enrich_annotations"`
}

// DefaultConfig returns a Config with every part enabled, provider
// auto-detection, and the annotations written into the event.
func DefaultConfig() Config {
	return Config{
		Identity:    true,
		Request:     true,
		Authz:       true,
		Network:     true,
		RiskTags:    true,
		Annotations: true,
	}
}

// RuleConfig is a user-defined risk rule: the event gets tag Name when every
// field in Match matches. Each Match entry maps a field (see MatchFields) to
// alternatives; a field matches when it matches any alternative that does not
// start with "!", and none of those that do. Alternatives are globs where "*"
// matches any run of characters (including "/" and ":"); "" matches an
// absent or empty field and "!" therefore requires one.
type RuleConfig struct {
	// Name (risk_rules[i].name): the tag, kebab-case.
	Name string `yaml:"name" json:"name" mapstructure:"name"`
	// Severity (risk_rules[i].severity): info, low, medium, high, critical.
	// Empty means medium.
	Severity string `yaml:"severity" json:"severity" mapstructure:"severity"`
	// Description (risk_rules[i].description) is free text.
	Description string `yaml:"description" json:"description" mapstructure:"description"`
	// Match (risk_rules[i].match) maps field names to alternatives.
	Match map[string][]string `yaml:"match" json:"match" mapstructure:"match"`
}

// MatchFields lists the field names a RuleConfig may match on.
var MatchFields = []string{
	"verb", "stage", "level", "requestURI",
	"user.username", "user.groups", "user.kind", // effective user
	"authenticatedUser.username", // the user who made the call, even when impersonating
	"objectRef.resource", "objectRef.subresource", "objectRef.namespace",
	"objectRef.name", "objectRef.apiGroup",
	"responseStatus.code", "userAgent", "sourceIPs", "sourceIP.class",
	"authorization.decision", "access",
}

var kebab = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Validate reports the first configuration error, naming the key.
func (c *Config) Validate() error {
	switch c.Provider {
	case ProviderAuto, ProviderEKS, ProviderACK, ProviderGKE, ProviderAKS, ProviderSelfManaged:
	default:
		return config.Errorf("provider", "unknown provider %q (want eks, ack, gke, aks, self-managed or empty for auto-detection)", c.Provider)
	}
	if strings.ContainsAny(c.ClusterName, "\x00\n\r") {
		return config.Errorf("cluster_name", "contains control characters")
	}
	if strings.ContainsAny(c.ClusterID, "\x00\n\r") {
		return config.Errorf("cluster_id", "contains control characters")
	}
	for i, name := range c.RiskRulesDisable {
		if ruleIndex(name) < 0 {
			return config.Errorf("risk_rules_disable", "item %d: unknown rule %q", i, name)
		}
	}
	seen := map[string]bool{}
	for i, rc := range c.RiskRules {
		key := fmt.Sprintf("risk_rules[%d]", i)
		if !kebab.MatchString(rc.Name) {
			return fmt.Errorf("%s.name: %q is not kebab-case", key, rc.Name)
		}
		if ruleIndex(rc.Name) >= 0 || seen[rc.Name] {
			return fmt.Errorf("%s.name: duplicate rule name %q", key, rc.Name)
		}
		seen[rc.Name] = true
		if rc.Severity != "" {
			if _, ok := ParseSeverity(rc.Severity); !ok {
				return fmt.Errorf("%s.severity: unknown severity %q (want info, low, medium, high or critical)", key, rc.Severity)
			}
		}
		if len(rc.Match) == 0 {
			return fmt.Errorf("%s.match: empty (a rule must match on at least one field)", key)
		}
		for f, alts := range rc.Match {
			if fieldIndex(f) < 0 {
				return fmt.Errorf("%s.match: unknown field %q (want one of %s)", key, f, strings.Join(MatchFields, ", "))
			}
			if len(alts) == 0 {
				return fmt.Errorf("%s.match.%s: no values", key, f)
			}
		}
	}
	return nil
}

func fieldIndex(f string) int {
	for i, n := range MatchFields {
		if n == f {
			return i
		}
	}
	return -1
}
