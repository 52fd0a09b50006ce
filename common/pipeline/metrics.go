package pipeline

import (
	"sort"
	"strconv"
	"time"
)

// Metric describes one metric every front end exports with the same name
// and labels: the Fluent Bit plugin's /metrics (metrics_listen), the
// collector components' telemetry (its Prometheus export turns OTel into
// Name) and the command line's summary. Each carries a "component" label
// (the Fluent Bit output instance, the collector component id) and at most
// one more label, Label.
type Metric struct {
	// Name is the Prometheus name, as the collector's Prometheus export
	// writes it (no _total suffix, no unit): the plugin serves the same.
	Name string
	// OTel is the OpenTelemetry instrument name, without a unit so that
	// the collector's Prometheus names equal Name.
	OTel string
	Help string
	// Label is "rule", "reason" or "".
	Label string
	// Gauge marks a gauge (else a monotonic counter).
	Gauge bool
	// Delivery marks the delivery metrics (else outcome metrics, which only
	// a component that runs the pipeline exports).
	Delivery bool
	samples  func(c *Counters, now time.Time, add func(label string, v float64))
}

// LabelComponent is the label naming the exporting component.
const LabelComponent = "component"

// Samples calls add for each of m's values in c (label "" when m has none).
func (m *Metric) Samples(c *Counters, now time.Time, add func(label string, v float64)) {
	m.samples(c, now, add)
}

func one(f func(c *Counters) int64) func(*Counters, time.Time, func(string, float64)) {
	return func(c *Counters, _ time.Time, add func(string, float64)) { add("", float64(f(c))) }
}

func byKey(f func(c *Counters) map[string]int64) func(*Counters, time.Time, func(string, float64)) {
	return func(c *Counters, _ time.Time, add func(string, float64)) {
		m := f(c)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			add(k, float64(m[k]))
		}
	}
}

// byRule reports per-rule counts (label: the rule index) and the events
// no rule matched (label "none").
func byRule(rules func(c *Counters) []int64, none func(c *Counters) int64) func(*Counters, time.Time, func(string, float64)) {
	return func(c *Counters, _ time.Time, add func(string, float64)) {
		for i, n := range rules(c) {
			if n > 0 {
				add(strconv.Itoa(i), float64(n))
			}
		}
		if n := none(c); n > 0 {
			add("none", float64(n))
		}
	}
}

// Metrics is the one list of auditlane's metrics.
var Metrics = []Metric{
	{Name: "auditlane_events_in", OTel: "auditlane.events.in", Help: "Audit inputs seen (events, and inputs that could not be decoded), counted once.",
		samples: one(func(c *Counters) int64 { return c.EventsIn })},
	{Name: "auditlane_events_kept", OTel: "auditlane.events.kept", Help: "Events the policy kept, by rule (none: no rule matched).", Label: "rule",
		samples: byRule(func(c *Counters) []int64 { return c.KeptByRule }, func(c *Counters) int64 { return c.KeptNoMatch })},
	{Name: "auditlane_events_dropped", OTel: "auditlane.events.dropped", Help: "Events the policy dropped, by rule (none: no rule matched).", Label: "rule",
		samples: byRule(func(c *Counters) []int64 { return c.DroppedByRule }, func(c *Counters) int64 { return c.DroppedNoMatch })},
	{Name: "auditlane_events_rejected", OTel: "auditlane.events.rejected", Help: "Inputs rejected, by reason.", Label: "reason",
		samples: byKey(func(c *Counters) map[string]int64 { return c.RejectedByReason })},
	{Name: "auditlane_events_skipped", OTel: "auditlane.events.skipped", Help: "Provider records that are not audit events (not_audit), by reason.", Label: "reason",
		samples: byKey(func(c *Counters) map[string]int64 { return c.SkippedByReason })},
	{Name: "auditlane_input_bytes", OTel: "auditlane.input_bytes", Help: "Bytes of input seen.",
		samples: one(func(c *Counters) int64 { return c.BytesIn })},
	{Name: "auditlane_output_bytes", OTel: "auditlane.output_bytes", Help: "Bytes of kept events as shaped for the destination.",
		samples: one(func(c *Counters) int64 { return c.BytesOut })},
	{Name: "auditlane_events_delivered", OTel: "auditlane.events.delivered", Help: "Events the destination acknowledged.", Delivery: true,
		samples: one(func(c *Counters) int64 { return c.Delivered })},
	{Name: "auditlane_events_retried", OTel: "auditlane.events.retried", Help: "Events handed back for a later attempt, once per attempt.", Delivery: true,
		samples: one(func(c *Counters) int64 { return c.Retried })},
	{Name: "auditlane_events_dead_lettered", OTel: "auditlane.events.dead_lettered", Help: "Inputs written to the dead letter, by reason.", Label: "reason", Delivery: true,
		samples: byKey(func(c *Counters) map[string]int64 { return c.DeadLettered })},
	{Name: "auditlane_events_lost", OTel: "auditlane.events.lost", Help: "Inputs that ended nowhere, by reason.", Label: "reason", Delivery: true,
		samples: byKey(func(c *Counters) map[string]int64 { return c.Lost })},
	{Name: "auditlane_input_bytes_lost", OTel: "auditlane.input_bytes_lost", Help: "Input bytes that ended nowhere and could not be counted as events (a rotated file deleted before it was read), by reason.", Label: "reason", Delivery: true,
		samples: byKey(func(c *Counters) map[string]int64 { return c.LostBytes })},
	{Name: "auditlane_requests_refused", OTel: "auditlane.requests.refused", Help: "Requests a server front end refused before reading their events, by reason.", Label: "reason", Delivery: true,
		samples: byKey(func(c *Counters) map[string]int64 { return c.Refused })},
	{Name: "auditlane_sink_errors", OTel: "auditlane.sink.errors", Help: "Failed delivery attempts of events, by reason.", Label: "reason", Delivery: true,
		samples: byKey(func(c *Counters) map[string]int64 { return c.SinkErrors })},
	{Name: "auditlane_oldest_pending_age_seconds", OTel: "auditlane.oldest_pending_age_seconds", Help: "Age of the oldest event still waiting for delivery (0: none).", Gauge: true, Delivery: true,
		samples: func(c *Counters, now time.Time, add func(string, float64)) {
			age := 0.0
			if !c.OldestPending.IsZero() {
				age = max(now.Sub(c.OldestPending).Seconds(), 0)
			}
			add("", age)
		}},
}
