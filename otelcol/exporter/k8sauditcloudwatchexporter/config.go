package k8sauditcloudwatchexporter

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/auditlane/auditlane/common/sink/cloudwatch"
)

// Config is the k8saudit_cloudwatch exporter configuration. The keys of
// the destination are those of the cloudwatch sink (and of the Fluent Bit
// plugin); sending_queue, retry_on_failure and timeout are exporterhelper's.
type Config struct {
	exporterhelper.TimeoutConfig `mapstructure:",squash"`
	// QueueSettings is exporterhelper's sending_queue; set storage to a
	// file_storage extension for a persistent queue.
	QueueSettings configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	// BackOffConfig is exporterhelper's retry_on_failure.
	BackOffConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`

	// Region is the AWS region; empty uses the default chain's.
	Region string `mapstructure:"region"`
	// Endpoint overrides the CloudWatch Logs endpoint.
	Endpoint string `mapstructure:"endpoint"`
	// LogGroupName and LogStreamName are name templates ({name}
	// placeholders from template_vars or record fields).
	LogGroupName  string `mapstructure:"log_group_name"`
	LogStreamName string `mapstructure:"log_stream_name"`
	// TemplateVars are static template values.
	TemplateVars map[string]string `mapstructure:"template_vars"`
	// AutoCreateGroup and AutoCreateStream create missing groups/streams.
	AutoCreateGroup  bool `mapstructure:"auto_create_group"`
	AutoCreateStream bool `mapstructure:"auto_create_stream"`
	// LogRetentionDays is set on created groups (0: unset).
	LogRetentionDays int `mapstructure:"log_retention_days"`
	// LogGroupClass is STANDARD or INFREQUENT_ACCESS.
	LogGroupClass string `mapstructure:"log_group_class"`
	// KMSKeyID encrypts created groups.
	KMSKeyID string `mapstructure:"kms_key_id"`
	// LogGroupTags are set on created groups.
	LogGroupTags map[string]string `mapstructure:"log_group_tags"`
	// RoleARN is assumed with the default credentials; ExternalID goes
	// with it; STSEndpoint overrides STS.
	RoleARN     string `mapstructure:"role_arn"`
	ExternalID  string `mapstructure:"external_id"`
	STSEndpoint string `mapstructure:"sts_endpoint"`
	// MaxRetryElapsed bounds the sink's own retries of one batch before
	// the records go back to exporterhelper's retry_on_failure.
	MaxRetryElapsed time.Duration `mapstructure:"max_retry_elapsed"`
	// MaxBatchEvents and MaxBatchBytes cap one PutLogEvents call.
	MaxBatchEvents int `mapstructure:"max_batch_events"`
	MaxBatchBytes  int `mapstructure:"max_batch_bytes"`
	// Concurrency is the number of PutLogEvents calls in flight.
	Concurrency int `mapstructure:"concurrency"`
}

func (c *Config) sinkConfig() cloudwatch.Config {
	return cloudwatch.Config{
		Region:          c.Region,
		Endpoint:        c.Endpoint,
		LogGroupName:    c.LogGroupName,
		LogStreamName:   c.LogStreamName,
		Vars:            c.TemplateVars,
		AutoCreateGroup: c.AutoCreateGroup, AutoCreateStream: c.AutoCreateStream,
		RetentionDays: c.LogRetentionDays,
		LogGroupClass: c.LogGroupClass,
		KMSKeyID:      c.KMSKeyID,
		Tags:          c.LogGroupTags,
		RoleARN:       c.RoleARN, ExternalID: c.ExternalID, STSEndpoint: c.STSEndpoint,
		MaxRetryElapsed: c.MaxRetryElapsed,
		MaxBatchEvents:  c.MaxBatchEvents,
		MaxBatchBytes:   c.MaxBatchBytes,
		Concurrency:     c.Concurrency,
	}
}

// Validate checks the configuration; errors name the key.
func (c *Config) Validate() error {
	if c.LogGroupName == "" {
		return errors.New("log_group_name: must be set")
	}
	if c.LogStreamName == "" {
		return errors.New("log_stream_name: must be set")
	}
	sc := c.sinkConfig()
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("k8saudit_cloudwatch: %w", err)
	}
	return nil
}
