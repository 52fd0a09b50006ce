package k8sauditreceiver

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"

	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
)

// Modes of the receiver.
const (
	ModeFile       = "file"
	ModeWebhook    = "webhook"
	ModeCloudWatch = "cloudwatch"
	ModeSLS        = "sls"
)

// Config is the k8saudit receiver configuration.
type Config struct {
	// Mode is "file" (tail the apiserver's audit log), "webhook" (accept
	// the apiserver's audit webhook POSTs), "cloudwatch" (read EKS audit
	// logs from CloudWatch Logs) or "sls" (read ACK audit logs from an SLS
	// logstore through a consumer group).
	Mode string `mapstructure:"mode"`
	// File configures file mode.
	File FileConfig `mapstructure:"file"`
	// Webhook configures webhook mode.
	Webhook WebhookConfig `mapstructure:"webhook"`
	// CloudWatch configures cloudwatch mode.
	CloudWatch CloudWatchConfig `mapstructure:"cloudwatch"`
	// SLS configures sls mode.
	SLS SLSConfig `mapstructure:"sls"`
	// Pipeline holds the shared pipeline keys (policy_file, cluster_name,
	// layout, ...; see pipeline.Keys).
	Pipeline auditotel.PipelineConfig `mapstructure:"pipeline"`
}

// FileConfig configures file mode.
type FileConfig struct {
	// Path is the audit log the apiserver writes (--audit-log-path).
	// Rotated backups are found next to it under lumberjack's names
	// (<name>-<timestamp><ext>, optionally .gz).
	Path string `mapstructure:"path"`
	// StartAt is "end" (default) or "beginning": where to start in the
	// current file when no checkpoint exists.
	StartAt string `mapstructure:"start_at"`
	// PollInterval is how often the file is checked for new data and
	// rotation; default 200ms.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// MaxBatch is the most log records passed on in one call; default 1000.
	MaxBatch int `mapstructure:"max_batch"`
	// FingerprintSize is how many leading bytes (at most up to the end of
	// the first line) identify a file across rotation and restarts;
	// default 1024.
	FingerprintSize int `mapstructure:"fingerprint_size"`
	// Storage is the storage extension (file_storage) that keeps
	// checkpoints; without it every start begins at start_at.
	Storage *component.ID `mapstructure:"storage"`
}

// WebhookConfig configures webhook mode: confighttp's server settings
// (endpoint, tls with client_ca_file for mTLS, auth,
// max_request_body_size, read_timeout, read_header_timeout,
// write_timeout, compression_algorithms, ...) plus the paths and bounds.
type WebhookConfig struct {
	confighttp.ServerConfig `mapstructure:",squash"`
	// Path receives EventList POSTs; default "/".
	Path string `mapstructure:"path"`
	// HealthPath answers GET with 200; default "/healthz".
	HealthPath string `mapstructure:"health_path"`
	// RetryAfter is the Retry-After sent with 429/503; default 5s.
	RetryAfter time.Duration `mapstructure:"retry_after"`
	// MaxConcurrentRequests bounds the event POSTs served at once; more
	// are answered 429 with Retry-After before their body is read.
	// Default 4.
	MaxConcurrentRequests int `mapstructure:"max_concurrent_requests"`
	// MaxBatch is the most events of one request passed on in one call
	// to the next consumer (a call also stops at 4 MiB of input); a larger
	// request is passed on in several calls as it is read. Default 1000.
	MaxBatch int `mapstructure:"max_batch"`
}

// Validate checks the configuration; errors name the key.
func (c *Config) Validate() error {
	switch c.Mode {
	case ModeFile:
		if c.File.Path == "" {
			return errors.New("file::path: must be set in file mode")
		}
		if c.File.StartAt != "end" && c.File.StartAt != "beginning" {
			return fmt.Errorf("file::start_at: %q is neither end nor beginning", c.File.StartAt)
		}
		if c.File.PollInterval <= 0 {
			return errors.New("file::poll_interval: must be positive")
		}
		if c.File.MaxBatch <= 0 {
			return errors.New("file::max_batch: must be positive")
		}
		if c.File.FingerprintSize < 16 {
			return errors.New("file::fingerprint_size: must be at least 16")
		}
	case ModeWebhook:
		if c.Webhook.NetAddr.Endpoint == "" {
			return errors.New("webhook::endpoint: must be set in webhook mode")
		}
		if c.Webhook.Path == "" || c.Webhook.Path[0] != '/' {
			return fmt.Errorf("webhook::path: %q must start with /", c.Webhook.Path)
		}
		if c.Webhook.HealthPath == c.Webhook.Path {
			return errors.New("webhook::health_path: must differ from path")
		}
		if c.Webhook.RetryAfter < 0 {
			return errors.New("webhook::retry_after: must not be negative")
		}
		if c.Webhook.MaxConcurrentRequests <= 0 {
			return errors.New("webhook::max_concurrent_requests: must be positive")
		}
		if c.Webhook.MaxBatch <= 0 {
			return errors.New("webhook::max_batch: must be positive")
		}
		if c.Webhook.HealthPath != "" && c.Webhook.HealthPath[0] != '/' {
			return fmt.Errorf("webhook::health_path: %q must start with /", c.Webhook.HealthPath)
		}
	case ModeCloudWatch:
		if err := c.CloudWatch.validate(); err != nil {
			return err
		}
	case ModeSLS:
		if err := c.SLS.validate(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("mode: %q is not file, webhook, cloudwatch or sls", c.Mode)
	}
	return c.Pipeline.Validate()
}
