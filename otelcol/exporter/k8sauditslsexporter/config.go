package k8sauditslsexporter

import (
	"fmt"
	"time"

	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/auditlane/auditlane/common/sink/sls"
)

// Config is the k8saudit_sls exporter configuration. The keys of the
// destination are those of the sls sink (and of the Fluent Bit plugin);
// sending_queue, retry_on_failure and timeout are exporterhelper's.
type Config struct {
	exporterhelper.TimeoutConfig `mapstructure:",squash"`
	// QueueSettings is exporterhelper's sending_queue; set storage to a
	// file_storage extension for a persistent queue.
	QueueSettings configoptional.Optional[exporterhelper.QueueBatchConfig] `mapstructure:"sending_queue"`
	// BackOffConfig is exporterhelper's retry_on_failure.
	BackOffConfig configretry.BackOffConfig `mapstructure:"retry_on_failure"`

	// Endpoint is the regional SLS endpoint (https when no scheme).
	Endpoint string `mapstructure:"endpoint"`
	// Project and Logstore name the destination.
	Project  string `mapstructure:"project"`
	Logstore string `mapstructure:"logstore"`
	// Topic, Source and LogTags are set on every LogGroup.
	Topic   string            `mapstructure:"topic"`
	Source  string            `mapstructure:"source"`
	LogTags map[string]string `mapstructure:"log_tags"`
	// HashKey routes writes to a shard (fixed key or "${field}").
	HashKey string `mapstructure:"hash_key"`
	// AccessKeyID, AccessKeySecret and SecurityToken are static
	// credentials; empty means RRSA or the ALIBABA_CLOUD_* variables.
	AccessKeyID     string              `mapstructure:"access_key_id"`
	AccessKeySecret configopaque.String `mapstructure:"access_key_secret"`
	SecurityToken   configopaque.String `mapstructure:"security_token"`
	// RoleARN, OIDCProviderARN and OIDCTokenFile configure RRSA.
	RoleARN         string `mapstructure:"role_arn"`
	OIDCProviderARN string `mapstructure:"oidc_provider_arn"`
	OIDCTokenFile   string `mapstructure:"oidc_token_file"`
	RoleSessionName string `mapstructure:"role_session_name"`
	STSEndpoint     string `mapstructure:"sts_endpoint"`
	// MaxBatchBytes and MaxBatchLogs cap one PutLogs call.
	MaxBatchBytes int `mapstructure:"max_batch_bytes"`
	MaxBatchLogs  int `mapstructure:"max_batch_logs"`
	// RetryMaxElapsed bounds the sink's own retries of one batch before
	// the records go back to exporterhelper's retry_on_failure.
	RetryMaxElapsed time.Duration `mapstructure:"retry_max_elapsed"`
}

func (c *Config) sinkConfig() sls.Config {
	return sls.Config{
		Endpoint: c.Endpoint, Project: c.Project, Logstore: c.Logstore,
		Topic: c.Topic, Source: c.Source, LogTags: c.LogTags, HashKey: c.HashKey,
		AccessKeyID: c.AccessKeyID, AccessKeySecret: string(c.AccessKeySecret), SecurityToken: string(c.SecurityToken),
		RoleARN: c.RoleARN, OIDCProviderARN: c.OIDCProviderARN, OIDCTokenFile: c.OIDCTokenFile,
		RoleSessionName: c.RoleSessionName, STSEndpoint: c.STSEndpoint,
		MaxBatchBytes: c.MaxBatchBytes, MaxBatchLogs: c.MaxBatchLogs,
		RetryMaxElapsed: c.RetryMaxElapsed,
	}
}

// Validate checks the configuration; errors name the key and never
// contain credentials.
func (c *Config) Validate() error {
	sc := c.sinkConfig()
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("k8saudit_sls: %w", err)
	}
	return nil
}
