package k8sauditreceiver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/shape"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
	"github.com/auditlane/auditlane/otelcol/internal/audittest"
	"github.com/auditlane/auditlane/otelcol/receiver/k8sauditreceiver/internal/metadata"
)

const (
	slsProject  = "k8s-log-c1"
	slsLogstore = "audit-c1"
	slsAK       = "LTAIrecv"
	slsSK       = "recv-sls-secret"
)

// ackLogGroup shapes events first..first+n-1 into one LogGroup in ACK's
// key layout (top-level fields as keys, nested values as JSON strings).
func ackLogGroup(t *testing.T, first, n int, at time.Time) *slssdk.LogGroup {
	t.Helper()
	sh, err := shape.New(shape.Config{Layout: shape.LayoutSLS})
	if err != nil {
		t.Fatal(err)
	}
	lg := &slssdk.LogGroup{}
	for i := first; i < first+n; i++ {
		var ev audit.Event
		if err := audit.Parse([]byte(audittest.Event(i, at)), &ev); err != nil {
			t.Fatal(err)
		}
		var w audit.Rewrite
		var out shape.Output
		if err := sh.Shape(&ev, &w, nil, &out); err != nil {
			t.Fatal(err)
		}
		tm := uint32(at.Unix())
		l := &slssdk.Log{Time: &tm}
		for _, f := range out.Fields {
			k, v := f.Key, f.Value
			l.Contents = append(l.Contents, &slssdk.LogContent{Key: &k, Value: &v})
		}
		lg.Logs = append(lg.Logs, l)
	}
	return lg
}

