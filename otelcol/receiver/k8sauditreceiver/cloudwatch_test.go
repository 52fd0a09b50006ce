package k8sauditreceiver

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
	"github.com/auditlane/auditlane/common/source/cloudwatchsrc"
	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
	"github.com/auditlane/auditlane/otelcol/internal/audittest"
)

const cwGroup = "/aws/eks/prod/cluster"

// cwServer starts a cwtest server that verifies SigV4 signatures of the
// key pair it puts in the environment for the AWS default chain.
func cwServer(t *testing.T) *cwtest.Server {
	t.Helper()
	srv, err := cwtest.New(cwtest.Options{Credentials: map[string]cwtest.Credential{"AKIDRECV": {SecretAccessKey: "recv-secret"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDRECV", "AWS_SECRET_ACCESS_KEY": "recv-secret", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_PROFILE": "",
	} {
		t.Setenv(k, v)
	}
	return srv
}

// eksHistory stores events first..first+n-1 round-robin over three EKS
// audit streams (several per millisecond), plus noise in another stream.
func eksHistory(srv *cwtest.Server, first, n int, base time.Time) {
	for i := first; i < first+n; i++ {
		ts := base.Add(time.Duration(i/3) * time.Millisecond)
		srv.AddEvents(cwGroup, fmt.Sprintf("kube-apiserver-audit-%d", i%3), cwtest.Event{Timestamp: ts.UnixMilli(), Message: audittest.Event(i, ts)})
	}
	srv.AddEvents(cwGroup, "authenticator-0", cwtest.Event{Timestamp: base.UnixMilli(), Message: "time=now msg=not-audit"})
}

func cwConfig(srv *cwtest.Server) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Mode = ModeCloudWatch
	cfg.CloudWatch.Endpoint = srv.URL
	cfg.CloudWatch.LogGroupName = cwGroup
	cfg.CloudWatch.StartAt = "beginning"
	cfg.CloudWatch.PollInterval = 20 * time.Millisecond
	cfg.CloudWatch.PageLimit = 97
	id := storageID
	cfg.CloudWatch.Storage = &id
	return cfg
}

func TestCloudWatchModeThreeStreamsResume(t *testing.T) {
	srv := cwServer(t)
	base := time.Now().Add(-time.Hour)
	eksHistory(srv, 0, 900, base)
	st := audittest.NewStorage()
	sink := newIDSink()
	r := startReceiver(t, cwConfig(srv), sink, st)
	sink.wait(t, 900)
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.check(t, seq(0, 900))
	if n := srv.Stats().Calls["FilterLogEvents"]; n < 900/97 {
		t.Errorf("%d FilterLogEvents calls for 900 events in pages of 97", n)
	}

	// Restart on the same storage: only the new events arrive, the old
	// ones are not read again.
	eksHistory(srv, 900, 300, base)
	sink2 := newIDSink()
	r = startReceiver(t, cwConfig(srv), sink2, st)
	sink2.wait(t, 300)
	time.Sleep(100 * time.Millisecond) // several more polls
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink2.check(t, seq(900, 1200))
}

func TestCloudWatchModeStartAtEndSurvivesRestart(t *testing.T) {
	srv := cwServer(t)
	eksHistory(srv, 0, 30, time.Now().Add(-time.Hour)) // before the first start: not read
	st := audittest.NewStorage()
	cfg := cwConfig(srv)
	cfg.CloudWatch.StartAt = "end"
	sink := newIDSink()
	r := startReceiver(t, cfg, sink, st)
	time.Sleep(100 * time.Millisecond)
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Written while the collector was down, after its first start.
	eksHistory(srv, 30, 60, time.Now())
	r = startReceiver(t, cfg, sink, st)
	sink.wait(t, 60)
	time.Sleep(100 * time.Millisecond)
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.check(t, seq(30, 90))
}

func TestCloudWatchModeRedeliversRefusedPages(t *testing.T) {
	srv := cwServer(t)
	eksHistory(srv, 0, 500, time.Now().Add(-time.Hour))
	sink := newIDSink()
	sink.refuse.Store(4) // the next consumer pushes back four times
	r := startReceiver(t, cwConfig(srv), sink, audittest.NewStorage())
	sink.wait(t, 500)
	time.Sleep(100 * time.Millisecond)
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sink.refuse.Load() != 0 {
		t.Fatalf("consumer refusals left: %d", sink.refuse.Load())
	}
	sink.check(t, seq(0, 500))
}

func TestCloudWatchModeDeadLettersTruncated(t *testing.T) {
	srv := cwServer(t)
	base := time.Now().Add(-time.Hour)
	eksHistory(srv, 0, 10, base)
	whole := audittest.Event(10, base)
	cut := whole[:len(whole)/2] + cloudwatchsrc.TruncatedMarker
	stored := srv.AddEvents(cwGroup, "kube-apiserver-audit-1", cwtest.Event{Timestamp: base.Add(time.Second).UnixMilli(), Message: cut})
	srv.AddEvents(cwGroup, "kube-apiserver-audit-2", cwtest.Event{Timestamp: base.Add(2 * time.Second).UnixMilli(), Message: "{not json"})
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	cfg := cwConfig(srv)
	cfg.Pipeline = auditotel.PipelineConfig{"dead_letter_file": dl}
	sink := newIDSink()
	r := startReceiver(t, cfg, sink, audittest.NewStorage())
	sink.wait(t, 10)
	time.Sleep(150 * time.Millisecond)
	truncated := r.(*auditReceiver).cw.truncated.Load()
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.check(t, seq(0, 10)) // the cut event 10 is not passed on
	if truncated != 1 {
		t.Fatalf("truncated counter %d, want 1", truncated)
	}
	f, err := os.Open(dl)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	reasons := map[string]map[string]any{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatal(err)
		}
		reasons[l["reason"].(string)] = l
	}
	if len(reasons) != 2 {
		t.Fatalf("dead letters %v, want one truncated and one invalid_json", reasons)
	}
	tr := reasons[ReasonTruncated]
	// The cut message cannot be decoded, so the policy cannot be applied
	// to it: the dead letter keeps its size, hash and a masked prefix.
	sum := sha256.Sum256([]byte(cut))
	if tr == nil || tr["raw"] != nil || tr["size"] != float64(len(cut)) || tr["sha256"] != hex.EncodeToString(sum[:]) {
		t.Fatalf("truncated dead letter %v", tr)
	}
	src, _ := tr["source"].(string)
	for _, want := range []string{cwGroup, "kube-apiserver-audit-1", stored[0].ID, time.UnixMilli(stored[0].Timestamp).UTC().Format(time.RFC3339Nano)} {
		if !strings.Contains(src, want) {
			t.Errorf("dead letter source %q lacks %q", src, want)
		}
	}
	if reasons["invalid_json"] == nil {
		t.Errorf("undecodable message not dead-lettered: %v", reasons)
	}
}

func TestCloudWatchConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		mut  func(*CloudWatchConfig)
		want string
	}{
		{func(c *CloudWatchConfig) { c.LogGroupName = "" }, "cloudwatch::log_group_name"},
		{func(c *CloudWatchConfig) { c.StartAt = "now" }, "cloudwatch::start_at"},
		{func(c *CloudWatchConfig) { c.StartTime = "yesterday" }, "cloudwatch::start_time"},
		{func(c *CloudWatchConfig) { c.StartTime = "-1h" }, "cloudwatch::start_time"},
		{func(c *CloudWatchConfig) { c.PollInterval = 0 }, "cloudwatch::poll_interval"},
		{func(c *CloudWatchConfig) { c.LookBack = 0 }, "cloudwatch::look_back"},
		{func(c *CloudWatchConfig) { c.PageLimit = 10001 }, "cloudwatch::page_limit"},
		{func(c *CloudWatchConfig) { c.ExternalID = "abc" }, "cloudwatch::external_id"},
	} {
		cfg := createDefaultConfig().(*Config)
		cfg.Mode = ModeCloudWatch
		cfg.CloudWatch.LogGroupName = cwGroup
		if err := cfg.Validate(); err != nil {
			t.Fatalf("default cloudwatch config: %v", err)
		}
		tc.mut(&cfg.CloudWatch)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want one naming %s", err, tc.want)
		}
	}
}

