// Package k8sauditcloudwatchexporter is the k8saudit_cloudwatch exporter:
// it ships audit log records (the body is the shaped event) to Amazon
// CloudWatch Logs through auditlane's cloudwatch sink, with exporterhelper's
// sending_queue and retry_on_failure. Records the service refuses for good
// (too old, too large, bad name) are logged and dropped; only records that
// failed in a retryable way are handed back for retry, so delivered records
// are not sent twice.
package k8sauditcloudwatchexporter

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/auditlane/auditlane/common/sink"
	"github.com/auditlane/auditlane/common/sink/cloudwatch"
	"github.com/auditlane/auditlane/otelcol/exporter/k8sauditcloudwatchexporter/internal/metadata"
	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
)

// NewFactory returns the exporter factory.
func NewFactory() exporter.Factory {
	return newFactory()
}

func newFactory(opts ...cloudwatch.Option) exporter.Factory {
	return exporter.NewFactory(metadata.Type, createDefaultConfig,
		exporter.WithLogs(func(ctx context.Context, set exporter.Settings, cfg component.Config) (exporter.Logs, error) {
			return createLogs(ctx, set, cfg, opts)
		}, metadata.LogsStability))
}

func createDefaultConfig() component.Config {
	timeout := exporterhelper.NewDefaultTimeoutConfig()
	timeout.Timeout = 30 * time.Second
	return &Config{
		TimeoutConfig: timeout,
		QueueSettings: configoptional.Some(exporterhelper.NewDefaultQueueConfig()),
		BackOffConfig: configretry.NewDefaultBackOffConfig(),
		Destination:   map[string]any{},
	}
}

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config, opts []cloudwatch.Option) (exporter.Logs, error) {
	c := cfg.(*Config)
	hs := auditotel.HelperSettings{Timeout: c.TimeoutConfig, Queue: c.QueueSettings, Retry: c.BackOffConfig}
	sc, err := c.sinkConfig()
	if err != nil {
		return nil, err
	}
	opts = append([]cloudwatch.Option{cloudwatch.WithLogger(auditotel.Slog(set.Logger))}, opts...)
	return auditotel.NewSinkLogs(ctx, set, cfg, "k8saudit_cloudwatch", hs, func(ctx context.Context) (sink.Writer, error) {
		w, err := cloudwatch.New(ctx, sc, opts...)
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return w, nil
	})
}