func slsServer(t *testing.T, shards int) *slstest.Server {
	t.Helper()
	srv, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects: map[string][]string{slsProject: {slsLogstore}},
		Keys:     map[string]string{slsAK: slsSK},
		Shards:   shards,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func slsConfig(srv *slstest.Server, name string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Mode = ModeSLS
	cfg.SLS.Endpoint = srv.Endpoint()
	cfg.SLS.Project, cfg.SLS.Logstore = slsProject, slsLogstore
	cfg.SLS.ConsumerName = name
	cfg.SLS.StartAt = "beginning"
	cfg.SLS.HeartbeatInterval, cfg.SLS.HeartbeatTimeout = time.Second, 3*time.Second
	cfg.SLS.AccessKeyID, cfg.SLS.AccessKeySecret = slsAK, slsSK
	cfg.SLS.httpClient = srv.Client()
	return cfg
}

func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestSLSModeTwoReplicasTakeOver runs two receivers in one consumer group
// over a logstore with 4 shards: they share the shards; after one stops,
// the other takes its shards over and every event arrives exactly once
// (the stopped replica committed what it delivered).
func TestSLSModeTwoReplicasTakeOver(t *testing.T) {
	srv := slsServer(t, 4)
	sink := newIDSink()
	sink.refuse.Store(3) // pushback is retried, not committed
	a := startReceiver(t, slsConfig(srv, "replica-a"), sink, nil)
	b := startReceiver(t, slsConfig(srv, "replica-b"), sink, nil)
	defer func() { _ = b.Shutdown(context.Background()) }()
	assign := func() map[string][]int { return srv.Assignment(slsProject, slsLogstore, "auditlane") }
	waitFor(t, "4 shards shared by both replicas", 90*time.Second, func() bool {
		as := assign()
		return len(as["replica-a"]) == 2 && len(as["replica-b"]) == 2
	})
	const rounds, per = 30, 10
	n := 0
	base := time.Now()
	for round := range rounds {
		for shard := range 4 {
			if err := srv.AddLogGroup(slsProject, slsLogstore, shard, base.Add(time.Duration(round)*time.Second), ackLogGroup(t, n, per, base)); err != nil {
				t.Fatal(err)
			}
			n += per
		}
		if round == rounds/2 {
			waitFor(t, "the first half", 60*time.Second, func() bool { return sink.count() >= n })
			if err := a.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, "replica-b to hold all 4 shards", 90*time.Second, func() bool { return len(assign()["replica-b"]) == 4 })
	sink.wait(t, n)
	time.Sleep(300 * time.Millisecond)
	sink.check(t, seq(0, n))
	// Every shard committed to its end.
	for sh, cp := range srv.Checkpoints(slsProject, slsLogstore, "auditlane") {
		if off, _ := slstest.CursorOffset(sh, cp); off != rounds {
			t.Errorf("shard %d committed up to LogGroup %d, want %d", sh, off, rounds)
		}
	}
	// The records are the same as the other modes emit: the shaped JSON
	// body, the audit ID attribute.
	sink.mu.Lock()
	body := sink.records[0].Body().Str()
	sink.mu.Unlock()
	if !strings.Contains(body, `"auditID":"`) || !strings.Contains(body, `"user":{`) {
		t.Fatalf("record body is not the rebuilt event: %s", body)
	}
}

func TestSLSModeDeadLettersUnrebuildable(t *testing.T) {
	srv := slsServer(t, 1)
	k, v := "user", "{not an object"
	tm := uint32(time.Now().Unix())
	bad := &slssdk.LogGroup{Logs: []*slssdk.Log{{Time: &tm, Contents: []*slssdk.LogContent{{Key: &k, Value: &v}}}}}
	if err := srv.AddLogGroup(slsProject, slsLogstore, 0, time.Now(), ackLogGroup(t, 0, 5, time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddLogGroup(slsProject, slsLogstore, 0, time.Now(), bad); err != nil {
		t.Fatal(err)
	}
	sink := newIDSink()
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	cfg := slsConfig(srv, "only")
	cfg.Pipeline = auditotel.PipelineConfig{"dead_letter_file": dl}
	r := startReceiver(t, cfg, sink, nil)
	sink.wait(t, 5)
	waitFor(t, "the checkpoint past both LogGroups", 20*time.Second, func() bool {
		off, _ := slstest.CursorOffset(0, srv.Checkpoints(slsProject, slsLogstore, "auditlane")[0])
		return off == 2
	})
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.check(t, seq(0, 5))
	raw, err := os.ReadFile(dl)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(raw), "\n"); got != 1 || !strings.Contains(string(raw), `"reason":"`+ReasonRebuildFailed+`"`) ||
		!strings.Contains(string(raw), "not a JSON object") || !strings.Contains(string(raw), "shard 0") {
		t.Fatalf("dead letter: %s", raw)
	}
}

func TestSLSConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		mut  func(*SLSConfig)
		want string
	}{
		{func(c *SLSConfig) { c.Endpoint = "" }, "sls::endpoint"},
		{func(c *SLSConfig) { c.Logstore = "" }, "sls::logstore"},
		{func(c *SLSConfig) { c.ConsumerGroup = "" }, "sls::consumer_group"},
		{func(c *SLSConfig) { c.StartAt = "now" }, "sls::start_at"},
		{func(c *SLSConfig) { c.HeartbeatInterval = 1500 * time.Millisecond }, "sls::heartbeat_interval"},
		{func(c *SLSConfig) { c.HeartbeatTimeout = c.HeartbeatInterval }, "sls::heartbeat_timeout"},
		{func(c *SLSConfig) { c.AccessKeySecret = "" }, "sls::access_key_secret"},
		{func(c *SLSConfig) { c.RoleARN = "acs:ram::1:role/x" }, "sls::role_arn"},
	} {
		cfg := createDefaultConfig().(*Config)
		cfg.Mode = ModeSLS
		cfg.SLS.Endpoint, cfg.SLS.Project, cfg.SLS.Logstore = "cn-hangzhou.log.aliyuncs.com", slsProject, slsLogstore
		cfg.SLS.ConsumerName = "pod-0"
		cfg.SLS.HeartbeatTimeout = time.Minute
		cfg.SLS.AccessKeyID, cfg.SLS.AccessKeySecret = slsAK, slsSK
		if err := cfg.Validate(); err != nil {
			t.Fatalf("valid sls config: %v", err)
		}
		tc.mut(&cfg.SLS)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one naming %s", err, tc.want)
		}
	}
	// No credentials anywhere: the error names the key, not a secret.
	c := SLSConfig{}
	_, err := c.credentials(func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "sls::access_key_id") {
		t.Fatalf("no credentials: %v", err)
	}
	env := map[string]string{envAccessKeyID: "id", envAccessKeySecret: "s"}
	p, err := c.credentials(func(k string) string { return env[k] })
	if err != nil || p == nil {
		t.Fatalf("environment credentials: %v", err)
	}
}

