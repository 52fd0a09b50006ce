package k8sauditreceiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aliyun/credentials-go/credentials/providers"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.uber.org/zap"

	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/source/slssrc"
)

// Environment variables read when sls mode has no credentials in its
// configuration (the names the Alibaba Cloud SDKs and credentials-go use).
const (
	envAccessKeyID     = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	envAccessKeySecret = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	envSecurityToken   = "ALIBABA_CLOUD_SECURITY_TOKEN"
	envRoleARN         = "ALIBABA_CLOUD_ROLE_ARN"
	envOIDCProviderARN = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN"
	envOIDCTokenFile   = "ALIBABA_CLOUD_OIDC_TOKEN_FILE"
)

// ReasonRebuildFailed is the rejection reason of SLS logs that are not an
// audit event in ACK's key layout.
const ReasonRebuildFailed = "rebuild_failed"

// SLSConfig configures sls mode: ACK audit logs in an SLS logstore, read
// as one member of a consumer group. The service keeps the checkpoints
// (per shard, per consumer group), so no storage extension is needed.
type SLSConfig struct {
	// Endpoint is the SLS endpoint, e.g. cn-hangzhou.log.aliyuncs.com.
	Endpoint string `mapstructure:"endpoint"`
	// Project and Logstore name the logstore; ACK writes audit events to
	// logstore audit-${clusterid} of its log project.
	Project  string `mapstructure:"project"`
	Logstore string `mapstructure:"logstore"`
	// ConsumerGroup is shared by every replica reading the logstore
	// (default auditlane); ConsumerName is unique per replica (default
	// the host name, the pod name in Kubernetes; empty also means the host
	// name).
	ConsumerGroup string `mapstructure:"consumer_group"`
	ConsumerName  string `mapstructure:"consumer_name"`
	// StartAt is "end" (default: logs received from the group's first
	// start on) or "beginning"; StartTime (RFC 3339 or a duration before
	// now) overrides it. Either applies only to shards without a
	// checkpoint in the consumer group.
	StartAt   string `mapstructure:"start_at"`
	StartTime string `mapstructure:"start_time"`
	// HeartbeatInterval (default 20s) and HeartbeatTimeout (default 3 ×
	// the interval), whole seconds: a replica silent for longer than the
	// timeout loses its shards to the others.
	HeartbeatInterval time.Duration `mapstructure:"heartbeat_interval"`
	HeartbeatTimeout  time.Duration `mapstructure:"heartbeat_timeout"`
	// AccessKeyID, AccessKeySecret and SecurityToken are static
	// credentials; empty means RRSA (role_arn or ALIBABA_CLOUD_ROLE_ARN)
	// or the ALIBABA_CLOUD_ACCESS_KEY_* variables.
	AccessKeyID     string              `mapstructure:"access_key_id"`
	AccessKeySecret configopaque.String `mapstructure:"access_key_secret"`
	SecurityToken   configopaque.String `mapstructure:"security_token"`
	// RoleARN, OIDCProviderARN and OIDCTokenFile configure RRSA (empty
	// fields fall back to the ALIBABA_CLOUD_* variables).
	RoleARN         string `mapstructure:"role_arn"`
	OIDCProviderARN string `mapstructure:"oidc_provider_arn"`
	OIDCTokenFile   string `mapstructure:"oidc_token_file"`
	RoleSessionName string `mapstructure:"role_session_name"`
	STSEndpoint     string `mapstructure:"sts_endpoint"`

	// httpClient carries the requests when set (tests).
	httpClient *http.Client
	// setupTimeout bounds creating the consumer group (0: slssrc's
	// default, 1 minute; tests shorten it).
	setupTimeout time.Duration
}

