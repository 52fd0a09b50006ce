package cloudwatch

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/auditlane/auditlane/common/config"
)

// Service limits of PutLogEvents (documented in the CloudWatch Logs API
// reference; the 1 MB event size has applied since 2025).
const (
	// MaxBatchBytes is the largest PutLogEvents request: the sum of every
	// message's UTF-8 bytes plus EventOverhead per event.
	MaxBatchBytes = 1_048_576
	// EventOverhead is the per-event size the service adds to each message.
	EventOverhead = 26
	// MaxEventBytes is the largest single event, message bytes plus
	// EventOverhead. Larger records are reported Permanent "too_large";
	// shaping them to fit is the enricher's job.
	MaxEventBytes = 1_048_576
	// MaxBatchEvents is the largest number of events in one PutLogEvents.
	MaxBatchEvents = 10_000
	// MaxBatchSpan is the largest time span of one PutLogEvents batch.
	MaxBatchSpan = 24 * time.Hour
	// MaxFuture is how far ahead of the service clock an event may be.
	MaxFuture = 2 * time.Hour
	// MaxAge is how old an event may be.
	MaxAge = 14 * 24 * time.Hour
)

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxRetryElapsed      = 2 * time.Second
	DefaultRetryInitialInterval = 100 * time.Millisecond
	DefaultRetryMaxInterval     = 1 * time.Second
	DefaultConcurrency          = 4
	DefaultRequestTimeout       = 10 * time.Second
)

// Log group classes accepted by log_group_class.
const (
	ClassStandard         = "STANDARD"
	ClassInfrequentAccess = "INFREQUENT_ACCESS"
)

// RetentionDays lists the values log_retention_days accepts (0 means the
// group's retention is left alone: never expire for new groups).
var RetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

// Config configures a CloudWatch Logs Writer. Field comments name the
// snake_case key a Fluent Bit or collector user writes; Validate reports
// errors under those names.
type Config struct {
	// Region is the AWS region (region). Empty means the default chain's
	// region (AWS_REGION, profile); New fails when none is found.
	Region string

	// LogGroupName is the log group name template (log_group_name), for
	// example "/k8s/{cluster}/audit". See the package documentation for
	// placeholders.
	LogGroupName string
	// LogStreamName is the log stream name template (log_stream_name), for
	// example "{provider}-{hostname}".
	LogStreamName string
	// Vars are static template values (template_vars), such as cluster,
	// provider and hostname. They take precedence over record fields.
	Vars map[string]string

	// AutoCreateGroup creates missing log groups (auto_create_group). It
	// implies AutoCreateStream.
	AutoCreateGroup bool
	// AutoCreateStream creates missing log streams (auto_create_stream).
	AutoCreateStream bool
	// RetentionDays is set on log groups this writer creates
	// (log_retention_days); 0 leaves retention unset. Allowed values:
	// RetentionDays. It also lets the writer reject events older than the
	// retention locally ("expired").
	RetentionDays int
	// LogGroupClass is the class of created groups (log_group_class):
	// STANDARD (default) or INFREQUENT_ACCESS.
	LogGroupClass string
	// KMSKeyID is the KMS key ARN for created groups (kms_key_id).
	KMSKeyID string
	// Tags are set on created groups (log_group_tags).
	Tags map[string]string

	// RoleARN is an IAM role to assume with the default credentials
	// (role_arn).
	RoleARN string
	// ExternalID is passed when assuming RoleARN (external_id).
	ExternalID string
	// Endpoint overrides the CloudWatch Logs endpoint (endpoint). Empty means
	// AWS_ENDPOINT_URL_CLOUDWATCH_LOGS, AWS_ENDPOINT_URL or the regional
	// endpoint.
	Endpoint string
	// STSEndpoint overrides the STS endpoint used for RoleARN
	// (sts_endpoint).
	STSEndpoint string

	// MaxRetryElapsed bounds the time one batch spends in retries
	// (retry_max_elapsed); default 2 s.
	MaxRetryElapsed time.Duration
	// RetryInitialInterval is the first backoff (retry_initial_interval);
	// default 100 ms. Backoff doubles with ±50 % jitter.
	RetryInitialInterval time.Duration
	// RetryMaxInterval caps one backoff (retry_max_interval); default 1 s.
	RetryMaxInterval time.Duration
	// RequestTimeout bounds one API call (request_timeout); default 10 s.
	RequestTimeout time.Duration

	// MaxBatchEvents caps events per PutLogEvents (max_batch_events);
	// default and maximum 10,000.
	MaxBatchEvents int
	// MaxBatchBytes caps the PutLogEvents size (max_batch_bytes), counted
	// like the service does; default and maximum 1,048,576.
	MaxBatchBytes int
	// Concurrency is the number of API calls in flight across all Write
	// calls (concurrency); default 4. Together with MaxBatchBytes it bounds
	// the writer's request memory.
	Concurrency int
}

