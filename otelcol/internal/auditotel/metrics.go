package auditotel

import (
	"context"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/auditlane/auditlane/common/pipeline"
)

// RegisterMetrics registers pipeline.Metrics with the component's meter as
// asynchronous instruments read from snapshot at each collection, each
// series labelled with the component id (so that several auditlane
// components, or one with several policies, never share a series). With
// deliveryOnly, only the delivery metrics are registered (exporters).
func RegisterMetrics(set component.TelemetrySettings, scope string, id component.ID, snapshot func() pipeline.Counters, deliveryOnly bool) (metric.Registration, error) {
	m := set.MeterProvider.Meter(scope)
	type inst struct {
		def *pipeline.Metric
		c   metric.Int64ObservableCounter
		g   metric.Float64ObservableGauge
	}
	var insts []inst
	var obs []metric.Observable
	for i := range pipeline.Metrics {
		d := &pipeline.Metrics[i]
		if deliveryOnly && !d.Delivery {
			continue
		}
		in := inst{def: d}
		var err error
		if d.Gauge {
			in.g, err = m.Float64ObservableGauge(d.OTel, metric.WithDescription(d.Help))
			obs = append(obs, in.g)
		} else {
			in.c, err = m.Int64ObservableCounter(d.OTel, metric.WithDescription(d.Help))
			obs = append(obs, in.c)
		}
		if err != nil {
			return nil, err
		}
		insts = append(insts, in)
	}
	comp := attribute.String(pipeline.LabelComponent, id.String())
	base := metric.WithAttributeSet(attribute.NewSet(comp))
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		snap := snapshot()
		now := time.Now()
		for _, in := range insts {
			in.def.Samples(&snap, now, func(label string, v float64) {
				opt := base
				if in.def.Label != "" {
					opt = metric.WithAttributeSet(attribute.NewSet(comp, attribute.String(in.def.Label, label)))
				}
				if in.def.Gauge {
					o.ObserveFloat64(in.g, v, opt)
				} else {
					o.ObserveInt64(in.c, int64(v), opt)
				}
			})
		}
		return nil
	}, obs...)
}
