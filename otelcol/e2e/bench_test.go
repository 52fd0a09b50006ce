package e2e

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/collector/receiver/receivertest"

	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
	"github.com/auditlane/auditlane/otelcol/exporter/k8sauditcloudwatchexporter"
	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
	"github.com/auditlane/auditlane/otelcol/internal/audittest"
	"github.com/auditlane/auditlane/otelcol/processor/k8sauditprocessor"
	"github.com/auditlane/auditlane/otelcol/receiver/k8sauditreceiver"
)

// counter counts log records and passes them on.
type counter struct {
	n    atomic.Int64
	next consumer.Logs
}

func (c *counter) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }
func (c *counter) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if c.next != nil {
		if err := c.next.ConsumeLogs(ctx, ld); err != nil {
			return err
		}
	}
	c.n.Add(int64(ld.LogRecordCount()))
	return nil
}

const benchEvents = 20000

// benchFlow tails a file of benchEvents events through the k8saudit
// receiver and processor into last, b.N times, and reports events/s.
func benchFlow(b *testing.B, last func(b *testing.B) consumer.Logs) {
	dir := b.TempDir()
	path := filepath.Join(dir, "audit.log")
	if err := os.WriteFile(path, []byte(audittest.Lines(0, benchEvents, time.Now())), 0o600); err != nil {
		b.Fatal(err)
	}
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(audittest.Policy), 0o600); err != nil {
		b.Fatal(err)
	}
	var kept int
	for i := 0; i < benchEvents; i++ {
		if !audittest.Dropped(i) {
			kept++
		}
	}
	end := last(b)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		cnt := &counter{next: end}
		pf := k8sauditprocessor.NewFactory()
		pcfg := pf.CreateDefaultConfig().(*k8sauditprocessor.Config)
		pcfg.Pipeline = auditotel.PipelineConfig{"policy_file": pol, "cluster_name": "bench"}
		proc, err := pf.CreateLogs(context.Background(), processortest.NewNopSettings(pf.Type()), pcfg, cnt)
		if err != nil {
			b.Fatal(err)
		}
		rf := k8sauditreceiver.NewFactory()
		rcfg := rf.CreateDefaultConfig().(*k8sauditreceiver.Config)
		rcfg.File.Path, rcfg.File.StartAt, rcfg.File.PollInterval = path, "beginning", 5*time.Millisecond
		// The receiver only decodes and passes on; policy and enrichment
		// run once, in the processor.
		rcfg.Pipeline = auditotel.PipelineConfig{"enrich": false}
		rcv, err := rf.CreateLogs(context.Background(), receivertest.NewNopSettings(rf.Type()), rcfg, proc)
		if err != nil {
			b.Fatal(err)
		}
		_ = proc.Start(context.Background(), componenttest.NewNopHost())
		if err := rcv.Start(context.Background(), componenttest.NewNopHost()); err != nil {
			b.Fatal(err)
		}
		for cnt.n.Load() < int64(kept) {
			time.Sleep(time.Millisecond)
		}
		_ = rcv.Shutdown(context.Background())
		_ = proc.Shutdown(context.Background())
	}
	el := time.Since(start)
	b.ReportMetric(float64(b.N*benchEvents)/el.Seconds(), "events/s")
}

// BenchmarkReceiverProcessor: file → k8saudit receiver → k8saudit processor
// (policy + enrichment + shaping) → count.
func BenchmarkReceiverProcessor(b *testing.B) {
	benchFlow(b, func(*testing.B) consumer.Logs { return nil })
}

// BenchmarkFileToCloudWatch: the same flow into the k8saudit_cloudwatch
// exporter (no queue) and the local CloudWatch Logs server.
func BenchmarkFileToCloudWatch(b *testing.B) {
	benchFlow(b, func(b *testing.B) consumer.Logs {
		srv, err := cwtest.New(cwtest.Options{Discard: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(srv.Close)
		b.Setenv("AWS_ACCESS_KEY_ID", "AKIDBENCH")
		b.Setenv("AWS_SECRET_ACCESS_KEY", "bench-secret")
		b.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		b.Setenv("AWS_CONFIG_FILE", os.DevNull)
		b.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
		f := k8sauditcloudwatchexporter.NewFactory()
		cfg := f.CreateDefaultConfig().(*k8sauditcloudwatchexporter.Config)
		cfg.Destination = map[string]any{"region": "us-east-1", "endpoint": srv.URL, "log_group_name": "/k8s/bench/audit",
			"log_stream_name": "apiserver", "auto_create_group": true}
		cfg.QueueSettings = configoptional.None[exporterhelper.QueueBatchConfig]()
		exp, err := f.CreateLogs(context.Background(), exportertest.NewNopSettings(f.Type()), cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
		return exp
	})
}