// configError names the offending key, as the user wrote it.
func configError(key string, format string, args ...any) error {
	return config.Errorf(key, format, args...)
}

var (
	regionRE    = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-\d+$`)
	groupNameRE = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`)
	tagKeyRE    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValueRE  = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
	roleARNRE   = regexp.MustCompile(`^arn:aws[a-z\-]*:iam::\d{12}:role/[\w+=,.@\-/]{1,512}$`)
	externalIDR = regexp.MustCompile(`^[\w+=,.@:/\-]+$`)
)

// Validate checks the configuration and returns the first problem, naming
// its key. Templates whose placeholders are all static Vars are resolved
// and the resulting names validated here.
func (c *Config) Validate() error {
	if c.Region != "" && !regionRE.MatchString(c.Region) {
		return configError("region", "%q is not a valid AWS region name", c.Region)
	}
	for k := range c.Vars {
		if !validVarName(k) {
			return configError("template_vars", "variable name %q must be letters, digits, '_', '-' or '.'", k)
		}
	}
	groupT, err := parseTemplate(c.LogGroupName)
	if err != nil {
		return configError("log_group_name", "%v", err)
	}
	if groupT.static(c.Vars) {
		if err := validGroupName(groupT.resolve(c.Vars, nil)); err != nil {
			return configError("log_group_name", "%v", err)
		}
	}
	streamT, err := parseTemplate(c.LogStreamName)
	if err != nil {
		return configError("log_stream_name", "%v", err)
	}
	if streamT.static(c.Vars) {
		if err := validStreamName(streamT.resolve(c.Vars, nil)); err != nil {
			return configError("log_stream_name", "%v", err)
		}
	}
	if c.RetentionDays != 0 && !slices.Contains(RetentionDays, c.RetentionDays) {
		return configError("log_retention_days", "%d is not allowed; use one of %v", c.RetentionDays, RetentionDays)
	}
	switch c.LogGroupClass {
	case "", ClassStandard, ClassInfrequentAccess:
	default:
		return configError("log_group_class", "%q is not allowed; use %s or %s", c.LogGroupClass, ClassStandard, ClassInfrequentAccess)
	}
	if c.KMSKeyID != "" && (len(c.KMSKeyID) > 256 || !strings.HasPrefix(c.KMSKeyID, "arn:") || !strings.Contains(c.KMSKeyID, ":kms:")) {
		return configError("kms_key_id", "must be a KMS key ARN (arn:aws:kms:region:account:key/id) of at most 256 characters")
	}
	if len(c.Tags) > 50 {
		return configError("log_group_tags", "%d tags given, at most 50 allowed", len(c.Tags))
	}
	for k, v := range c.Tags {
		if k == "" || utf8.RuneCountInString(k) > 128 || !tagKeyRE.MatchString(k) || strings.HasPrefix(k, "aws:") {
			return configError("log_group_tags", "tag key %q is not valid (1-128 letters, digits, spaces, _.:/=+-@; not starting with aws:)", k)
		}
		if utf8.RuneCountInString(v) > 256 || !tagValueRE.MatchString(v) {
			return configError("log_group_tags", "value of tag %q is not valid (at most 256 letters, digits, spaces, _.:/=+-@)", k)
		}
	}
	if !c.AutoCreateGroup && (c.LogGroupClass != "" || c.KMSKeyID != "" || len(c.Tags) > 0) {
		return configError("auto_create_group", "log_group_class, kms_key_id and log_group_tags apply only to created groups; set auto_create_group")
	}
	if c.RoleARN != "" && !roleARNRE.MatchString(c.RoleARN) {
		return configError("role_arn", "%q is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)", c.RoleARN)
	}
	if c.ExternalID != "" {
		if c.RoleARN == "" {
			return configError("external_id", "set only together with role_arn")
		}
		if len(c.ExternalID) < 2 || len(c.ExternalID) > 1224 || !externalIDR.MatchString(c.ExternalID) {
			return configError("external_id", "must be 2-1224 characters of letters, digits and +=,.@:/-")
		}
	}
	if err := validEndpoint(c.Endpoint); err != nil {
		return configError("endpoint", "%v", err)
	}
	if err := validEndpoint(c.STSEndpoint); err != nil {
		return configError("sts_endpoint", "%v", err)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"retry_max_elapsed", c.MaxRetryElapsed},
		{"retry_initial_interval", c.RetryInitialInterval},
		{"retry_max_interval", c.RetryMaxInterval},
		{"request_timeout", c.RequestTimeout},
	} {
		if d.v < 0 {
			return configError(d.key, "must not be negative, got %v", d.v)
		}
	}
	if c.RetryInitialInterval > 0 && c.RetryMaxInterval > 0 && c.RetryInitialInterval > c.RetryMaxInterval {
		return configError("retry_initial_interval", "%v exceeds retry_max_interval %v", c.RetryInitialInterval, c.RetryMaxInterval)
	}
	if c.MaxBatchEvents < 0 || c.MaxBatchEvents > MaxBatchEvents {
		return configError("max_batch_events", "must be between 1 and %d, got %d", MaxBatchEvents, c.MaxBatchEvents)
	}
	if c.MaxBatchBytes != 0 && (c.MaxBatchBytes < MaxEventBytes || c.MaxBatchBytes > MaxBatchBytes) {
		return configError("max_batch_bytes", "must be %d (the event size limit) to %d, got %d", MaxEventBytes, MaxBatchBytes, c.MaxBatchBytes)
	}
	if c.Concurrency < 0 || c.Concurrency > 64 {
		return configError("concurrency", "must be between 1 and 64, got %d", c.Concurrency)
	}
	return nil
}

