package k8sauditreceiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"

	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/source/cloudwatchsrc"
)

// ReasonTruncated is the rejection reason (counter label and dead-letter
// reason) of CloudWatch messages that CloudWatch Logs cut.
const ReasonTruncated = "truncated"

// errTruncated is the error dead-lettered with a truncated message.
var errTruncated = errors.New("message cut by CloudWatch Logs (" + cloudwatchsrc.TruncatedMarker + "): not a whole audit event")

// CloudWatchConfig configures cloudwatch mode: EKS control-plane audit logs
// in CloudWatch Logs, read with FilterLogEvents.
type CloudWatchConfig struct {
	// Region is the AWS region (default: the AWS configuration's).
	Region string `mapstructure:"region"`
	// Endpoint overrides the CloudWatch Logs endpoint URL.
	Endpoint string `mapstructure:"endpoint"`
	// LogGroupName is the log group (name or ARN), for EKS
	// /aws/eks/<cluster>/cluster.
	LogGroupName string `mapstructure:"log_group_name"`
	// LogStreamNamePrefix selects the streams; default
	// kube-apiserver-audit. Several collectors split one cluster's streams
	// by giving each a longer, disjoint prefix.
	LogStreamNamePrefix string `mapstructure:"log_stream_name_prefix"`
	// StartAt is "end" (default: events from the first start on) or
	// "beginning" (everything the log group keeps); it applies only when no
	// checkpoint exists and StartTime is empty.
	StartAt string `mapstructure:"start_at"`
	// StartTime, when set, is where reading starts without a checkpoint:
	// an RFC 3339 time or a duration before the first start ("24h").
	StartTime string `mapstructure:"start_time"`
	// PollInterval is the pause between two passes over the log group once
	// it is read to its end; default 5s.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// LookBack is how long after its timestamp an event may become
	// visible in CloudWatch Logs (eventually consistent reads, several
	// apiservers per cluster) and still be read; default 2m. Each poll
	// re-reads behind the newest event read, up to twice this far and
	// less often the further back, skipping what it delivered already.
	LookBack time.Duration `mapstructure:"look_back"`
	// PageLimit is the FilterLogEvents limit (1..10000; 0: the service's
	// default). One page is one call to the next consumer.
	PageLimit int32 `mapstructure:"page_limit"`
	// RoleARN is assumed with the default credentials; ExternalID goes
	// with it; STSEndpoint overrides the STS endpoint.
	RoleARN     string `mapstructure:"role_arn"`
	ExternalID  string `mapstructure:"external_id"`
	STSEndpoint string `mapstructure:"sts_endpoint"`
	// Storage is the storage extension (file_storage) that keeps the
	// progress (watermark, delivered events inside the look-back, active
	// streams); without it every start begins at start_at / start_time.
	Storage *component.ID `mapstructure:"storage"`

	// clock is the reader's time when set (tests compress time).
	clock func() time.Time
}

var externalIDRe = regexp.MustCompile(`^[\w+=,.@:/-]+$`)

func (c *CloudWatchConfig) validate() error {
	switch {
	case c.LogGroupName == "":
		return errors.New("cloudwatch::log_group_name: must be set in cloudwatch mode")
	case c.StartAt != "end" && c.StartAt != "beginning":
		return fmt.Errorf("cloudwatch::start_at: %q is neither end nor beginning", c.StartAt)
	case c.PollInterval <= 0:
		return errors.New("cloudwatch::poll_interval: must be positive")
	case c.LookBack <= 0:
		return errors.New("cloudwatch::look_back: must be positive")
	case c.PageLimit < 0 || c.PageLimit > 10000:
		return fmt.Errorf("cloudwatch::page_limit: %d is not between 1 and 10000", c.PageLimit)
	case c.ExternalID != "" && c.RoleARN == "":
		return errors.New("cloudwatch::external_id: needs role_arn")
	case c.ExternalID != "" && (len(c.ExternalID) < 2 || len(c.ExternalID) > 1224 || !externalIDRe.MatchString(c.ExternalID)):
		return errors.New("cloudwatch::external_id: 2 to 1224 characters of [A-Za-z0-9+=,.@:/_-]")
	}
	if _, err := parseStart("cloudwatch::start_time", c.StartTime, time.Now()); err != nil {
		return err
	}
	return nil
}

