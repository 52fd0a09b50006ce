package sls

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/cenkalti/backoff/v5"

	"github.com/auditlane/auditlane/common/sink"
)

// userAgent identifies auditlane in SLS access logs.
const userAgent = "auditlane-sls/1"

// Clock is the time source of a Writer; tests inject one to drive backoff
// without sleeping.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Option customises a Writer.
type Option func(*options)

type options struct {
	client *http.Client
	clock  Clock
	getenv func(string) string
	logger *slog.Logger
}

// WithLogger sets where the writer reports destination trouble (at error
// level, rate-limited); default: nowhere.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithHTTPClient makes the writer send requests through c's Transport
// (c.Timeout is ignored; Config.RequestTimeout applies). Tests use it to
// reach a local server: the SDK addresses "<project>.<endpoint>", so the
// client's dialer must send every host to the test server.
func WithHTTPClient(c *http.Client) Option { return func(o *options) { o.client = c } }

// WithClock replaces the wall clock used for backoff waits, retry budgets,
// latency and the time of records without one.
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithGetenv replaces os.Getenv for credential lookup.
func WithGetenv(f func(string) string) Option { return func(o *options) { o.getenv = f } }

// Writer delivers records to one SLS logstore. It implements sink.Writer
// and sink.StatsReporter and is safe for concurrent use.
//
// Each Write encodes its records into LogGroups of at most MaxBatchLogs
// logs and MaxBatchBytes bytes (grouped by shard hash key when the hash
// key is a template), sends them with the SDK's PostLogStoreLogs (LZ4,
// signature v1) one after another, retries transient failures with
// jittered exponential backoff within RetryMaxElapsed, and halves a batch
// the service refuses as a whole to isolate the offending records.
type Writer struct {
	cfg      Config
	endpoint string
	creds    slssdk.CredentialsProvider
	credSrc  credentialSource
	red      *redactor
	base     http.RoundTripper
	clock    Clock
	hash     *hashKeyer
	trailer  []byte
	slots    chan struct{}
	pool     sync.Pool

	mu       sync.Mutex
	closed   bool
	inflight sync.WaitGroup
	stopCtx  context.Context
	stop     context.CancelFunc
	rejected map[string]int64
	latMax   time.Duration
	logger   *slog.Logger
	loggedAt map[string]time.Time

	events, bytes, batches, retries, throttles atomic.Int64
	latSum                                     atomic.Int64
}

var (
	_ sink.Writer        = (*Writer)(nil)
	_ sink.StatsReporter = (*Writer)(nil)
)

// New validates cfg, resolves credentials and returns a Writer. It makes
// no network calls; RRSA credentials are fetched on the first request.
func New(ctx context.Context, cfg Config, opts ...Option) (*Writer, error) {
	_ = ctx // reserved: New does no I/O today
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{clock: realClock{}, getenv: os.Getenv}
	for _, opt := range opts {
		opt(&o)
	}
	cfg = cfg.withDefaults()
	creds, src, red, err := resolveCredentials(&cfg, o.getenv)
	if err != nil {
		return nil, err
	}
	var base http.RoundTripper
	if o.client != nil && o.client.Transport != nil {
		base = o.client.Transport
	} else {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 16
		base = t
	}
	trailer := groupTrailer(cfg.Topic, cfg.Source, cfg.LogTags)
	if len(trailer) > cfg.MaxBatchBytes/2 {
		return nil, fmt.Errorf("sls: log_tags: topic, source and tags take %d bytes, more than half of max_batch_bytes (%d)",
			len(trailer), cfg.MaxBatchBytes)
	}
	slots := cfg.MaxBufferBytes / (2 * cfg.MaxBatchBytes)
	if slots < 1 {
		slots = 1
	}
	w := &Writer{
		cfg:      cfg,
		logger:   o.logger,
		endpoint: sdkEndpoint(cfg.Endpoint),
		creds:    creds,
		credSrc:  src,
		red:      red,
		base:     base,
		clock:    o.clock,
		hash:     newHashKeyer(cfg.HashKey),
		trailer:  trailer,
		slots:    make(chan struct{}, slots),
		rejected: map[string]int64{},
	}
	w.stopCtx, w.stop = context.WithCancel(context.Background())
	w.pool.New = func() any { return &writeState{enc: encoder{now: w.clock.Now}} }
	return w, nil
}

