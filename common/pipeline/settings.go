package pipeline

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/enrich"
	"github.com/auditlane/auditlane/common/policy"
	"github.com/auditlane/auditlane/common/shape"
)

// Settings is the whole pipeline configuration as every front end sees it.
// The snake_case key of each field (see Keys) is the same in the Fluent Bit
// plugin, the collector components and errors.
type Settings struct {
	// PolicyFile (policy_file) is the audit Policy; "" keeps every event.
	PolicyFile string
	// MaxInputSize (max_input_size) bounds one decoded input value.
	MaxInputSize int
	// DeadLetterFile (dead_letter_file) keeps rejected inputs; "" counts
	// and logs them only.
	DeadLetterFile string
	// RiskRulesFile (risk_rules_file) is a YAML list of extra risk rules
	// (name, severity, description, match), appended to Enrich.RiskRules.
	RiskRulesFile string
	Enrich        enrich.Config
	Shape         shape.Config
}

// DefaultSettings returns the defaults: no policy, every enrichment on,
// annotations in the event, compact JSON without a size limit.
func DefaultSettings() Settings {
	return Settings{MaxInputSize: audit.DefaultMaxSize, Enrich: enrich.DefaultConfig(), Shape: shape.Config{Layout: shape.LayoutJSON}}
}

// setters maps each key to its parser.
var setters = map[string]func(s *Settings, v string) error{
	"policy_file":         func(s *Settings, v string) error { s.PolicyFile = v; return nil },
	"dead_letter_file":    func(s *Settings, v string) error { s.DeadLetterFile = v; return nil },
	"risk_rules_file":     func(s *Settings, v string) error { s.RiskRulesFile = v; return nil },
	"max_input_size":      func(s *Settings, v string) (err error) { s.MaxInputSize, err = ParseSize(v); return },
	"cluster_name":        func(s *Settings, v string) error { s.Enrich.ClusterName = v; return nil },
	"cluster_id":          func(s *Settings, v string) error { s.Enrich.ClusterID = v; return nil },
	"provider":            func(s *Settings, v string) error { s.Enrich.Provider = v; return nil },
	"enrich_identity":     func(s *Settings, v string) (err error) { s.Enrich.Identity, err = ParseBool(v); return },
	"enrich_request":      func(s *Settings, v string) (err error) { s.Enrich.Request, err = ParseBool(v); return },
	"enrich_authz":        func(s *Settings, v string) (err error) { s.Enrich.Authz, err = ParseBool(v); return },
	"enrich_network":      func(s *Settings, v string) (err error) { s.Enrich.Network, err = ParseBool(v); return },
	"risk_tags":           func(s *Settings, v string) (err error) { s.Enrich.RiskTags, err = ParseBool(v); return },
	"enrich_annotations":  func(s *Settings, v string) (err error) { s.Enrich.Annotations, err = ParseBool(v); return },
	"risk_rules_disable":  func(s *Settings, v string) error { s.Enrich.RiskRulesDisable = ParseList(v); return nil },
	"max_event_size":      func(s *Settings, v string) (err error) { s.Shape.MaxEventSize, err = ParseSize(v); return },
	"redact_secrets":      func(s *Settings, v string) (err error) { s.Shape.RedactSecrets, err = ParseBool(v); return },
	"redact_query_tokens": func(s *Settings, v string) (err error) { s.Shape.RedactQueryTokens, err = ParseBool(v); return },
	"layout":              func(s *Settings, v string) error { s.Shape.Layout = shape.Layout(strings.ToLower(v)); return nil },
	"enrich": func(s *Settings, v string) error {
		on, err := ParseBool(v)
		if err == nil {
			s.Enrich.Identity, s.Enrich.Request, s.Enrich.Authz, s.Enrich.Network, s.Enrich.RiskTags = on, on, on, on, on
		}
		return err
	},
}

// Keys returns the configuration keys Settings understands, sorted.
func Keys() []string {
	keys := make([]string, 0, len(setters))
	for k := range setters {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Known reports whether key is a pipeline key.
func Known(key string) bool {
	_, ok := setters[strings.ToLower(key)]
	return ok
}

// Set sets one key from its string form (Fluent Bit style: booleans
// on/off/true/false/yes/no, sizes with k/M/G suffixes, lists comma
// separated). The error names the key.
func (s *Settings) Set(key, value string) error {
	set, ok := setters[strings.ToLower(key)]
	if !ok {
		return fmt.Errorf("unknown key %q", key)
	}
	if err := set(s, strings.TrimSpace(value)); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}

// Validate checks every section; errors name the key.
func (s *Settings) Validate() error {
	if s.MaxInputSize < 0 {
		return fmt.Errorf("max_input_size: must not be negative")
	}
	if err := s.Enrich.Validate(); err != nil {
		return err
	}
	return s.Shape.Validate()
}

// Build loads the policy and risk rules and returns the pipeline. When a
// dead-letter file is configured, it is opened and returned too; the
// caller closes it.
func (s Settings) Build() (*Pipeline, *DeadLetter, error) {
	if err := s.Validate(); err != nil {
		return nil, nil, err
	}
	var cfg Config
	var err error
	if s.PolicyFile != "" {
		if cfg.Policy, err = policy.Load(s.PolicyFile); err != nil {
			return nil, nil, fmt.Errorf("policy_file: %w", err)
		}
	}
	if s.RiskRulesFile != "" {
		data, err := os.ReadFile(s.RiskRulesFile)
		if err != nil {
			return nil, nil, fmt.Errorf("risk_rules_file: %w", err)
		}
		var rules []enrich.RuleConfig
		if err := yaml.Unmarshal(data, &rules); err != nil {
			return nil, nil, fmt.Errorf("risk_rules_file %s: %w", s.RiskRulesFile, err)
		}
		s.Enrich.RiskRules = append(s.Enrich.RiskRules, rules...)
	}
	e := s.Enrich
	if e.Identity || e.Request || e.Authz || e.Network || e.RiskTags || e.ClusterName != "" || e.ClusterID != "" || e.Provider != "" {
		if cfg.Enricher, err = enrich.New(e); err != nil {
			return nil, nil, err
		}
	}
	if cfg.Shaper, err = shape.New(s.Shape); err != nil {
		return nil, nil, err
	}
	var dead *DeadLetter
	if s.DeadLetterFile != "" {
		if dead, err = OpenDeadLetter(s.DeadLetterFile); err != nil {
			return nil, nil, fmt.Errorf("dead_letter_file: %w", err)
		}
	}
	return New(cfg), dead, nil
}

// ParseBool parses Fluent Bit style booleans.
func ParseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "on", "true", "yes", "1":
		return true, nil
	case "off", "false", "no", "0":
		return false, nil
	}
	return false, fmt.Errorf("%q is not a boolean (on/off, true/false, yes/no)", v)
}

// ParseSize parses a byte size: a number with an optional k, M or G
// suffix (powers of 1024; "KB", "MiB" and the like are accepted too).
func ParseSize(v string) (int, error) {
	s := strings.TrimSpace(v)
	mult := 1
	low := strings.ToLower(s)
	for _, suf := range []struct {
		s string
		m int
	}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}} {
		if strings.HasSuffix(low, suf.s) {
			s, mult = strings.TrimSpace(s[:len(s)-len(suf.s)]), suf.m
			break
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a size (for example 262144, 256k, 1M)", v)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("%q is too large", v)
	}
	return n * mult, nil
}

// ParseList splits a comma or space separated list, dropping empties.
func ParseList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}
