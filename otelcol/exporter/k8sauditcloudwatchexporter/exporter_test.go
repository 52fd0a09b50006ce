package k8sauditcloudwatchexporter

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/auditlane/auditlane/common/sink/cloudwatch"
	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
	"github.com/auditlane/auditlane/otelcol/exporter/k8sauditcloudwatchexporter/internal/metadata"
	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
	"github.com/auditlane/auditlane/otelcol/internal/audittest"
)

const group, stream = "/k8s/test/audit", "apiserver"

func awsConfig() aws.Config {
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret-test", "")}
}

func startServer(t *testing.T) *cwtest.Server {
	t.Helper()
	srv, err := cwtest.New(cwtest.Options{Credentials: map[string]cwtest.Credential{"AKIDTEST": {SecretAccessKey: "secret-test"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// newExporter builds a started exporter without queue and retry so that
// push errors reach the caller.
func newExporter(t *testing.T, srv *cwtest.Server, mod func(*Config)) exporter.Logs {
	t.Helper()
	f := newFactory(cloudwatch.WithAWSConfig(awsConfig()))
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.Destination = map[string]any{"endpoint": srv.URL, "region": "us-east-1", "log_group_name": group, "log_stream_name": stream,
		"auto_create_group": true, "retry_max_elapsed": "300ms"}
	cfg.QueueSettings = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.BackOffConfig.Enabled = false
	if mod != nil {
		mod(cfg)
	}
	if err := confmap.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	exp, err := f.CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
	return exp
}

// logs returns one log record per time, with an audit event body.
func logs(times ...time.Time) plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i, ts := range times {
		lr := lrs.AppendEmpty()
		lr.Body().SetStr(audittest.Event(i, ts))
		lr.SetTimestamp(pcommon.NewTimestampFromTime(ts))
		lr.Attributes().PutStr(auditotel.AttrAuditID, audittest.ID(i))
	}
	return ld
}

func TestDeliversEveryRecord(t *testing.T) {
	srv := startServer(t)
	exp := newExporter(t, srv, nil)
	now := time.Now()
	if err := exp.ConsumeLogs(context.Background(), logs(now, now, now.Add(time.Millisecond))); err != nil {
		t.Fatal(err)
	}
	evs := srv.Events(group, stream)
	if len(evs) != 3 {
		t.Fatalf("stored %d events, want 3", len(evs))
	}
	for i, ev := range evs {
		if ev.Message != audittest.Event(i, now.Add(time.Duration(i/2)*time.Millisecond)) {
			t.Errorf("event %d: message %q is not the record body", i, ev.Message)
		}
	}
}

func TestMapBodyIsJSON(t *testing.T) {
	srv := startServer(t)
	exp := newExporter(t, srv, nil)
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.Body().SetEmptyMap().PutStr("verb", "get")
	lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
	if err := exp.ConsumeLogs(context.Background(), ld); err != nil {
		t.Fatal(err)
	}
	if evs := srv.Events(group, stream); len(evs) != 1 || evs[0].Message != `{"verb":"get"}` {
		t.Fatalf("stored %+v", evs)
	}
}

func TestPermanentRejectionsArePermanent(t *testing.T) {
	srv := startServer(t)
	exp := newExporter(t, srv, nil)
	now := time.Now()
	err := exp.ConsumeLogs(context.Background(), logs(now, now.Add(-20*24*time.Hour), now))
	if err == nil || !consumererror.IsPermanent(err) {
		t.Fatalf("err = %v, want a permanent error", err)
	}
	if !strings.Contains(err.Error(), "k8saudit_cloudwatch") {
		t.Errorf("error %q does not name the exporter", err)
	}
	if n := len(srv.Events(group, stream)); n != 2 {
		t.Fatalf("stored %d events, want the 2 valid ones", n)
	}
}

func TestRetryableFailuresReturnOnlyFailedRecords(t *testing.T) {
	srv := startServer(t)
	exp := newExporter(t, srv, nil)
	srv.Outage(time.Hour)
	now := time.Now()
	err := exp.ConsumeLogs(context.Background(), logs(now, now.Add(-20*24*time.Hour), now))
	if err == nil || consumererror.IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	var le consumererror.Logs
	if !errors.As(err, &le) {
		t.Fatalf("err = %v, want consumererror.Logs", err)
	}
	failed := le.Data()
	if failed.LogRecordCount() != 2 {
		t.Fatalf("failed logs hold %d records, want the 2 retryable ones (not the too-old one)", failed.LogRecordCount())
	}
	ids := map[string]bool{}
	lrs := failed.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < lrs.Len(); i++ {
		v, _ := lrs.At(i).Attributes().Get(auditotel.AttrAuditID)
		ids[v.Str()] = true
	}
	if !ids[audittest.ID(0)] || !ids[audittest.ID(2)] {
		t.Fatalf("failed records %v, want events 0 and 2", ids)
	}
	// The retry of the failed records alone delivers each exactly once.
	srv.Outage(0)
	if err := exp.ConsumeLogs(context.Background(), failed); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Events(group, stream)); n != 2 {
		t.Fatalf("stored %d events after retry, want 2", n)
	}
}

func TestQueuedExportWithRetry(t *testing.T) {
	srv := startServer(t)
	srv.SetFaults(cwtest.Faults{ErrorRate: 0.3, Operations: []string{"PutLogEvents"}, Seed: 7})
	exp := newExporter(t, srv, func(c *Config) {
		c.QueueSettings = configoptional.Some(exporterhelper.NewDefaultQueueConfig())
		c.BackOffConfig.Enabled = true
		c.BackOffConfig.InitialInterval = 10 * time.Millisecond
		c.BackOffConfig.MaxInterval = 50 * time.Millisecond
	})
	now := time.Now()
	for i := 0; i < 20; i++ {
		if err := exp.ConsumeLogs(context.Background(), logs(now, now)); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(srv.Events(group, stream)) < 40 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(srv.Events(group, stream)); n != 40 {
		t.Fatalf("stored %d events, want 40", n)
	}
}

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id      component.ID
		wantErr string
	}{
		{component.NewID(metadata.Type), ""},
		{component.NewIDWithName(metadata.Type, "bad_retention"), "log_retention_days"},
		{component.NewIDWithName(metadata.Type, "no_group"), "log_group_name"},
		{component.NewIDWithName(metadata.Type, "typo"), "log_grop_name: unknown key (did you mean log_group_name?)"},
		{component.NewIDWithName(metadata.Type, "sls_key"), "project: unknown key"},
		{component.NewIDWithName(metadata.Type, "bad_bool"), "auto_create_stream: \"maybe\" is not a boolean"},
	} {
		t.Run(tc.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tc.id.String())
			if err != nil {
				t.Fatal(err)
			}
			if err := sub.Unmarshal(cfg); err != nil {
				t.Fatal(err)
			}
			err = confmap.Validate(cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				c := cfg.(*Config)
				sc, err := c.sinkConfig()
				if err != nil {
					t.Fatal(err)
				}
				// The keys the file sets, and the schema's defaults for the
				// rest: the same as the Fluent Bit plugin's.
				if sc.LogGroupName != "/k8s/{cluster}/audit" || sc.Vars["cluster"] != "prod" || !c.QueueSettings.HasValue() ||
					sc.RetentionDays != 30 || !sc.AutoCreateGroup || !sc.AutoCreateStream || sc.MaxRetryElapsed != 2*time.Second {
					t.Fatalf("config %+v", sc)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one naming %s", err, tc.wantErr)
			}
		})
	}
}
