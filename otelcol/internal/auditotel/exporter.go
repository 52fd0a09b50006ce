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
	"go.opentelemetry.io/otel/metric"

	"github.com/auditlane/auditlane/common/pipeline"
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
	e := &sinkExporter{name: name, set: set, open: open, delivery: pipeline.NewDelivery()}
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
	name     string
	set      exporter.Settings
	open     func(context.Context) (sink.Writer, error)
	writer   sink.Writer
	delivery *pipeline.Delivery
	metrics  metric.Registration
}

func (e *sinkExporter) start(ctx context.Context, _ component.Host) error {
	w, err := e.open(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", e.name, err)
	}
	e.writer = w
	e.metrics, err = RegisterMetrics(e.set.TelemetrySettings, "github.com/auditlane/auditlane/otelcol/exporter/"+e.name, e.set.ID,
		func() pipeline.Counters { return pipeline.Counters{DeliveryCounts: e.delivery.Snapshot()} }, true)
	return err
}

func (e *sinkExporter) shutdown(ctx context.Context) error {
	if e.metrics != nil {
		_ = e.metrics.Unregister()
	}
	if e.writer == nil {
		return nil
	}
	return e.writer.Close(ctx)
}

// push delivers one batch and counts it: delivered events, failed
// attempts by reason, events handed back to retry_on_failure, and events
// refused for good (lost, with the destination's reason: an exporter has
// no dead letter).
func (e *sinkExporter) push(ctx context.Context, ld plog.Logs) error {
	if e.writer == nil {
		return errors.New(e.name + ": exporter not started")
	}
	st, err := Deliver(ctx, e.writer, ld, e.set.Logger, e.name)
	e.delivery.Delivered(st.Delivered)
	e.delivery.Retried(st.Retry)
	for reason, n := range st.Failed {
		e.delivery.SinkError(reason, n)
	}
	for reason, n := range st.Permanent {
		e.delivery.Lost("sink_"+reason, n)
	}
	return err
}
