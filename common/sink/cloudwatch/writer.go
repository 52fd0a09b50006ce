package cloudwatch

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/cenkalti/backoff/v5"

	"github.com/auditlane/auditlane/common/sink"
)

// Option customises New, mainly for tests and embedding.
type Option func(*options)

type options struct {
	awsConfig  *aws.Config
	httpClient *http.Client
	clock      func() time.Time
	lookup     Lookup
	logger     *slog.Logger
}

// WithAWSConfig uses cfg instead of loading the default AWS configuration
// chain (credentials, region, endpoints). RoleARN still applies on top.
func WithAWSConfig(cfg aws.Config) Option {
	return func(o *options) { o.awsConfig = &cfg }
}

// WithHTTPClient sets the HTTP client the SDK uses.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) { o.httpClient = c }
}

// WithClock sets the clock used for the local event time window checks.
func WithClock(clock func() time.Time) Option {
	return func(o *options) { o.clock = clock }
}

// WithLookup sets how record placeholders in name templates are resolved;
// the default is FieldLookup.
func WithLookup(l Lookup) Option {
	return func(o *options) { o.lookup = l }
}

// WithLogger logs each distinct permanent failure (reason, group) once.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// api is the part of the CloudWatch Logs client the writer calls.
type api interface {
	PutLogEvents(context.Context, *cloudwatchlogs.PutLogEventsInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutLogEventsOutput, error)
	CreateLogGroup(context.Context, *cloudwatchlogs.CreateLogGroupInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogGroupOutput, error)
	CreateLogStream(context.Context, *cloudwatchlogs.CreateLogStreamInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.CreateLogStreamOutput, error)
	PutRetentionPolicy(context.Context, *cloudwatchlogs.PutRetentionPolicyInput, ...func(*cloudwatchlogs.Options)) (*cloudwatchlogs.PutRetentionPolicyOutput, error)
}

// Writer delivers records to CloudWatch Logs. It implements sink.Writer and
// sink.StatsReporter and is safe for concurrent use.
type Writer struct {
	cfg     Config
	client  api
	clock   func() time.Time
	lookup  Lookup
	logger  *slog.Logger
	groupT  template
	streamT template
	// staticGroup / staticStream are set when the template needs no record
	// values.
	staticGroup, staticStream string
	isStatic                  bool

	sem     chan struct{} // API calls in flight
	streams sync.Map      // routeKey -> *streamState
	logged  sync.Map      // "reason\x00group" -> time.Time of the last error line
	closed  atomic.Bool

	eventsSent, bytesSent, batches, retries, throttles atomic.Int64
	latencySum, latencyMax                             atomic.Int64
	rejMu                                              sync.Mutex
	rejected                                           map[string]int64
}

var (
	_ sink.Writer        = (*Writer)(nil)
	_ sink.StatsReporter = (*Writer)(nil)
)

type routeKey struct{ group, stream string }

type streamState struct {
	mu    sync.Mutex
	ready bool
}

