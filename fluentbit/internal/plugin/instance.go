// Package plugin is the Fluent Bit output plugin's logic, free of cgo:
// configuration, chunk processing (decode → policy → enrich → shape → ship),
// per-chunk delivery progress for retries, logging and statistics. The c-shared
// main package in fluentbit/ maps Fluent Bit's callbacks onto it.
package plugin

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/pipeline/promexport"
	"github.com/auditlane/auditlane/common/sink"
	"github.com/auditlane/auditlane/common/sink/cloudwatch"
	"github.com/auditlane/auditlane/common/sink/file"
	"github.com/auditlane/auditlane/common/sink/sls"
	"github.com/auditlane/auditlane/fluentbit/internal/chunk"
)

// Status is a flush result. Its values equal Fluent Bit's FLB_ERROR, FLB_OK
// and FLB_RETRY.
type Status int

// Flush results.
const (
	StatusError Status = 0
	StatusOK    Status = 1
	StatusRetry Status = 2
)

// String returns the Fluent Bit name of s.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "FLB_OK"
	case StatusRetry:
		return "FLB_RETRY"
	}
	return "FLB_ERROR"
}

// Options customise New, mainly for tests and benchmarks.
type Options struct {
	// Sink, when set, replaces the writer built from the destination.
	Sink sink.Writer
	// Log is where log lines go; default os.Stderr.
	Log io.Writer
	// CloudWatch and SLS are extra options for those writers.
	CloudWatch []cloudwatch.Option
	SLS        []sls.Option
}

// Instance is one configured output instance with its own pipeline, sink,
// dead letter, retry progress and counters. Flush is safe for concurrent
// use.
type Instance struct {
	name string
	cfg  Config
	log  *Logger
	pipe *pipeline.Pipeline
	dl   *pipeline.DeadLetter
	sink sink.Writer
	prog *progress
	seed maphash.Seed
	pool sync.Pool

	flushes, retries, errs      atomic.Int64
	delivered, sinkRejected     atomic.Int64
	deadLettered, rejectedNoDL  atomic.Int64
	skipped, evicted, malformed atomic.Int64
	groupMarkers                atomic.Int64

	stopMetrics func()

	stop     chan struct{}
	stopped  sync.WaitGroup
	closeOne sync.Once
}

// New builds an instance: the pipeline, the dead letter and the sink.
func New(ctx context.Context, name string, cfg Config, opts Options) (*Instance, error) {
	if opts.Log == nil {
		opts.Log = os.Stderr
	}
	in := &Instance{name: name, cfg: cfg, log: NewLogger(opts.Log, cfg.LogLevel, name),
		prog: newProgress(cfg.ProgressChunks), seed: maphash.MakeSeed(), stop: make(chan struct{})}
	in.pool.New = func() any { return new(flushState) }
	var err error
	in.pipe, in.dl, err = cfg.Pipeline.Build()
	if err != nil {
		return nil, err
	}
	in.sink = opts.Sink
	if in.sink == nil {
		if in.sink, err = newSink(ctx, cfg, in.log, opts); err != nil {
			if in.dl != nil {
				in.dl.Close()
			}
			return nil, err
		}
	}
	if cfg.MetricsListen != "" {
		if in.stopMetrics, err = serveMetrics(cfg.MetricsListen, promexport.New(name, in.pipe.Counters, false)); err != nil {
			in.sink.Close(ctx)
			if in.dl != nil {
				in.dl.Close()
			}
			return nil, err
		}
	}
	if cfg.StatsInterval > 0 {
		in.stopped.Add(1)
		go in.statsLoop(cfg.StatsInterval)
	}
	in.log.Infof("destination=%s policy=%q layout=%s raw_key=%s flush_timeout=%s", cfg.Destination,
		cfg.Pipeline.PolicyFile, cfg.Pipeline.Shape.Layout, cfg.RawKey, cfg.FlushTimeout)
	return in, nil
}

func newSink(ctx context.Context, cfg Config, log *Logger, opts Options) (sink.Writer, error) {
	switch cfg.Destination {
	case DestCloudWatch:
		return cloudwatch.New(ctx, cfg.CloudWatch, append([]cloudwatch.Option{cloudwatch.WithLogger(log.Slog())}, opts.CloudWatch...)...)
	case DestSLS:
		return sls.New(ctx, cfg.SLS, append([]sls.Option{sls.WithLogger(log.Slog())}, opts.SLS...)...)
	case DestStdout:
		return file.New(os.Stdout, "stdout"), nil
	case DestFile:
		return file.Open(cfg.FilePath, false)
	}
	return nil, fmt.Errorf("destination: %q is not supported", cfg.Destination)
}

