package k8sauditcloudwatchexporter

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/auditlane/auditlane/common/sink/cloudwatch"
	"github.com/auditlane/auditlane/otelcol/exporter/k8sauditcloudwatchexporter/internal/metadata"
)

// TestBadCredentialsAreRetryable: CloudWatch refusing the credentials (key
// rotation, IAM propagation) is a retryable error holding every record,
// never a permanent one that would drop them; the retry with working
// credentials delivers each once.
func TestBadCredentialsAreRetryable(t *testing.T) {
	srv := startServer(t)
	bad := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "rotated-away", "")}
	f := newFactory(cloudwatch.WithAWSConfig(bad))
	cfg := f.CreateDefaultConfig().(*Config)
	cfg.Destination = map[string]any{"endpoint": srv.URL, "log_group_name": group, "log_stream_name": stream, "auto_create_group": true}
	cfg.QueueSettings = configoptional.None[exporterhelper.QueueBatchConfig]()
	cfg.BackOffConfig.Enabled = false
	exp, err := f.CreateLogs(context.Background(), exportertest.NewNopSettings(metadata.Type), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	defer exp.Shutdown(context.Background())
	now := time.Now()
	err = exp.ConsumeLogs(context.Background(), logs(now, now, now))
	if err == nil || consumererror.IsPermanent(err) {
		t.Fatalf("err = %v, want a retryable error", err)
	}
	var le consumererror.Logs
	if !errors.As(err, &le) || le.Data().LogRecordCount() != 3 {
		t.Fatalf("err = %v: want every record handed back", err)
	}
	good := newExporter(t, srv, nil)
	if err := good.ConsumeLogs(context.Background(), le.Data()); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Events(group, stream)); n != 3 {
		t.Fatalf("stored %d, want 3", n)
	}
}
