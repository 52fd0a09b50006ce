package pipeline

import (
	"os"

	"go.yaml.in/yaml/v3"

	"github.com/auditlane/auditlane/common/config"
	"github.com/auditlane/auditlane/common/enrich"
	"github.com/auditlane/auditlane/common/policy"
	"github.com/auditlane/auditlane/common/shape"
)

// Settings is the whole pipeline configuration as every front end sees it.
// Its keys are declared once, in Schema: the Fluent Bit plugin's
// properties, the collector components' pipeline section and the command
// line's --set all go through it.
type Settings struct {
	// PolicyFile (policy_file) is the audit Policy; "" keeps every event.
	PolicyFile string
	// MaxInputSize (max_input_size) bounds one input record.
	MaxInputSize int
	// DeadLetterFile (dead_letter_file) keeps rejected inputs; "" counts
	// and logs them only.
	DeadLetterFile string
	// DeadLetter are the dead letter's options (dead_letter_raw,
	// dead_letter_max_size, dead_letter_max_files).
	DeadLetter DeadLetterOptions
	// RiskRulesFile (risk_rules_file) is a YAML list of extra risk rules
	// (name, severity, description, match), appended to Enrich.RiskRules.
	RiskRulesFile string
	Enrich        enrich.Config
	Shape         shape.Config
}

// Schema declares the pipeline keys.
var Schema = config.Section{Name: "pipeline", Keys: []config.Key{
	config.String("policy_file", "", config.All, "Kubernetes audit Policy file (audit.k8s.io/v1, v1beta1 or v1alpha1); empty: events keep their level",
		func(s *Settings, v string) { s.PolicyFile = v }),
	config.String("cluster_name", "", config.All, "Cluster name added to every event (auditlane.io/cluster-name)",
		func(s *Settings, v string) { s.Enrich.ClusterName = v }),
	config.String("cluster_id", "", config.All, "Cluster id added to every event (auditlane.io/cluster-id)",
		func(s *Settings, v string) { s.Enrich.ClusterID = v }),
	config.Enum("provider", "", []string{enrich.ProviderEKS, enrich.ProviderACK, enrich.ProviderGKE, enrich.ProviderAKS, enrich.ProviderSelfManaged}, config.All,
		"Cloud provider of the cluster; empty: detected from the events",
		func(s *Settings, v string) { s.Enrich.Provider = v }),
	{Name: "enrich", Type: config.TypeBool, Default: "on", FrontEnds: config.All,
		Doc: "Every derived field and risk tag on or off (sets enrich_identity, enrich_request, enrich_authz, enrich_network and risk_tags; a later one of those wins)"},
	config.Bool("enrich_identity", "on", config.All, "User kind and cloud principal (IAM role, RAM user, Google or Entra identity)",
		func(s *Settings, v bool) { s.Enrich.Identity = v }),
	config.Bool("enrich_request", "on", config.All, "Latency, response class, resource path, user agent",
		func(s *Settings, v bool) { s.Enrich.Request = v }),
	config.Bool("enrich_authz", "on", config.All, "Authorization decision and the RBAC binding that allowed it",
		func(s *Settings, v bool) { s.Enrich.Authz = v }),
	config.Bool("enrich_network", "on", config.All, "Source IP class",
		func(s *Settings, v bool) { s.Enrich.Network = v }),
	config.Bool("risk_tags", "on", config.All, "Risk tags from the built-in and configured risk rules",
		func(s *Settings, v bool) { s.Enrich.RiskTags = v }),
	config.Bool("enrich_annotations", "on", config.All, "Write derived fields into the event as auditlane.io/* annotations",
		func(s *Settings, v bool) { s.Enrich.Annotations = v }),
	config.ListOf("risk_rules_disable", "", config.All, "Built-in risk rules to skip, by name",
		func(s *Settings, v []string) { s.Enrich.RiskRulesDisable = v }),
	config.String("risk_rules_file", "", config.All, "YAML file of extra field-match risk rules",
		func(s *Settings, v string) { s.RiskRulesFile = v }),
	config.Size("max_event_size", "0", 0, config.All, "Shape events to at most this size: drop bodies as the apiserver's truncate backend does, then shorten strings; 0: no limit",
		func(s *Settings, v int) { s.Shape.MaxEventSize = v }),
	config.Bool("redact_secrets", "off", config.All, "Replace Secret data and stringData values (and kubectl's last-applied-configuration of Secrets) with REDACTED wherever a Secret appears, even where the policy keeps bodies",
		func(s *Settings, v bool) { s.Shape.RedactSecrets = v }),
	config.Bool("redact_tokens", "on", config.All, "Replace TokenRequest and TokenReview tokens with REDACTED, even where the policy keeps bodies",
		func(s *Settings, v bool) { s.Shape.RedactTokens = v }),
	config.Bool("redact_query_tokens", "on", config.All, "Replace the values of token-like query parameters in requestURI",
		func(s *Settings, v bool) { s.Shape.RedactQueryTokens = v }),
	config.Enum("layout", "json", []string{string(shape.LayoutJSON), string(shape.LayoutSLS), string(shape.LayoutAttributes)}, config.All,
		"Output layout: json (an audit.k8s.io Event), sls (ACK's key/value layout) or attributes (flat OpenTelemetry attributes); the Fluent Bit plugin's sls destination defaults to sls",
		func(s *Settings, v string) { s.Shape.Layout = shape.Layout(v) }),
	config.Size("max_input_size", "64M", 1<<30, config.All, "Reject larger input records (an EventList counts whole); where a list is read as a stream (auditlane process, collector webhook bodies) each of its events",
		func(s *Settings, v int) { s.MaxInputSize = v }),
	config.String("dead_letter_file", "", config.All, "Keep rejected inputs with their reasons, as JSON lines; never raw input unless dead_letter_raw",
		func(s *Settings, v string) { s.DeadLetterFile = v }),
	config.Bool("dead_letter_raw", "off", config.All, "Keep undecodable input verbatim in the dead letter (else its size, SHA-256 and a masked prefix)",
		func(s *Settings, v bool) { s.DeadLetter.Raw = v }),
	config.Size("dead_letter_max_size", "100M", 0, config.All, "Rotate the dead letter file at this size",
		func(s *Settings, v int) { s.DeadLetter.MaxSize = int64(v) }),
	config.Int("dead_letter_max_files", "5", "files", 1, 1000, config.All, "Rotated dead letter files to keep",
		func(s *Settings, v int) { s.DeadLetter.MaxFiles = v }),
}}

