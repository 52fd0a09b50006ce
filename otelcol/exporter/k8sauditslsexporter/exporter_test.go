package k8sauditslsexporter

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

	"github.com/auditlane/auditlane/common/sink/sls"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
	"github.com/auditlane/auditlane/otelcol/exporter/k8sauditslsexporter/internal/metadata"
	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
	"github.com/auditlane/auditlane/otelcol/internal/audittest"
)

const (
	project, logstore = "audit-prj", "audit-ls"
	keyID, keySecret  = "LTAItest", "sls-secret-value"
)

func startServer(t *testing.T) *slstest.Server {
	t.Helper()
	srv, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects: map[string][]string{project: {logstore}},
		Keys:     map[string]string{keyID: keySecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func newExporter(t *testing.T, srv *slstest.Server, mod func(*Config)) exporter.Logs {
	t.Helper()
	f := newFactory(sls.WithHTTPClient(srv.Client()))
	cfg := f.CreateDefaultConfig().(*Config)
	// Credentials come from the environment, never from configuration.
	t.Setenv(sls.EnvAccessKeyID, keyID)
	t.Setenv(sls.EnvAccessKeySecret, keySecret)
	cfg.Destination = map[string]any{"endpoint": srv.Endpoint(), "project": project, "logstore": logstore, "retry_max_elapsed": "300ms"}
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

func logs(bodies ...string) plog.Logs {
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i, b := range bodies {
		lr := lrs.AppendEmpty()
		lr.Body().SetStr(b)
		lr.SetTimestamp(pcommon.NewTimestampFromTime(time.Now()))
		lr.Attributes().PutStr(auditotel.AttrAuditID, audittest.ID(i))
	}
	return ld
}

func TestJSONBodySplitIntoKeys(t *testing.T) {
	srv := startServer(t)
	exp := newExporter(t, srv, nil)
	now := time.Now()
	if err := exp.ConsumeLogs(context.Background(), logs(audittest.Event(0, now), audittest.Event(2, now))); err != nil {
		t.Fatal(err)
	}
	got := srv.Logs(project, logstore)
	if len(got) != 2 {
		t.Fatalf("stored %d logs, want 2", len(got))
	}
	if v, _ := got[1].Get("auditID"); v != audittest.ID(2) {
		t.Errorf("auditID = %q", v)
	}
	if v, _ := got[0].Get("verb"); v != "update" {
		t.Errorf("verb = %q", v)
	}
}

func TestMapBodyKeepsKeyOrder(t *testing.T) {
	srv := startServer(t)
	exp := newExporter(t, srv, nil)
	ld := plog.NewLogs()
	lr := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	m := lr.Body().SetEmptyMap()
	m.PutStr("verb", "get")
	m.PutStr("auditID", "x")
	m.PutStr("user.username", "alice")
	if err := exp.ConsumeLogs(context.Background(), ld); err != nil {
		t.Fatal(err)
	}
	got := srv.Logs(project, logstore)
	if len(got) != 1 || len(got[0].Contents) != 3 || got[0].Contents[0].Key != "verb" || got[0].Contents[2].Key != "user.username" {
		t.Fatalf("stored %+v", got)
	}
}

func TestInvalidBodyIsPermanent(t *testing.T) {
	srv := startServer(t)
	exp := newExporter(t, srv, nil)
	err := exp.ConsumeLogs(context.Background(), logs(audittest.Event(0, time.Now()), "not json"))
	if err == nil || !consumererror.IsPermanent(err) {
		t.Fatalf("err = %v, want permanent", err)
	}
	if n := len(srv.Logs(project, logstore)); n != 1 {
		t.Fatalf("stored %d, want the valid record", n)
	}
}

func TestOutageReturnsOnlyRetryableRecords(t *testing.T) {
	srv := startServer(t)
	exp := newExporter(t, srv, nil)
	srv.Outage(time.Hour)
	now := time.Now()
	err := exp.ConsumeLogs(context.Background(), logs(audittest.Event(0, now), "[1]", audittest.Event(2, now)))
	var le consumererror.Logs
	if err == nil || consumererror.IsPermanent(err) || !errors.As(err, &le) {
		t.Fatalf("err = %v, want retryable consumererror.Logs", err)
	}
	if n := le.Data().LogRecordCount(); n != 2 {
		t.Fatalf("failed logs hold %d records, want 2", n)
	}
	if strings.Contains(err.Error(), keySecret) {
		t.Fatal("error leaks the access key secret")
	}
	srv.Outage(0)
	if err := exp.ConsumeLogs(context.Background(), le.Data()); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Logs(project, logstore)); n != 2 {
		t.Fatalf("stored %d logs after retry, want 2", n)
	}
}

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	load := func(id component.ID) (*Config, error) {
		cfg := NewFactory().CreateDefaultConfig()
		sub, err := cm.Sub(id.String())
		if err != nil {
			t.Fatal(err)
		}
		if err := sub.Unmarshal(cfg); err != nil {
			t.Fatal(err)
		}
		return cfg.(*Config), confmap.Validate(cfg)
	}
	c, err := load(component.NewID(metadata.Type))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := c.sinkConfig()
	if err != nil || sc.Project != "k8s-audit" || sc.Topic != "prod" || sc.RetryMaxElapsed != 2*time.Second || sc.AccessKeyID != "" {
		t.Fatalf("config %+v: %v", sc, err)
	}
	for name, want := range map[string]string{"no_project": "project", "credentials": "access_key_id: unknown key",
		"typo": "logstroe: unknown key (did you mean logstore?)"} {
		_, err := load(component.NewIDWithName(metadata.Type, name))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: err = %v, want %q", name, err, want)
		}
		if strings.Contains(err.Error(), "example-secret") {
			t.Fatalf("error shows a credential: %v", err)
		}
	}
}
