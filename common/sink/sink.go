// Package sink defines the delivery contract shared by every auditlane
// destination (CloudWatch Logs, Alibaba Cloud SLS, files, stdout).
//
// A Writer takes a batch of shaped records and reports, for each record,
// whether it was delivered, failed in a way that a later attempt may fix, or
// failed permanently. Front ends map those outcomes onto their own retry
// machinery (Fluent Bit's FLB_RETRY, the collector's exporterhelper retry)
// and resend only the records that were not delivered.
package sink

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Record is one audit event ready to ship.
type Record struct {
	// Time is the event time (the audit event's stageTimestamp).
	Time time.Time
	// Body is the shaped event, normally one compact JSON object. It is the
	// CloudWatch Logs message and the source of SLS keys when Fields is nil.
	Body []byte
	// Fields, when set, is the key/value layout for destinations that store
	// keys (SLS). Keys are unique; order is kept.
	Fields []Field
	// ID identifies the event in errors and dead letters (its auditID).
	ID string
}

// Field is one key/value pair of a record's key/value layout.
type Field struct {
	Key   string
	Value string
}

// Status is the outcome of delivering one record.
type Status uint8

const (
	// Pending means the writer has not reached the record (for example the
	// context ended first). Callers treat it like Retryable.
	Pending Status = iota
	// Delivered means the destination acknowledged the record.
	Delivered
	// Retryable means delivery failed for a reason a later attempt may fix
	// (throttling, 5xx, network, outage that outlasted the retry budget).
	Retryable
	// Permanent means the destination rejected the record itself and
	// resending it unchanged cannot succeed (too old, too new, too large,
	// an invalid name made from its fields). Trouble of the destination as
	// a whole (access denied, a missing group) is never Permanent: see
	// Result.Destination.
	Permanent
)

// String returns the status name used in logs and metrics.
func (s Status) String() string {
	switch s {
	case Pending:
		return "pending"
	case Delivered:
		return "delivered"
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Result is the outcome for one record.
type Result struct {
	Status Status
	// Reason is a short, stable, metric-friendly label for failures
	// ("too_old", "too_new", "too_large", "throttled", "access_denied", ...).
	Reason string
	// Err describes the failure. It never contains credentials.
	Err error
	// Destination marks a Retryable failure of the destination as a whole
	// rather than of the record: credentials, permissions, a missing log
	// group or project, clock skew. Such failures are never a verdict on an
	// event: the writer does not retry them inside its budget (a retry a
	// second later would fail the same way) and front ends report them
	// loudly and retry later (FLB_RETRY, a retryable collector error).
	Destination bool
}

// Writer delivers batches of records to one destination.
//
// Write attempts every record in recs and fills results[i] with the outcome
// of recs[i]; len(results) must equal len(recs). Transient failures are
// retried inside Write with jittered exponential backoff until the writer's
// retry budget or ctx runs out; records still undelivered then are reported
// Retryable (or Pending when never attempted). The returned error summarises
// the batch (nil when every record was Delivered) and is an *Error when some
// records failed.
//
// Write may be called from several goroutines. Close flushes nothing that
// was not passed to Write (Write is synchronous) and releases resources.
type Writer interface {
	Write(ctx context.Context, recs []Record, results []Result) error
	Close(ctx context.Context) error
}

// Error summarises a batch in which some records were not delivered.
type Error struct {
	Delivered, Retryable, Permanent, Pending int
	// First is the first failure seen, for logging.
	First error
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("sink: %d delivered, %d retryable, %d permanent, %d pending: %v",
		e.Delivered, e.Retryable, e.Permanent, e.Pending, e.First)
}

// Unwrap returns the first failure.
func (e *Error) Unwrap() error { return e.First }

// Summarize builds the batch error for results, or returns nil when every
// record was delivered.
func Summarize(results []Result) error {
	var e Error
	for _, r := range results {
		switch r.Status {
		case Delivered:
			e.Delivered++
			continue
		case Retryable:
			e.Retryable++
		case Permanent:
			e.Permanent++
		default:
			e.Pending++
		}
		if e.First == nil {
			e.First = r.Err
			if e.First == nil {
				e.First = errors.New(r.Status.String())
			}
		}
	}
	if e.Delivered == len(results) {
		return nil
	}
	return &e
}

// Stats are a writer's cumulative counters. Every sink reports the same
// names so that the front ends expose them identically.
type Stats struct {
	EventsSent int64            // records acknowledged by the destination
	BytesSent  int64            // message bytes of those records
	Batches    int64            // successful API calls that carried records
	Retries    int64            // API calls repeated after a transient failure
	Throttles  int64            // throttling answers received
	Rejected   map[string]int64 // permanent failures by Result.Reason
	LatencySum time.Duration    // total time spent in successful API calls
	LatencyMax time.Duration    // slowest successful API call
}

// StatsReporter is implemented by writers that keep Stats.
type StatsReporter interface {
	Stats() Stats
}
