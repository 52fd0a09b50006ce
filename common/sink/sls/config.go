package sls

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/auditlane/auditlane/common/config"
)

// Service limits enforced by the writer before anything is sent; the test
// server in slstest enforces the same numbers on the wire. Sources: the
// SLS "Log group" reference (alibabacloud.com/help/en/log-service/latest/log-group)
// states the 5 MB log group maximum; the other numbers are the SDK
// producer's defaults and the limits the PutLogs reference and the SLS
// data model have stated (4,096 logs per request, a 10 MiB raw body,
// 1 MB values, 128-byte topic and source); they could not be re-checked
// against the current reference offline, so each is conservative.
const (
	// MaxLogsPerGroup is the most logs one PutLogs request (one LogGroup)
	// may carry; it is also the SDK producer's default MaxBatchCount.
	MaxLogsPerGroup = 4096

	// MaxLogGroupBytes is the largest serialized (uncompressed) LogGroup
	// the writer sends: the 5 MB maximum length of a log group. It is
	// below the PutLogs raw body limit, so it satisfies both.
	MaxLogGroupBytes = 5 * 1024 * 1024

	// MaxRequestRawBytes is the PutLogs limit on the uncompressed body
	// (x-log-bodyrawsize); larger requests are answered with HTTP 413
	// PostBodyTooLarge.
	MaxRequestRawBytes = 10 * 1024 * 1024

	// MaxValueBytes is the largest value of one log field (1 MB in the
	// SLS data model).
	MaxValueBytes = 1024 * 1024

	// MaxTopicBytes and MaxSourceBytes bound the LogGroup topic and source
	// (128 bytes in the SLS data model). MaxKeyBytes applies the same bound
	// to field keys and log tag keys, a conservative choice of the writer.
	MaxKeyBytes    = 128
	MaxTopicBytes  = 128
	MaxSourceBytes = 128
)

// Defaults applied by Config.withDefaults for zero values.
const (
	DefaultMaxBatchBytes   = 3 * 1024 * 1024
	DefaultMaxBufferBytes  = 64 * 1024 * 1024
	DefaultRequestTimeout  = 10 * time.Second
	DefaultRetryInitial    = 100 * time.Millisecond
	DefaultRetryMax        = 1 * time.Second
	DefaultRetryMaxElapsed = 2 * time.Second
)

// Environment variables read when no credentials are configured. They are
// the names the Alibaba Cloud SDKs and credentials-go use.
const (
	EnvAccessKeyID     = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	EnvAccessKeySecret = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	EnvSecurityToken   = "ALIBABA_CLOUD_SECURITY_TOKEN"
	EnvRoleARN         = "ALIBABA_CLOUD_ROLE_ARN"
	EnvOIDCProviderARN = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"
	EnvOIDCTokenFile   = "ALIBABA_CLOUD_OIDC_TOKEN_FILE"
)

