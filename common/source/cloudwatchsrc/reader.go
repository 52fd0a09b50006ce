// Package cloudwatchsrc reads Kubernetes audit events that Amazon EKS wrote
// to CloudWatch Logs (log group /aws/eks/<cluster>/cluster, streams
// kube-apiserver-audit-*), through FilterLogEvents, for the auditlane
// command and the collector receiver.
//
// FilterLogEvents is eventually consistent and EKS streams are written by
// several apiserver instances, so an event routinely becomes visible after
// later events were read. A Reader therefore does not keep a position to
// read on from: it keeps a watermark (the newest event time delivered, never
// later than its own clock, so a future-dated event cannot move it ahead)
// and re-reads behind it, remembering which events it delivered there:
//
//   - Each Read asks for the events from watermark − reach on, where the
//     reach depends on how long ago each width was last read: 2 × LookBack
//     every LookBack, a quarter of that four times as often, and so on
//     down to a reach of 1 to 4 s every 0.5 to 2 s. An event that becomes
//     visible up to LookBack after its timestamp is therefore read (within
//     LookBack plus one poll, most much sooner), and a Read costs about
//     2·log₄(LookBack) times the new data, however long a stream has been
//     quiet; once a reach was read again LookBack after the watermark it
//     rests until the watermark moves, so a quiet log group costs next to
//     nothing.
//   - Delivered events inside the reach are remembered (a 64-bit hash of
//     stream and eventId, Config.MaxRemembered at most) and skipped when
//     read again; older ones are forgotten as the watermark moves on.
//   - Per-stream state (the newest event delivered) expires with the reach:
//     EKS replaces apiserver instances and their streams.
//
// A Read hands each page's new events to a callback and only then
// remembers them; if the callback fails the events are read again by the
// next Read (at-least-once). The Checkpoint (watermark, remembered events,
// streams) marshals to JSON for a storage extension or a file; a restart
// from it re-reads the whole reach once and delivers only what it does not
// remember. Throttling, 5xx answers and network errors are retried with
// exponential backoff within Config.Backoff.
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
	"github.com/cenkalti/backoff/v5"

	"github.com/auditlane/auditlane/common/sink/cloudwatch"
)

// TruncatedMarker ends a message CloudWatch Logs cut to its event size
// limit. The text is the suffix AWS's log agents append (Fluent Bit's
// cloudwatch_logs output, the CloudWatch agent); it could not be confirmed
// in the CloudWatch Logs API reference. Trailing white space after it
// (a line end, CR LF, spaces) is ignored.
const TruncatedMarker = "[Truncated...]"

// IsTruncated tells whether msg ends with TruncatedMarker, ignoring
// trailing white space.
func IsTruncated(msg string) bool {
	return strings.HasSuffix(strings.TrimRight(msg, " \t\r\n"), TruncatedMarker)
}

// DefaultStreamPrefix is the prefix of the EKS audit log streams.
const DefaultStreamPrefix = "kube-apiserver-audit"

// Defaults of Config.
const (
	// DefaultLookBack is how late an event may become visible and still be
	// read.
	DefaultLookBack = 2 * time.Minute
	// DefaultMaxRemembered bounds the remembered delivered events (about
	// 40 bytes each in memory, 10 in a checkpoint).
	DefaultMaxRemembered = 1_000_000
	// DefaultCommitInterval is the least time between two OnCommit calls
	// within one Read.
	DefaultCommitInterval = time.Second
)

// minReach bounds the narrowest re-read behind the watermark, done on every
// Read; each wider one reaches reachRatio times as far, as often.
const (
	minReach   = time.Second
	reachRatio = 4
)

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
	// StartTime (inclusive) and EndTime (exclusive) bound event
	// timestamps, in milliseconds; zero means unbounded. Consecutive
	// windows [a, b), [b, c) read every event once.
	StartTime, EndTime time.Time
	// PageLimit is the FilterLogEvents limit (1..10000; 0 = the service's
	// default, as many as fit in 1 MB up to 10,000).
	PageLimit int32
	// LookBack is how long after its timestamp an event may become
	// visible and still be read (default DefaultLookBack); the reader
	// re-reads up to twice as far behind its watermark.
	LookBack time.Duration
	// MaxRemembered bounds the delivered events remembered for the
	// look-back (default DefaultMaxRemembered). When more fall inside it,
	// the oldest are forgotten and the look-back is cut short there
	// (Stats.Evicted).
	MaxRemembered int
	// Backoff bounds retries.
	Backoff Backoff
	// Clock is the reader's time (default time.Now); tests compress time
	// with it.
	Clock func() time.Time
	// OnCommit, when set, is called with a copy of the checkpoint after
	// delivered pages were remembered: at most every CommitInterval
	// (default DefaultCommitInterval) while a Read goes on, and when it
	// ends (to persist it, for example in a collector storage extension).
	OnCommit       func(Checkpoint)
	CommitInterval time.Duration
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
	case c.LookBack < 0:
		return errors.New("cloudwatchsrc: look_back must not be negative")
	case c.MaxRemembered < 0:
		return errors.New("cloudwatchsrc: max_remembered must not be negative")
	case c.CommitInterval < 0:
		return errors.New("cloudwatchsrc: commit_interval must not be negative")
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

	key uint64
}