// parseStart reads an RFC 3339 time or a duration before now; "" is zero.
func parseStart(key, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%s: %q: a duration counts back from now and must not be negative", key, v)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %q is neither an RFC 3339 time nor a duration (24h)", key, v)
	}
	return t, nil
}

// cwState is what cloudwatch mode keeps in the storage extension.
type cwState struct {
	// StartMillis is the start time chosen at the first start (Unix ms;
	// 0: the beginning), so that start_at: end survives restarts before
	// the first event.
	StartMillis int64 `json:"start_ms"`
	// Reader is the reader's checkpoint.
	Reader cloudwatchsrc.Checkpoint `json:"reader"`
}

type cwReader struct {
	r         *auditReceiver
	cfg       CloudWatchConfig
	client    storage.Client
	key       string
	rd        *cloudwatchsrc.Reader
	state     cwState
	truncated atomic.Int64
	// lateWarned is the lateness last warned about.
	lateWarned time.Duration
}

func (r *auditReceiver) startCloudWatch(ctx context.Context, host component.Host) error {
	cfg := r.cfg.CloudWatch
	if cfg.LogStreamNamePrefix == "" {
		cfg.LogStreamNamePrefix = cloudwatchsrc.DefaultStreamPrefix
	}
	api, err := newCloudWatchClient(ctx, cfg)
	if err != nil {
		return err
	}
	client, err := r.storageClient(ctx, host, cfg.Storage, "cloudwatch::storage")
	if err != nil {
		return err
	}
	c := &cwReader{r: r, cfg: cfg, client: client, key: "k8saudit.cloudwatch:" + cfg.LogGroupName + ":" + cfg.LogStreamNamePrefix}
	raw, err := client.Get(ctx, c.key)
	if err != nil {
		return errors.Join(fmt.Errorf("k8saudit: read cloudwatch checkpoint: %w", err), client.Close(ctx))
	}
	var ckpt *cloudwatchsrc.Checkpoint
	if raw != nil {
		if err := json.Unmarshal(raw, &c.state); err != nil {
			return errors.Join(fmt.Errorf("k8saudit: cloudwatch checkpoint in storage is corrupt: %w", err), client.Close(ctx))
		}
		ckpt = &c.state.Reader
	} else {
		now := time.Now()
		start, _ := parseStart("cloudwatch::start_time", cfg.StartTime, now) // validated
		if start.IsZero() && cfg.StartAt == "end" {
			start = now
		}
		if !start.IsZero() {
			c.state.StartMillis = start.UnixMilli()
		}
		c.save(ctx)
	}
	rcfg := cloudwatchsrc.Config{
		LogGroup: cfg.LogGroupName, StreamPrefix: cfg.LogStreamNamePrefix, PageLimit: cfg.PageLimit,
		LookBack: cfg.LookBack, Clock: cfg.clock,
		OnCommit: func(ck cloudwatchsrc.Checkpoint) {
			c.state.Reader = ck
			c.save(context.Background())
		},
	}
	if c.state.StartMillis != 0 {
		rcfg.StartTime = time.UnixMilli(c.state.StartMillis)
	}
	if c.rd, err = cloudwatchsrc.New(api, rcfg, ckpt); err != nil {
		return errors.Join(fmt.Errorf("k8saudit: cloudwatch: %w", err), client.Close(ctx))
	}
	r.cw = c
	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		c.run(runCtx)
	}()
	return nil
}