// Name returns the instance name used in log lines.
func (in *Instance) Name() string { return in.name }

// Logger returns the instance's logger.
func (in *Instance) Logger() *Logger { return in.log }

// flushState is the reusable per-flush memory.
type flushState struct {
	scratch pipeline.Scratch
	tally   pipeline.Tally
	reader  chunk.Reader
	entry   chunk.Entry
	json    []byte
	arena   []byte
	recs    []sink.Record
	units   []int
	results []sink.Result
	prog    chunkState
	retry   bool // something must be retried
	tag     string
}

func (st *flushState) reset(tag string) {
	st.recs = st.recs[:0]
	st.units = st.units[:0]
	st.arena = st.arena[:0]
	st.json = st.json[:0]
	st.prog = chunkState{}
	st.tally.Reset()
	st.retry = false
	st.tag = tag
}

func (st *flushState) release() {
	clear(st.recs) // drop references to bodies and field strings
	if cap(st.arena) > 8<<20 {
		st.arena = nil
	}
	if cap(st.json) > 8<<20 {
		st.json = nil
	}
	if cap(st.recs) > 1<<16 {
		st.recs, st.units, st.results = nil, nil, nil
	}
}

// Flush processes one chunk of msgpack records for tag and returns the
// Fluent Bit status: OK when every event ended delivered, dropped or
// dead-lettered (or rejected and counted); RETRY when some were not
// delivered for a reason a retry may fix — the retry of the same chunk then
// skips the finished events; ERROR when the chunk itself is malformed and
// could not be dead-lettered.
//
// Each event is counted once, the first time a flush sees it (a unit of
// the chunk not seen by an earlier attempt), whatever happens to it later.
func (in *Instance) Flush(data []byte, tag string) Status {
	in.flushes.Add(1)
	st := in.pool.Get().(*flushState)
	defer in.pool.Put(st)
	defer st.release()
	st.reset(tag)

	var h maphash.Hash
	h.SetSeed(in.seed)
	h.WriteString(tag)
	h.WriteByte(0)
	h.Write(data)
	key := chunkKey{hash: h.Sum64(), size: len(data)}
	retried := false
	if prev, ok := in.prog.take(key); ok {
		st.prog, retried = prev, true
		in.log.Debugf("retry of chunk tag=%s size=%d: resuming after earlier progress", tag, len(data))
	} else {
		st.prog.first = time.Now()
	}

	ctx, cancel := context.WithTimeout(context.Background(), in.cfg.FlushTimeout)
	defer cancel()

	malformed := false
	u := 0
	st.reader.Reset(data)
	for {
		err := st.reader.Next(&st.entry)
		if err == io.EOF {
			break
		}
		if err != nil {
			// The rest of the chunk cannot be split into records: one
			// rejected unit.
			malformed = true
			in.malformed.Add(1)
			u = in.rejectUnit(st, u, err, data[st.reader.Offset():])
			break
		}
		u = in.record(st, &st.entry, u)
	}
	if !retried {
		in.groupMarkers.Add(int64(st.reader.GroupMarkers()))
	}
	if ctx.Err() == nil {
		in.deliver(ctx, st)
	} else if len(st.recs) > 0 {
		st.retry = true
	}
	in.pipe.Commit(&st.tally)
	switch {
	case st.retry:
		in.retries.Add(1)
		pending := 0
		for i := 0; i < u; i++ {
			if !st.prog.done.has(i) {
				pending++
			}
		}
		in.pipe.Retried(pending)
		in.evicted.Add(int64(in.prog.put(key, st.prog)))
		in.pipe.SetOldestPending(in.prog.oldest())
		if ctx.Err() != nil {
			in.log.Warnf("flush of tag=%s timed out after %s; retrying the undelivered events", tag, in.cfg.FlushTimeout)
		}
		return StatusRetry
	}
	if retried {
		in.pipe.SetOldestPending(in.prog.oldest())
	}
	if malformed && in.dl == nil {
		in.errs.Add(1)
		return StatusError
	}
	return StatusOK
}

// file adds a unit's result to the flush's tally unless an earlier attempt
// at the chunk counted it already. It reports whether the unit is finished
// (then the caller skips it).
func (st *flushState) file(u int, r *pipeline.Result) (done bool) {
	if st.prog.done.has(u) {
		return true
	}
	if !st.prog.seen.has(u) {
		st.prog.seen.set(u)
		st.tally.Add(r)
	}
	return false
}

