// Package pipeline runs auditlane's one flow — decode, decide, apply,
// (enrich, shape) — behind a small API shared by the command-line tool, the
// Fluent Bit plugin and the collector components. Every input ends in
// exactly one Outcome, and the counters follow the outcomes.
package pipeline

import (
	"errors"
	"sync"
	"time"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/enrich"
	"github.com/auditlane/auditlane/common/policy"
	"github.com/auditlane/auditlane/common/shape"
	"github.com/auditlane/auditlane/common/sink"
)

// Outcome is where one input ended.
type Outcome uint8

const (
	// Kept: the event passes on, as Result.Out.
	Kept Outcome = iota
	// Dropped: the policy does not log the event (level None or an omitted
	// stage); Result.Rule tells which rule (-1: no rule matched).
	Dropped
	// Rejected: the input could not be decoded; Result.Err says why.
	Rejected
)

// String returns the outcome's name as used in counters.
func (o Outcome) String() string {
	switch o {
	case Kept:
		return "kept"
	case Dropped:
		return "dropped"
	case Rejected:
		return "rejected"
	}
	return "unknown"
}

// Config configures a Pipeline.
type Config struct {
	// Policy decides each event; nil keeps every event at the level it has.
	Policy *policy.Policy
	// Enricher derives fields and risk tags; nil disables enrichment.
	Enricher *enrich.Enricher
	// Shaper writes the output (layout, size limit, redaction); nil writes
	// compact JSON without limits.
	Shaper *shape.Shaper
}

// Result is the outcome of one input.
type Result struct {
	Outcome  Outcome
	Decision policy.Decision
	// Out is the output event (Kept only). It lives in the Scratch passed
	// to Process and is valid until that Scratch is used again.
	Out []byte
	// Fields is the key/value layout when the shaper's layout has one.
	Fields []sink.Field
	// Time is the event time (stageTimestamp), zero when unknown.
	Time time.Time
	// Err is the decode or shaping error (Rejected only); Reason its counter
	// label.
	Err    error
	Reason string
}

// Pipeline processes events. It is safe for concurrent use when each
// goroutine passes its own Scratch.
type Pipeline struct {
	cfg Config
	mu  sync.Mutex
	c   Counters
}

// Scratch is per-goroutine reusable state.
type Scratch struct {
	Event   audit.Event
	Rewrite audit.Rewrite
	Enrich  enrich.Result
	Output  shape.Output
	buf     []byte
}

// New returns a Pipeline for cfg.
func New(cfg Config) *Pipeline {
	p := &Pipeline{cfg: cfg}
	p.c.init(cfg.Policy)
	return p
}

// Policy returns the configured policy (nil when none).
func (p *Pipeline) Policy() *policy.Policy { return p.cfg.Policy }

// Process runs a decoded event through decide, apply, enrich and shape.
// Enrichment reads the event as decoded, so risk tags see bodies that the
// policy strips from the output.
func (p *Pipeline) Process(ev *audit.Event, s *Scratch) Result {
	d := policy.Decision{Level: policy.LevelRequestResponse, Rule: -1}
	if p.cfg.Policy != nil {
		d = p.cfg.Policy.Decide(ev)
	}
	w := &s.Rewrite
	w.Reset()
	if !policy.Apply(ev, d, w) {
		r := Result{Outcome: Dropped, Decision: d}
		p.count(r, len(ev.Raw), 0)
		return r
	}
	r := Result{Outcome: Kept, Decision: d}
	r.Time, _ = ev.Time()
	var er *enrich.Result
	if p.cfg.Enricher != nil {
		er = &s.Enrich
		p.cfg.Enricher.Enrich(ev, er)
	}
	if p.cfg.Shaper != nil {
		if err := p.cfg.Shaper.Shape(ev, w, er, &s.Output); err != nil {
			return p.Reject(err, len(ev.Raw))
		}
		r.Out, r.Fields = s.Output.Body, s.Output.Fields
	} else {
		s.buf = w.AppendTo(s.buf[:0], ev)
		r.Out = s.buf
	}
	p.count(r, len(ev.Raw), len(r.Out))
	return r
}

// ProcessRaw decodes one event from raw and processes it.
func (p *Pipeline) ProcessRaw(raw []byte, s *Scratch) Result {
	if err := audit.Parse(raw, &s.Event); err != nil {
		return p.Reject(err, len(raw))
	}
	return p.Process(&s.Event, s)
}

// Reject counts an input that could not be decoded and returns its Result.
func (p *Pipeline) Reject(err error, size int) Result {
	r := Result{Outcome: Rejected, Err: err, Reason: Reason(err)}
	p.count(r, size, 0)
	return r
}

// Reason returns the counter label for a decode error.
func Reason(err error) string {
	switch {
	case errors.Is(err, audit.ErrTooLarge), errors.Is(err, shape.ErrTooLarge):
		return "too_large"
	case errors.Is(err, audit.ErrUTF8):
		return "invalid_utf8"
	case errors.Is(err, audit.ErrNotObject):
		return "not_object"
	case errors.Is(err, audit.ErrType):
		return "wrong_type"
	case errors.Is(err, audit.ErrKind):
		return "unsupported_kind"
	case errors.Is(err, audit.ErrAPIVersion):
		return "unsupported_api_version"
	case errors.Is(err, audit.ErrSyntax):
		return "invalid_json"
	case errors.Is(err, audit.ErrProvider):
		return "invalid_provider_record"
	}
	return "other"
}

func (p *Pipeline) count(r Result, in, out int) {
	p.mu.Lock()
	c := &p.c
	c.EventsIn++
	c.BytesIn += int64(in)
	switch r.Outcome {
	case Kept:
		c.Kept++
		c.BytesOut += int64(out)
		c.KeptByLevel[r.Decision.Level]++
		if r.Decision.Rule >= 0 {
			c.KeptByRule[r.Decision.Rule]++
		}
	case Dropped:
		c.Dropped++
		if r.Decision.Rule >= 0 {
			c.DroppedByRule[r.Decision.Rule]++
		} else {
			c.DroppedNoMatch++
		}
	case Rejected:
		c.Rejected++
		c.RejectedByReason[r.Reason]++
	}
	p.mu.Unlock()
}

// Counters are a pipeline's cumulative outcome counts.
type Counters struct {
	EventsIn, BytesIn, BytesOut int64
	Kept, Dropped, Rejected     int64
	// KeptByLevel counts kept events by effective policy level.
	KeptByLevel [4]int64
	// KeptByRule and DroppedByRule are indexed by rule; DroppedNoMatch
	// counts events no rule matched (level None).
	KeptByRule, DroppedByRule []int64
	DroppedNoMatch            int64
	RejectedByReason          map[string]int64
}

func (c *Counters) init(p *policy.Policy) {
	n := 0
	if p != nil {
		n = p.Rules()
	}
	c.KeptByRule = make([]int64, n)
	c.DroppedByRule = make([]int64, n)
	c.RejectedByReason = map[string]int64{}
}

// Counters returns a snapshot of the counters.
func (p *Pipeline) Counters() Counters {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.c
	c.KeptByRule = append([]int64(nil), c.KeptByRule...)
	c.DroppedByRule = append([]int64(nil), c.DroppedByRule...)
	c.RejectedByReason = make(map[string]int64, len(p.c.RejectedByReason))
	for k, v := range p.c.RejectedByReason {
		c.RejectedByReason[k] = v
	}
	return c
}
