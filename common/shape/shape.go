// Package shape turns a decided, enriched audit event into what a sink
// stores: compact JSON whose untouched parts are byte-identical to the
// input, the SLS key/value layout ACK uses, or a flat attribute map. It
// also redacts Secret contents and token-like query parameters, and keeps
// events under a maximum size the way the apiserver's truncate backend
// does, counting every case.
//
// Shaping adds its edits to the audit.Rewrite the policy's apply step
// filled, so the event is written in one pass:
//
//	policy.Apply(ev, decision, &w)
//	en.Enrich(ev, &res)
//	err := sh.Shape(ev, &w, &res, &out) // out.Body, out.Fields
package shape

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/config"
	"github.com/auditlane/auditlane/common/enrich"
	"github.com/auditlane/auditlane/common/sink"
)

// Layout selects the output form.
type Layout string

// Layouts.
const (
	// LayoutJSON: Body is the compact JSON event; no Fields.
	LayoutJSON Layout = "json"
	// LayoutSLS: Body as above, and Fields holds each top-level member as
	// its own key (strings unquoted, objects and arrays as JSON text,
	// numbers and booleans as written) followed by the enrichment keys.
	LayoutSLS Layout = "sls"
	// LayoutAttributes: Body as above, and Fields holds only the flat
	// enrichment attribute map (OpenTelemetry log record attributes).
	LayoutAttributes Layout = "attributes"
)

// MinMaxEventSize is the smallest accepted MaxEventSize: room for an
// event's metadata once bodies are removed and strings shortened.
const MinMaxEventSize = 1024

// Config configures shaping. The snake_case names are the configuration
// keys used in errors and in every front end.
type Config struct {
	// MaxEventSize (max_event_size) is the largest Body in bytes; 0 means
	// no limit. Larger events lose requestObject and responseObject and
	// gain the annotation audit.k8s.io/truncated: "true", as with the
	// apiserver's truncate backend; if still too large, their largest
	// strings are shortened with a visible marker; if even that fails,
	// Shape returns ErrTooLarge.
	MaxEventSize int `yaml:"max_event_size" json:"max_event_size" mapstructure:"max_event_size"`
	// RedactSecrets (redact_secrets) replaces Secret data and stringData
	// values, kubectl's last-applied-configuration on Secrets, TokenRequest
	// and TokenReview tokens with "REDACTED", even when the policy keeps
	// the bodies.
	RedactSecrets bool `yaml:"redact_secrets" json:"redact_secrets" mapstructure:"redact_secrets"`
	// RedactTokens (redact_tokens) replaces TokenRequest and TokenReview
	// tokens with "REDACTED", even when the policy keeps the bodies.
	RedactTokens bool `yaml:"redact_tokens" json:"redact_tokens" mapstructure:"redact_tokens"`
	// RedactQueryTokens (redact_query_tokens) replaces the values of
	// token-like query parameters in requestURI.
	RedactQueryTokens bool `yaml:"redact_query_tokens" json:"redact_query_tokens" mapstructure:"redact_query_tokens"`
	// Layout (layout): json (default when empty), sls or attributes.
	Layout Layout `yaml:"layout" json:"layout" mapstructure:"layout"`
}

// Validate reports the first configuration error, naming the key.
func (c *Config) Validate() error {
	switch c.Layout {
	case "", LayoutJSON, LayoutSLS, LayoutAttributes:
	default:
		return config.Errorf("layout", "unknown layout %q (want json, sls or attributes)", c.Layout)
	}
	if c.MaxEventSize < 0 || c.MaxEventSize > 0 && c.MaxEventSize < MinMaxEventSize {
		return config.Errorf("max_event_size", "%d is too small (0 for no limit, else at least %d)", c.MaxEventSize, MinMaxEventSize)
	}
	return nil
}

// ErrTooLarge is returned when an event cannot be brought under
// MaxEventSize. The event must be rejected (and dead-lettered), not lost.
var ErrTooLarge = errors.New("event too large after truncation")

