package auditotel

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configretry"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exporterhelper"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/auditlane/auditlane/common/sink"
)

// HelperSettings are the exporterhelper settings every audit exporter
// embeds in its config.
type HelperSettings struct {
	Timeout exporterhelper.TimeoutConfig
	Queue   configoptional.Optional[exporterhelper.QueueBatchConfig]
	Retry   configretry.BackOffConfig
}

// NewSinkLogs builds a logs exporter named name around a sink writer that
// open creates at start and that is closed at shutdown; pushes go through
// Deliver, so only records that failed in a retryable way are retried.
func NewSinkLogs(ctx context.Context, set exporter.Settings, cfg component.Config, name string, hs HelperSettings,
	open func(context.Context) (sink.Writer, error)) (exporter.Logs, error) {
	e := &sinkExporter{name: name, set: set, open: open}
	return exporterhelper.NewLogs(ctx, set, cfg, e.push,
		exporterhelper.WithTimeout(hs.Timeout),
		exporterhelper.WithQueue(hs.Queue),
		exporterhelper.WithRetry(hs.Retry),
		exporterhelper.WithCapabilities(consumer.Capabilities{MutatesData: false}),
		exporterhelper.WithStart(e.start),
		exporterhelper.WithShutdown(e.shutdown),
	)
}

type sinkExporter struct {
	name   string
	set    exporter.Settings
	open   func(context.Context) (sink.Writer, error)
	writer sink.Writer
}

func (e *sinkExporter) start(ctx context.Context, _ component.Host) error {
	w, err := e.open(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", e.name, err)
	}
	e.writer = w
	return nil
}

func (e *sinkExporter) shutdown(ctx context.Context) error {
	if e.writer == nil {
		return nil
	}
	return e.writer.Close(ctx)
}

func (e *sinkExporter) push(ctx context.Context, ld plog.Logs) error {
	if e.writer == nil {
		return errors.New(e.name + ": exporter not started")
	}
	_, err := Deliver(ctx, e.writer, ld, e.set.Logger, e.name)
	return err
}
