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

func createLogs(_ context.Context, set processor.Settings, cfg component.Config, next consumer.Logs) (processor.Logs, error) {
	flow, err := auditotel.NewFlow(cfg.(*Config).Pipeline, set.TelemetrySettings, metadata.ScopeName, set.ID)
	if err != nil {
		return nil, err
	}
	return &auditProcessor{flow: flow, next: next}, nil
}
