package k8sauditslsexporter

import (
	"fmt"

	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/auditlane/auditlane/common/config"
	"github.com/auditlane/auditlane/common/sink/sls"
	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
)

// Config is the k8saudit_sls exporter configuration: exporterhelper's
// timeout, sending_queue and retry_on_failure, and the destination keys of
// sls.Schema — the same keys, values and defaults as the Fluent Bit
// plugin's (endpoint, project, logstore, retry_max_elapsed, ...). An
// unknown key fails validation, naming the key and the closest known one.
// Credentials never come from configuration: RRSA (role_arn, or the
// ALIBABA_CLOUD_ROLE_ARN / _OIDC_PROVIDER_ARN / _OIDC_TOKEN_FILE variables)
// or ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET (/ ALIBABA_CLOUD_SECURITY_TOKEN).
type Config struct {
	exporterhelper.TimeoutConfig `mapstructure:",squash"`
	// QueueSettings is exporterhelper's sending_queue; set storage to a
	// file_storage extension for a persistent queue.
	QueueSettings configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	// BackOffConfig is exporterhelper's retry_on_failure.
	BackOffConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`
	// Destination holds the sls.Schema keys as written.
	Destination map[string]any `mapstructure:",remain"`
}

// sinkConfig returns the sink configuration: the schema's defaults, then
// the keys set.
func (c *Config) sinkConfig() (sls.Config, error) {
	sc := sls.DefaultConfig()
	if err := auditotel.ApplySection(sls.Schema.For(config.Collector), &sc, c.Destination); err != nil {
		return sc, err
	}
	return sc, sc.Validate()
}

// Validate checks the configuration; errors name the key and never
// contain credentials.
func (c *Config) Validate() error {
	if _, err := c.sinkConfig(); err != nil {
		return fmt.Errorf("k8saudit_sls: %w", err)
	}
	return nil
}