// New validates cfg, resolves AWS credentials and returns a Writer.
//
// Without WithAWSConfig the default chain is used (environment, shared
// profile, web identity / IRSA, EKS Pod Identity, IMDS); with RoleARN that
// identity assumes the role (with ExternalID). The endpoint is cfg.Endpoint,
// else AWS_ENDPOINT_URL_CLOUDWATCH_LOGS / AWS_ENDPOINT_URL, else the regional
// one. The SDK's own retries are disabled: Write retries with its own
// bounded, jittered backoff so that every retry and throttle is counted once.
func New(ctx context.Context, cfg Config, opts ...Option) (*Writer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var awsCfg aws.Config
	if o.awsConfig != nil {
		awsCfg = o.awsConfig.Copy()
		if cfg.Region != "" {
			awsCfg.Region = cfg.Region
		}
	} else {
		var loadOpts []func(*awsconfig.LoadOptions) error
		if cfg.Region != "" {
			loadOpts = append(loadOpts, awsconfig.WithRegion(cfg.Region))
		}
		var err error
		awsCfg, err = awsconfig.LoadDefaultConfig(ctx, loadOpts...)
		if err != nil {
			return nil, fmt.Errorf("cloudwatch: load AWS configuration: %w", err)
		}
	}
	if awsCfg.Region == "" {
		return nil, configError("region", "not set and not found in the AWS configuration (AWS_REGION or profile)")
	}
	if o.httpClient != nil {
		awsCfg.HTTPClient = o.httpClient
	}
	if cfg.RoleARN != "" {
		stsClient := sts.NewFromConfig(awsCfg, func(so *sts.Options) {
			if cfg.STSEndpoint != "" {
				so.BaseEndpoint = aws.String(cfg.STSEndpoint)
			}
		})
		provider := stscreds.NewAssumeRoleProvider(stsClient, cfg.RoleARN, func(ao *stscreds.AssumeRoleOptions) {
			ao.RoleSessionName = "auditlane"
			if cfg.ExternalID != "" {
				ao.ExternalID = aws.String(cfg.ExternalID)
			}
		})
		awsCfg.Credentials = aws.NewCredentialsCache(provider)
	}
	client := cloudwatchlogs.NewFromConfig(awsCfg, func(co *cloudwatchlogs.Options) {
		co.Retryer = aws.NopRetryer{}
		if cfg.Endpoint != "" {
			co.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	})
	return newWriter(cfg, client, o)
}

func newWriter(cfg Config, client api, o options) (*Writer, error) {
	w := &Writer{
		cfg:      cfg,
		client:   client,
		clock:    o.clock,
		lookup:   o.lookup,
		logger:   o.logger,
		sem:      make(chan struct{}, cfg.Concurrency),
		rejected: make(map[string]int64),
	}
	if w.clock == nil {
		w.clock = time.Now
	}
	if w.lookup == nil {
		w.lookup = FieldLookup
	}
	var err error
	if w.groupT, err = parseTemplate(cfg.LogGroupName); err != nil {
		return nil, configError("log_group_name", "%v", err)
	}
	if w.streamT, err = parseTemplate(cfg.LogStreamName); err != nil {
		return nil, configError("log_stream_name", "%v", err)
	}
	if w.groupT.static(cfg.Vars) && w.streamT.static(cfg.Vars) {
		w.isStatic = true
		w.staticGroup = w.groupT.resolve(cfg.Vars, nil)
		w.staticStream = w.streamT.resolve(cfg.Vars, nil)
	}
	return w, nil
}

// Close marks the writer closed; later Writes fail. Write is synchronous,
// so there is nothing to flush.
func (w *Writer) Close(ctx context.Context) error {
	w.closed.Store(true)
	return nil
}

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("cloudwatch: writer closed")

// Stats returns the writer's cumulative counters.
func (w *Writer) Stats() sink.Stats {
	w.rejMu.Lock()
	rej := make(map[string]int64, len(w.rejected))
	for k, v := range w.rejected {
		rej[k] = v
	}
	w.rejMu.Unlock()
	return sink.Stats{
		EventsSent: w.eventsSent.Load(),
		BytesSent:  w.bytesSent.Load(),
		Batches:    w.batches.Load(),
		Retries:    w.retries.Load(),
		Throttles:  w.throttles.Load(),
		Rejected:   rej,
		LatencySum: time.Duration(w.latencySum.Load()),
		LatencyMax: time.Duration(w.latencyMax.Load()),
	}
}

// item is one record prepared for sending.
type item struct {
	idx  int
	ts   int64
	size int // message bytes as sent (UTF-8)
	msg  string
}

// route collects the records bound for one (group, stream).
type route struct {
	key   routeKey
	items []item
}

// Write delivers recs and fills results; see sink.Writer. Records are
// grouped per resolved (group, stream), sorted by timestamp (stable) and cut
// into batches that obey every PutLogEvents rule. Records the service would
// reject are reported Permanent locally without a call: empty or over
// MaxEventBytes ("empty", "too_large"), more than MaxFuture ahead of the
// clock ("too_new"), older than MaxAge ("too_old") or than RetentionDays
// ("expired"), or with an unresolvable or invalid name ("bad_name"). A zero
// Record.Time is sent as the current time. The service's own
// rejectedLogEventsInfo answers are honoured the same way.
//
// Write does not modify recs; Record.Body must not change until Write
// returns.
func (w *Writer) Write(ctx context.Context, recs []sink.Record, results []sink.Result) error {
	if len(results) != len(recs) {
		return fmt.Errorf("cloudwatch: write: %d results for %d records", len(results), len(recs))
	}
	clear(results)
	if w.closed.Load() {
		for i := range results {
			results[i] = sink.Result{Status: sink.Retryable, Reason: ReasonCanceled, Err: ErrClosed}
		}
		return sink.Summarize(results)
	}
	if len(recs) == 0 {
		return nil
	}
	now := w.clock()
	nowMS := now.UnixMilli()
	oldCut := now.Add(-MaxAge).UnixMilli()
	if w.cfg.RetentionDays > 0 {
		oldCut = max(oldCut, now.Add(-time.Duration(w.cfg.RetentionDays)*24*time.Hour).UnixMilli())
	}
	ageCut := now.Add(-MaxAge).UnixMilli()
	newCut := now.Add(MaxFuture).UnixMilli()

	var routes []*route
	var byKey map[routeKey]*route
	if w.isStatic {
		routes = []*route{{key: routeKey{w.staticGroup, w.staticStream}, items: make([]item, 0, len(recs))}}
	} else {
		byKey = make(map[routeKey]*route)
	}
	for i := range recs {
		rec := &recs[i]
		size := len(rec.Body)
		var msg string
		if size > 0 {
			if utf8.Valid(rec.Body) {
				// The SDK serialises the string before PutLogEvents returns
				// and keeps no reference, so Body is not copied.
				msg = unsafe.String(&rec.Body[0], size)
			} else {
				msg = validUTF8(rec.Body)
				size = len(msg)
			}
		}
		switch {
		case size == 0:
			w.reject(results, i, ReasonEmpty, fmt.Errorf("cloudwatch: record %s: empty message", rec.ID))
			continue
		case size+EventOverhead > MaxEventBytes:
			w.reject(results, i, ReasonTooLarge, fmt.Errorf("cloudwatch: record %s: %d bytes exceed the %d-byte event limit", rec.ID, size+EventOverhead, MaxEventBytes))
			continue
		}
		ts := nowMS
		if !rec.Time.IsZero() {
			ts = rec.Time.UnixMilli()
		}
		switch {
		case ts > newCut:
			w.reject(results, i, ReasonTooNew, fmt.Errorf("cloudwatch: record %s: timestamp %s is more than %v in the future", rec.ID, rec.Time.UTC().Format(time.RFC3339), MaxFuture))
			continue
		case ts < ageCut:
			w.reject(results, i, ReasonTooOld, fmt.Errorf("cloudwatch: record %s: timestamp %s is older than %v", rec.ID, rec.Time.UTC().Format(time.RFC3339), MaxAge))
			continue
		case ts < oldCut:
			w.reject(results, i, ReasonExpired, fmt.Errorf("cloudwatch: record %s: timestamp %s is older than the %d-day retention", rec.ID, rec.Time.UTC().Format(time.RFC3339), w.cfg.RetentionDays))
			continue
		}
		it := item{idx: i, ts: ts, size: size, msg: msg}
		if w.isStatic {
			routes[0].items = append(routes[0].items, it)
			continue
		}
		key, err := w.resolve(rec)
		if err != nil {
			w.reject(results, i, ReasonBadName, fmt.Errorf("cloudwatch: record %s: %w", rec.ID, err))
			continue
		}
		r := byKey[key]
		if r == nil {
			r = &route{key: key}
			byKey[key] = r
			routes = append(routes, r)
		}
		r.items = append(r.items, it)
	}

	var batches [][]item
	var batchRoutes []*route
	for _, r := range routes {
		slices.SortStableFunc(r.items, func(a, b item) int { return cmp.Compare(a.ts, b.ts) })
		for _, b := range w.split(r.items) {
			batches = append(batches, b)
			batchRoutes = append(batchRoutes, r)
		}
	}
	if len(batches) == 1 {
		w.send(ctx, batchRoutes[0].key, batches[0], results)
	} else {
		var wg sync.WaitGroup
		for i := range batches {
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.send(ctx, batchRoutes[i].key, batches[i], results)
			}()
		}
		wg.Wait()
	}
	return sink.Summarize(results)
}

