package plugin

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/sink/cloudwatch"
	"github.com/auditlane/auditlane/common/sink/sls"
)

// Destinations accepted by the destination key.
const (
	DestCloudWatch = "cloudwatch"
	DestSLS        = "sls"
	DestStdout     = "stdout"
	DestFile       = "file"
)

// Defaults of the plugin's own keys.
const (
	DefaultRawKey         = "log"
	DefaultFlushTimeout   = 30 * time.Second
	DefaultStatsInterval  = 60 * time.Second
	DefaultProgressChunks = 1024
)

// Config is one plugin instance's configuration.
type Config struct {
	// Pipeline holds every pipeline key (policy_file, cluster_name,
	// dead_letter_file, max_event_size, ...; see pipeline.Keys).
	Pipeline pipeline.Settings
	// Destination is cloudwatch, sls, stdout or file (destination).
	Destination string
	// FilePath is the output file for destination file (file_path).
	FilePath string
	// RawKey is the record key holding the raw JSON line (raw_key).
	RawKey string
	// FlushTimeout bounds one flush call (flush_timeout); on timeout the
	// undelivered events are retried.
	FlushTimeout time.Duration
	// StatsInterval is the period of the stats line (stats_interval);
	// 0 disables it.
	StatsInterval time.Duration
	// LogLevel is the plugin's log level (auditlane_log_level): error,
	// warn, info, debug, trace. Fluent Bit keeps log_level to itself.
	LogLevel Level
	// ProgressChunks bounds how many retried chunks' delivery progress is
	// remembered (progress_chunks).
	ProgressChunks int
	// MetricsListen is the address of the plugin's Prometheus endpoint
	// (metrics_listen, for example 127.0.0.1:2021); "" serves none.
	MetricsListen string
	// CloudWatch and SLS configure the cloud destinations.
	CloudWatch cloudwatch.Config
	SLS        sls.Config
}

// Getter returns a configuration value, "" when unset.
type Getter func(key string) string

// pluginKeys lists the plugin's own keys and the destination keys; the
// pipeline keys come from pipeline.Keys.
var cloudWatchKeys = []string{"region", "log_group_name", "log_stream_name", "template_vars",
	"auto_create_group", "auto_create_stream", "log_retention_days", "log_group_class",
	"kms_key_id", "log_group_tags", "role_arn", "external_id", "endpoint", "sts_endpoint",
	"max_retry_elapsed", "retry_initial_interval", "retry_max_interval", "request_timeout",
	"max_batch_events", "max_batch_bytes", "concurrency"}

var slsKeys = []string{"endpoint", "project", "logstore", "topic", "source", "log_tags", "hash_key",
	"role_arn", "oidc_provider_arn", "oidc_token_file", "role_session_name", "sts_endpoint",
	"max_batch_bytes", "max_batch_logs", "max_buffer_bytes", "request_timeout",
	"retry_initial_interval", "retry_max_interval", "max_retry_elapsed"}