// record processes one chunk record, whose events are numbered from u, and
// returns the next unit number. The record's value (or the whole record as
// JSON when raw_key is absent) goes to the pipeline's one record entry,
// which splits EventLists, arrays and provider batches.
func (in *Instance) record(st *flushState, e *chunk.Entry, u int) int {
	v, ok, err := chunk.Lookup(e.Map, in.cfg.RawKey)
	var line []byte
	switch {
	case err != nil:
		return in.rejectUnit(st, u, err, e.Map)
	case ok:
		s, isStr := chunk.StringValue(v)
		if !isStr {
			return in.rejectUnit(st, u, fmt.Errorf("record key %q is not a string", in.cfg.RawKey), e.Map)
		}
		line = s
	default:
		st.json, err = chunk.AppendJSON(st.json[:0], e.Map)
		if err != nil {
			return in.rejectUnit(st, u, err, e.Map)
		}
		line = st.json
	}
	n := 0
	in.pipe.Records(line, &st.scratch, func(r *pipeline.Result) {
		unit := u + n
		n++
		if st.file(unit, r) {
			in.skipped.Add(1)
			return
		}
		in.outcome(st, r, unit, e)
	})
	return u + n
}

// rejectUnit files a unit that is not an audit record at all (a record the
// chunk reader or the raw_key lookup refused).
func (in *Instance) rejectUnit(st *flushState, u int, err error, raw []byte) int {
	r := pipeline.RejectResult(err, raw)
	if st.file(u, &r) {
		in.skipped.Add(1)
		return u + 1
	}
	if in.deadLetter(st, pipeline.LetterFor(&r, st.tag, u), 1) {
		st.prog.done.set(u)
	}
	return u + 1
}

// outcome files one processed event.
func (in *Instance) outcome(st *flushState, res *pipeline.Result, u int, e *chunk.Entry) {
	switch res.Outcome {
	case pipeline.Dropped, pipeline.Skipped:
		st.prog.done.set(u)
	case pipeline.Rejected:
		if in.deadLetter(st, pipeline.LetterFor(res, st.tag, u), 1) {
			st.prog.done.set(u)
		}
	case pipeline.Kept:
		start := len(st.arena)
		st.arena = append(st.arena, res.Out...)
		rec := sink.Record{Time: res.Time, Body: st.arena[start:len(st.arena):len(st.arena)]}
		if rec.Time.IsZero() {
			rec.Time = e.Time
		}
		if res.Fields != nil {
			rec.Fields = make([]sink.Field, len(res.Fields))
			for i, f := range res.Fields {
				rec.Fields[i] = sink.Field{Key: f.Key, Value: strings.Clone(f.Value)}
			}
		}
		if res.AuditID != "" {
			rec.ID = strings.Clone(res.AuditID)
		}
		st.recs = append(st.recs, rec)
		st.units = append(st.units, u)
	}
}

// deliver writes the kept events and files each result.
func (in *Instance) deliver(ctx context.Context, st *flushState) {
	if len(st.recs) == 0 {
		return
	}
	if cap(st.results) < len(st.recs) {
		st.results = make([]sink.Result, len(st.recs))
	}
	st.results = st.results[:len(st.recs)]
	clear(st.results)
	err := in.sink.Write(ctx, st.recs, st.results)
	delivered := 0
	for i, r := range st.results {
		u := st.units[i]
		switch r.Status {
		case sink.Delivered:
			st.prog.done.set(u)
			delivered++
		case sink.Permanent:
			// An event-level refusal (too old, too new, too large): the
			// shaped event is what the dead letter may keep.
			in.sinkRejected.Add(1)
			in.pipe.SinkError(r.Reason, 1)
			if in.deadLetter(st, pipeline.Letter{Reason: "sink_" + r.Reason, Err: r.Err, Line: u, Source: st.tag, Event: st.recs[i].Body}, 1) {
				st.prog.done.set(u)
			}
		default:
			if r.Reason != "" {
				in.pipe.SinkError(r.Reason, 1)
			}
			st.retry = true
		}
	}
	in.delivered.Add(int64(delivered))
	in.pipe.Delivered(delivered)
	if err != nil {
		in.log.Warnf("tag=%s: %v", st.tag, err)
	}
}