// resolve expands the name templates for rec and validates the names.
func (w *Writer) resolve(rec *sink.Record) (routeKey, error) {
	lookup := func(k string) (string, bool) { return w.lookup(rec, k) }
	group, err := w.groupT.expand(w.cfg.Vars, lookup)
	if err != nil {
		return routeKey{}, fmt.Errorf("log_group_name: %w", err)
	}
	if err := validGroupName(group); err != nil {
		return routeKey{}, fmt.Errorf("log_group_name: %w", err)
	}
	stream, err := w.streamT.expand(w.cfg.Vars, lookup)
	if err != nil {
		return routeKey{}, fmt.Errorf("log_stream_name: %w", err)
	}
	if err := validStreamName(stream); err != nil {
		return routeKey{}, fmt.Errorf("log_stream_name: %w", err)
	}
	return routeKey{group, stream}, nil
}

// split cuts time-sorted items into batches within the count, size and
// time-span limits.
func (w *Writer) split(items []item) [][]item {
	var out [][]item
	spanMS := MaxBatchSpan.Milliseconds()
	start, bytes := 0, 0
	for i, it := range items {
		n := it.size + EventOverhead
		if i > start && (i-start >= w.cfg.MaxBatchEvents || bytes+n > w.cfg.MaxBatchBytes || it.ts-items[start].ts >= spanMS) {
			out = append(out, items[start:i:i])
			start, bytes = i, 0
		}
		bytes += n
	}
	if start < len(items) {
		out = append(out, items[start:])
	}
	return out
}

