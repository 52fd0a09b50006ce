package sls

import (
	"strconv"
	"time"

	"github.com/auditlane/auditlane/common/config"
)

// fe are the front ends that ship to SLS.
const fe = config.FluentBit | config.Collector

// Schema declares the SLS destination keys (see common/config).
// Credentials never come from configuration: RRSA (role_arn with the
// projected OIDC token, or the ALIBABA_CLOUD_ROLE_ARN,
// ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE
// variables), else the ALIBABA_CLOUD_ACCESS_KEY_ID,
// ALIBABA_CLOUD_ACCESS_KEY_SECRET (and ALIBABA_CLOUD_SECURITY_TOKEN)
// variables.
var Schema = config.Section{Name: "sls", Keys: []config.Key{
	config.String("endpoint", "", fe, "Regional SLS endpoint, for example cn-hangzhou.log.aliyuncs.com (https unless a scheme is given; required)",
		func(c *Config, v string) { c.Endpoint = v }),
	config.String("project", "", fe, "SLS project (required)",
		func(c *Config, v string) { c.Project = v }),
	config.String("logstore", "", fe, "SLS logstore (required)",
		func(c *Config, v string) { c.Logstore = v }),
	config.String("topic", "", fe, "Topic of every log group",
		func(c *Config, v string) { c.Topic = v }),
	config.String("source", "", fe, "Source of every log group",
		func(c *Config, v string) { c.Source = v }),
	config.MapOf("log_tags", fe, "Tags of every log group (k=v pairs, stored as __tag__:k)",
		func(c *Config, v map[string]string) { c.LogTags = v }),
	config.String("hash_key", "", fe, "Shard routing: a fixed key, or ${field} to hash a field of each event",
		func(c *Config, v string) { c.HashKey = v }),
	config.String("role_arn", "", fe, "RAM role for RRSA (with oidc_provider_arn and oidc_token_file)",
		func(c *Config, v string) { c.RoleARN = v }),
	config.String("oidc_provider_arn", "", fe, "OIDC provider ARN for RRSA",
		func(c *Config, v string) { c.OIDCProviderARN = v }),
	config.String("oidc_token_file", "", fe, "Projected service account token file for RRSA",
		func(c *Config, v string) { c.OIDCTokenFile = v }),
	config.String("role_session_name", "auditlane", fe, "Session name of the assumed role",
		func(c *Config, v string) { c.RoleSessionName = v }),
	config.String("sts_endpoint", "", fe, "STS endpoint used for RRSA",
		func(c *Config, v string) { c.STSEndpoint = v }),
	config.Size("max_batch_bytes", strconv.Itoa(DefaultMaxBatchBytes), MaxLogGroupBytes, fe, "Size of one log group (PutLogs call)",
		func(c *Config, v int) { c.MaxBatchBytes = v }),
	config.Int("max_batch_logs", strconv.Itoa(MaxLogsPerGroup), "logs", 1, MaxLogsPerGroup, fe, "Logs in one log group",
		func(c *Config, v int) { c.MaxBatchLogs = v }),
	config.Size("max_buffer_bytes", strconv.Itoa(DefaultMaxBufferBytes), 0, fe, "Memory for batches across concurrent writes",
		func(c *Config, v int) { c.MaxBufferBytes = v }),
	config.Duration("retry_max_elapsed", "2s", fe, config.DocRetryMaxElapsed,
		func(c *Config, v time.Duration) { c.RetryMaxElapsed = v }),
	config.Duration("retry_initial_interval", "100ms", fe, config.DocRetryInitialInterval,
		func(c *Config, v time.Duration) { c.RetryInitial = v }),
	config.Duration("retry_max_interval", "1s", fe, config.DocRetryMaxInterval,
		func(c *Config, v time.Duration) { c.RetryMax = v }),
	config.Duration("request_timeout", "10s", fe, "Bound of one HTTP request",
		func(c *Config, v time.Duration) { c.RequestTimeout = v }),
}}

// DefaultConfig returns the configuration with every key at its default.
func DefaultConfig() Config {
	var c Config
	Schema.Defaults(&c)
	return c
}