func init() {
	// "enrich" sets five keys at once; it is declared above for the
	// documentation and bound here, where the other keys can be named.
	k := Schema.Lookup("enrich")
	*k = config.Bool("enrich", k.Default, k.FrontEnds, k.Doc, func(s *Settings, on bool) {
		s.Enrich.Identity, s.Enrich.Request, s.Enrich.Authz, s.Enrich.Network, s.Enrich.RiskTags = on, on, on, on, on
	})
}

// DefaultSettings returns the settings with every key at its default.
func DefaultSettings() Settings {
	var s Settings
	s.Enrich = enrich.DefaultConfig()
	Schema.Defaults(&s)
	return s
}

// Keys returns the pipeline keys, sorted.
func Keys() []string { return config.SortedNames(Schema) }

// Known reports whether key is a pipeline key.
func Known(key string) bool { return Schema.Lookup(key) != nil }

// Set sets one key from its string form (Fluent Bit style: booleans
// on/off/true/false/yes/no, sizes with k/M/G suffixes, lists comma
// separated). The error names the key, and for an unknown key the closest
// known one.
func (s *Settings) Set(key, value string) error {
	return Schema.Set(s, key, config.StringValue(value))
}

// SetValue sets one key from a value read from YAML (a collector setting,
// a --config file).
func (s *Settings) SetValue(key string, v config.Value) error {
	return Schema.Set(s, key, v)
}

// Validate checks every section; errors name the key.
func (s *Settings) Validate() error {
	if s.MaxInputSize < 0 {
		return config.Errorf("max_input_size", "must not be negative")
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
			return nil, nil, config.Errorf("policy_file", "%w", err)
		}
	}
	if s.RiskRulesFile != "" {
		data, err := os.ReadFile(s.RiskRulesFile)
		if err != nil {
			return nil, nil, config.Errorf("risk_rules_file", "%w", err)
		}
		var rules []enrich.RuleConfig
		if err := yaml.Unmarshal(data, &rules); err != nil {
			return nil, nil, config.Errorf("risk_rules_file", "%s: %w", s.RiskRulesFile, err)
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
	cfg.MaxInputSize = s.MaxInputSize
	var dead *DeadLetter
	if s.DeadLetterFile != "" {
		if dead, err = OpenDeadLetterWith(s.DeadLetterFile, s.DeadLetter); err != nil {
			return nil, nil, config.Errorf("dead_letter_file", "%w", err)
		}
	}
	return New(cfg), dead, nil
}

// ParseBool parses Fluent Bit style booleans (see config.ParseBool).
func ParseBool(v string) (bool, error) { return config.ParseBool(v) }

// ParseSize parses a byte size (see config.ParseSize).
func ParseSize(v string) (int, error) { return config.ParseSize(v) }

// ParseList splits a comma or space separated list (see config.ParseList).
func ParseList(v string) []string { return config.ParseList(v) }
