package slssrc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	consumer "github.com/aliyun/aliyun-log-go-sdk/consumer"
	"github.com/cenkalti/backoff/v5"
	"github.com/go-kit/kit/log"
	"github.com/go-kit/kit/log/level"

	"github.com/auditlane/auditlane/common/sink"
)

// Message is one audit event read from SLS.
type Message struct {
	Shard int
	// Time is the log's time.
	Time time.Time
	// Body is the rebuilt audit Event JSON; nil when Err is set.
	Body []byte
	// Err says why the log could not be rebuilt; Fields then holds it for a
	// dead letter.
	Err    error
	Fields []sink.Field
}

// messages rebuilds every log of a LogGroupList.
func messages(shard int, gl *slssdk.LogGroupList) []Message {
	var out []Message
	if gl == nil {
		return nil
	}
	for _, g := range gl.LogGroups {
		for _, l := range g.Logs {
			fields := make([]sink.Field, len(l.Contents))
			for i, c := range l.Contents {
				fields[i] = sink.Field{Key: c.GetKey(), Value: c.GetValue()}
			}
			m := Message{Shard: shard, Time: time.Unix(int64(l.GetTime()), int64(l.GetTimeNs()))}
			m.Body, m.Err = Rebuild(nil, fields)
			if m.Err != nil {
				m.Body, m.Fields = nil, fields
			}
			out = append(out, m)
		}
	}
	return out
}

// Credentials are an AccessKey pair, optionally with an STS token.
type Credentials struct {
	AccessKeyID, AccessKeySecret, SecurityToken string
}

// Backoff bounds retries: waits from Initial doubling up to Max, for at
// most MaxElapsed.
type Backoff struct {
	Initial, Max, MaxElapsed time.Duration
}

func (b Backoff) withDefaults(initial, most, elapsed time.Duration) Backoff {
	if b.Initial <= 0 {
		b.Initial = initial
	}
	if b.Max <= 0 {
		b.Max = most
	}
	if b.MaxElapsed <= 0 {
		b.MaxElapsed = elapsed
	}
	return b
}

func (b Backoff) exponential() *backoff.ExponentialBackOff {
	e := backoff.NewExponentialBackOff()
	e.InitialInterval, e.MaxInterval = b.Initial, b.Max
	return e
}

// Defaults of Config.
const (
	// DefaultSetupTimeout bounds creating or verifying the consumer group.
	DefaultSetupTimeout = time.Minute
	// DefaultHeartbeatInterval is the SDK's heartbeat interval.
	DefaultHeartbeatInterval = 20 * time.Second
)

// Config configures a Consumer.
type Config struct {
	// Endpoint is the SLS endpoint, e.g. cn-hangzhou.log.aliyuncs.com.
	Endpoint string
	// Project and Logstore name the logstore (ACK: audit-${clusterid}).
	Project, Logstore string
	// ConsumerGroup is shared by all replicas; ConsumerName is unique per
	// replica (for example the pod name).
	ConsumerGroup, ConsumerName string
	// StartTime is where a shard without a checkpoint starts (receive
	// time); zero means the beginning of the shard.
	StartTime time.Time
	// HeartbeatInterval (default 20 s) and HeartbeatTimeout (default 3 ×
	// the interval): a replica silent for longer than the timeout loses its
	// shards to the others. Whole seconds.
	HeartbeatInterval, HeartbeatTimeout time.Duration
	// Credentials sign requests.
	Credentials Credentials
	// Provider, when set, supplies the credentials instead (STS / RRSA
	// credentials that expire and are refreshed); Credentials is ignored.
	Provider slssdk.CredentialsProvider
	// HTTPClient, when set, carries the requests (tests, proxies).
	HTTPClient *http.Client
	// SetupTimeout bounds NewConsumer's retries of creating or verifying
	// the consumer group (default DefaultSetupTimeout).
	SetupTimeout time.Duration
	// Retry paces handing a refused pull to the callback again (default
	// 50 ms doubling to 5 s; MaxElapsed is how long one call of the SDK's
	// processor keeps retrying before it lets the SDK look at its shard,
	// default 10 s).
	Retry Backoff
	// Logger receives the SDK consumer library's logs (go-kit); nil
	// discards them.
	Logger log.Logger
}

