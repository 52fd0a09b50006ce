// Package cloudwatchsrc reads Kubernetes audit events that Amazon EKS wrote
// to CloudWatch Logs (log group /aws/eks/<cluster>/cluster, streams
// kube-apiserver-audit-*), through FilterLogEvents, for the auditlane
// command and the collector receiver.
//
// A Reader pages through FilterLogEvents (events of all matching streams in
// timestamp order), hands each page to a callback and only then advances
// its Checkpoint: the last timestamp seen per stream and the eventIds seen at
// that timestamp, so a restart from the checkpoint re-reads that millisecond
// and drops exactly what was already delivered. If the callback fails, the
// checkpoint stays where it was and the next Read delivers the page again
// (at-least-once). Throttling and 5xx answers are retried with exponential
// backoff within Config.Backoff.
//
// CloudWatch Logs cuts events larger than its 256 KB event limit and ends
// them with TruncatedMarker; such messages are flagged Truncated so the
// caller dead-letters them instead of passing them on as whole events.
//
// Several collectors split a cluster's audit streams by StreamPrefix (EKS
// names them kube-apiserver-audit-<hash>, so prefixes such as
// "kube-apiserver-audit-0" … "kube-apiserver-audit-f" partition them) or by
// cluster (one log group each). Readers with overlapping selections both
// deliver the overlap.
package cloudwatchsrc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/smithy-go"
	"github.com/cenkalti/backoff/v5"
)

// TruncatedMarker ends a message CloudWatch Logs cut to its event size
// limit. The text is the suffix AWS's log agents append (Fluent Bit's
// cloudwatch_logs output, the CloudWatch agent); it could not be confirmed
// in the CloudWatch Logs API reference.
const TruncatedMarker = "[Truncated...]"

// DefaultStreamPrefix is the prefix of the EKS audit log streams.
const DefaultStreamPrefix = "kube-apiserver-audit"

// Backoff bounds retries of throttled or failed FilterLogEvents calls.
type Backoff struct {
	// Initial is the first wait (default 200 ms).
	Initial time.Duration
	// Max is the longest wait (default 10 s).
	Max time.Duration
	// MaxElapsed gives up after this long in one call (default 2 min).
	MaxElapsed time.Duration
}

// Config configures a Reader.
type Config struct {
	// LogGroup is the log group name or ARN, e.g. /aws/eks/prod/cluster.
	LogGroup string
	// StreamPrefix selects the streams (default DefaultStreamPrefix).
	StreamPrefix string
	// StartTime and EndTime bound event timestamps (inclusive); zero means
	// unbounded. A checkpoint overrides StartTime for streams it knows.
	StartTime, EndTime time.Time
	// PageLimit is the FilterLogEvents limit (1..10000; 0 = the service's
	// default, as many as fit in 1 MB up to 10,000).
	PageLimit int32
	// Backoff bounds retries.
	Backoff Backoff
	// OnCommit, when set, is called with a copy of the checkpoint each time
	// it advanced past a delivered page (to persist it, for example in a
	// collector storage extension).
	OnCommit func(Checkpoint)
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	switch {
	case c.LogGroup == "":
		return errors.New("cloudwatchsrc: log_group is required")
	case c.PageLimit < 0 || c.PageLimit > 10000:
		return fmt.Errorf("cloudwatchsrc: page_limit %d is not between 1 and 10000", c.PageLimit)
	case !c.EndTime.IsZero() && c.EndTime.Before(c.StartTime):
		return fmt.Errorf("cloudwatchsrc: end_time %s is before start_time %s", c.EndTime.Format(time.RFC3339), c.StartTime.Format(time.RFC3339))
	case c.Backoff.Initial < 0 || c.Backoff.Max < 0 || c.Backoff.MaxElapsed < 0:
		return errors.New("cloudwatchsrc: backoff durations must not be negative")
	}
	return nil
}

