// Package pipeline runs auditlane's one flow — decode, decide, apply,
// (enrich, shape) — behind a small API shared by the command-line tool, the
// Fluent Bit plugin and the collector components. Every input ends in
// exactly one Outcome, and the counters follow the outcomes.
package pipeline

import (
	"errors"
	"fmt"
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
	// Skipped: the input is a provider's log record that is not an audit
	// event (audit.ErrNotAudit: an AKS kube-apiserver category, a GKE
	// container.googleapis.com entry, a CloudWatch control message): not
	// delivered, not dead-lettered, counted by reason (not_audit).
	Skipped
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
	case Skipped:
		return "skipped"
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
	// MaxInputSize bounds one record (max_input_size); 0: no limit.
	MaxInputSize int
}

// Result is the outcome of one input.
type Result struct {
	Outcome  Outcome
	Decision policy.Decision
	// Out is the output event (Kept only). It lives in the Scratch passed
	// to Process and is valid until that Scratch is used again. For an
	// event rejected after decoding (too large once shaped), Out holds the
	// smallest shaped form reached: the policy and redaction are applied
	// to it, so it is what a dead letter may keep.
	Out []byte
	// Fields is the key/value layout when the shaper's layout has one.
	Fields []sink.Field
	// Time is the event time (stageTimestamp), zero when unknown.
	Time time.Time
	// Err is the decode or shaping error (Rejected only); Reason its counter
	// label.
	Err    error
	Reason string
	// Raw is the input of this unit: the event's bytes, or the bytes that
	// could not be decoded (nil when too large to keep). It may hold what
	// the policy strips: never write it anywhere (see DeadLetter).
	Raw []byte
	// Size is the input's size in bytes (len(Raw) when Raw is kept).
	Size int
	// Index is the unit's position in its record's list, -1 when the
	// record is one event.
	Index int
	// AuditID is the event's auditID ("" when unknown), valid as Out.
	AuditID string
	// Decoded reports that the input was an audit event (Kept, Dropped,
	// or Rejected after decoding).
	Decoded bool
}

// Pipeline processes events. It is safe for concurrent use when each
// goroutine passes its own Scratch.
type Pipeline struct {
	cfg Config
	mu  sync.Mutex
	c   Counters
	// Delivery counts the kept events' way to the destination; front ends
	// report into it (p.Delivered(n), p.Retried(n), ...).
	Delivery
}

// Scratch is per-goroutine reusable state.
type Scratch struct {
	Event   audit.Event
	Rewrite audit.Rewrite
	Enrich  enrich.Result
	Output  shape.Output
	buf     []byte
	res     Result
}

// New returns a Pipeline for cfg.
func New(cfg Config) *Pipeline {
	p := &Pipeline{cfg: cfg}
	p.c.init(cfg.Policy)
	p.Delivery.c.init()
	return p
}

// Policy returns the configured policy (nil when none).
func (p *Pipeline) Policy() *policy.Policy { return p.cfg.Policy }

// Enricher returns the configured enricher (nil when enrichment is off).
func (p *Pipeline) Enricher() *enrich.Enricher { return p.cfg.Enricher }

// Eval runs a decoded event through decide, apply, enrich and shape, and
// counts nothing: the caller adds the result to a Tally once it knows the
// result is final (see Tally). Enrichment reads the event as decoded, so
// risk tags see bodies that the policy strips from the output.
func (p *Pipeline) Eval(ev *audit.Event, s *Scratch) Result {
	d := policy.Decision{Level: policy.LevelRequestResponse, Rule: -1}
	if p.cfg.Policy != nil {
		d = p.cfg.Policy.Decide(ev)
	}
	base := Result{Decision: d, Raw: ev.Raw, Size: len(ev.Raw), Index: ev.Index, AuditID: ev.AuditID, Decoded: true}
	if ev.Level == "" && p.cfg.Policy == nil {
		// The apiserver always writes level. With a policy the level is
		// the policy's decision; without one there is no level to keep,
		// and none is invented.
		r := rejected(&audit.DecodeError{Pos: -1, Index: ev.Index, Field: "level", Err: audit.ErrMissing, Detail: "an audit Event always has a level", AuditID: ev.AuditID}, ev.Raw, len(ev.Raw))
		r.Index, r.AuditID = ev.Index, ev.AuditID
		return r
	}
	w := &s.Rewrite
	w.Reset()
	if !policy.Apply(ev, d, w) {
		base.Outcome = Dropped
		return base
	}
	r := base
	r.Outcome = Kept
	r.Time, _ = ev.Time()
	var er *enrich.Result
	if p.cfg.Enricher != nil {
		er = &s.Enrich
		p.cfg.Enricher.Enrich(ev, er)
	}
	if p.cfg.Shaper != nil {
		if err := p.cfg.Shaper.Shape(ev, w, er, &s.Output); err != nil {
			r.Outcome, r.Err, r.Reason = Rejected, err, Reason(err)
			r.Out, r.Fields = s.Output.Body, nil
			return r
		}
		r.Out, r.Fields = s.Output.Body, s.Output.Fields
	} else {
		s.buf = w.AppendTo(s.buf[:0], ev)
		r.Out = s.buf
	}
	return r
}