// Keys returns every key the plugin reads, for documentation and tests.
func Keys() []string {
	keys := []string{"destination", "file_path", "raw_key", "flush_timeout", "stats_interval",
		"auditlane_log_level", "progress_chunks", "metrics_listen"}
	keys = append(keys, pipeline.Keys()...)
	seen := map[string]bool{}
	for _, k := range keys {
		seen[k] = true
	}
	for _, k := range append(append([]string{}, cloudWatchKeys...), slsKeys...) {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

// Load reads and validates an instance's configuration. Errors name the key.
func Load(get Getter) (Config, error) {
	c := Config{
		Pipeline:       pipeline.DefaultSettings(),
		RawKey:         DefaultRawKey,
		FlushTimeout:   DefaultFlushTimeout,
		StatsInterval:  DefaultStatsInterval,
		LogLevel:       LevelInfo,
		ProgressChunks: DefaultProgressChunks,
	}
	val := func(k string) string { return strings.TrimSpace(get(k)) }
	layoutSet := false
	for _, k := range pipeline.Keys() {
		if v := val(k); v != "" {
			if err := c.Pipeline.Set(k, v); err != nil {
				return c, err
			}
			layoutSet = layoutSet || k == "layout"
		}
	}
	c.Destination = strings.ToLower(val("destination"))
	switch c.Destination {
	case DestCloudWatch, DestSLS, DestStdout, DestFile:
	case "":
		return c, fmt.Errorf("destination: required; use cloudwatch, sls, stdout or file")
	default:
		return c, fmt.Errorf("destination: %q is not supported; use cloudwatch, sls, stdout or file", c.Destination)
	}
	c.FilePath = val("file_path")
	if c.Destination == DestFile && c.FilePath == "" {
		return c, fmt.Errorf("file_path: required with destination file")
	}
	c.MetricsListen = val("metrics_listen")
	if v := val("raw_key"); v != "" {
		c.RawKey = v
	}
	var err error
	if c.FlushTimeout, err = duration(val, "flush_timeout", c.FlushTimeout); err != nil {
		return c, err
	}
	if c.FlushTimeout <= 0 {
		return c, fmt.Errorf("flush_timeout: must be positive")
	}
	if c.StatsInterval, err = duration(val, "stats_interval", c.StatsInterval); err != nil {
		return c, err
	}
	if v := val("auditlane_log_level"); v != "" {
		if c.LogLevel, err = ParseLevel(v); err != nil {
			return c, fmt.Errorf("auditlane_log_level: %w", err)
		}
	}
	if c.ProgressChunks, err = integer(val, "progress_chunks", c.ProgressChunks); err != nil {
		return c, err
	}
	if c.ProgressChunks < 1 || c.ProgressChunks > 1<<20 {
		return c, fmt.Errorf("progress_chunks: must be between 1 and %d", 1<<20)
	}
	switch c.Destination {
	case DestCloudWatch:
		err = loadCloudWatch(&c, val)
	case DestSLS:
		if !layoutSet {
			c.Pipeline.Shape.Layout = "sls"
		}
		err = loadSLS(&c, val)
	}
	if err != nil {
		return c, err
	}
	if err := c.Pipeline.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

func loadCloudWatch(c *Config, val func(string) string) error {
	cw := &c.CloudWatch
	cw.Region = val("region")
	cw.LogGroupName = val("log_group_name")
	cw.LogStreamName = val("log_stream_name")
	if cw.LogGroupName == "" {
		return fmt.Errorf("log_group_name: required with destination cloudwatch")
	}
	if cw.LogStreamName == "" {
		cw.LogStreamName = "{hostname}"
	}
	cw.Vars = map[string]string{}
	host, _ := os.Hostname()
	for k, v := range map[string]string{"cluster": c.Pipeline.Enrich.ClusterName, "cluster_name": c.Pipeline.Enrich.ClusterName,
		"cluster_id": c.Pipeline.Enrich.ClusterID, "provider": c.Pipeline.Enrich.Provider, "hostname": host} {
		if v != "" {
			cw.Vars[k] = v
		}
	}
	vars, err := kvList(val("template_vars"), "template_vars")
	if err != nil {
		return err
	}
	for k, v := range vars {
		cw.Vars[k] = v
	}
	if cw.AutoCreateGroup, err = boolean(val, "auto_create_group", false); err != nil {
		return err
	}
	if cw.AutoCreateStream, err = boolean(val, "auto_create_stream", true); err != nil {
		return err
	}
	if cw.RetentionDays, err = integer(val, "log_retention_days", 0); err != nil {
		return err
	}
	cw.LogGroupClass = strings.ToUpper(val("log_group_class"))
	cw.KMSKeyID = val("kms_key_id")
	if cw.Tags, err = kvList(val("log_group_tags"), "log_group_tags"); err != nil {
		return err
	}
	if len(cw.Tags) == 0 {
		cw.Tags = nil
	}
	cw.RoleARN = val("role_arn")
	cw.ExternalID = val("external_id")
	cw.Endpoint = val("endpoint")
	cw.STSEndpoint = val("sts_endpoint")
	for _, d := range []struct {
		key string
		dst *time.Duration
	}{{"max_retry_elapsed", &cw.MaxRetryElapsed}, {"retry_initial_interval", &cw.RetryInitialInterval},
		{"retry_max_interval", &cw.RetryMaxInterval}, {"request_timeout", &cw.RequestTimeout}} {
		if *d.dst, err = duration(val, d.key, 0); err != nil {
			return err
		}
	}
	if cw.MaxRetryElapsed == 0 {
		// Leave room inside one flush for the final attempt.
		cw.MaxRetryElapsed = min(cloudwatch.DefaultMaxRetryElapsed, c.FlushTimeout*2/3)
	}
	if cw.MaxBatchEvents, err = integer(val, "max_batch_events", 0); err != nil {
		return err
	}
	if cw.MaxBatchBytes, err = size(val, "max_batch_bytes", 0); err != nil {
		return err
	}
	if cw.Concurrency, err = integer(val, "concurrency", 0); err != nil {
		return err
	}
	return cw.Validate()
}

func loadSLS(c *Config, val func(string) string) error {
	s := &c.SLS
	s.Endpoint = val("endpoint")
	s.Project = val("project")
	s.Logstore = val("logstore")
	s.Topic = val("topic")
	s.Source = val("source")
	s.HashKey = val("hash_key")
	var err error
	if s.LogTags, err = kvList(val("log_tags"), "log_tags"); err != nil {
		return err
	}
	if len(s.LogTags) == 0 {
		s.LogTags = nil
	}
	s.RoleARN = val("role_arn")
	s.OIDCProviderARN = val("oidc_provider_arn")
	s.OIDCTokenFile = val("oidc_token_file")
	s.RoleSessionName = val("role_session_name")
	s.STSEndpoint = val("sts_endpoint")
	for _, d := range []struct {
		key string
		dst *time.Duration
	}{{"max_retry_elapsed", &s.RetryMaxElapsed}, {"retry_initial_interval", &s.RetryInitial},
		{"retry_max_interval", &s.RetryMax}, {"request_timeout", &s.RequestTimeout}} {
		if *d.dst, err = duration(val, d.key, 0); err != nil {
			return err
		}
	}
	if s.RetryMaxElapsed == 0 {
		s.RetryMaxElapsed = c.FlushTimeout * 2 / 3
	}
	if s.MaxBatchBytes, err = size(val, "max_batch_bytes", 0); err != nil {
		return err
	}
	if s.MaxBatchLogs, err = integer(val, "max_batch_logs", 0); err != nil {
		return err
	}
	if s.MaxBufferBytes, err = size(val, "max_buffer_bytes", 0); err != nil {
		return err
	}
	return s.Validate()
}

// duration parses a Go duration ("1m30s") or whole seconds ("90").
func duration(val func(string) string, key string, def time.Duration) (time.Duration, error) {
	v := val(key)
	if v == "" {
		return def, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 || n > 1<<31 {
			return 0, fmt.Errorf("%s: %q out of range", key, v)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: %q is not a duration (90s, 1m30s, or whole seconds)", key, v)
	}
	return d, nil
}

func integer(val func(string) string, key string, def int) (int, error) {
	v := val(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", key, v)
	}
	return n, nil
}

func size(val func(string) string, key string, def int) (int, error) {
	v := val(key)
	if v == "" {
		return def, nil
	}
	n, err := pipeline.ParseSize(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", key, err)
	}
	return n, nil
}

func boolean(val func(string) string, key string, def bool) (bool, error) {
	v := val(key)
	if v == "" {
		return def, nil
	}
	b, err := pipeline.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s: %w", key, err)
	}
	return b, nil
}

// kvList parses "k1=v1, k2=v2" (comma or space separated).
func kvList(v, key string) (map[string]string, error) {
	m := map[string]string{}
	for _, item := range pipeline.ParseList(v) {
		k, val, ok := strings.Cut(item, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%s: %q is not key=value", key, item)
		}
		m[strings.TrimSpace(k)] = strings.TrimSpace(val)
	}
	return m, nil
}