// Message is one log event.
type Message struct {
	Stream    string
	Timestamp time.Time
	EventID   string
	Body      []byte
	// Truncated is set when Body ends with TruncatedMarker: CloudWatch cut
	// the event, so it is not a whole audit event.
	Truncated bool
}

// StreamProgress is how far one stream has been delivered.
type StreamProgress struct {
	// Timestamp is the newest delivered event time, in Unix milliseconds.
	Timestamp int64 `json:"timestamp"`
	// EventIDs are the delivered events at Timestamp.
	EventIDs []string `json:"event_ids"`
}

// Checkpoint is a Reader's progress; it marshals to JSON for a storage
// extension or a file.
type Checkpoint struct {
	Streams map[string]StreamProgress `json:"streams"`
}

func (c Checkpoint) clone() Checkpoint {
	out := Checkpoint{Streams: make(map[string]StreamProgress, len(c.Streams))}
	for k, v := range c.Streams {
		out.Streams[k] = StreamProgress{v.Timestamp, slices.Clone(v.EventIDs)}
	}
	return out
}

// delivered tells whether an event is at or before the stream's progress.
func (c *Checkpoint) delivered(stream string, ts int64, id string) bool {
	p, ok := c.Streams[stream]
	if !ok {
		return false
	}
	return ts < p.Timestamp || ts == p.Timestamp && slices.Contains(p.EventIDs, id)
}

func (c *Checkpoint) advance(m *Message) {
	ts := m.Timestamp.UnixMilli()
	p, ok := c.Streams[m.Stream]
	switch {
	case !ok || ts > p.Timestamp:
		c.Streams[m.Stream] = StreamProgress{ts, []string{m.EventID}}
	case ts == p.Timestamp && !slices.Contains(p.EventIDs, m.EventID):
		p.EventIDs = append(p.EventIDs, m.EventID)
		c.Streams[m.Stream] = p
	}
}