// writeState is the reusable scratch of one Write call.
type writeState struct {
	enc    encoder
	buf    []byte // log entries of the current batch (+ trailer while sending)
	bounds []int  // entry j of the batch is buf[bounds[j]:bounds[j+1]]
	idx    []int  // record index of each entry
	order  []int
	keys   [][md5.Size]byte
	tmp    []byte
	// deadline ends retrying for the whole Write: batches after it get
	// one attempt each.
	deadline time.Time
}

func (st *writeState) resetBatch() {
	st.buf = st.buf[:0]
	st.bounds = append(st.bounds[:0], 0)
	st.idx = st.idx[:0]
}

// Write delivers recs and fills results; see sink.Writer.
func (w *Writer) Write(ctx context.Context, recs []sink.Record, results []sink.Result) error {
	if len(results) != len(recs) {
		return fmt.Errorf("sls: write: %d results for %d records", len(results), len(recs))
	}
	for i := range results {
		results[i] = sink.Result{Status: sink.Pending}
	}
	if len(recs) == 0 {
		return nil
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		markPending(results, ReasonClosed, ErrClosed)
		return sink.Summarize(results)
	}
	w.inflight.Add(1)
	w.mu.Unlock()
	defer w.inflight.Done()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(w.stopCtx, cancel)()

	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		markPending(results, ReasonCanceled, fmt.Errorf("sls: waiting for buffer space: %w", ctx.Err()))
		return sink.Summarize(results)
	}
	defer func() { <-w.slots }()

	st := w.pool.Get().(*writeState)
	defer func() {
		// Drop references to the caller's records before pooling.
		clear(st.enc.kvs[:cap(st.enc.kvs)])
		st.enc.kvs = st.enc.kvs[:0]
		w.pool.Put(st)
	}()
	st.deadline = w.clock.Now().Add(w.cfg.RetryMaxElapsed)
	w.writeAll(ctx, st, recs, results)
	if err := ctx.Err(); err != nil {
		for i := range results {
			if results[i].Status == sink.Pending && results[i].Err == nil {
				results[i] = sink.Result{Status: sink.Pending, Reason: ReasonCanceled,
					Err: fmt.Errorf("sls: not sent: %w", err)}
			}
		}
	}
	return sink.Summarize(results)
}

func markPending(results []sink.Result, reason string, err error) {
	for i := range results {
		results[i] = sink.Result{Status: sink.Pending, Reason: reason, Err: err}
	}
}

