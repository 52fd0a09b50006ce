package k8sauditcloudwatchexporter

import (
	"fmt"
	"os"

	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/auditlane/auditlane/common/config"
	"github.com/auditlane/auditlane/common/sink/cloudwatch"
	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
)

// Config is the k8saudit_cloudwatch exporter configuration:
// exporterhelper's timeout, sending_queue and retry_on_failure, and the
// destination keys of cloudwatch.Schema — the same keys, values and
// defaults as the Fluent Bit plugin's (log_group_name, log_stream_name,
// auto_create_group, retry_max_elapsed, ...). An unknown key fails
// validation, naming the key and the closest known one. Credentials come
// from the AWS default chain (IRSA, EKS Pod Identity, instance profile),
// optionally with role_arn; never from configuration.
type Config struct {
	exporterhelper.TimeoutConfig `mapstructure:",squash"`
	// QueueSettings is exporterhelper's sending_queue; set storage to a
	// file_storage extension for a persistent queue.
	QueueSettings configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	// BackOffConfig is exporterhelper's retry_on_failure.
	BackOffConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`
	// Destination holds the cloudwatch.Schema keys as written.
	Destination map[string]any `mapstructure:",remain"`
}

// sinkConfig returns the sink configuration: the schema's defaults, then
// the keys set; hostname is a template variable as in the Fluent Bit
// plugin.
func (c *Config) sinkConfig() (cloudwatch.Config, error) {
	sc := cloudwatch.DefaultConfig()
	if err := auditotel.ApplySection(cloudwatch.Schema.For(config.Collector), &sc, c.Destination); err != nil {
		return sc, err
	}
	if sc.LogGroupName == "" {
		return sc, config.Errorf("log_group_name", "must be set")
	}
	vars := map[string]string{}
	if host, err := os.Hostname(); err == nil {
		vars["hostname"] = host
	}
	for k, v := range sc.Vars {
		vars[k] = v
	}
	sc.Vars = vars
	if err := sc.Validate(); err != nil {
		return sc, err
	}
	return sc, nil
}

// Validate checks the configuration; errors name the key.
func (c *Config) Validate() error {
	if _, err := c.sinkConfig(); err != nil {
		return fmt.Errorf("k8saudit_cloudwatch: %w", err)
	}
	return nil
}