// StreamProgress is what a checkpoint keeps of one stream.
type StreamProgress struct {
	// Timestamp is the newest delivered event time, in Unix milliseconds.
	Timestamp int64 `json:"timestamp"`
	// EventIDs are, in a checkpoint of the first format (no version), the
	// delivered events at Timestamp.
	EventIDs []string `json:"event_ids,omitempty"`
}

// CheckpointVersion is the format of checkpoints written by this package.
// Checkpoints without a version (per-stream timestamps and eventIds) are
// read too: what they recorded as delivered is skipped until the look-back
// has passed it.
const CheckpointVersion = 2

// Checkpoint is a Reader's progress; it marshals to JSON for a storage
// extension or a file.
type Checkpoint struct {
	Version int `json:"version"`
	// Watermark is the newest delivered event time (Unix ms), never later
	// than the reader's clock when it was delivered; 0: nothing yet.
	Watermark int64 `json:"watermark_ms,omitempty"`
	// Floor is the oldest time (Unix ms) still read again, raised when the
	// remembered events outgrew Config.MaxRemembered.
	Floor int64 `json:"floor_ms,omitempty"`
	// Streams are the streams with events inside the look-back.
	Streams map[string]StreamProgress `json:"streams,omitempty"`
	// Delivered are the remembered events (compact binary, base64 in
	// JSON).
	Delivered []byte `json:"delivered,omitempty"`
	// Legacy is the per-stream progress of a checkpoint of the first
	// format, kept until the look-back passed it.
	Legacy map[string]StreamProgress `json:"legacy,omitempty"`
}

// API is the part of *cloudwatchlogs.Client a Reader uses.
type API interface {
	FilterLogEvents(ctx context.Context, in *cloudwatchlogs.FilterLogEventsInput, optFns ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.FilterLogEventsOutput, error)
}

// Stats are a Reader's counters.
type Stats struct {
	Pages     int // FilterLogEvents answers
	Messages  int // messages delivered to the callback
	Truncated int // of those, flagged Truncated
	// Skipped counts events read again by the look-back and left out as
	// already delivered.
	Skipped int
	// Late counts delivered events older than the watermark when they were
	// read: they became visible after newer ones. MaxLate is the largest
	// such gap; close to LookBack, events may soon be missed.
	Late    int
	MaxLate time.Duration
	// Evicted counts remembered events forgotten to stay within
	// MaxRemembered (the look-back was cut short).
	Evicted int
	Retries int // retried calls (throttling, 5xx, network)
	Reads   int // completed Reads
	Sweeps  int // of those, reaching the whole look-back
	// Streams and Remembered are the current per-stream entries and
	// remembered events.
	Streams, Remembered int
}