// Validate reports the first invalid field.
func (c *Config) Validate() error {
	fields := []struct{ name, v string }{
		{"endpoint", c.Endpoint}, {"project", c.Project}, {"logstore", c.Logstore},
		{"consumer_group", c.ConsumerGroup}, {"consumer_name", c.ConsumerName},
	}
	if c.Provider == nil {
		fields = append(fields, []struct{ name, v string }{
			{"access_key_id", c.Credentials.AccessKeyID}, {"access_key_secret", c.Credentials.AccessKeySecret},
		}...)
	}
	for _, f := range fields {
		if f.v == "" {
			return fmt.Errorf("slssrc: %s is required", f.name)
		}
	}
	if c.HeartbeatInterval < 0 || c.HeartbeatTimeout < 0 || c.HeartbeatInterval%time.Second != 0 || c.HeartbeatTimeout%time.Second != 0 {
		return errors.New("slssrc: heartbeat_interval and heartbeat_timeout must be whole seconds")
	}
	if c.SetupTimeout < 0 {
		return errors.New("slssrc: setup_timeout must not be negative")
	}
	return nil
}

// client builds an SDK client for cfg.
func (c *Config) client() *slssdk.Client {
	var cl slssdk.ClientInterface
	if c.Provider != nil {
		cl = slssdk.CreateNormalInterfaceV2(c.Endpoint, c.Provider)
	} else {
		cl = slssdk.CreateNormalInterface(c.Endpoint, c.Credentials.AccessKeyID, c.Credentials.AccessKeySecret, c.Credentials.SecurityToken)
	}
	cl.SetUserAgent(c.ConsumerGroup + "_" + c.ConsumerName)
	cl.SetHTTPClient(c.HTTPClient)
	return cl.(*slssdk.Client)
}

// ConsumerStats are a Consumer's counters.
type ConsumerStats struct {
	Pulls     int64 // pulls decoded (a refused pull handed again is not decoded again)
	Attempts  int64 // calls of the callback
	Refused   int64 // of those, refused
	Delivered int64 // messages the callback accepted
}

// Consumer follows a logstore as one member of a consumer group.
type Consumer struct {
	worker *consumer.ConsumerWorker
	stop   context.CancelFunc
	proc   *processor
}

// NewConsumer joins the consumer group, first creating it (or updating
// its heartbeat timeout) and retrying throttled, failed or reset calls and
// destination trouble (credentials, permissions, a missing project or
// logstore) with backoff for up to Config.SetupTimeout: the SDK tries that
// once and only logs a failure, after which every heartbeat fails. A
// request that can never succeed (an invalid group name) ends it at once. fn
// gets the messages of one pull of one shard; the shard's checkpoint is
// committed to the service only after fn returns nil. When fn fails, the
// same messages (decoded once) are handed to fn again with exponential
// backoff until it succeeds or the Consumer stops; data whose fn did not
// succeed is never committed, so another replica or a restart reads it
// again (at-least-once). fn is called concurrently for different shards.
func NewConsumer(ctx context.Context, cfg Config, fn func(batch []Message) error) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.HTTPClient == nil {
		// The SDK would create its client lazily, racing between shards
		// (see primeClient); this is its default (proxy from the
		// environment, 60 s timeout).
		cfg.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: sdkRequestTimeout}
	}
	if cfg.SetupTimeout == 0 {
		cfg.SetupTimeout = DefaultSetupTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = log.NewNopLogger()
	}
	cfg.Retry = cfg.Retry.withDefaults(50*time.Millisecond, 5*time.Second, 10*time.Second)
	if err := ensureGroup(ctx, &cfg); err != nil {
		return nil, err
	}
	opt := consumer.LogHubConfig{
		Endpoint: cfg.Endpoint, Project: cfg.Project, Logstore: cfg.Logstore,
		ConsumerGroupName: cfg.ConsumerGroup, ConsumerName: cfg.ConsumerName,
		AccessKeyID: cfg.Credentials.AccessKeyID, AccessKeySecret: cfg.Credentials.AccessKeySecret,
		SecurityToken:             cfg.Credentials.SecurityToken,
		CredentialsProvider:       cfg.Provider,
		HeartbeatIntervalInSecond: int(cfg.HeartbeatInterval / time.Second),
		HeartbeatTimeoutInSecond:  int(cfg.HeartbeatTimeout / time.Second),
		CursorPosition:            consumer.BEGIN_CURSOR,
		// Commit only from the processor, after fn succeeded.
		AutoCommitDisabled: true,
		HTTPClient:         cfg.HTTPClient,
		Logger:             cfg.Logger,
	}
	if !cfg.StartTime.IsZero() {
		opt.CursorPosition = consumer.SPECIAL_TIMER_CURSOR
		opt.CursorStartTime = cfg.StartTime.Unix()
	}
	stopCtx, stop := context.WithCancel(context.Background())
	p := &processor{ctx: stopCtx, fn: fn, retry: cfg.Retry, shards: map[int]*shardState{}}
	w := consumer.InitConsumerWorkerWithCheckpointTracker(opt, p.process)
	primeClient(w)
	return &Consumer{worker: w, stop: stop, proc: p}, nil
}

