package pipeline

import (
	"sync"
	"time"

	"github.com/auditlane/auditlane/common/policy"
)

// Counters are a pipeline's cumulative counts, the same in every front end
// (see Metrics for their exported names).
//
// The outcome counts follow the invariant in = kept + dropped + rejected:
// each input is counted once, when a front end files its result (a Tally
// committed after the batch was accepted), never again when a batch comes
// back for another attempt. The delivery counts follow kept events to the
// destination: delivered, handed back for a retry, dead-lettered or lost.
type Counters struct {
	EventsIn, BytesIn, BytesOut int64
	Kept, Dropped, Rejected     int64
	// Skipped counts provider records that are not audit events, by
	// reason (not_audit): in = kept + dropped + rejected + skipped.
	Skipped         int64
	SkippedByReason map[string]int64
	// KeptByLevel counts kept events by effective policy level.
	KeptByLevel [4]int64
	// KeptByRule and DroppedByRule are indexed by rule; KeptNoMatch and
	// DroppedNoMatch count events no rule matched.
	KeptByRule, DroppedByRule   []int64
	KeptNoMatch, DroppedNoMatch int64
	RejectedByReason            map[string]int64

	DeliveryCounts
}

// DeliveryCounts follow events from a front end to the destination.
type DeliveryCounts struct {
	// Delivered counts events the destination acknowledged.
	Delivered int64
	// Retried counts events handed back for a later attempt (a chunk
	// answered FLB_RETRY, a batch refused with a retryable error): once per
	// event and attempt.
	Retried int64
	// DeadLettered counts inputs written to the dead letter, by reason.
	DeadLettered map[string]int64
	// Lost counts inputs that ended nowhere, by reason (a rotated file
	// deleted before it was read, a dead letter that could not be written
	// when no retry is possible).
	Lost map[string]int64
	// LostBytes counts input bytes that ended nowhere and could not be
	// counted as inputs, by reason (a rotated file deleted before it was
	// read: its events are unknown, its size is not).
	LostBytes map[string]int64
	// Refused counts requests a front end's server refused before their
	// events could be read, by reason (too_large, too_many_requests,
	// timeout, bad_method, not_found, bad_encoding, no_client_cert,
	// tls_handshake): the sender keeps the events and may send them again.
	Refused map[string]int64
	// SinkErrors counts failed delivery attempts of events, by reason
	// (throttled, access_denied, ...).
	SinkErrors map[string]int64
	// OldestPending is when the oldest event still waiting for delivery
	// was first seen (zero: none).
	OldestPending time.Time
}

// Delivery counts what happens to events on their way to the destination.
// A Pipeline has one (its methods are the Pipeline's); an exporter without
// a pipeline keeps its own. It is safe for concurrent use.
type Delivery struct {
	mu sync.Mutex
	c  DeliveryCounts
}

// NewDelivery returns empty delivery counters.
func NewDelivery() *Delivery {
	d := &Delivery{}
	d.c.init()
	return d
}

func (c *DeliveryCounts) init() {
	c.DeadLettered = map[string]int64{}
	c.Lost = map[string]int64{}
	c.LostBytes = map[string]int64{}
	c.Refused = map[string]int64{}
	c.SinkErrors = map[string]int64{}
}

// Snapshot returns a copy of the counts.
func (d *Delivery) Snapshot() DeliveryCounts {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.c
	c.DeadLettered = cloneMap(d.c.DeadLettered)
	c.Lost = cloneMap(d.c.Lost)
	c.LostBytes = cloneMap(d.c.LostBytes)
	c.Refused = cloneMap(d.c.Refused)
	c.SinkErrors = cloneMap(d.c.SinkErrors)
	return c
}

func (c *Counters) init(p *policy.Policy) {
	n := 0
	if p != nil {
		n = p.Rules()
	}
	c.KeptByRule = make([]int64, n)
	c.DroppedByRule = make([]int64, n)
	c.RejectedByReason = map[string]int64{}
	c.SkippedByReason = map[string]int64{}
}

// Counters returns a snapshot of the counters.
func (p *Pipeline) Counters() Counters {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.c
	c.KeptByRule = append([]int64(nil), c.KeptByRule...)
	c.DroppedByRule = append([]int64(nil), c.DroppedByRule...)
	c.RejectedByReason = cloneMap(p.c.RejectedByReason)
	c.SkippedByReason = cloneMap(p.c.SkippedByReason)
	c.DeliveryCounts = p.Delivery.Snapshot()
	return c
}