func (c *SLSConfig) validate() error {
	for _, f := range []struct{ key, v string }{
		{"endpoint", c.Endpoint}, {"project", c.Project}, {"logstore", c.Logstore},
		{"consumer_group", c.ConsumerGroup},
	} {
		if f.v == "" {
			return fmt.Errorf("sls::%s: must be set in sls mode", f.key)
		}
	}
	switch {
	case c.StartAt != "end" && c.StartAt != "beginning":
		return fmt.Errorf("sls::start_at: %q is neither end nor beginning", c.StartAt)
	case c.HeartbeatInterval < 0 || c.HeartbeatInterval%time.Second != 0:
		return errors.New("sls::heartbeat_interval: must be whole seconds")
	case c.HeartbeatTimeout < 0 || c.HeartbeatTimeout%time.Second != 0:
		return errors.New("sls::heartbeat_timeout: must be whole seconds")
	case c.HeartbeatTimeout != 0 && c.HeartbeatTimeout <= c.HeartbeatInterval:
		return errors.New("sls::heartbeat_timeout: must be longer than heartbeat_interval")
	case c.AccessKeyID != "" && c.AccessKeySecret == "":
		return errors.New("sls::access_key_secret: must be set with access_key_id")
	case c.AccessKeyID != "" && c.RoleARN != "":
		return errors.New("sls::role_arn: set either role_arn (RRSA) or access_key_id, not both")
	}
	_, err := parseStart("sls::start_time", c.StartTime, time.Now())
	return err
}

// credentials picks the provider: static keys, then RRSA, then the
// environment's keys.
func (c *SLSConfig) credentials(getenv func(string) string) (slssdk.CredentialsProvider, error) {
	if c.AccessKeyID != "" {
		return slssdk.NewStaticCredentialsProvider(c.AccessKeyID, string(c.AccessKeySecret), string(c.SecurityToken)), nil
	}
	if role := firstSet(c.RoleARN, getenv(envRoleARN)); role != "" {
		b := providers.NewOIDCCredentialsProviderBuilder().
			WithRoleArn(role).
			WithOIDCProviderARN(firstSet(c.OIDCProviderARN, getenv(envOIDCProviderARN))).
			WithOIDCTokenFilePath(firstSet(c.OIDCTokenFile, getenv(envOIDCTokenFile))).
			WithRoleSessionName(firstSet(c.RoleSessionName, "auditlane"))
		if c.STSEndpoint != "" {
			b = b.WithSTSEndpoint(c.STSEndpoint)
		}
		p, err := b.Build()
		if err != nil {
			key := "role_arn"
			switch msg := err.Error(); {
			case strings.Contains(msg, "OIDCProviderARN"):
				key = "oidc_provider_arn"
			case strings.Contains(msg, "OIDCTokenFilePath"):
				key = "oidc_token_file"
			}
			return nil, fmt.Errorf("k8saudit: sls::%s: RRSA credentials: %w", key, err)
		}
		return &rrsa{p: p}, nil
	}
	if id, secret := getenv(envAccessKeyID), getenv(envAccessKeySecret); id != "" && secret != "" {
		return slssdk.NewStaticCredentialsProvider(id, secret, getenv(envSecurityToken)), nil
	}
	return nil, errors.New("k8saudit: sls::access_key_id: no credentials: set access_key_id/access_key_secret, role_arn (RRSA) or " +
		envAccessKeyID + "/" + envAccessKeySecret)
}