// Config configures a Writer. Validate reports the first invalid key using
// its snake_case configuration name.
type Config struct {
	// Endpoint is the regional SLS endpoint, for example
	// "cn-hangzhou.log.aliyuncs.com" or "https://cn-hangzhou-intranet.log.aliyuncs.com".
	// Without a scheme, https is used. The SDK sends requests to
	// "<project>.<endpoint host>".
	Endpoint string
	// Project and Logstore name the destination.
	Project  string
	Logstore string
	// Topic and Source are the LogGroup topic and source (optional).
	Topic  string
	Source string
	// LogTags are added to every LogGroup as __tag__:<key> fields.
	LogTags map[string]string
	// HashKey, when set, routes writes to a shard (PostLogStoreLogs with a
	// hash key). It is either a fixed 32-hex-digit MD5 hash key, a literal
	// whose MD5 is used, or a template "${key}" naming a log field (or a
	// dotted path into the record body); the MD5 of the field value is used
	// for each record, and records are grouped by it.
	HashKey string

	// AccessKeyID, AccessKeySecret and SecurityToken are static
	// credentials; SecurityToken is set for STS credentials. When
	// AccessKeyID is empty, the writer uses RRSA when RoleARN (or
	// ALIBABA_CLOUD_ROLE_ARN) is set, else the ALIBABA_CLOUD_ACCESS_KEY_*
	// environment variables.
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string

	// RoleARN, OIDCProviderARN and OIDCTokenFile configure RRSA (RAM Roles
	// for Service Accounts): the writer exchanges the projected OIDC token
	// for STS credentials with AssumeRoleWithOIDC through credentials-go.
	// Empty fields fall back to ALIBABA_CLOUD_ROLE_ARN,
	// ALIBABA_CLOUD_OIDC_PROVIDER_ARN and ALIBABA_CLOUD_OIDC_TOKEN_FILE.
	RoleARN         string
	OIDCProviderARN string
	OIDCTokenFile   string
	// RoleSessionName names the assumed-role session (default "auditlane").
	RoleSessionName string
	// STSEndpoint overrides the STS endpoint used for RRSA
	// (default: credentials-go's choice, sts.aliyuncs.com or the
	// ALIBABA_CLOUD_STS_REGION endpoint).
	STSEndpoint string

	// MaxBatchBytes caps the serialized size of one LogGroup
	// (default 3 MiB, at most MaxLogGroupBytes).
	MaxBatchBytes int
	// MaxBatchLogs caps the logs in one LogGroup (default and maximum
	// MaxLogsPerGroup).
	MaxBatchLogs int
	// MaxBufferBytes bounds the memory the writer uses for batches across
	// concurrent Write calls (default 64 MiB). Each Write in progress holds
	// 2*MaxBatchBytes of it (the LogGroup and its compressed copy); Write
	// calls beyond the bound wait for a slot or for their context.
	MaxBufferBytes int

	// RequestTimeout bounds one HTTP request (default 30s).
	RequestTimeout time.Duration
	// RetryInitial and RetryMax are the first and the largest backoff
	// between attempts of a batch (defaults 200ms and 10s, jittered ±50%).
	RetryInitial time.Duration
	RetryMax     time.Duration
	// RetryMaxElapsed bounds the time one Write call spends retrying
	// (default 60s): once it has passed, each remaining batch gets a single
	// attempt, and records still undelivered are Retryable.
	RetryMaxElapsed time.Duration
}