func cloneMap(m map[string]int64) map[string]int64 {
	c := make(map[string]int64, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// tallied is one result as a Tally keeps it.
type tallied struct {
	outcome Outcome
	level   policy.Level
	rule    int
	reason  string
	in, out int
}

// Tally holds the outcomes of one batch until the front end knows the
// batch is accepted (Pipeline.Commit) or will come again (Reset, then
// Pipeline.Retried): a batch that is refused and sent again is counted
// once. The zero Tally is empty and ready to use; it is not safe for
// concurrent use.
type Tally struct {
	items []tallied
}

// Add files one result.
func (t *Tally) Add(r *Result) {
	t.items = append(t.items, tallied{outcome: r.Outcome, level: r.Decision.Level, rule: r.Decision.Rule,
		reason: r.Reason, in: r.Size, out: len(r.Out)})
}

// Len returns the number of results filed.
func (t *Tally) Len() int { return len(t.items) }

// Reset forgets the filed results, keeping the memory.
func (t *Tally) Reset() { t.items = t.items[:0] }

// Commit adds the tally's results to the counters and resets it.
func (p *Pipeline) Commit(t *Tally) {
	if len(t.items) == 0 {
		return
	}
	p.mu.Lock()
	for i := range t.items {
		p.c.add(&t.items[i])
	}
	p.mu.Unlock()
	t.Reset()
}

func (p *Pipeline) count(r *Result) {
	it := tallied{outcome: r.Outcome, level: r.Decision.Level, rule: r.Decision.Rule, reason: r.Reason, in: r.Size, out: len(r.Out)}
	p.mu.Lock()
	p.c.add(&it)
	p.mu.Unlock()
}

func (c *Counters) add(r *tallied) {
	c.EventsIn++
	c.BytesIn += int64(r.in)
	switch r.outcome {
	case Kept:
		c.Kept++
		c.BytesOut += int64(r.out)
		if r.level >= 0 && int(r.level) < len(c.KeptByLevel) {
			c.KeptByLevel[r.level]++
		}
		if r.rule >= 0 && r.rule < len(c.KeptByRule) {
			c.KeptByRule[r.rule]++
		} else {
			c.KeptNoMatch++
		}
	case Dropped:
		c.Dropped++
		if r.rule >= 0 && r.rule < len(c.DroppedByRule) {
			c.DroppedByRule[r.rule]++
		} else {
			c.DroppedNoMatch++
		}
	case Rejected:
		c.Rejected++
		c.RejectedByReason[r.reason]++
	case Skipped:
		c.Skipped++
		c.SkippedByReason[r.reason]++
	}
}

// Delivered counts n events the destination acknowledged.
func (d *Delivery) Delivered(n int) { d.add(&d.c.Delivered, n) }

// Retried counts n events handed back for a later attempt.
func (d *Delivery) Retried(n int) { d.add(&d.c.Retried, n) }

// DeadLettered counts n inputs written to the dead letter for reason.
func (d *Delivery) DeadLettered(reason string, n int) { d.addTo(d.c.DeadLettered, reason, n) }

// Lost counts n inputs that ended nowhere, for reason.
func (d *Delivery) Lost(reason string, n int) { d.addTo(d.c.Lost, reason, n) }

// LostBytes counts n input bytes that ended nowhere, for reason.
func (d *Delivery) LostBytes(reason string, n int64) {
	if n <= 0 {
		return
	}
	d.mu.Lock()
	d.c.LostBytes[reason] += n
	d.mu.Unlock()
}

// Refused counts n requests refused for reason.
func (d *Delivery) Refused(reason string, n int) { d.addTo(d.c.Refused, reason, n) }

// SinkError counts n events whose delivery attempt failed for reason.
func (d *Delivery) SinkError(reason string, n int) { d.addTo(d.c.SinkErrors, reason, n) }

// SetOldestPending records when the oldest event still waiting for
// delivery was first seen (zero: none is waiting).
func (d *Delivery) SetOldestPending(t time.Time) {
	d.mu.Lock()
	d.c.OldestPending = t
	d.mu.Unlock()
}

func (d *Delivery) add(v *int64, n int) {
	if n == 0 {
		return
	}
	d.mu.Lock()
	*v += int64(n)
	d.mu.Unlock()
}

func (d *Delivery) addTo(m map[string]int64, key string, n int) {
	if n == 0 {
		return
	}
	d.mu.Lock()
	m[key] += int64(n)
	d.mu.Unlock()
}