func validEndpoint(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a valid URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q must be an absolute http(s) URL", s)
	}
	return nil
}

// withDefaults returns c with zero fields replaced by defaults.
func (c Config) withDefaults() Config {
	if c.MaxRetryElapsed == 0 {
		c.MaxRetryElapsed = DefaultMaxRetryElapsed
	}
	if c.RetryInitialInterval == 0 {
		c.RetryInitialInterval = DefaultRetryInitialInterval
	}
	if c.RetryMaxInterval == 0 {
		c.RetryMaxInterval = max(DefaultRetryMaxInterval, c.RetryInitialInterval)
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.MaxBatchEvents == 0 {
		c.MaxBatchEvents = MaxBatchEvents
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = MaxBatchBytes
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.AutoCreateGroup {
		c.AutoCreateStream = true
	}
	return c
}

// validGroupName checks a resolved log group name.
func validGroupName(name string) error {
	if name == "" || len(name) > 512 {
		return fmt.Errorf("log group name must be 1 to 512 characters, got %d", len(name))
	}
	if !groupNameRE.MatchString(name) {
		return fmt.Errorf("log group name %q may contain only a-z, A-Z, 0-9, '_', '-', '/', '.' and '#'", name)
	}
	return nil
}

// validStreamName checks a resolved log stream name.
func validStreamName(name string) error {
	if name == "" || utf8.RuneCountInString(name) > 512 {
		return fmt.Errorf("log stream name must be 1 to 512 characters, got %d", utf8.RuneCountInString(name))
	}
	if strings.ContainsAny(name, ":*") {
		return fmt.Errorf("log stream name %q must not contain ':' or '*'", name)
	}
	return nil
}
