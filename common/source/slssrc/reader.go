package slssrc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	consumer "github.com/aliyun/aliyun-log-go-sdk/consumer"
	"github.com/go-kit/kit/log"

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
	return nil
}

// Consumer follows a logstore as one member of a consumer group.
type Consumer struct {
	worker *consumer.ConsumerWorker
}

// NewConsumer joins (creating it if needed) the consumer group. fn gets
// the messages of one pull of one shard; the shard's checkpoint is
// committed to the service only after fn returns nil. When fn fails, the
// library hands the same data to fn again (after 50 ms) until it succeeds
// or the Consumer stops; data whose fn did not succeed is never committed,
// so another replica or a restart reads it again (at-least-once). fn is
// called concurrently for different shards.
func NewConsumer(cfg Config, fn func(batch []Message) error) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
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
		Logger:             log.NewNopLogger(),
	}
	if opt.HTTPClient == nil {
		// The SDK would create its client lazily, racing between shards
		// (see primeClient); this is its default (proxy from the
		// environment, 60 s timeout).
		opt.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: sdkRequestTimeout}
	}
	if !cfg.StartTime.IsZero() {
		opt.CursorPosition = consumer.SPECIAL_TIMER_CURSOR
		opt.CursorStartTime = cfg.StartTime.Unix()
	}
	w := consumer.InitConsumerWorkerWithCheckpointTracker(opt, func(shard int, gl *slssdk.LogGroupList, ck consumer.CheckPointTracker) (string, error) {
		if batch := messages(shard, gl); len(batch) > 0 {
			if err := fn(batch); err != nil {
				return "", fmt.Errorf("slssrc: deliver %d messages from shard %d: %w", len(batch), shard, err)
			}
		}
		// SaveCheckPoint(true) commits the cursor after this pull now.
		if err := ck.SaveCheckPoint(true); err != nil {
			return "", fmt.Errorf("slssrc: commit checkpoint of shard %d: %w", shard, err)
		}
		return "", nil
	})
	primeClient(w)
	return &Consumer{worker: w}, nil
}

// Start starts heartbeats and reading.
func (c *Consumer) Start() { c.worker.Start() }

// Stop stops reading, commits what was delivered and leaves the group's
// heartbeats, waiting for the shard workers.
func (c *Consumer) Stop() { c.worker.StopAndWait() }

// Client is the part of *sls.Client PullRange uses.
type Client interface {
	ListShards(project, logstore string) ([]*slssdk.Shard, error)
	GetCursor(project, logstore string, shardID int, from string) (string, error)
	PullLogs(project, logstore string, shardID int, cursor, endCursor string, logGroupMaxCount int) (*slssdk.LogGroupList, string, error)
}

// PullRange reads, shard by shard, the logs the service received in
// [from, to) (SLS cursors are by receive time, seconds), calling fn once
// per pull. A zero to reads up to the shard's current end.
func PullRange(ctx context.Context, c Client, project, logstore string, from, to time.Time, fn func(batch []Message) error) error {
	shards, err := c.ListShards(project, logstore)
	if err != nil {
		return fmt.Errorf("slssrc: list shards of %s/%s: %w", project, logstore, err)
	}
	for _, sh := range shards {
		cur, err := c.GetCursor(project, logstore, sh.ShardID, strconv.FormatInt(from.Unix(), 10))
		if err != nil {
			return fmt.Errorf("slssrc: cursor at %s in shard %d: %w", from.Format(time.RFC3339), sh.ShardID, err)
		}
		endFrom := "end"
		if !to.IsZero() {
			endFrom = strconv.FormatInt(to.Unix(), 10)
		}
		end, err := c.GetCursor(project, logstore, sh.ShardID, endFrom)
		if err != nil {
			return fmt.Errorf("slssrc: end cursor of shard %d: %w", sh.ShardID, err)
		}
		for cur != end {
			if err := ctx.Err(); err != nil {
				return err
			}
			gl, next, err := c.PullLogs(project, logstore, sh.ShardID, cur, end, 1000)
			if err != nil {
				return fmt.Errorf("slssrc: pull logs from shard %d: %w", sh.ShardID, err)
			}
			if batch := messages(sh.ShardID, gl); len(batch) > 0 {
				if err := fn(batch); err != nil {
					return fmt.Errorf("slssrc: deliver %d messages from shard %d: %w", len(batch), sh.ShardID, err)
				}
			}
			if next == cur {
				break
			}
			cur = next
		}
	}
	return nil
}