// Reader reads audit events from CloudWatch Logs. It is not safe for
// concurrent use.
type Reader struct {
	api API
	cfg Config

	wm, floor int64
	streams   map[string]int64
	legacy    map[string]StreamProgress
	seen      *seenSet

	reaches   []time.Duration // ascending; the last is 2 × LookBack
	swept     []time.Time     // when each reach was last read in full
	lastFull  time.Time       // start of the last Read over the whole reach
	forceFull bool

	dirty      bool
	lastCommit time.Time
	stats      Stats
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
	if cfg.LookBack == 0 {
		cfg.LookBack = DefaultLookBack
	}
	if cfg.MaxRemembered == 0 {
		cfg.MaxRemembered = DefaultMaxRemembered
	}
	if cfg.CommitInterval == 0 {
		cfg.CommitInterval = DefaultCommitInterval
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	r := &Reader{api: api, cfg: cfg, streams: map[string]int64{}, legacy: map[string]StreamProgress{}, seen: newSeenSet()}
	for reach := 2 * cfg.LookBack; ; reach /= reachRatio {
		r.reaches = append(r.reaches, reach)
		if reach/reachRatio < minReach {
			break
		}
	}
	slices.Reverse(r.reaches)
	r.swept = make([]time.Time, len(r.reaches))
	if ckpt != nil {
		if err := r.load(ckpt); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Reader) load(c *Checkpoint) error {
	switch c.Version {
	case 0: // the first format: per-stream timestamp and eventIds
		for s, p := range c.Streams {
			r.legacy[s] = StreamProgress{p.Timestamp, slices.Clone(p.EventIDs)}
			r.streams[s] = p.Timestamp
			r.wm = max(r.wm, p.Timestamp)
		}
		r.wm = min(r.wm, r.cfg.Clock().UnixMilli())
		return nil
	case CheckpointVersion:
	default:
		return fmt.Errorf("cloudwatchsrc: checkpoint version %d is not supported (this reader writes %d)", c.Version, CheckpointVersion)
	}
	if c.Watermark < 0 || c.Floor < 0 {
		return fmt.Errorf("cloudwatchsrc: checkpoint: negative watermark %d or floor %d", c.Watermark, c.Floor)
	}
	seen, err := unmarshalSeen(c.Delivered)
	if err != nil {
		return err
	}
	r.seen, r.wm, r.floor = seen, c.Watermark, c.Floor
	for s, p := range c.Streams {
		r.streams[s] = p.Timestamp
	}
	for s, p := range c.Legacy {
		r.legacy[s] = StreamProgress{p.Timestamp, slices.Clone(p.EventIDs)}
	}
	return nil
}

// Checkpoint returns a copy of the progress committed so far.
func (r *Reader) Checkpoint() Checkpoint {
	c := Checkpoint{Version: CheckpointVersion, Watermark: r.wm, Floor: r.floor, Delivered: r.seen.marshal()}
	if len(r.streams) > 0 {
		c.Streams = make(map[string]StreamProgress, len(r.streams))
		for s, ts := range r.streams {
			c.Streams[s] = StreamProgress{Timestamp: ts}
		}
	}
	if len(r.legacy) > 0 {
		c.Legacy = make(map[string]StreamProgress, len(r.legacy))
		for s, p := range r.legacy {
			c.Legacy[s] = StreamProgress{p.Timestamp, slices.Clone(p.EventIDs)}
		}
	}
	return c
}

// Stats returns the counters.
func (r *Reader) Stats() Stats {
	st := r.stats
	st.Streams, st.Remembered = len(r.streams), r.seen.len()
	return st
}

// ForceSweep makes the next Read re-read the whole look-back.
func (r *Reader) ForceSweep() { r.forceFull = true }

// Settled tells whether a Read that started at least LookBack after end
// re-read the whole look-back: every event before end that became visible
// within LookBack of its timestamp has then been delivered.
func (r *Reader) Settled(end time.Time) bool {
	return !r.lastFull.IsZero() && !r.lastFull.Before(end.Add(r.cfg.LookBack))
}

// LookBack returns the configured look-back.
func (r *Reader) LookBack() time.Duration { return r.cfg.LookBack }

// level picks how far back this Read goes: the widest reach whose last
// read is at least half its width ago (all of it before the first Read,
// after a restart and when forced), or -1 (from the watermark on) when
// none is due. A reach read again after LookBack past the watermark holds
// nothing new that became visible within LookBack of its timestamp, so
// while the log group is quiet a Read costs next to nothing.
func (r *Reader) level(now time.Time) int {
	top := len(r.reaches) - 1
	if r.forceFull || r.wm == 0 {
		return top
	}
	settled := time.UnixMilli(r.wm).Add(r.cfg.LookBack)
	for j := top; j >= 0; j-- {
		if r.swept[j].IsZero() || now.Sub(r.swept[j]) >= r.reaches[j]/2 && r.swept[j].Before(settled) {
			return j
		}
	}
	return -1
}

// window returns the query bounds in Unix ms: start (inclusive, -1 for
// none) and end (exclusive, -1 for none).
func (r *Reader) window(reach time.Duration) (start, end int64) {
	start, end = -1, -1
	if !r.cfg.StartTime.IsZero() {
		start = max(r.cfg.StartTime.UnixMilli(), 0)
	}
	if r.floor > start {
		start = r.floor
	}
	if r.wm != 0 {
		start = max(start, r.wm-reach.Milliseconds(), 0)
	}
	if !r.cfg.EndTime.IsZero() {
		end = max(r.cfg.EndTime.UnixMilli(), 0)
	}
	return start, end
}

// delivered tells whether an event was delivered already.
func (r *Reader) delivered(stream string, ts int64, id string, k uint64) bool {
	if r.seen.has(k) {
		return true
	}
	p, ok := r.legacy[stream]
	return ok && (ts < p.Timestamp || ts == p.Timestamp && slices.Contains(p.EventIDs, id))
}

// Read pages through the events in the reach behind the watermark up to
// Config.EndTime (or the newest event), calling fn once per page that has
// events not delivered before. They are remembered as delivered only after
// fn returned nil; fn's error ends Read and is returned wrapped. Call Read
// again to continue (for example on a timer, to follow a live log group).
func (r *Reader) Read(ctx context.Context, fn func(batch []Message) error) error {
	now := r.cfg.Clock()
	lvl := r.level(now)
	reach := time.Duration(0)
	if lvl >= 0 {
		reach = r.reaches[lvl]
	}
	start, end := r.window(reach)
	err := r.read(ctx, start, end, fn)
	r.commit(true)
	if err != nil {
		return err
	}
	for j := 0; j <= lvl; j++ {
		r.swept[j] = now
	}
	if lvl == len(r.reaches)-1 {
		r.lastFull, r.forceFull = now, false
		r.stats.Sweeps++
	}
	r.stats.Reads++
	return nil
}

func (r *Reader) read(ctx context.Context, start, end int64, fn func(batch []Message) error) error {
	if start >= 0 && end >= 0 && end <= start {
		return nil // an empty window
	}
	in := &cloudwatchlogs.FilterLogEventsInput{LogStreamNamePrefix: aws.String(r.cfg.StreamPrefix)}
	if start >= 0 {
		in.StartTime = aws.Int64(start)
	}
	if end >= 0 {
		in.EndTime = aws.Int64(end - 1) // the API's end is inclusive
	}
	if strings.HasPrefix(r.cfg.LogGroup, "arn:") {
		in.LogGroupIdentifier = aws.String(r.cfg.LogGroup)
	} else {
		in.LogGroupName = aws.String(r.cfg.LogGroup)
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
			if start >= 0 && ts < start || end >= 0 && ts >= end {
				continue // outside the window (the service does not send these)
			}
			k := eventKey(stream, id)
			if r.delivered(stream, ts, id, k) {
				r.stats.Skipped++
				continue
			}
			msg := aws.ToString(ev.Message)
			batch = append(batch, Message{
				Stream: stream, Timestamp: time.UnixMilli(ts), EventID: id, Body: []byte(msg),
				Truncated: IsTruncated(msg), key: k,
			})
		}
		if len(batch) > 0 {
			if err := fn(batch); err != nil {
				return fmt.Errorf("cloudwatchsrc: deliver %d messages from %s: %w", len(batch), r.cfg.LogGroup, err)
			}
			r.remember(batch)
			r.commit(false)
		}
		if out.NextToken == nil || (in.NextToken != nil && *out.NextToken == *in.NextToken) {
			return nil
		}
		in.NextToken = out.NextToken
	}
}

// remember records a delivered page: remembered events, per-stream state,
// the watermark; then forgets what fell out of the reach.
func (r *Reader) remember(batch []Message) {
	nowMS := r.cfg.Clock().UnixMilli()
	for i := range batch {
		m := &batch[i]
		ts := m.Timestamp.UnixMilli()
		if r.wm != 0 && ts < r.wm {
			r.stats.Late++
			r.stats.MaxLate = max(r.stats.MaxLate, time.Duration(r.wm-ts)*time.Millisecond)
		}
		r.seen.add(m.key, ts)
		if ts > r.streams[m.Stream] {
			r.streams[m.Stream] = ts
		}
		r.wm = max(r.wm, min(ts, nowMS))
		r.stats.Messages++
		if m.Truncated {
			r.stats.Truncated++
		}
	}
	r.dirty = true
	cut := r.wm - r.reaches[len(r.reaches)-1].Milliseconds()
	r.seen.forgetBefore(cut)
	for s, ts := range r.streams {
		if ts < cut {
			delete(r.streams, s)
		}
	}
	for s, p := range r.legacy {
		if p.Timestamp < cut {
			delete(r.legacy, s)
		}
	}
	for r.seen.len() > r.cfg.MaxRemembered {
		n := r.seen.len()
		f, ok := r.seen.dropOldest()
		if !ok {
			break
		}
		r.stats.Evicted += n - r.seen.len()
		r.floor = max(r.floor, f)
	}
}

// commit calls OnCommit when something was remembered since the last call,
// at most every CommitInterval unless final.
func (r *Reader) commit(final bool) {
	if r.cfg.OnCommit == nil || !r.dirty {
		return
	}
	now := r.cfg.Clock()
	if !final && !r.lastCommit.IsZero() && now.Sub(r.lastCommit) < r.cfg.CommitInterval {
		return
	}
	r.cfg.OnCommit(r.Checkpoint())
	r.lastCommit, r.dirty = now, false
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

// retryable tells whether a failed FilterLogEvents call is retried within
// the call's backoff: what the CloudWatch sink's classifier (the one owner
// of that decision, by error code and HTTP status) calls retryable or
// throttled. Destination trouble (credentials, permissions), a missing log
// group and permanent errors end the Read; the receiver reads again later.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	switch c, _ := cloudwatch.Classify(err); c {
	case cloudwatch.ClassRetryable, cloudwatch.ClassThrottled:
		return true
	}
	return false
}