// API is the part of *cloudwatchlogs.Client a Reader uses.
type API interface {
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// Stats are a Reader's counters.
type Stats struct {
	Pages      int // FilterLogEvents answers
	Messages   int // messages delivered to the callback
	Truncated  int // of those, flagged Truncated
	Duplicates int // events skipped as already delivered
	Retries    int // retried calls (throttling, 5xx, network)
}

// Reader reads audit events from CloudWatch Logs. It is not safe for
// concurrent use.
type Reader struct {
	api   API
	cfg   Config
	ckpt  Checkpoint
	stats Stats
}

// New returns a Reader starting at ckpt (nil: Config.StartTime).
func New(api API, cfg Config, ckpt *Checkpoint) (*Reader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.StreamPrefix == "" {
		cfg.StreamPrefix = DefaultStreamPrefix
	}
	if cfg.Backoff.Initial == 0 {
		cfg.Backoff.Initial = 200 * time.Millisecond
	}
	if cfg.Backoff.Max == 0 {
		cfg.Backoff.Max = 10 * time.Second
	}
	if cfg.Backoff.MaxElapsed == 0 {
		cfg.Backoff.MaxElapsed = 2 * time.Minute
	}
	r := &Reader{api: api, cfg: cfg, ckpt: Checkpoint{Streams: map[string]StreamProgress{}}}
	if ckpt != nil {
		r.ckpt = ckpt.clone()
	}
	return r, nil
}

// Checkpoint returns a copy of the progress committed so far.
func (r *Reader) Checkpoint() Checkpoint { return r.ckpt.clone() }

// Stats returns the counters.
func (r *Reader) Stats() Stats { return r.stats }

// startMillis is where a Read starts: the oldest stream progress (its
// millisecond is re-read and de-duplicated), else Config.StartTime.
func (r *Reader) startMillis() *int64 {
	var start *int64
	if !r.cfg.StartTime.IsZero() {
		start = aws.Int64(r.cfg.StartTime.UnixMilli())
	}
	if len(r.ckpt.Streams) == 0 {
		return start
	}
	oldest := int64(-1)
	for _, p := range r.ckpt.Streams {
		if oldest < 0 || p.Timestamp < oldest {
			oldest = p.Timestamp
		}
	}
	if start == nil || oldest > *start {
		return aws.Int64(oldest)
	}
	return start
}

// Read pages through the events after the checkpoint up to Config.EndTime
// (or the newest event), calling fn once per non-empty page. The checkpoint
// advances past a page only after fn returned nil; fn's error ends Read
// and is returned wrapped. Call Read again to continue (for example on a
// timer, to follow a live log group).
func (r *Reader) Read(ctx context.Context, fn func(batch []Message) error) error {
	in := &cloudwatchlogs.FilterLogEventsInput{
		LogStreamNamePrefix: aws.String(r.cfg.StreamPrefix),
		StartTime:           r.startMillis(),
	}
	if strings.HasPrefix(r.cfg.LogGroup, "arn:") {
		in.LogGroupIdentifier = aws.String(r.cfg.LogGroup)
	} else {
		in.LogGroupName = aws.String(r.cfg.LogGroup)
	}
	if !r.cfg.EndTime.IsZero() {
		in.EndTime = aws.Int64(r.cfg.EndTime.UnixMilli())
	}
	if r.cfg.PageLimit > 0 {
		in.Limit = aws.Int32(r.cfg.PageLimit)
	}
	var batch []Message
	for {
		out, err := r.call(ctx, in)
		if err != nil {
			return fmt.Errorf("cloudwatchsrc: filter log events in %s: %w", r.cfg.LogGroup, err)
		}
		r.stats.Pages++
		batch = batch[:0]
		for _, ev := range out.Events {
			stream, id := aws.ToString(ev.LogStreamName), aws.ToString(ev.EventId)
			ts := aws.ToInt64(ev.Timestamp)
			if r.ckpt.delivered(stream, ts, id) {
				r.stats.Duplicates++
				continue
			}
			body := []byte(aws.ToString(ev.Message))
			batch = append(batch, Message{
				Stream: stream, Timestamp: time.UnixMilli(ts), EventID: id, Body: body,
				Truncated: strings.HasSuffix(strings.TrimRight(aws.ToString(ev.Message), "\n"), TruncatedMarker),
			})
		}
		if len(batch) > 0 {
			if err := fn(batch); err != nil {
				return fmt.Errorf("cloudwatchsrc: deliver %d messages from %s: %w", len(batch), r.cfg.LogGroup, err)
			}
			for i := range batch {
				r.ckpt.advance(&batch[i])
				r.stats.Messages++
				if batch[i].Truncated {
					r.stats.Truncated++
				}
			}
			if r.cfg.OnCommit != nil {
				r.cfg.OnCommit(r.ckpt.clone())
			}
		}
		if out.NextToken == nil || (in.NextToken != nil && *out.NextToken == *in.NextToken) {
			return nil
		}
		in.NextToken = out.NextToken
	}
}

// call runs FilterLogEvents, retrying throttling, 5xx and network errors.
func (r *Reader) call(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput) (*cloudwatchlogs.FilterLogEventsOutput, error) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = r.cfg.Backoff.Initial, r.cfg.Backoff.Max
	first := true
	return backoff.Retry(ctx, func() (*cloudwatchlogs.FilterLogEventsOutput, error) {
		if !first {
			r.stats.Retries++
		}
		first = false
		out, err := r.api.FilterLogEvents(ctx, in)
		if err != nil && !retryable(err) {
			return nil, backoff.Permanent(err)
		}
		return out, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(r.cfg.Backoff.MaxElapsed))
}

func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ThrottlingException", "ServiceUnavailableException", "LimitExceededException", "RequestLimitExceeded", "InternalFailure":
			return true
		}
		return false
	}
	return true // network or 5xx without a code
}