func firstSet(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// rrsa adapts credentials-go's OIDC provider (AssumeRoleWithOIDC, cached
// until shortly before expiry, not safe for concurrent use) to the SLS
// SDK.
type rrsa struct {
	mu sync.Mutex
	p  *providers.OIDCCredentialsProvider
}

// GetCredentials implements slssdk.CredentialsProvider.
func (r *rrsa) GetCredentials() (slssdk.Credentials, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, err := r.p.GetCredentials()
	if err != nil {
		return slssdk.Credentials{}, fmt.Errorf("RRSA AssumeRoleWithOIDC: %w", err)
	}
	return slssdk.Credentials{AccessKeyID: c.AccessKeyId, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken}, nil
}

type slsReader struct {
	r        *auditReceiver
	cons     *slssrc.Consumer
	stopOnce sync.Once
	ctx      context.Context
	cancel   context.CancelFunc
}

func (r *auditReceiver) startSLS(ctx context.Context) error {
	cfg := r.cfg.SLS
	prov, err := cfg.credentials(os.Getenv)
	if err != nil {
		return err
	}
	start, _ := parseStart("sls::start_time", cfg.StartTime, time.Now()) // validated
	if start.IsZero() && cfg.StartAt == "end" {
		start = time.Now()
	}
	if cfg.ConsumerName == "" {
		if cfg.ConsumerName = hostname(); cfg.ConsumerName == "" {
			return errors.New("k8saudit: sls::consumer_name: empty and the host name is unknown")
		}
	}
	s := &slsReader{r: r}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.cons, err = slssrc.NewConsumer(ctx, slssrc.Config{
		Endpoint: cfg.Endpoint, Project: cfg.Project, Logstore: cfg.Logstore,
		ConsumerGroup: cfg.ConsumerGroup, ConsumerName: cfg.ConsumerName,
		StartTime:         start,
		HeartbeatInterval: cfg.HeartbeatInterval, HeartbeatTimeout: cfg.HeartbeatTimeout,
		Provider:     prov,
		HTTPClient:   cfg.httpClient,
		SetupTimeout: cfg.setupTimeout,
		Logger:       sdkLogger{r.logger.With(zap.String("sls_consumer_group", cfg.ConsumerGroup), zap.String("sls_consumer", cfg.ConsumerName))},
	}, s.deliver)
	if err != nil {
		s.cancel()
		return fmt.Errorf("k8saudit: sls: %w", err)
	}
	r.sls = s
	s.cons.Start()
	r.logger.Info("k8saudit: joined the SLS consumer group",
		zap.String("project", cfg.Project), zap.String("logstore", cfg.Logstore),
		zap.String("consumer_group", cfg.ConsumerGroup), zap.String("consumer_name", cfg.ConsumerName))
	return nil
}

// deliver passes the logs of one pull of one shard on; the consumer
// commits the shard's checkpoint only when it returns nil, and hands the
// same pull again otherwise. It is called concurrently for different
// shards.
func (s *slsReader) deliver(batch []slssrc.Message) error {
	r := s.r
	ctx := s.ctx
	if err := ctx.Err(); err != nil {
		return err // stopping: leave the pull uncommitted
	}
	sc := r.flow.Scratch()
	defer r.flow.PutScratch(sc)
	b := newBatch()
	for i := range batch {
		m := &batch[i]
		src := fmt.Sprintf("sls:%s/%s shard %d @%s", r.cfg.SLS.Project, r.cfg.SLS.Logstore, m.Shard, m.Time.UTC().Format(time.RFC3339))
		switch {
		case m.Err != nil && m.Body == nil:
			raw, _ := json.Marshal(m.Fields)
			res := pipeline.RejectResult(m.Err, raw)
			res.Reason = ReasonRebuildFailed
			r.flow.File(&b.out, &res, src, 0)
		case m.Err != nil:
			r.flow.Reject(&b.out, m.Err, m.Body, src, 0)
		default:
			r.addRecord(b, m.Body, sc, src, 0)
		}
	}
	if err := r.consume(ctx, b); err != nil {
		if !consumererror.IsPermanent(err) {
			return err
		}
		r.logger.Error("k8saudit: the pipeline refused audit events for good; they are skipped and counted lost", zap.Int("records", b.lrs.Len()), zap.Error(err))
	}
	return nil
}

// stop stops pulling, commits what was delivered and leaves the group.
func (s *slsReader) stop() {
	s.stopOnce.Do(func() {
		s.cancel()
		s.cons.Stop()
	})
}

// sdkLogger passes the SLS consumer library's go-kit logs to the
// collector's logger: its errors and warnings as such, its info (a line
// per heartbeat) at debug level.
type sdkLogger struct{ l *zap.Logger }

// Log implements the go-kit log.Logger interface.
func (s sdkLogger) Log(keyvals ...any) error {
	lvl, msg := "info", ""
	fields := make([]zap.Field, 0, len(keyvals)/2)
	for i := 0; i+1 < len(keyvals); i += 2 {
		k := fmt.Sprint(keyvals[i])
		switch v := keyvals[i+1]; k {
		case "level":
			lvl = fmt.Sprint(v)
		case "msg":
			msg = fmt.Sprint(v)
		default:
			if err, ok := v.(error); ok {
				fields = append(fields, zap.NamedError(k, err))
			} else {
				fields = append(fields, zap.Any(k, v))
			}
		}
	}
	if msg == "" {
		msg = "SLS consumer library"
	}
	msg = "k8saudit: sls: " + msg
	switch lvl {
	case "error":
		s.l.Error(msg, fields...)
	case "warn":
		s.l.Warn(msg, fields...)
	default:
		s.l.Debug(msg, fields...)
	}
	return nil
}