// Output is one shaped event. Reuse it: Shape overwrites it and keeps its
// buffers' capacity. Body and Fields are valid until the next Shape call
// with the same Output.
type Output struct {
	Body   []byte
	Fields []sink.Field
	// Truncated: requestObject and responseObject were removed for size.
	// Shortened: how many strings were shortened. Redacted: how many values
	// were redacted.
	Truncated bool
	Shortened int
	Redacted  int

	ann   []byte // merged annotations
	arena []byte // backs redaction replacements
	work  []byte
	spans []strSpan
	uri   []byte
	strs  *strCache
}

// Stats are a Shaper's cumulative counters.
type Stats struct {
	Events          int64 // events shaped successfully
	Truncated       int64 // events whose bodies were removed for size
	Shortened       int64 // events with strings shortened for size
	TooLarge        int64 // events rejected: too large even after both steps
	RedactedSecrets int64 // events with Secret or token values redacted
	RedactedQueries int64 // events with query parameters redacted
}

// Shaper shapes events. It is safe for concurrent use; give each goroutine
// its own Output and audit.Rewrite.
type Shaper struct {
	cfg                                                            Config
	events, truncated, shortened, tooLarge, redSecrets, redQueries atomic.Int64
}

// New validates cfg and returns a Shaper.
func New(cfg Config) (*Shaper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Layout == "" {
		cfg.Layout = LayoutJSON
	}
	return &Shaper{cfg: cfg}, nil
}

// Config returns the Shaper's configuration (Layout filled in).
func (s *Shaper) Config() Config { return s.cfg }

// Stats returns a snapshot of the counters.
func (s *Shaper) Stats() Stats {
	return Stats{
		Events: s.events.Load(), Truncated: s.truncated.Load(), Shortened: s.shortened.Load(),
		TooLarge: s.tooLarge.Load(), RedactedSecrets: s.redSecrets.Load(), RedactedQueries: s.redQueries.Load(),
	}
}

// Shape adds redaction and annotation edits to w (which holds the policy's
// edits for ev), writes the event into out.Body, applies the size limit and
// fills out.Fields for the configured layout. r may be nil (no enrichment).
// On ErrTooLarge out.Body holds the smallest form reached and w holds the
// edits that produced it.
func (s *Shaper) Shape(ev *audit.Event, w *audit.Rewrite, r *enrich.Result, out *Output) error {
	out.Truncated, out.Shortened, out.Redacted = false, 0, 0
	out.arena = out.arena[:0]
	out.Fields = out.Fields[:0]

	if s.cfg.RedactSecrets || s.cfg.RedactTokens {
		if n := out.redactBodies(ev, w, s.cfg.RedactSecrets, s.cfg.RedactTokens); n > 0 {
			out.Redacted += n
			s.redSecrets.Add(1)
		}
	}
	if s.cfg.RedactQueryTokens {
		if n := out.redactQuery(ev, w); n > 0 {
			out.Redacted += n
			s.redQueries.Add(1)
		}
	}
	annotate := r != nil && r.WantAnnotations()
	if annotate {
		out.setAnnotations(ev, w, r, false)
	}
	out.Body = w.AppendTo(out.Body[:0], ev)

	if max := s.cfg.MaxEventSize; max > 0 && len(out.Body) > max {
		// Step 1: what the apiserver's truncate backend does.
		w.Drop(audit.MemberRequestObject)
		w.Drop(audit.MemberResponseObject)
		out.setAnnotations(ev, w, r, true)
		out.Body = w.AppendTo(out.Body[:0], ev)
		out.Truncated = true
		s.truncated.Add(1)
		// Step 2: shorten the largest strings.
		if len(out.Body) > max {
			out.shorten(max)
			if out.Shortened > 0 {
				s.shortened.Add(1)
			}
		}
		if len(out.Body) > max {
			s.tooLarge.Add(1)
			return fmt.Errorf("shape: event %s: %d bytes, limit %d: %w", ev.AuditID, len(out.Body), max, ErrTooLarge)
		}
	}

	switch s.cfg.Layout {
	case LayoutSLS:
		out.Fields = out.appendTopLevelFields(out.Fields, out.Body)
		if r != nil {
			out.Fields = r.AppendFields(out.Fields)
		}
	case LayoutAttributes:
		if r != nil {
			out.Fields = r.AppendFields(out.Fields)
		}
	}
	s.events.Add(1)
	return nil
}