// newObservedReceiver creates an sls-mode receiver whose logs are kept.
func newObservedReceiver(t *testing.T, cfg *Config, next consumer.Logs) (receiver.Logs, *observer.ObservedLogs) {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type)
	set.Logger = zap.New(core)
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	return r, logs
}

// TestSLSModeGroupCreatedDespiteFaults: the consumer group's creation is
// throttled and reset at first; the receiver retries it before it starts
// reading (the SDK tried once, logged to nowhere, and every heartbeat then
// failed: nothing was read) and the SDK's logs reach the collector's.
func TestSLSModeGroupCreatedDespiteFaults(t *testing.T) {
	srv := slsServer(t, 2)
	if err := srv.AddLogGroup(slsProject, slsLogstore, 0, time.Now(), ackLogGroup(t, 0, 50, time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddLogGroup(slsProject, slsLogstore, 1, time.Now(), ackLogGroup(t, 50, 50, time.Now())); err != nil {
		t.Fatal(err)
	}
	srv.FailNext("CreateConsumerGroup", 2, slstest.Answer{Status: 403, Code: "ReadQuotaExceed", Message: "Read QPS Exceed"})
	srv.FailNext("CreateConsumerGroup", 1, slstest.Answer{Reset: true})
	sink := newIDSink()
	r, logs := newObservedReceiver(t, slsConfig(srv, "only"), sink)
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	sink.wait(t, 100)
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.check(t, seq(0, 100))
	var retried, sdk bool
	for _, e := range logs.All() {
		retried = retried || strings.Contains(e.Message, "creating or verifying the consumer group failed") && e.Level == zap.WarnLevel
		sdk = sdk || strings.Contains(e.Message, "k8saudit: sls:") && e.ContextMap()["heart beat result"] != nil
	}
	if !retried || !sdk {
		t.Fatalf("collector log lacks the retries (%v) or the SDK's heartbeat lines (%v): %d entries", retried, sdk, logs.Len())
	}
}

// TestSLSModeStartFailsClearly: when the consumer group cannot be created
// within the bound, Start fails and says why.
func TestSLSModeStartFailsClearly(t *testing.T) {
	srv := slsServer(t, 1)
	srv.FailNext("CreateConsumerGroup", 1000, slstest.Answer{Status: 403, Code: "ReadQuotaExceed", Message: "Read QPS Exceed"})
	cfg := slsConfig(srv, "only")
	cfg.SLS.setupTimeout = time.Second
	r, _ := newObservedReceiver(t, cfg, newIDSink())
	err := r.Start(context.Background(), componenttest.NewNopHost())
	if err == nil || !strings.Contains(err.Error(), "consumer group auditlane") || !strings.Contains(err.Error(), "ReadQuotaExceed") {
		t.Fatalf("Start: %v", err)
	}
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestSLSModeSameRejectionsAsPull: a log that is not an audit event (other
// logs in the logstore) is dead-lettered with the reason pull gives it,
// and an EventList stored in one log is split.
func TestSLSModeSameRejectionsAsPull(t *testing.T) {
	srv := slsServer(t, 1)
	k, v := "content", "time=now msg=not-audit"
	tm := uint32(time.Now().Unix())
	lg := ackLogGroup(t, 0, 3, time.Now())
	lg.Logs = append(lg.Logs, &slssdk.Log{Time: &tm, Contents: []*slssdk.LogContent{{Key: &k, Value: &v}}})
	if err := srv.AddLogGroup(slsProject, slsLogstore, 0, time.Now(), lg); err != nil {
		t.Fatal(err)
	}
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	cfg := slsConfig(srv, "only")
	cfg.Pipeline = auditotel.PipelineConfig{"dead_letter_file": dl}
	sink := newIDSink()
	r := startReceiver(t, cfg, sink, nil)
	sink.wait(t, 3)
	waitFor(t, "the checkpoint past the LogGroup", 20*time.Second, func() bool {
		off, _ := slstest.CursorOffset(0, srv.Checkpoints(slsProject, slsLogstore, "auditlane")[0])
		return off == 1
	})
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.check(t, seq(0, 3))
	raw, err := os.ReadFile(dl)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(raw), "\n") != 1 || !strings.Contains(string(raw), `"reason":"unsupported_kind"`) {
		t.Fatalf("dead letter: %s", raw)
	}
}