// Process is Eval followed by counting the result in the pipeline's
// counters, for front ends whose results are final at once (the command
// line).
func (p *Pipeline) Process(ev *audit.Event, s *Scratch) Result {
	r := p.Eval(ev, s)
	p.count(&r)
	return r
}

// Records splits one record (a single event, an EventList, an array or a
// provider wrapper: audit.Records, the one entry point for records) and
// calls emit with the result of each unit in order: each event evaluated
// as by Eval, each part that could not be decoded rejected. A record over
// MaxInputSize is rejected whole, unread. Nothing is counted: emit adds
// the results it files to a Tally. The Result and s.Event are valid during
// the call only.
func (p *Pipeline) Records(raw []byte, s *Scratch, emit func(r *Result)) {
	if p.cfg.MaxInputSize > 0 && len(raw) > p.cfg.MaxInputSize {
		s.res = rejected(fmt.Errorf("record of %d bytes, max_input_size %d: %w", len(raw), p.cfg.MaxInputSize, audit.ErrTooLarge), nil, len(raw))
		emit(&s.res)
		return
	}
	audit.Records(raw, &s.Event, func(ev *audit.Event, err error) bool {
		if err != nil {
			s.res = rejected(err, ev.Raw, len(ev.Raw))
			s.res.Index = ev.Index
		} else {
			s.res = p.Eval(ev, s)
		}
		emit(&s.res)
		return true
	})
}

// ProcessRecord is Records with every result counted at once.
func (p *Pipeline) ProcessRecord(raw []byte, s *Scratch, emit func(r *Result)) {
	p.Records(raw, s, func(r *Result) {
		p.count(r)
		emit(r)
	})
}

// ProcessRaw decodes one event from raw and processes it; a record holding
// several events is rejected (ErrList): front ends use ProcessRecord.
func (p *Pipeline) ProcessRaw(raw []byte, s *Scratch) Result {
	if err := audit.Parse(raw, &s.Event); err != nil {
		r := rejected(err, raw, len(raw))
		p.count(&r)
		return r
	}
	return p.Process(&s.Event, s)
}

// Reject counts an input of size bytes that could not be decoded and
// returns its Result.
func (p *Pipeline) Reject(err error, size int) Result {
	r := rejected(err, nil, size)
	p.count(&r)
	return r
}

// RejectResult returns the Result of an input that could not be decoded,
// uncounted (add it to a Tally).
func RejectResult(err error, raw []byte) Result { return rejected(err, raw, len(raw)) }

func rejected(err error, raw []byte, size int) Result {
	r := Result{Outcome: Rejected, Err: err, Reason: Reason(err), Raw: raw, Size: size, Index: -1, Decision: policy.Decision{Rule: -1}}
	var de *audit.DecodeError
	if errors.As(err, &de) {
		r.AuditID = de.AuditID
	}
	if errors.Is(err, audit.ErrNotAudit) {
		r.Outcome = Skipped
	}
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
	case errors.Is(err, audit.ErrList):
		return "list"
	case errors.Is(err, audit.ErrNotAudit):
		return "not_audit"
	case errors.Is(err, audit.ErrTruncated):
		return "truncated"
	case errors.Is(err, audit.ErrMissing):
		return "missing_field"
	}
	return "other"
}