// ensureGroup creates the consumer group, or updates it when its timeout
// or order differ from cfg's (as the SDK would), retrying transient
// failures for up to cfg.SetupTimeout.
func ensureGroup(ctx context.Context, cfg *Config) error {
	interval := cfg.HeartbeatInterval
	if interval == 0 {
		interval = DefaultHeartbeatInterval
	}
	timeout := cfg.HeartbeatTimeout
	if timeout == 0 {
		timeout = 3 * interval
	}
	want := slssdk.ConsumerGroup{ConsumerGroupName: cfg.ConsumerGroup, Timeout: int(timeout / time.Second)}
	c := cfg.client()
	ctx, cancel := context.WithTimeout(ctx, cfg.SetupTimeout)
	defer cancel()
	attempts := 0
	var last error
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		attempts++
		err := setupGroup(c, cfg.Project, cfg.Logstore, want)
		if err != nil {
			last = err
			level.Warn(cfg.Logger).Log("msg", "creating or verifying the consumer group failed; retrying", "consumer_group", cfg.ConsumerGroup, "attempt", attempts, "err", err)
			if !setupRetryable(err) {
				return struct{}{}, backoff.Permanent(err)
			}
		}
		return struct{}{}, err
	}, backoff.WithBackOff(Backoff{Initial: 200 * time.Millisecond, Max: 5 * time.Second}.exponential()), backoff.WithMaxElapsedTime(cfg.SetupTimeout))
	if err == nil {
		return nil
	}
	if last == nil {
		last = err
	}
	return fmt.Errorf("slssrc: consumer group %s of %s/%s not created or verified (%d attempts in at most %s): %w",
		cfg.ConsumerGroup, cfg.Project, cfg.Logstore, attempts, cfg.SetupTimeout, last)
}

func setupGroup(c *slssdk.Client, project, logstore string, want slssdk.ConsumerGroup) error {
	groups, err := c.ListConsumerGroup(project, logstore)
	if err != nil {
		return fmt.Errorf("list consumer groups: %w", err)
	}
	for _, g := range groups {
		if g.ConsumerGroupName != want.ConsumerGroupName {
			continue
		}
		if *g == want {
			return nil
		}
		if err := c.UpdateConsumerGroup(project, logstore, want); err != nil {
			return fmt.Errorf("update consumer group: %w", err)
		}
		return nil
	}
	if err := c.CreateConsumerGroup(project, logstore, want); err != nil {
		var se *slssdk.Error
		if errors.As(err, &se) && se.Code == "ConsumerGroupAlreadyExist" {
			return nil
		}
		return fmt.Errorf("create consumer group: %w", err)
	}
	return nil
}

// processor hands each pull to fn, decoding it once and retrying a refused
// one with backoff.
type processor struct {
	ctx   context.Context // ends when the Consumer stops
	fn    func([]Message) error
	retry Backoff

	mu     sync.Mutex
	shards map[int]*shardState
	stats  struct{ pulls, attempts, refused, delivered atomic.Int64 }
}

type shardState struct {
	gl    *slssdk.LogGroupList // the pull batch was decoded from
	batch []Message
	fails int // consecutive refusals
}

func (p *processor) shard(id int) *shardState {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.shards[id]
	if st == nil {
		st = &shardState{}
		p.shards[id] = st
	}
	return st
}

// process is the SDK's processor: called for one shard at a time, with
// the same LogGroupList again after it returned an error.
func (p *processor) process(shard int, gl *slssdk.LogGroupList, ck consumer.CheckPointTracker) (string, error) {
	st := p.shard(shard)
	if st.gl != gl || gl == nil {
		st.gl, st.batch = gl, messages(shard, gl)
		p.stats.pulls.Add(1)
	}
	if len(st.batch) > 0 {
		start := time.Now()
		for {
			p.stats.attempts.Add(1)
			err := p.fn(st.batch)
			if err == nil {
				p.stats.delivered.Add(int64(len(st.batch)))
				st.fails = 0
				break
			}
			p.stats.refused.Add(1)
			st.fails++
			wait := min(p.retry.Initial<<min(st.fails-1, 20), p.retry.Max)
			err = fmt.Errorf("slssrc: deliver %d messages from shard %d: %w", len(st.batch), shard, err)
			if time.Since(start)+wait > p.retry.MaxElapsed {
				return "", err // the SDK hands the same pull again
			}
			t := time.NewTimer(wait)
			select {
			case <-p.ctx.Done():
				t.Stop()
				return "", err // stopping: leave the pull uncommitted
			case <-t.C:
			}
		}
	}
	st.gl, st.batch = nil, nil
	// SaveCheckPoint(true) commits the cursor after this pull now.
	if err := ck.SaveCheckPoint(true); err != nil {
		return "", fmt.Errorf("slssrc: commit checkpoint of shard %d: %w", shard, err)
	}
	return "", nil
}

// Start starts heartbeats and reading.
func (c *Consumer) Start() { c.worker.Start() }

