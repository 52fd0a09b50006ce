// Package metadata holds the component type and stability of the
// k8saudit_cloudwatch exporter (written by hand in the form mdatagen
// generates; see ../../metadata.yaml).
package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	// Type is the exporter's component type.
	Type = component.MustNewType("k8saudit_cloudwatch")
	// ScopeName is the instrumentation scope of the exporter's telemetry.
	ScopeName = "github.com/auditlane/auditlane/otelcol/exporter/k8sauditcloudwatchexporter"
)

// LogsStability is the stability of the logs signal.
const LogsStability = component.StabilityLevelAlpha