// validUTF8 replaces each invalid byte with U+FFFD, as the SDK's JSON
// encoder does, so that sizes are counted on what is sent.
func validUTF8(b []byte) string {
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return string(out)
}

// reject marks record i Permanent and counts it.
func (w *Writer) reject(results []sink.Result, i int, reason string, err error) {
	results[i] = sink.Result{Status: sink.Permanent, Reason: reason, Err: err}
	w.countRejected(reason, 1)
}

func (w *Writer) countRejected(reason string, n int) {
	w.rejMu.Lock()
	w.rejected[reason] += int64(n)
	w.rejMu.Unlock()
}

// logEvery logs a failure at error level, at most once per LogInterval
// for each (reason, group).
func (w *Writer) logEvery(reason, group, msg string, err error) {
	if w.logger == nil {
		return
	}
	now := time.Now()
	k := reason + "\x00" + group
	if v, ok := w.logged.Load(k); ok && now.Sub(v.(time.Time)) < LogInterval {
		return
	}
	w.logged.Store(k, now)
	w.logger.Error(msg, "reason", reason, "log_group", group, "error", err)
}

// send delivers one batch and fills the results of its records.
func (w *Writer) send(ctx context.Context, key routeKey, batch []item, results []sink.Result) {
	deadline := time.Now().Add(w.cfg.MaxRetryElapsed)
	if w.cfg.AutoCreateStream {
		if err := w.ensureStream(ctx, key, deadline); err != nil {
			w.fail(key, batch, results, fmt.Errorf("cloudwatch: create log stream %s in %s: %w", key.stream, key.group, err))
			return
		}
	}
	msgs := make([]string, len(batch))
	tss := make([]int64, len(batch))
	events := make([]types.InputLogEvent, len(batch))
	var bytes int64
	for i := range batch {
		msgs[i], tss[i] = batch[i].msg, batch[i].ts
		events[i] = types.InputLogEvent{Message: &msgs[i], Timestamp: &tss[i]}
		bytes += int64(batch[i].size)
	}
	in := &cloudwatchlogs.PutLogEventsInput{
		LogGroupName:  aws.String(key.group),
		LogStreamName: aws.String(key.stream),
		LogEvents:     events,
	}
	var out *cloudwatchlogs.PutLogEventsOutput
	put := func(ctx context.Context) error {
		var err error
		out, err = w.client.PutLogEvents(ctx, in)
		return err
	}
	err := w.retry(ctx, deadline, put)
	if c, _ := classify(err); err != nil && c == classNotFound && w.cfg.AutoCreateStream {
		// The stream or group was deleted behind our back: create it once.
		if cerr := w.createStream(ctx, key, deadline); cerr != nil {
			err = fmt.Errorf("create log stream %s in %s: %w", key.stream, key.group, cerr)
		} else {
			err = w.retry(ctx, deadline, put)
		}
	}
	if err != nil {
		w.fail(key, batch, results, fmt.Errorf("cloudwatch: put log events to %s/%s: %w", key.group, key.stream, err))
		return
	}
	w.batches.Add(1)
	tooOld, expired, tooNew := 0, 0, len(batch)
	if info := out.RejectedLogEventsInfo; info != nil {
		tooOld = clampIndex(info.TooOldLogEventEndIndex, 0, len(batch))
		expired = clampIndex(info.ExpiredLogEventEndIndex, 0, len(batch))
		tooNew = clampIndex(info.TooNewLogEventStartIndex, len(batch), len(batch))
	}
	var sent int64
	for i, it := range batch {
		var reason string
		switch {
		case i < tooOld:
			reason = ReasonTooOld
		case i < expired:
			reason = ReasonExpired
		case i >= tooNew:
			reason = ReasonTooNew
		default:
			results[it.idx] = sink.Result{Status: sink.Delivered}
			sent++
			continue
		}
		bytes -= int64(it.size)
		err := fmt.Errorf("cloudwatch: put log events to %s/%s: record rejected by the service as %s", key.group, key.stream, reason)
		w.reject(results, it.idx, reason, err)
	}
	w.eventsSent.Add(sent)
	w.bytesSent.Add(bytes)
}