// deadLetter keeps one rejected input. Without a dead-letter file the input
// is counted and logged only. It reports whether the input is finished
// (false: writing the dead letter failed and the chunk must be retried).
func (in *Instance) deadLetter(st *flushState, l pipeline.Letter, n int) bool {
	if in.dl == nil {
		in.rejectedNoDL.Add(int64(n))
		if strings.HasPrefix(l.Reason, "sink_") {
			in.pipe.Lost(l.Reason, n)
		}
		in.log.Debugf("rejected tag=%s event=%d reason=%s: %v", st.tag, l.Line, l.Reason, l.Err)
		return true
	}
	if werr := in.dl.Write(l); werr != nil {
		in.log.Errorf("dead letter: %v", werr)
		st.retry = true
		return false
	}
	in.deadLettered.Add(int64(n))
	in.pipe.DeadLettered(l.Reason, n)
	return true
}

// Stats is a snapshot of an instance's counters.
type Stats struct {
	Pipeline pipeline.Counters
	Sink     sink.Stats
	// Flushes, Retries and Errors count flush calls and the RETRY and
	// ERROR answers.
	Flushes, Retries, Errors int64
	// Delivered events; SinkRejected: events the destination refused
	// permanently; DeadLettered: inputs written to the dead letter;
	// RejectedNoDeadLetter: rejected inputs logged and
	// counted only (no dead_letter_file).
	Delivered, SinkRejected, DeadLettered, RejectedNoDeadLetter int64
	// Skipped: events a retried chunk did not process again; Malformed:
	// chunks that were not valid msgpack records; PendingChunks: chunks
	// with remembered progress; Evicted: progress entries dropped for space.
	Skipped, Malformed, PendingChunks, Evicted int64
	// GroupMarkers counts the group start and end records (Fluent Bit's
	// framing of OpenTelemetry resources and scopes) that were skipped:
	// they are not events.
	GroupMarkers int64
}

// Stats returns the instance's counters.
func (in *Instance) Stats() Stats {
	s := Stats{
		Pipeline: in.pipe.Counters(),
		Flushes:  in.flushes.Load(), Retries: in.retries.Load(), Errors: in.errs.Load(),
		Delivered: in.delivered.Load(), SinkRejected: in.sinkRejected.Load(),
		DeadLettered: in.deadLettered.Load(), RejectedNoDeadLetter: in.rejectedNoDL.Load(),
		Skipped: in.skipped.Load(), Malformed: in.malformed.Load(),
		PendingChunks: int64(in.prog.len()), Evicted: in.evicted.Load(), GroupMarkers: in.groupMarkers.Load(),
	}
	if r, ok := in.sink.(sink.StatsReporter); ok {
		s.Sink = r.Stats()
	}
	return s
}

// StatsLine formats the stats line.
func (in *Instance) StatsLine() string {
	s := in.Stats()
	c := s.Pipeline
	var rules []string
	for i, n := range c.DroppedByRule {
		if n > 0 {
			rules = append(rules, fmt.Sprintf("rule%d:%d", i, n))
		}
	}
	var reasons []string
	for r, n := range c.RejectedByReason {
		reasons = append(reasons, fmt.Sprintf("%s:%d", r, n))
	}
	sort.Strings(reasons)
	return fmt.Sprintf("stats: in=%d kept=%d out=%d dropped=%d dropped_by_rule=[%s] dropped_no_match=%d rejected=%d rejected_by_reason=[%s] "+
		"bytes_in=%d bytes_out=%d bytes_saved=%d retries=%d sink_retries=%d sink_rejected=%d dead_lettered=%d errors=%d pending_chunks=%d group_markers=%d",
		c.EventsIn, c.Kept, s.Delivered, c.Dropped, strings.Join(rules, " "), c.DroppedNoMatch, c.Rejected, strings.Join(reasons, " "),
		c.BytesIn, c.BytesOut, c.BytesIn-c.BytesOut, s.Retries, s.Sink.Retries, s.SinkRejected, s.DeadLettered, s.Errors, s.PendingChunks, s.GroupMarkers)
}

func (in *Instance) statsLoop(every time.Duration) {
	defer in.stopped.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-in.stop:
			return
		case <-t.C:
			in.log.Infof("%s", in.StatsLine())
		}
	}
}

// Close stops the stats line, logs the final counters and closes the sink
// and the dead letter, waiting at most timeout for writes in progress.
func (in *Instance) Close(timeout time.Duration) error {
	var errs []error
	in.closeOne.Do(func() {
		close(in.stop)
		in.stopped.Wait()
		if in.stopMetrics != nil {
			in.stopMetrics()
		}
		in.log.Infof("exit: %s", in.StatsLine())
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := in.sink.Close(ctx); err != nil {
			errs = append(errs, err)
		}
		if in.dl != nil {
			if err := in.dl.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	})
	return errors.Join(errs...)
}