// writeAll batches and sends the records in order (grouped by hash key
// for templated hash keys).
func (w *Writer) writeAll(ctx context.Context, st *writeState, recs []sink.Record, results []sink.Result) {
	st.order = st.order[:0]
	for i := range recs {
		st.order = append(st.order, i)
	}
	templated := w.hash != nil && w.hash.fixed == ""
	if templated {
		if cap(st.keys) < len(recs) {
			st.keys = make([][md5.Size]byte, len(recs))
		}
		st.keys = st.keys[:len(recs)]
		for i := range recs {
			if cap(st.tmp) < len(recs[i].Body) {
				st.tmp = make([]byte, 0, len(recs[i].Body))
			}
			st.keys[i] = w.hash.digest(&recs[i], st.tmp)
		}
		keys := st.keys
		sort.SliceStable(st.order, func(a, b int) bool {
			return bytes.Compare(keys[st.order[a]][:], keys[st.order[b]][:]) < 0
		})
	}
	hashOf := func(i int) string {
		switch {
		case w.hash == nil:
			return ""
		case !templated:
			return w.hash.fixed
		}
		return hex.EncodeToString(st.keys[i][:])
	}
	limit := w.cfg.MaxBatchBytes - len(w.trailer)
	st.resetBatch()
	for _, i := range st.order {
		if ctx.Err() != nil {
			return
		}
		if templated && len(st.idx) > 0 && st.keys[i] != st.keys[st.idx[0]] {
			w.flush(ctx, st, results, hashOf(st.idx[0]))
		}
		start := len(st.buf)
		var err error
		st.buf, err = st.enc.appendLog(st.buf, &recs[i])
		if err != nil {
			var re *recordError
			reason := ReasonInvalidRecord
			if errors.As(err, &re) {
				reason = re.reason
			}
			w.fail(results, []int{i}, sink.Permanent, reason, err)
			continue
		}
		size := len(st.buf) - start
		if size > limit {
			st.buf = st.buf[:start]
			w.fail(results, []int{i}, sink.Permanent, ReasonTooLarge,
				fmt.Errorf("sls: record of %d bytes exceeds the %d-byte LogGroup limit", size, w.cfg.MaxBatchBytes))
			continue
		}
		if len(st.idx) > 0 && (len(st.buf) > limit || len(st.idx) >= w.cfg.MaxBatchLogs) {
			// The new entry does not fit: send the batch without it,
			// then start the next batch with it.
			st.tmp = append(st.tmp[:0], st.buf[start:]...)
			st.buf = st.buf[:start]
			w.flush(ctx, st, results, hashOf(st.idx[0]))
			if ctx.Err() != nil {
				return
			}
			st.buf = append(st.buf, st.tmp...)
		}
		st.idx = append(st.idx, i)
		st.bounds = append(st.bounds, len(st.buf))
	}
	if len(st.idx) > 0 && ctx.Err() == nil {
		w.flush(ctx, st, results, hashOf(st.idx[0]))
	}
}

// flush sends the current batch and starts a new one.
func (w *Writer) flush(ctx context.Context, st *writeState, results []sink.Result, hash string) {
	n := len(st.buf)
	st.buf = append(st.buf, w.trailer...)
	w.deliver(ctx, st.buf, st, 0, len(st.idx), results, hash, st.deadline)
	st.buf = st.buf[:n]
	st.resetBatch()
}

// deliver sends entries [j0,j1) of the batch, whose LogGroup bytes are raw,
// retrying transient failures until deadline and halving the batch when
// the service refuses it as a whole.
func (w *Writer) deliver(ctx context.Context, raw []byte, st *writeState, j0, j1 int,
	results []sink.Result, hash string, deadline time.Time) {
	idx := st.idx[j0:j1]
	bo := backoff.ExponentialBackOff{
		InitialInterval:     w.cfg.RetryInitial,
		RandomizationFactor: 0.5,
		Multiplier:          2,
		MaxInterval:         w.cfg.RetryMax,
	}
	bo.Reset()
	for {
		var o outcome
		w.post(ctx, raw, hash, &o)
		c := w.classify(ctx, &o)
		if c.throttle {
			w.throttles.Add(1)
		}
		switch c.verdict {
		case vDelivered:
			for _, i := range idx {
				results[i] = sink.Result{Status: sink.Delivered}
			}
			w.events.Add(int64(len(idx)))
			w.bytes.Add(int64(st.bounds[j1] - st.bounds[j0]))
			w.batches.Add(1)
			w.latSum.Add(int64(o.latency))
			w.mu.Lock()
			if o.latency > w.latMax {
				w.latMax = o.latency
			}
			w.mu.Unlock()
			return
		case vRetry:
			if ctx.Err() != nil {
				w.fail(results, idx, sink.Retryable, c.reason, c.err)
				return
			}
			d := bo.NextBackOff()
			if w.clock.Now().Add(d).After(deadline) {
				w.fail(results, idx, sink.Retryable, c.reason,
					fmt.Errorf("%w (retry budget of %v spent)", c.err, w.cfg.RetryMaxElapsed))
				return
			}
			select {
			case <-w.clock.After(d):
			case <-ctx.Done():
				w.fail(results, idx, sink.Retryable, c.reason, c.err)
				return
			}
			w.retries.Add(1)
		case vDestination:
			w.failDest(results, idx, c.reason, c.err)
			return
		case vSplit:
			if j1-j0 == 1 {
				w.fail(results, idx, sink.Permanent, c.reason, c.err)
				return
			}
			mid := j0 + (j1-j0)/2
			for _, half := range [2][2]int{{j0, mid}, {mid, j1}} {
				sub := make([]byte, 0, st.bounds[half[1]]-st.bounds[half[0]]+len(w.trailer))
				sub = append(sub, st.buf[st.bounds[half[0]]:st.bounds[half[1]]]...)
				sub = append(sub, w.trailer...)
				w.deliver(ctx, sub, st, half[0], half[1], results, hash, deadline)
			}
			return
		default:
			w.fail(results, idx, sink.Permanent, c.reason, c.err)
			return
		}
	}
}

