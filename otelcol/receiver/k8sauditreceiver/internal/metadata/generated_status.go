// Package metadata holds the component type and stability of the k8saudit
// receiver (written by hand in the form mdatagen generates; see
// ../../metadata.yaml).
package metadata

import (
	"go.opentelemetry.io/collector/component"
)

var (
	// Type is the receiver's component type.
	Type = component.MustNewType("k8saudit")
	// ScopeName is the instrumentation scope of the receiver's telemetry.
	ScopeName = "github.com/auditlane/auditlane/otelcol/receiver/k8sauditreceiver"
)

// LogsStability is the stability of the logs signal.
const LogsStability = component.StabilityLevelAlpha
