package cloudwatch

import (
	"strconv"
	"time"

	"github.com/auditlane/auditlane/common/config"
)

// fe are the front ends that ship to CloudWatch Logs.
const fe = config.FluentBit | config.Collector

// Schema declares the CloudWatch Logs destination keys (see common/config).
// Credentials never come from configuration: the AWS default chain (IRSA,
// EKS Pod Identity, instance profile, AWS_* variables), optionally with
// role_arn.
var Schema = config.Section{Name: "cloudwatch", Keys: []config.Key{
	config.String("region", "", fe, "AWS region; empty: the default chain's (AWS_REGION, profile)",
		func(c *Config, v string) { c.Region = v }),
	config.String("log_group_name", "", fe, "Log group name template, for example /k8s/{cluster}/audit (required)",
		func(c *Config, v string) { c.LogGroupName = v }),
	config.String("log_stream_name", "{hostname}", fe, "Log stream name template; {hostname} is the agent's host or pod name",
		func(c *Config, v string) { c.LogStreamName = v }),
	config.MapOf("template_vars", fe, "Static template values (k=v pairs); cluster, cluster_name, cluster_id, provider and hostname are set from the pipeline and the host",
		func(c *Config, v map[string]string) { c.Vars = v }),
	config.Bool("auto_create_group", "off", fe, "Create missing log groups (needs logs:CreateLogGroup); implies auto_create_stream",
		func(c *Config, v bool) { c.AutoCreateGroup = v }),
	config.Bool("auto_create_stream", "on", fe, "Create missing log streams (needs logs:CreateLogStream)",
		func(c *Config, v bool) { c.AutoCreateStream = v }),
	config.Int("log_retention_days", "0", "days", 0, 3653, fe, "Retention set on created groups; 0 leaves it unset",
		func(c *Config, v int) { c.RetentionDays = v }),
	config.Enum("log_group_class", "", []string{ClassStandard, ClassInfrequentAccess}, fe, "Class of created groups; empty: STANDARD",
		func(c *Config, v string) { c.LogGroupClass = v }),
	config.String("kms_key_id", "", fe, "KMS key ARN for created groups",
		func(c *Config, v string) { c.KMSKeyID = v }),
	config.MapOf("log_group_tags", fe, "Tags of created groups (k=v pairs)",
		func(c *Config, v map[string]string) { c.Tags = v }),
	config.String("role_arn", "", fe, "IAM role to assume with the default credentials",
		func(c *Config, v string) { c.RoleARN = v }),
	config.String("external_id", "", fe, "External id passed when assuming role_arn",
		func(c *Config, v string) { c.ExternalID = v }),
	config.String("endpoint", "", fe, "Service endpoint URL; empty: AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_ENDPOINT_URL or the regional endpoint",
		func(c *Config, v string) { c.Endpoint = v }),
	config.String("sts_endpoint", "", fe, "STS endpoint URL used for role_arn",
		func(c *Config, v string) { c.STSEndpoint = v }),
	config.Duration("retry_max_elapsed", "2s", fe, config.DocRetryMaxElapsed,
		func(c *Config, v time.Duration) { c.MaxRetryElapsed = v }),
	config.Duration("retry_initial_interval", "100ms", fe, config.DocRetryInitialInterval,
		func(c *Config, v time.Duration) { c.RetryInitialInterval = v }),
	config.Duration("retry_max_interval", "1s", fe, config.DocRetryMaxInterval,
		func(c *Config, v time.Duration) { c.RetryMaxInterval = v }),
	config.Duration("request_timeout", "10s", fe, "Bound of one API call",
		func(c *Config, v time.Duration) { c.RequestTimeout = v }),
	config.Int("max_batch_events", strconv.Itoa(MaxBatchEvents), "events", 1, MaxBatchEvents, fe, "Events per PutLogEvents call",
		func(c *Config, v int) { c.MaxBatchEvents = v }),
	config.Size("max_batch_bytes", strconv.Itoa(MaxBatchBytes), MaxBatchBytes, fe, "Size of one PutLogEvents call, counted as the service does",
		func(c *Config, v int) { c.MaxBatchBytes = v }),
	config.Int("concurrency", strconv.Itoa(DefaultConcurrency), "calls", 1, 64, fe, "API calls in flight",
		func(c *Config, v int) { c.Concurrency = v }),
}}

// DefaultConfig returns the configuration with every key at its default.
func DefaultConfig() Config {
	var c Config
	Schema.Defaults(&c)
	return c
}
