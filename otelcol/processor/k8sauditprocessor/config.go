package k8sauditprocessor

import (
	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
)

// Config is the k8saudit processor configuration.
type Config struct {
	// Pipeline holds the shared pipeline keys: policy_file, cluster_name,
	// cluster_id, provider, enrich*, risk_tags, layout, max_event_size,
	// redact_secrets, dead_letter_file and the rest of pipeline.Keys.
	Pipeline auditotel.PipelineConfig `mapstructure:"pipeline"`
}

// Validate checks the pipeline keys; errors name the key.
func (c *Config) Validate() error {
	return c.Pipeline.Validate()
}