var (
	// Project names: 3-63 characters, lower-case letters, digits and
	// hyphens, starting and ending with a letter or digit (SLS project
	// naming rules).
	projectRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	// Logstore names: 2-63 characters, lower-case letters, digits, hyphens
	// and underscores, starting and ending with a letter or digit (SLS
	// logstore naming rules).
	logstoreRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,61}[a-z0-9]$`)
	hexKeyRE   = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
	templateRE = regexp.MustCompile(`^\$\{([^{}]+)\}$`)
)

// Validate checks c and returns an error naming the first offending key.
func (c *Config) Validate() error {
	if c.Endpoint == "" {
		return config.Errorf("endpoint", "required")
	}
	host := endpointHost(c.Endpoint)
	if host == "" || strings.ContainsAny(host, "/?#@ ") {
		return config.Errorf("endpoint", "%q is not a host name", c.Endpoint)
	}
	if !projectRE.MatchString(c.Project) {
		return config.Errorf("project", "%q must be 3-63 lower-case letters, digits or hyphens, starting and ending with a letter or digit", c.Project)
	}
	if !logstoreRE.MatchString(c.Logstore) {
		return config.Errorf("logstore", "%q must be 2-63 lower-case letters, digits, hyphens or underscores, starting and ending with a letter or digit", c.Logstore)
	}
	if len(c.Topic) > MaxTopicBytes || !utf8.ValidString(c.Topic) {
		return config.Errorf("topic", "must be valid UTF-8 of at most %d bytes", MaxTopicBytes)
	}
	if len(c.Source) > MaxSourceBytes || !utf8.ValidString(c.Source) {
		return config.Errorf("source", "must be valid UTF-8 of at most %d bytes", MaxSourceBytes)
	}
	for k, v := range c.LogTags {
		if k == "" || len(k) > MaxKeyBytes || !utf8.ValidString(k) {
			return config.Errorf("log_tags", "key %q must be 1-%d bytes of UTF-8", k, MaxKeyBytes)
		}
		if len(v) > MaxValueBytes || !utf8.ValidString(v) {
			return config.Errorf("log_tags", "value of %q must be UTF-8 of at most %d bytes", k, MaxValueBytes)
		}
	}
	if c.HashKey != "" {
		if m := templateRE.FindStringSubmatch(c.HashKey); m == nil && strings.Contains(c.HashKey, "${") {
			return config.Errorf("hash_key", "%q is neither a fixed key nor a single ${field} template", c.HashKey)
		}
	}
	if (c.AccessKeyID == "") != (c.AccessKeySecret == "") {
		if c.AccessKeyID == "" {
			return config.Errorf("access_key_id", "required when access_key_secret is set")
		}
		return config.Errorf("access_key_secret", "required when access_key_id is set")
	}
	if c.SecurityToken != "" && c.AccessKeyID == "" {
		return config.Errorf("access_key_id", "required when security_token is set")
	}
	if c.AccessKeyID != "" && c.RoleARN != "" {
		return config.Errorf("role_arn", "set either role_arn (RRSA) or access_key_id, not both")
	}
	if c.MaxBatchBytes < 0 || c.MaxBatchBytes > MaxLogGroupBytes {
		return config.Errorf("max_batch_bytes", "%d out of range 0..%d", c.MaxBatchBytes, MaxLogGroupBytes)
	}
	if c.MaxBatchBytes != 0 && c.MaxBatchBytes < 1024 {
		return config.Errorf("max_batch_bytes", "%d is below 1024", c.MaxBatchBytes)
	}
	if c.MaxBatchLogs < 0 || c.MaxBatchLogs > MaxLogsPerGroup {
		return config.Errorf("max_batch_logs", "%d out of range 0..%d", c.MaxBatchLogs, MaxLogsPerGroup)
	}
	if c.MaxBufferBytes < 0 {
		return config.Errorf("max_buffer_bytes", "%d is negative", c.MaxBufferBytes)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"request_timeout", c.RequestTimeout},
		{"retry_initial_interval", c.RetryInitial},
		{"retry_max_interval", c.RetryMax},
		{"retry_max_elapsed", c.RetryMaxElapsed},
	} {
		if d.v < 0 {
			return config.Errorf(d.name, "%v is negative", d.v)
		}
	}
	if c.RetryInitial > 0 && c.RetryMax > 0 && c.RetryInitial > c.RetryMax {
		return config.Errorf("retry_initial_interval", "%v exceeds retry_max_interval %v", c.RetryInitial, c.RetryMax)
	}
	return nil
}

// withDefaults returns c with zero values replaced by defaults.
func (c Config) withDefaults() Config {
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.MaxBatchLogs == 0 {
		c.MaxBatchLogs = MaxLogsPerGroup
	}
	if c.MaxBufferBytes == 0 {
		c.MaxBufferBytes = DefaultMaxBufferBytes
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.RetryInitial == 0 {
		c.RetryInitial = DefaultRetryInitial
	}
	if c.RetryMax == 0 {
		c.RetryMax = DefaultRetryMax
	}
	if c.RetryInitial > c.RetryMax {
		c.RetryInitial = c.RetryMax
	}
	if c.RetryMaxElapsed == 0 {
		c.RetryMaxElapsed = DefaultRetryMaxElapsed
	}
	if c.RoleSessionName == "" {
		c.RoleSessionName = "auditlane"
	}
	return c
}

// endpointHost strips the scheme from an endpoint.
func endpointHost(ep string) string {
	ep = strings.TrimPrefix(ep, "https://")
	ep = strings.TrimPrefix(ep, "http://")
	return strings.TrimSuffix(ep, "/")
}

// sdkEndpoint returns the endpoint in the form the SDK expects, with https
// as the default scheme.
func sdkEndpoint(ep string) string {
	if strings.HasPrefix(ep, "http://") || strings.HasPrefix(ep, "https://") {
		return strings.TrimSuffix(ep, "/")
	}
	return "https://" + strings.TrimSuffix(ep, "/")
}
