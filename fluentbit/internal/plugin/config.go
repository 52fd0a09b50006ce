package plugin

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/auditlane/auditlane/common/config"
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

// Config is one plugin instance's configuration.
type Config struct {
	// Pipeline holds every pipeline key (pipeline.Schema).
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
	// CloudWatch and SLS configure the cloud destinations
	// (cloudwatch.Schema, sls.Schema).
	CloudWatch cloudwatch.Config
	SLS        sls.Config
}

// Schema declares the plugin's own keys; the pipeline keys
// (pipeline.Schema) and the destination keys (cloudwatch.Schema,
// sls.Schema) complete the set it takes.
var Schema = config.Section{Name: "fluent-bit", Keys: []config.Key{
	config.Enum("destination", "", []string{DestCloudWatch, DestSLS, DestFile, DestStdout}, config.FluentBit,
		"Where kept events go: cloudwatch, sls, file or stdout (required)",
		func(c *Config, v string) { c.Destination = v }),
	config.String("file_path", "", config.FluentBit, "Output file of destination file (JSON lines)",
		func(c *Config, v string) { c.FilePath = v }),
	config.String("raw_key", "log", config.FluentBit, "Record key holding the raw audit JSON (tail without a parser); records without it are read as parsed JSON maps (http input, tail with the json parser)",
		func(c *Config, v string) { c.RawKey = v }),
	config.Duration("flush_timeout", "30s", config.FluentBit, "Bound of one flush call; undelivered events are retried (FLB_RETRY)",
		func(c *Config, v time.Duration) { c.FlushTimeout = v }),
	config.Duration("stats_interval", "60s", config.FluentBit, "Period of the stats log line; 0 disables it",
		func(c *Config, v time.Duration) { c.StatsInterval = v }),
	config.Enum("auditlane_log_level", "info", []string{"error", "warn", "info", "debug", "trace", "off"}, config.FluentBit,
		"The plugin's log level (Fluent Bit keeps log_level to itself)",
		func(c *Config, v string) { c.LogLevel, _ = ParseLevel(v) }),
	config.Int("progress_chunks", "1024", "chunks", 1, 1<<20, config.FluentBit, "Retried chunks whose delivery progress is remembered, so that a retry resends only undelivered events",
		func(c *Config, v int) { c.ProgressChunks = v }),
	config.String("metrics_listen", "", config.FluentBit, "Address of the plugin's Prometheus /metrics, for example 127.0.0.1:2021; empty: none (Go plugins cannot add to Fluent Bit's own metrics)",
		func(c *Config, v string) { c.MetricsListen = v }),
}}

// Sections returns every section the plugin takes, restricted to the keys
// Fluent Bit takes: its own, the pipeline's and both destinations'.
func Sections() []config.Section {
	return []config.Section{Schema, pipeline.Schema.For(config.FluentBit),
		cloudwatch.Schema.For(config.FluentBit), sls.Schema.For(config.FluentBit)}
}

// Keys returns every key the plugin reads, sorted: the config map it
// registers with Fluent Bit, which refuses any other key at start-up.
func Keys() []string { return config.SortedNames(Sections()...) }

// Getter returns a configuration value, "" when unset.
type Getter func(key string) string

// Load reads and validates an instance's configuration. Errors name the
// key. Keys of the destination not chosen are refused rather than ignored.
func Load(get Getter) (Config, error) {
	c := Config{Pipeline: pipeline.DefaultSettings(), CloudWatch: cloudwatch.DefaultConfig(), SLS: sls.DefaultConfig()}
	Schema.Defaults(&c)
	val := func(k string) string { return strings.TrimSpace(get(k)) }
	set := func(s config.Section, target any) (map[string]bool, error) {
		seen := map[string]bool{}
		for _, k := range s.Keys {
			if v := val(k.Name); v != "" {
				if err := k.Set(target, config.StringValue(v)); err != nil {
					return nil, err
				}
				seen[k.Name] = true
			}
		}
		return seen, nil
	}
	if _, err := set(Schema, &c); err != nil {
		return c, err
	}
	if c.Destination == "" {
		return c, config.Errorf("destination", "required; use cloudwatch, sls, file or stdout")
	}
	if c.Destination == DestFile && c.FilePath == "" {
		return c, config.Errorf("file_path", "required with destination file")
	}
	if c.Destination != DestFile && c.FilePath != "" {
		return c, config.Errorf("file_path", "applies to destination file, not %s", c.Destination)
	}
	if c.FlushTimeout <= 0 {
		return c, config.Errorf("flush_timeout", "must be positive")
	}
	pipe, err := set(pipeline.Schema.For(config.FluentBit), &c.Pipeline)
	if err != nil {
		return c, err
	}
	cw, sl := cloudwatch.Schema.For(config.FluentBit), sls.Schema.For(config.FluentBit)
	var active, other config.Section
	switch c.Destination {
	case DestCloudWatch:
		active, other = cw, sl
		_, err = set(cw, &c.CloudWatch)
	case DestSLS:
		active, other = sl, cw
		_, err = set(sl, &c.SLS)
	default:
		other = config.Merge("", cw, sl)
	}
	if err != nil {
		return c, err
	}
	for _, k := range other.Keys {
		if active.Lookup(k.Name) == nil && val(k.Name) != "" {
			return c, config.Errorf(k.Name, "applies to another destination, not %s", c.Destination)
		}
	}
	switch c.Destination {
	case DestCloudWatch:
		err = finishCloudWatch(&c)
	case DestSLS:
		if !pipe["layout"] {
			c.Pipeline.Shape.Layout = "sls"
		}
		err = c.SLS.Validate()
	}
	if err != nil {
		return c, err
	}
	if err := c.Pipeline.Validate(); err != nil {
		return c, err
	}
	return c, nil
}

// finishCloudWatch adds the template variables every instance knows.
func finishCloudWatch(c *Config) error {
	cw := &c.CloudWatch
	if cw.LogGroupName == "" {
		return config.Errorf("log_group_name", "required with destination cloudwatch")
	}
	vars := map[string]string{}
	host, _ := os.Hostname()
	for k, v := range map[string]string{"cluster": c.Pipeline.Enrich.ClusterName, "cluster_name": c.Pipeline.Enrich.ClusterName,
		"cluster_id": c.Pipeline.Enrich.ClusterID, "provider": c.Pipeline.Enrich.Provider, "hostname": host} {
		if v != "" {
			vars[k] = v
		}
	}
	for k, v := range cw.Vars {
		vars[k] = v
	}
	cw.Vars = vars
	return cw.Validate()
}

// Describe returns a one-line summary of the configuration for the start-up
// log line (no secrets: none are configured).
func (c *Config) Describe() string {
	return fmt.Sprintf("destination=%s policy=%q layout=%s raw_key=%s flush_timeout=%s", c.Destination,
		c.Pipeline.PolicyFile, c.Pipeline.Shape.Layout, c.RawKey, c.FlushTimeout)
}
