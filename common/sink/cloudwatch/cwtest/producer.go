package cwtest

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// ProducerConfig configures a Producer.
type ProducerConfig struct {
	// Group is the log group written to.
	Group string
	// StreamPrefix names the streams StreamPrefix0, StreamPrefix1, …
	// (default "kube-apiserver-audit-").
	StreamPrefix string
	// Streams is the number of writers, one stream each (default 3).
	Streams int
	// Events is how many events to write in all.
	Events int
	// Rate is the events per second of all streams together (default 600).
	Rate int
	// Batch is how many events a writer buffers before it flushes
	// (default 50); a writer also flushes early now and then.
	Batch int
	// Jitter is how long before it is buffered an event may be stamped
	// (default 500 ms).
	Jitter time.Duration
	// Tick is the production step (default 100 ms).
	Tick time.Duration
	// Message makes event i's message (default {"auditID":"<i, 6 digits>"}).
	Message func(i int, ts time.Time) string
	// Seed seeds the timing draws.
	Seed uint64
}

// Producer writes events as several EKS apiservers do: each of its
// writers stamps events (up to Jitter before it buffers them), flushes
// batches, and the flushed batches reach the server in random order, some
// held back for a tick or more. Combined with Options.Visibility, events
// become visible out of order within and across streams. It is not safe
// for concurrent use.
type Producer struct {
	srv     *Server
	clock   *Clock
	cfg     ProducerConfig
	rng     *rand.Rand
	next    int
	carry   float64
	pending [][]Event
	ready   []flush
	last    time.Time
}

type flush struct {
	stream int
	evs    []Event
}

// NewProducer returns a producer writing to srv. With a clock, Advance
// moves it; without, the producer reads the server's clock and the caller
// lets time pass (real-time tests).
func NewProducer(srv *Server, clock *Clock, cfg ProducerConfig) *Producer {
	if cfg.StreamPrefix == "" {
		cfg.StreamPrefix = "kube-apiserver-audit-"
	}
	if cfg.Streams <= 0 {
		cfg.Streams = 3
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 600
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 50
	}
	if cfg.Jitter <= 0 {
		cfg.Jitter = 500 * time.Millisecond
	}
	if cfg.Tick <= 0 {
		cfg.Tick = 100 * time.Millisecond
	}
	if cfg.Message == nil {
		cfg.Message = func(i int, _ time.Time) string { return fmt.Sprintf(`{"auditID":"%06d"}`, i) }
	}
	return &Producer{srv: srv, clock: clock, cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0xa076_1d64_78bd_642f)), pending: make([][]Event, cfg.Streams)}
}

// Advance produces d worth of events, tick by tick (moving the clock when
// the producer has one), and writes the batches that are flushed.
func (p *Producer) Advance(d time.Duration) {
	for ; d > 0; d -= p.cfg.Tick {
		step := min(d, p.cfg.Tick)
		if p.clock != nil {
			p.clock.Advance(step)
		}
		p.tick(step)
	}
}

func (p *Producer) now() time.Time {
	if p.clock != nil {
		return p.clock.Now()
	}
	p.srv.mu.Lock()
	defer p.srv.mu.Unlock()
	return p.srv.clock()
}

func (p *Producer) tick(step time.Duration) {
	now := p.now()
	p.carry += float64(p.cfg.Rate) * step.Seconds()
	for ; p.carry >= 1 && p.next < p.cfg.Events; p.carry-- {
		s := p.next % p.cfg.Streams
		ts := now.Add(-time.Duration(p.rng.Int64N(int64(p.cfg.Jitter))))
		p.pending[s] = append(p.pending[s], Event{Timestamp: ts.UnixMilli(), Message: p.cfg.Message(p.next, ts)})
		if ts.After(p.last) {
			p.last = ts
		}
		p.next++
	}
	done := p.next >= p.cfg.Events
	for s := range p.pending {
		if n := len(p.pending[s]); n >= p.cfg.Batch || n > 0 && (done || p.rng.IntN(8) == 0) {
			p.ready = append(p.ready, flush{s, p.pending[s]})
			p.pending[s] = nil
		}
	}
	p.rng.Shuffle(len(p.ready), func(a, b int) { p.ready[a], p.ready[b] = p.ready[b], p.ready[a] })
	kept := p.ready[:0]
	for _, f := range p.ready {
		if !done && p.rng.IntN(3) == 0 {
			kept = append(kept, f) // held back
			continue
		}
		p.srv.AddEvents(p.cfg.Group, fmt.Sprintf("%s%d", p.cfg.StreamPrefix, f.stream), f.evs...)
	}
	p.ready = kept
}

// Done tells whether every event was written.
func (p *Producer) Done() bool {
	return p.next >= p.cfg.Events && len(p.ready) == 0 && p.unflushed() == 0
}

func (p *Producer) unflushed() int {
	n := 0
	for _, b := range p.pending {
		n += len(b)
	}
	return n
}

// Produced is how many events were made so far (written or buffered).
func (p *Producer) Produced() int { return p.next }

// Last is the newest timestamp produced so far.
func (p *Producer) Last() time.Time { return p.last }
