// Package k8sauditreceiver is the k8saudit receiver: it reads Kubernetes
// apiserver audit events from the audit log file (tailing across
// lumberjack rotation, gzip backups included, with checkpoints in a
// storage extension), from the apiserver's audit webhook (EventList
// POSTs over mTLS), from CloudWatch Logs (EKS, FilterLogEvents re-read
// over a look-back for events that become visible late) or from an SLS logstore (ACK, through a consumer
// group shared by replicas), runs them through auditlane's pipeline (policy,
// enrichment, shaping) and emits one log record per kept event: body = the
// shaped event JSON, timestamp = stageTimestamp, severity from the response
// code and the enricher's attributes.
package k8sauditreceiver

import (
	"context"
	"os"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"

	"github.com/auditlane/auditlane/common/source/cloudwatchsrc"
	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
	"github.com/auditlane/auditlane/otelcol/receiver/k8sauditreceiver/internal/metadata"
)

// NewFactory returns the receiver factory.
func NewFactory() receiver.Factory {
	return receiver.NewFactory(metadata.Type, createDefaultConfig,
		receiver.WithLogs(createLogs, metadata.LogsStability))
}

func createDefaultConfig() component.Config {
	srv := confighttp.NewDefaultServerConfig()
	srv.NetAddr.Endpoint = "localhost:9880"
	// A slow or stalled client (a slow-drip body, a half-sent header)
	// holds a connection at most this long.
	srv.ReadHeaderTimeout = 10 * time.Second
	srv.ReadTimeout = time.Minute
	srv.WriteTimeout = 90 * time.Second
	// The apiserver sends plain or gzip bodies; other encodings are
	// refused unless configured.
	srv.CompressionAlgorithms = []string{"", "identity", "gzip"}
	return &Config{
		Mode: ModeFile,
		File: FileConfig{StartAt: "end", PollInterval: 200 * time.Millisecond, MaxBatch: 1000, FingerprintSize: 1024},
		Webhook: WebhookConfig{ServerConfig: srv, Path: "/", HealthPath: "/healthz", RetryAfter: 5 * time.Second,
			MaxConcurrentRequests: 4, MaxBatch: 1000},
		CloudWatch: CloudWatchConfig{
			LogStreamNamePrefix: cloudwatchsrc.DefaultStreamPrefix, StartAt: "end", PollInterval: 5 * time.Second,
			LookBack: cloudwatchsrc.DefaultLookBack,
		},
		SLS: SLSConfig{
			ConsumerGroup: "auditlane", ConsumerName: hostname(), StartAt: "end",
			HeartbeatInterval: 20 * time.Second,
		},
		Pipeline: auditotel.PipelineConfig{},
	}
}

// hostname is the default sls::consumer_name: the pod name in Kubernetes.
func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return ""
	}
	return h
}

func createLogs(_ context.Context, set receiver.Settings, cfg component.Config, next consumer.Logs) (receiver.Logs, error) {
	return newReceiver(set, cfg.(*Config), next)
}
