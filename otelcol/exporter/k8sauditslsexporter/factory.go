// Package k8sauditslsexporter is the k8saudit_sls exporter: it ships audit
// log records to an Alibaba Cloud SLS logstore through auditlane's sls
// sink, with exporterhelper's sending_queue and retry_on_failure. A record
// whose body is a map of strings (the ACK key/value layout the receiver and
// processor produce with layout: sls) is stored key by key in that order;
// a JSON body is split into its top-level keys. Records refused for good
// are logged and dropped; only retryable failures go back for retry.
package k8sauditslsexporter

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"

	"github.com/auditlane/auditlane/common/sink"
	"github.com/auditlane/auditlane/common/sink/sls"
	"github.com/auditlane/auditlane/otelcol/exporter/k8sauditslsexporter/internal/metadata"
	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
)

// NewFactory returns the exporter factory.
func NewFactory() exporter.Factory {
	return newFactory()
}

func newFactory(opts ...sls.Option) exporter.Factory {
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

func createLogs(ctx context.Context, set exporter.Settings, cfg component.Config, opts []sls.Option) (exporter.Logs, error) {
	c := cfg.(*Config)
	hs := auditotel.HelperSettings{Timeout: c.TimeoutConfig, Queue: c.QueueSettings, Retry: c.BackOffConfig}
	sc, err := c.sinkConfig()
	if err != nil {
		return nil, err
	}
	opts = append([]sls.Option{sls.WithLogger(auditotel.Slog(set.Logger))}, opts...)
	return auditotel.NewSinkLogs(ctx, set, cfg, "k8saudit_sls", hs, func(ctx context.Context) (sink.Writer, error) {
		w, err := sls.New(ctx, sc, opts...)
		if err != nil {
			return nil, err // not a typed nil inside the interface
		}
		return w, nil
	})
}
