// Package promexport exports a pipeline's counters (pipeline.Metrics) with
// the Prometheus client, for front ends that serve their own /metrics (the
// Fluent Bit plugin's metrics_listen).
package promexport

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/auditlane/auditlane/common/pipeline"
)

// Collector is a prometheus.Collector reading one component's counters at
// each scrape.
type Collector struct {
	component string
	delivery  bool
	snapshot  func() pipeline.Counters
	descs     []*prometheus.Desc
	metrics   []*pipeline.Metric
}

// New returns a collector for component. snapshot is read at each scrape;
// with deliveryOnly, only the delivery metrics are exported.
func New(component string, snapshot func() pipeline.Counters, deliveryOnly bool) *Collector {
	c := &Collector{component: component, snapshot: snapshot}
	for i := range pipeline.Metrics {
		m := &pipeline.Metrics[i]
		if deliveryOnly && !m.Delivery {
			continue
		}
		labels := []string{pipeline.LabelComponent}
		if m.Label != "" {
			labels = append(labels, m.Label)
		}
		c.descs = append(c.descs, prometheus.NewDesc(m.Name, m.Help, labels, nil))
		c.metrics = append(c.metrics, m)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	snap := c.snapshot()
	now := time.Now()
	for i, m := range c.metrics {
		typ := prometheus.CounterValue
		if m.Gauge {
			typ = prometheus.GaugeValue
		}
		desc := c.descs[i]
		m.Samples(&snap, now, func(label string, v float64) {
			if m.Label == "" {
				ch <- prometheus.MustNewConstMetric(desc, typ, v, c.component)
			} else {
				ch <- prometheus.MustNewConstMetric(desc, typ, v, c.component, label)
			}
		})
	}
}