// clampIndex reads an optional index of rejectedLogEventsInfo.
func clampIndex(p *int32, def, n int) int {
	if p == nil {
		return def
	}
	return min(max(int(*p), 0), n)
}

// fail marks every record of batch with err's class. A failure of a whole
// call is never a verdict on its records: credentials, permissions and a
// missing group or stream (auto-create off) are destination trouble,
// retried later; only a request the service can never accept (an invalid
// parameter) fails the records for good.
func (w *Writer) fail(key routeKey, batch []item, results []sink.Result, err error) {
	c, reason := classify(err)
	status, dest := sink.Retryable, false
	switch {
	case c == classPermanent:
		status = sink.Permanent
	case c == classNotFound, c == classDestination:
		dest = true
	case errors.As(err, new(*notAttemptedError)):
		status = sink.Pending
	}
	for _, it := range batch {
		results[it.idx] = sink.Result{Status: status, Reason: reason, Err: err, Destination: dest}
	}
	switch {
	case status == sink.Permanent:
		w.countRejected(reason, len(batch))
		w.logEvery(reason, key.group, "cloudwatch: records refused for good", err)
	case dest:
		w.logEvery(reason, key.group, "cloudwatch: the destination refuses writes; retrying later", err)
	}
}

// retry calls fn until it succeeds, fails permanently, or the deadline or
// ctx ends. Each call holds one of the writer's concurrency slots and is
// bounded by RequestTimeout.
func (w *Writer) retry(ctx context.Context, deadline time.Time, fn func(context.Context) error) error {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     w.cfg.RetryInitialInterval,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         w.cfg.RetryMaxInterval,
	}
	b.Reset()
	for attempt := 0; ; attempt++ {
		select {
		case w.sem <- struct{}{}:
		case <-ctx.Done():
			if attempt == 0 {
				return &notAttemptedError{ctx.Err()}
			}
			return ctx.Err()
		}
		if err := ctx.Err(); err != nil { // both were ready: ctx wins
			<-w.sem
			if attempt == 0 {
				return &notAttemptedError{err}
			}
			return err
		}
		callCtx, cancel := context.WithTimeout(ctx, w.cfg.RequestTimeout)
		start := time.Now()
		err := fn(callCtx)
		elapsed := time.Since(start)
		cancel()
		<-w.sem
		if err == nil {
			w.latencySum.Add(int64(elapsed))
			for {
				old := w.latencyMax.Load()
				if int64(elapsed) <= old || w.latencyMax.CompareAndSwap(old, int64(elapsed)) {
					break
				}
			}
			return nil
		}
		c, _ := classify(err)
		if c == classThrottled {
			w.throttles.Add(1)
		}
		if c != classRetryable && c != classThrottled {
			return err // including destination trouble: retried later, by the caller
		}
		if ctx.Err() != nil {
			return err
		}
		wait := b.NextBackOff()
		if time.Now().Add(wait).After(deadline) {
			return fmt.Errorf("retry budget of %v exhausted: %w", w.cfg.MaxRetryElapsed, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (last error: %w)", ctx.Err(), err)
		}
		w.retries.Add(1)
	}
}