// TestCloudWatchModeLateEventsAcrossRestart: events become visible 0–3 s
// after they were stored, in batches that arrive out of order from 3
// apiservers; the receiver is restarted from its storage in the middle.
// Every event is passed on exactly once (time runs on a manual clock).
func TestCloudWatchModeLateEventsAcrossRestart(t *testing.T) {
	const n = 3000
	clock := cwtest.NewClock(time.Now().Truncate(time.Second))
	srv := cwServer(t)
	srv.SetClock(clock.Now)
	srv.SetVisibility(cwtest.Visibility{MaxDelay: 3 * time.Second, Seed: 5})
	srv.CreateGroup(cwGroup, 0)
	prod := cwtest.NewProducer(srv, clock, cwtest.ProducerConfig{Group: cwGroup, Events: n, Rate: 200, Seed: 5, Message: audittest.Event})
	cfg := cwConfig(srv)
	cfg.CloudWatch.LookBack = 10 * time.Second
	cfg.CloudWatch.clock = clock.Now
	st := audittest.NewStorage()
	sink := newIDSink()
	r := startReceiver(t, cfg, sink, st)
	restarted := false
	for !prod.Done() {
		prod.Advance(500 * time.Millisecond)
		time.Sleep(10 * time.Millisecond) // a few polls
		if !restarted && prod.Produced() >= n/2 {
			restarted = true
			if err := r.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}
			r = startReceiver(t, cfg, sink, st)
		}
	}
	// Let the look-back pass the last events.
	for range 30 {
		clock.Advance(time.Second)
		time.Sleep(10 * time.Millisecond)
	}
	sink.wait(t, n)
	time.Sleep(100 * time.Millisecond)
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	late := r.(*auditReceiver).cw.rd.Stats().Late
	sink.check(t, seq(0, n))
	if late == 0 {
		t.Fatal("no event was late after the restart: the test did not exercise the look-back")
	}
}