// failDest marks the records idx as waiting for the destination (see
// sink.Result.Destination) and reports it at error level, at most once
// per LogInterval and reason.
func (w *Writer) failDest(results []sink.Result, idx []int, reason string, err error) {
	for _, i := range idx {
		results[i] = sink.Result{Status: sink.Retryable, Reason: reason, Err: err, Destination: true}
	}
	if w.logger == nil {
		return
	}
	now := time.Now()
	w.mu.Lock()
	last, seen := w.loggedAt[reason]
	if !seen || now.Sub(last) >= LogInterval {
		if w.loggedAt == nil {
			w.loggedAt = map[string]time.Time{}
		}
		w.loggedAt[reason] = now
	} else {
		reason = ""
	}
	w.mu.Unlock()
	if reason != "" {
		w.logger.Error("sls: the destination refuses writes; retrying later", "reason", reason, "error", err)
	}
}

// fail records a failure outcome for the records idx.
func (w *Writer) fail(results []sink.Result, idx []int, s sink.Status, reason string, err error) {
	for _, i := range idx {
		results[i] = sink.Result{Status: s, Reason: reason, Err: err}
	}
	if s == sink.Permanent {
		w.mu.Lock()
		w.rejected[reason] += int64(len(idx))
		w.mu.Unlock()
	}
}

// post makes one PutLogs call through the SDK and records its outcome.
func (w *Writer) post(ctx context.Context, raw []byte, hash string, o *outcome) {
	tr := &callTransport{ctx: ctx, base: w.base, timeout: w.cfg.RequestTimeout, out: o}
	cl := &slssdk.Client{
		Endpoint:       w.endpoint,
		UserAgent:      userAgent,
		RequestTimeOut: w.cfg.RequestTimeout,
		RetryTimeOut:   w.cfg.RequestTimeout + time.Second,
		HTTPClient: &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // SLS does not redirect; never follow one with credentials
		}},
	}
	cl.WithCredentialsProvider(w.creds)
	var hk *string
	if hash != "" {
		hk = &hash
	}
	start := w.clock.Now()
	err := cl.PostRawLogWithCompressType(w.cfg.Project, w.cfg.Logstore, raw, slssdk.Compress_LZ4, hk)
	o.latency = w.clock.Now().Sub(start)
	if err != nil && o.status == 0 && o.netErr == nil {
		o.sdkErr = err
	}
}

// Close stops accepting writes and waits for Write calls in progress. If
// ctx ends first, those calls are cancelled: every record they hold is
// still reported (Retryable or Pending) before they return, so nothing
// accepted is lost silently.
func (w *Writer) Close(ctx context.Context) error {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	done := make(chan struct{})
	go func() {
		w.inflight.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		w.stop()
		<-done
		err = fmt.Errorf("sls: close: writes in progress cancelled: %w", ctx.Err())
	}
	w.stop()
	if t, ok := w.base.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	return err
}

// Stats returns the writer's cumulative counters. BytesSent counts the
// serialized (uncompressed) log bytes of delivered records.
func (w *Writer) Stats() sink.Stats {
	w.mu.Lock()
	rej := make(map[string]int64, len(w.rejected))
	for k, v := range w.rejected {
		rej[k] = v
	}
	latMax := w.latMax
	w.mu.Unlock()
	return sink.Stats{
		EventsSent: w.events.Load(),
		BytesSent:  w.bytes.Load(),
		Batches:    w.batches.Load(),
		Retries:    w.retries.Load(),
		Throttles:  w.throttles.Load(),
		Rejected:   rej,
		LatencySum: time.Duration(w.latSum.Load()),
		LatencyMax: latMax,
	}
}