// Stop stops reading, commits what was delivered and leaves the group's
// heartbeats, waiting for the shard workers. A refused pull waiting for
// its next try is left uncommitted.
func (c *Consumer) Stop() {
	c.stop()
	c.worker.StopAndWait()
}

// Stats returns the counters.
func (c *Consumer) Stats() ConsumerStats {
	s := &c.proc.stats
	return ConsumerStats{Pulls: s.pulls.Load(), Attempts: s.attempts.Load(), Refused: s.refused.Load(), Delivered: s.delivered.Load()}
}

// Client is the part of *sls.Client PullRange uses.
type Client interface {
	ListShards(project, logstore string) ([]*slssdk.Shard, error)
	GetCursor(project, logstore string, shardID int, from string) (string, error)
	PullLogs(project, logstore string, shardID int, cursor, endCursor string, logGroupMaxCount int) (*slssdk.LogGroupList, string, error)
}

// Range is what PullRange reads.
type Range struct {
	Project, Logstore string
	// From (inclusive) and To (exclusive) are receive times, in whole
	// seconds (SLS cursors); a zero To reads up to each shard's current
	// end. Consecutive ranges [a, b), [b, c) read every log once.
	From, To time.Time
	// Backoff bounds the retries of each call: throttling (ReadQuotaExceed,
	// ShardReadQuotaExceed, 429), 5xx and network errors (default 200 ms
	// doubling to 10 s, for at most 2 minutes).
	Backoff Backoff
	// Count is the LogGroups per PullLogs call (1..1000, default 1000).
	Count int
	// Stats, when set, receives the counters.
	Stats *PullStats
}

// PullStats are PullRange's counters.
type PullStats struct {
	Pulls   int // PullLogs answers
	Retries int // calls retried
}

// PullRange reads, shard by shard, the logs the service received in
// [From, To), calling fn once per pull.
func PullRange(ctx context.Context, c Client, r Range, fn func(batch []Message) error) error {
	b := r.Backoff.withDefaults(200*time.Millisecond, 10*time.Second, 2*time.Minute)
	stats := r.Stats
	if stats == nil {
		stats = &PullStats{}
	}
	project, logstore := r.Project, r.Logstore
	count := r.Count
	if count <= 0 || count > 1000 {
		count = 1000
	}
	shards, err := retry(ctx, b, stats, func() ([]*slssdk.Shard, error) { return c.ListShards(project, logstore) })
	if err != nil {
		return fmt.Errorf("slssrc: list shards of %s/%s: %w", project, logstore, err)
	}
	for _, sh := range shards {
		cur, err := retry(ctx, b, stats, func() (string, error) {
			return c.GetCursor(project, logstore, sh.ShardID, strconv.FormatInt(r.From.Unix(), 10))
		})
		if err != nil {
			return fmt.Errorf("slssrc: cursor at %s in shard %d: %w", r.From.Format(time.RFC3339), sh.ShardID, err)
		}
		endFrom := "end"
		if !r.To.IsZero() {
			endFrom = strconv.FormatInt(r.To.Unix(), 10)
		}
		end, err := retry(ctx, b, stats, func() (string, error) { return c.GetCursor(project, logstore, sh.ShardID, endFrom) })
		if err != nil {
			return fmt.Errorf("slssrc: end cursor of shard %d: %w", sh.ShardID, err)
		}
		for cur != end {
			if err := ctx.Err(); err != nil {
				return err
			}
			type pulled struct {
				gl   *slssdk.LogGroupList
				next string
			}
			p, err := retry(ctx, b, stats, func() (pulled, error) {
				gl, next, err := c.PullLogs(project, logstore, sh.ShardID, cur, end, count)
				return pulled{gl, next}, err
			})
			if err != nil {
				return fmt.Errorf("slssrc: pull logs from shard %d: %w", sh.ShardID, err)
			}
			stats.Pulls++
			if batch := messages(sh.ShardID, p.gl); len(batch) > 0 {
				if err := fn(batch); err != nil {
					return fmt.Errorf("slssrc: deliver %d messages from shard %d: %w", len(batch), sh.ShardID, err)
				}
			}
			if p.next == cur {
				break
			}
			cur = p.next
		}
	}
	return nil
}

// retry runs op, retrying transient errors with backoff.
func retry[T any](ctx context.Context, b Backoff, stats *PullStats, op func() (T, error)) (T, error) {
	first := true
	return backoff.Retry(ctx, func() (T, error) {
		if !first {
			stats.Retries++
		}
		first = false
		v, err := op()
		if err != nil && !transient(err) {
			return v, backoff.Permanent(err)
		}
		return v, err
	}, backoff.WithBackOff(b.exponential()), backoff.WithMaxElapsedTime(b.MaxElapsed))
}