// TestCloudWatchModeSameRejectionsAsPull: a truncation marker before CR LF
// or a space is counted as truncated (not as invalid JSON), other log
// lines are dead-lettered with the reason pull gives them, and an
// EventList is split into its events.
func TestCloudWatchModeSameRejectionsAsPull(t *testing.T) {
	srv := cwServer(t)
	base := time.Now().Add(-time.Hour)
	whole := audittest.Event(0, base)
	for i, m := range []string{
		whole,
		audittest.Event(1, base)[:200] + cloudwatchsrc.TruncatedMarker + "\r\n",
		audittest.Event(2, base)[:200] + cloudwatchsrc.TruncatedMarker + " ",
		"I1206 04:52:24.123456 1 trace.go:236] not an audit event",
		`{"msg":"hello"}`,
		audittest.EventList(3, 2, base),
	} {
		srv.AddEvents(cwGroup, "kube-apiserver-audit-0", cwtest.Event{Timestamp: base.Add(time.Duration(i) * time.Second).UnixMilli(), Message: m})
	}
	dl := filepath.Join(t.TempDir(), "dead.jsonl")
	cfg := cwConfig(srv)
	cfg.Pipeline = auditotel.PipelineConfig{"dead_letter_file": dl}
	sink := newIDSink()
	r := startReceiver(t, cfg, sink, audittest.NewStorage())
	sink.wait(t, 3)
	time.Sleep(150 * time.Millisecond)
	truncated := r.(*auditReceiver).cw.truncated.Load()
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.check(t, []int{0, 3, 4})
	raw, err := os.ReadFile(dl)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var letter map[string]any
		if err := json.Unmarshal([]byte(l), &letter); err != nil {
			t.Fatal(err)
		}
		reasons[letter["reason"].(string)]++
	}
	if truncated != 2 || fmt.Sprint(reasons) != "map[invalid_json:1 truncated:2 unsupported_kind:1]" {
		t.Fatalf("truncated %d, dead letters %v", truncated, reasons)
	}
}