// notAttemptedError reports that a batch was never sent because ctx ended
// first; its records stay Pending.
type notAttemptedError struct{ err error }

func (e *notAttemptedError) Error() string { return "not attempted: " + e.err.Error() }
func (e *notAttemptedError) Unwrap() error { return e.err }

// ensureStream makes sure the stream exists once per writer.
func (w *Writer) ensureStream(ctx context.Context, key routeKey, deadline time.Time) error {
	v, _ := w.streams.LoadOrStore(key, &streamState{})
	st := v.(*streamState)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ready {
		return nil
	}
	if err := w.createStream(ctx, key, deadline); err != nil {
		return err
	}
	st.ready = true
	return nil
}

// createStream creates the stream (and, when allowed, its group),
// tolerating concurrent creators.
func (w *Writer) createStream(ctx context.Context, key routeKey, deadline time.Time) error {
	in := &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String(key.group), LogStreamName: aws.String(key.stream)}
	call := func(ctx context.Context) error {
		_, err := w.client.CreateLogStream(ctx, in)
		return err
	}
	err := w.retry(ctx, deadline, call)
	if err == nil {
		return nil
	}
	switch c, _ := classify(err); {
	case c == classExists:
		return nil
	case c == classNotFound && w.cfg.AutoCreateGroup:
		if err := w.createGroup(ctx, key.group, deadline); err != nil {
			return fmt.Errorf("create log group %s: %w", key.group, err)
		}
		err = w.retry(ctx, deadline, call)
		if c, _ := classify(err); err == nil || c == classExists {
			return nil
		}
	}
	return err
}

// createGroup creates a log group with the configured class, KMS key and
// tags, and sets its retention when this writer created it.
func (w *Writer) createGroup(ctx context.Context, group string, deadline time.Time) error {
	in := &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String(group)}
	if w.cfg.LogGroupClass != "" {
		in.LogGroupClass = types.LogGroupClass(w.cfg.LogGroupClass)
	}
	if w.cfg.KMSKeyID != "" {
		in.KmsKeyId = aws.String(w.cfg.KMSKeyID)
	}
	if len(w.cfg.Tags) > 0 {
		in.Tags = w.cfg.Tags
	}
	err := w.retry(ctx, deadline, func(ctx context.Context) error {
		_, err := w.client.CreateLogGroup(ctx, in)
		return err
	})
	if err != nil {
		if c, _ := classify(err); c == classExists {
			return nil
		}
		return err
	}
	if w.cfg.RetentionDays == 0 {
		return nil
	}
	err = w.retry(ctx, deadline, func(ctx context.Context) error {
		_, err := w.client.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{
			LogGroupName:    aws.String(group),
			RetentionInDays: aws.Int32(int32(w.cfg.RetentionDays)),
		})
		return err
	})
	if err != nil {
		return fmt.Errorf("put retention policy: %w", err)
	}
	return nil
}
