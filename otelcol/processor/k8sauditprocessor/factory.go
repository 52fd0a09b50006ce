// Package k8sauditprocessor is the k8saudit processor: it applies an audit
// Policy, enrichment and shaping to audit events carried by log records
// from any receiver (the body as a JSON string or bytes, or as a map, for
// example from OTLP). Records the policy drops are removed and counted by
// rule; records that are not audit events are removed and counted by reason
// (and written to the dead letter when one is configured); kept records get
// the shaped event as body, the stageTimestamp as timestamp, a severity from
// the response code and the enricher's attributes.
package k8sauditprocessor

import (
	"context"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processorhelper"

	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
	"github.com/auditlane/auditlane/otelcol/processor/k8sauditprocessor/internal/metadata"
)

// NewFactory returns the processor factory.
func NewFactory() processor.Factory {
	return processor.NewFactory(metadata.Type, createDefaultConfig,
		processor.WithLogs(createLogs, metadata.LogsStability))
}

func createDefaultConfig() component.Config {
	return &Config{Pipeline: auditotel.PipelineConfig{}}
}

func createLogs(ctx context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	flow, err := auditotel.NewFlow(cfg.(*Config).Pipeline, set.TelemetrySettings, metadata.ScopeName)
	if err != nil {
		return nil, err
	}
	p := &auditProcessor{flow: flow}
	return processorhelper.NewLogs(ctx, set, cfg, next, p.processLogs,
		processorhelper.WithCapabilities(consumer.Capabilities{MutatesData: true}),
		processorhelper.WithShutdown(func(context.Context) error { return flow.Close() }))
}
