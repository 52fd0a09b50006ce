package k8sauditprocessor

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
	"github.com/auditlane/auditlane/otelcol/internal/audittest"
	"github.com/auditlane/auditlane/otelcol/processor/k8sauditprocessor/internal/metadata"
)

func newProcessor(t *testing.T, pipe auditotel.PipelineConfig) (processor.Logs, *consumertest.LogsSink, *componenttest.Telemetry) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	set := processortest.NewNopSettings(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	sink := new(consumertest.LogsSink)
	cfg := &Config{Pipeline: pipe}
	if err := confmap.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	p, err := NewFactory().CreateLogs(context.Background(), set, cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p, sink, tel
}

func records(ld []plog.Logs) []plog.LogRecord {
	var out []plog.LogRecord
	for _, l := range ld {
		for i := 0; i < l.ResourceLogs().Len(); i++ {
			for j := 0; j < l.ResourceLogs().At(i).ScopeLogs().Len(); j++ {
				lrs := l.ResourceLogs().At(i).ScopeLogs().At(j).LogRecords()
				for k := 0; k < lrs.Len(); k++ {
					out = append(out, lrs.At(k))
				}
			}
		}
	}
	return out
}

var stamp = time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)

func TestPolicyDropsAndCountsPerRule(t *testing.T) {
	p, sink, tel := newProcessor(t, auditotel.PipelineConfig{"policy_file": "testdata/policy.yaml", "cluster_name": "prod"})
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	for i := 0; i < 12; i++ {
		lrs.AppendEmpty().Body().SetStr(audittest.Event(i, stamp))
	}
	if err := p.ConsumeLogs(context.Background(), ld); err != nil {
		t.Fatal(err)
	}
	got := records(sink.AllLogs())
	if len(got) != 8 {
		t.Fatalf("kept %d records, want 8", len(got))
	}
	want := 0
	for _, lr := range got {
		for audittest.Dropped(want) {
			want++
		}
		id, _ := lr.Attributes().Get(auditotel.AttrAuditID)
		if id.Str() != audittest.ID(want) {
			t.Fatalf("record audit id %s, want %s", id.Str(), audittest.ID(want))
		}
		if c, _ := lr.Attributes().Get("k8s.cluster.name"); c.Str() != "prod" {
			t.Errorf("k8s.cluster.name = %q", c.Str())
		}
		if !lr.Timestamp().AsTime().Equal(stamp) {
			t.Errorf("timestamp %v, want stageTimestamp %v", lr.Timestamp().AsTime(), stamp)
		}
		want++
	}
	for _, c := range []struct {
		name, key, val string
		want           int64
	}{
		{"auditlane.events.in", "", "", 12},
		{"auditlane.events.kept", "rule", "2", 8},
		{"auditlane.events.dropped", "rule", "0", 2},
		{"auditlane.events.dropped", "rule", "1", 2},
	} {
		if n := audittest.Sum(tel, c.name, c.key, c.val); n != c.want {
			t.Errorf("%s{%s=%s} = %d, want %d", c.name, c.key, c.val, n, c.want)
		}
	}
}

func TestMapBodyFromOTLP(t *testing.T) {
	p, sink, _ := newProcessor(t, auditotel.PipelineConfig{"cluster_name": "prod"})
	var m map[string]any
	if err := json.Unmarshal([]byte(audittest.Event(2, stamp)), &m); err != nil {
		t.Fatal(err)
	}
	ld := plog.NewLogs()
	if err := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetEmptyMap().FromRaw(m); err != nil {
		t.Fatal(err)
	}
	if err := p.ConsumeLogs(context.Background(), ld); err != nil {
		t.Fatal(err)
	}
	got := records(sink.AllLogs())
	if len(got) != 1 {
		t.Fatalf("got %d records", len(got))
	}
	lr := got[0]
	if !strings.Contains(lr.Body().Str(), audittest.ID(2)) {
		t.Fatalf("body %q is not the event", lr.Body().AsString())
	}
	if lr.SeverityNumber() != plog.SeverityNumberWarn || lr.SeverityText() != "WARN" {
		t.Errorf("severity %v %q for a 403, want WARN", lr.SeverityNumber(), lr.SeverityText())
	}
	if v, _ := lr.Attributes().Get("http.response.status_code"); v.AsString() != "403" {
		t.Errorf("http.response.status_code = %q", v.AsString())
	}
	if lr.ObservedTimestamp() == 0 {
		t.Error("observed timestamp not set")
	}
}

func TestRejectsNonAuditBodies(t *testing.T) {
	p, sink, tel := newProcessor(t, nil)
	ld := plog.NewLogs()
	lrs := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords()
	lrs.AppendEmpty().Body().SetStr("not json at all")
	lrs.AppendEmpty().Body().SetInt(42)
	lrs.AppendEmpty().Body().SetStr(`{"kind":0}`)
	lrs.AppendEmpty().Body().SetStr(audittest.Event(0, stamp))
	if err := p.ConsumeLogs(context.Background(), ld); err != nil {
		t.Fatal(err)
	}
	if n := len(records(sink.AllLogs())); n != 1 {
		t.Fatalf("kept %d records, want 1", n)
	}
	if n := audittest.Sum(tel, "auditlane.events.rejected", "", ""); n != 3 {
		t.Fatalf("rejected counter %d, want 3", n)
	}
	if n := audittest.Sum(tel, "auditlane.events.in", "", ""); n != 4 {
		t.Fatalf("in counter %d, want 4", n)
	}
}

func TestSLSLayoutGivesMapBody(t *testing.T) {
	p, sink, _ := newProcessor(t, auditotel.PipelineConfig{"layout": "sls"})
	ld := plog.NewLogs()
	ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr(audittest.Event(0, stamp))
	if err := p.ConsumeLogs(context.Background(), ld); err != nil {
		t.Fatal(err)
	}
	got := records(sink.AllLogs())
	if len(got) != 1 || got[0].Body().Map().Len() == 0 {
		t.Fatalf("body %v, want a key/value map", got[0].Body().AsRaw())
	}
	if v, ok := got[0].Body().Map().Get("auditID"); !ok || v.Str() != audittest.ID(0) {
		t.Errorf("auditID key = %v", v.AsRaw())
	}
}

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, wantErr string
	}{{"", ""}, {"unknown_key", "polcy_file"}, {"bad_size", "max_event_size"}} {
		id := component.NewIDWithName(metadata.Type, tc.name)
		cfg := NewFactory().CreateDefaultConfig()
		sub, err := cm.Sub(id.String())
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
			s, _ := cfg.(*Config).Pipeline.Settings()
			if s.PolicyFile != "testdata/policy.yaml" || s.Enrich.ClusterName != "prod" || !s.Shape.RedactSecrets {
				t.Fatalf("settings %+v", s)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: err = %v, want one naming %s", tc.name, err, tc.wantErr)
		}
	}
}

func TestMissingPolicyFileFailsCreate(t *testing.T) {
	_, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type),
		&Config{Pipeline: auditotel.PipelineConfig{"policy_file": "testdata/nope.yaml"}}, new(consumertest.LogsSink))
	if err == nil || !strings.Contains(err.Error(), "policy_file") {
		t.Fatalf("err = %v, want one naming policy_file", err)
	}
}
