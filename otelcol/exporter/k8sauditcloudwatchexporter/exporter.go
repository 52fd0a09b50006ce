package k8sauditcloudwatchexporter

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/auditlane/auditlane/common/sink/cloudwatch"
	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
)

type logsExporter struct {
	cfg    *Config
	set    exporter.Settings
	opts   []cloudwatch.Option
	writer *cloudwatch.Writer
}

func (e *logsExporter) start(ctx context.Context, _ component.Host) error {
	w, err := cloudwatch.New(ctx, e.cfg.sinkConfig(), e.opts...)
	if err != nil {
		return fmt.Errorf("k8saudit_cloudwatch: %w", err)
	}
	e.writer = w
	return nil
}

func (e *logsExporter) shutdown(ctx context.Context) error {
	if e.writer == nil {
		return nil
	}
	return e.writer.Close(ctx)
}

func (e *logsExporter) push(ctx context.Context, ld plog.Logs) error {
	if e.writer == nil {
		return errors.New("k8saudit_cloudwatch: exporter not started")
	}
	_, err := auditotel.Deliver(ctx, e.writer, ld, e.set.Logger, "k8saudit_cloudwatch")
	return err
}
