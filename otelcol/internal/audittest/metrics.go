package audittest

import (
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Sum returns the value of the int64 sum metric name whose data point has
// attribute key=value (key "" matches every point, summed), or -1 when the
// metric does not exist.
func Sum(tel *componenttest.Telemetry, name, key, value string) int64 {
	m, err := tel.GetMetric(name)
	if err != nil {
		return -1
	}
	s, ok := m.Data.(metricdata.Sum[int64])
	if !ok {
		return -1
	}
	var n int64
	for _, dp := range s.DataPoints {
		if key == "" {
			n += dp.Value
			continue
		}
		if v, ok := dp.Attributes.Value(attributeKey(key)); ok && v.AsString() == value {
			n += dp.Value
		}
	}
	return n
}

func attributeKey(k string) attribute.Key { return attribute.Key(k) }