// newCloudWatchClient builds the CloudWatch Logs client: the default AWS
// credential chain, optionally assuming role_arn. The SDK's own retries are
// off: the reader retries throttling and 5xx with its own backoff.
func newCloudWatchClient(ctx context.Context, cfg CloudWatchConfig) (*cloudwatchlogs.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		opts = append(opts, awsconfig.WithRegion(cfg.Region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("k8saudit: cloudwatch: load AWS configuration: %w", err)
	}
	if awsCfg.Region == "" {
		return nil, errors.New("k8saudit: cloudwatch::region: not set and not found in the AWS configuration (AWS_REGION or profile)")
	}
	if cfg.RoleARN != "" {
		stsClient := sts.NewFromConfig(awsCfg, func(o *sts.Options) {
			if cfg.STSEndpoint != "" {
				o.BaseEndpoint = aws.String(cfg.STSEndpoint)
			}
		})
		p := stscreds.NewAssumeRoleProvider(stsClient, cfg.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "auditlane"
			if cfg.ExternalID != "" {
				o.ExternalID = aws.String(cfg.ExternalID)
			}
		})
		awsCfg.Credentials = aws.NewCredentialsCache(p)
	}
	return cloudwatchlogs.NewFromConfig(awsCfg, func(o *cloudwatchlogs.Options) {
		o.Retryer = aws.NopRetryer{}
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
	}), nil
}

func (c *cwReader) save(ctx context.Context) {
	raw, err := json.Marshal(&c.state)
	if err == nil {
		err = c.client.Set(ctx, c.key, raw)
	}
	if err != nil {
		c.r.logger.Warn("k8saudit: cloudwatch checkpoint not saved", zap.Error(err))
	}
}

// run reads the log group to its end, pauses poll_interval and reads on;
// after an error (the next consumer refused, or CloudWatch kept failing
// beyond the reader's backoff) it waits longer each time before reading
// again from the checkpoint.
func (c *cwReader) run(ctx context.Context) {
	wait := c.cfg.PollInterval
	failures := 0
	for {
		err := c.rd.Read(ctx, func(batch []cloudwatchsrc.Message) error { return c.deliver(ctx, batch) })
		if ctx.Err() != nil {
			return
		}
		c.warnLate()
		if err != nil {
			failures++
			wait = min(c.cfg.PollInterval<<min(failures, 6), time.Minute)
			c.r.logger.Warn("k8saudit: reading CloudWatch Logs failed; resuming from the checkpoint", zap.Error(err), zap.Duration("retry_in", wait))
		} else {
			failures, wait = 0, c.cfg.PollInterval
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// warnLate warns when events became visible more than half the look-back
// late: later ones would be missed.
func (c *cwReader) warnLate() {
	st := c.rd.Stats()
	if st.MaxLate <= c.cfg.LookBack/2 || st.MaxLate <= c.lateWarned {
		return
	}
	c.lateWarned = st.MaxLate
	c.r.logger.Warn("k8saudit: CloudWatch Logs showed events late, close to cloudwatch::look_back; raise it, or events later than it will be missed",
		zap.Duration("max_late", st.MaxLate), zap.Duration("look_back", c.cfg.LookBack), zap.Int("late_events", st.Late))
}

// deliver passes one page on. Only when the next consumer accepted it are
// truncated and undecodable messages dead-lettered and the page committed
// (by the reader, after deliver returns nil).
func (c *cwReader) deliver(ctx context.Context, batch []cloudwatchsrc.Message) error {
	r := c.r
	s := r.flow.Scratch()
	defer r.flow.PutScratch(s)
	b := newBatch()
	truncated := 0
	for i := range batch {
		m := &batch[i]
		src := fmt.Sprintf("cloudwatch:%s:%s@%s#%s", c.cfg.LogGroupName, m.Stream, m.Timestamp.UTC().Format(time.RFC3339Nano), m.EventID)
		if m.Truncated {
			truncated++
			res := pipeline.RejectResult(errTruncated, m.Body)
			res.Reason = ReasonTruncated
			r.flow.File(&b.out, &res, src, 0)
			r.logger.Warn("k8saudit: CloudWatch cut an audit event; it is dead-lettered, not passed on", zap.String("source", src), zap.Int("bytes", len(m.Body)))
			continue
		}
		r.addRecord(b, m.Body, s, src, 0)
	}
	if err := r.consume(ctx, b); err != nil {
		if !consumererror.IsPermanent(err) {
			return err
		}
		r.logger.Error("k8saudit: the pipeline refused audit events for good; they are skipped and counted lost", zap.Int("records", b.lrs.Len()), zap.Error(err))
	}
	c.truncated.Add(int64(truncated)) // counted once the page is accepted, as its outcomes are
	return nil
}

func (c *cwReader) close(ctx context.Context) error {
	return c.client.Close(ctx)
}
