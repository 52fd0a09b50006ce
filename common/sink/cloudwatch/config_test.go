package cloudwatch

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/sink"
	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{LogGroupName: "/k8s/{cluster}/audit", LogStreamName: "{provider}-{hostname}", Vars: map[string]string{"cluster": "c1"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	for _, tc := range []struct {
		key string
		mut func(*Config)
	}{
		{"region", func(c *Config) { c.Region = "nowhere" }},
		{"log_group_name", func(c *Config) { c.LogGroupName = "" }},
		{"log_group_name", func(c *Config) { c.LogGroupName = "/k8s/{cluster" }},
		{"log_group_name", func(c *Config) { c.LogGroupName = "/k8s/cluster}" }},
		{"log_group_name", func(c *Config) { c.LogGroupName = "/k8s/{}" }},
		{"log_group_name", func(c *Config) { c.LogGroupName = "/k8s/{cluster}/a b" }},
		{"log_group_name", func(c *Config) { c.LogGroupName = strings.Repeat("a", 513) }},
		{"log_group_name", func(c *Config) { c.Vars["cluster"] = "bad cluster" }},
		{"log_stream_name", func(c *Config) { c.LogStreamName = "" }},
		{"log_stream_name", func(c *Config) { c.LogStreamName = "a:b" }},
		{"log_stream_name", func(c *Config) { c.LogStreamName = "a*{x" }},
		{"template_vars", func(c *Config) { c.Vars["bad key"] = "v" }},
		{"log_retention_days", func(c *Config) { c.RetentionDays = 2 }},
		{"log_group_class", func(c *Config) { c.LogGroupClass = "COLD"; c.AutoCreateGroup = true }},
		{"kms_key_id", func(c *Config) { c.KMSKeyID = "alias/foo"; c.AutoCreateGroup = true }},
		{"log_group_tags", func(c *Config) { c.Tags = map[string]string{"aws:x": "v"}; c.AutoCreateGroup = true }},
		{"log_group_tags", func(c *Config) { c.Tags = map[string]string{"k": "bad\x00"}; c.AutoCreateGroup = true }},
		{"auto_create_group", func(c *Config) { c.Tags = map[string]string{"k": "v"} }},
		{"role_arn", func(c *Config) { c.RoleARN = "arn:aws:iam::12:user/x" }},
		{"external_id", func(c *Config) { c.ExternalID = "abc" }},
		{"external_id", func(c *Config) { c.RoleARN = "arn:aws:iam::123456789012:role/r"; c.ExternalID = "x" }},
		{"endpoint", func(c *Config) { c.Endpoint = "localhost:4566" }},
		{"sts_endpoint", func(c *Config) { c.STSEndpoint = "ftp://x" }},
		{"retry_max_elapsed", func(c *Config) { c.MaxRetryElapsed = -1 }},
		{"retry_initial_interval", func(c *Config) { c.RetryInitialInterval = 10; c.RetryMaxInterval = 5 }},
		{"max_batch_events", func(c *Config) { c.MaxBatchEvents = 10_001 }},
		{"max_batch_bytes", func(c *Config) { c.MaxBatchBytes = 1000 }},
		{"concurrency", func(c *Config) { c.Concurrency = -1 }},
	} {
		c := ok
		c.Vars = map[string]string{"cluster": "c1"}
		tc.mut(&c)
		err := c.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), tc.key+": ") {
			t.Errorf("%s: got %v", tc.key, err)
		}
		if _, nerr := New(context.Background(), c); nerr == nil {
			t.Errorf("%s: New accepted an invalid config", tc.key)
		}
	}
}

func TestTemplateResolve(t *testing.T) {
	tpl, err := parseTemplate("pre-{a}-{b.c}{d}")
	if err != nil {
		t.Fatal(err)
	}
	if tpl.static(map[string]string{"a": "1"}) {
		t.Fatal("static with missing placeholders")
	}
	lookup := func(k string) (string, bool) {
		v, ok := map[string]string{"b.c": "2", "d": "3", "a": "record"}[k]
		return v, ok
	}
	if got, err := tpl.expand(map[string]string{"a": "1"}, lookup); err != nil || got != "pre-1-23" {
		t.Fatalf("expand = %q, %v", got, err)
	}
	if _, err := tpl.expand(nil, func(string) (string, bool) { return "", false }); err == nil || !strings.Contains(err.Error(), "{a}") {
		t.Fatalf("missing placeholder: %v", err)
	}
	r := sink.Record{Fields: []sink.Field{{Key: "x", Value: "1"}, {Key: "y", Value: "2"}}}
	if v, ok := FieldLookup(&r, "y"); !ok || v != "2" {
		t.Fatal("FieldLookup")
	}
	if _, ok := FieldLookup(&r, "z"); ok {
		t.Fatal("FieldLookup found a missing key")
	}
}

func TestCustomLookup(t *testing.T) {
	srv := newServer(t, cwtest.Options{})
	w := newTestWriter(t, srv, Config{LogStreamName: "{ns}", AutoCreateStream: true},
		WithLookup(func(rec *sink.Record, key string) (string, bool) {
			if key == "ns" {
				return "from-" + rec.ID, true
			}
			return "", false
		}))
	srv.CreateGroup("/k8s/test/audit", 0)
	if _, err := write(t, w, []sink.Record{rec("x", time.Now(), "m")}); err != nil {
		t.Fatal(err)
	}
	if len(srv.Events("/k8s/test/audit", "from-x")) != 1 {
		t.Fatal("custom lookup not used")
	}
}
