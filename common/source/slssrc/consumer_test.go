package slssrc

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-kit/kit/log"

	"github.com/auditlane/auditlane/common/shape"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
)

func consumerConfig(s *slstest.Server, name string) Config {
	return Config{
		Endpoint: s.Endpoint(), Project: "k8s-log-c1", Logstore: "audit-c1",
		ConsumerGroup: "auditlane", ConsumerName: name,
		HeartbeatInterval: time.Second, HeartbeatTimeout: 3 * time.Second,
		Credentials: Credentials{AccessKeyID: ak, AccessKeySecret: sk},
		HTTPClient:  s.Client(),
	}
}

// logLines is a go-kit logger that keeps what it is given.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Log(kv ...any) error {
	var b strings.Builder
	for i, v := range kv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strings.TrimSpace(strings.ReplaceAll(fmtAny(v), "\n", " ")))
	}
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}

func fmtAny(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case error:
		return x.Error()
	case interface{ String() string }:
		return x.String()
	}
	return "?"
}

func (l *logLines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// TestConsumerGroupCreatedDespiteFaults: creating the consumer group is
// retried when the calls are reset or throttled (the SDK tries once and
// only logs, after which every heartbeat fails), and the SDK's logs reach
// the configured logger.
func TestConsumerGroupCreatedDespiteFaults(t *testing.T) {
	s, c := server(t, 2)
	sh, _ := shape.New(shape.Config{Layout: shape.LayoutSLS})
	if err := c.PutLogs("k8s-log-c1", "audit-c1", logGroup(t, sh, fixtures(t)[:10])); err != nil {
		t.Fatal(err)
	}
	// Without retries the group is never created: the SDK tries once.
	s.FailNext("ListConsumerGroup", 1, slstest.Answer{Status: 429, Code: "TooManyRequests", Message: "slow down"})
	s.FailNext("CreateConsumerGroup", 2, slstest.Answer{Reset: true})
	s.FailNext("CreateConsumerGroup", 1, slstest.Answer{Status: 403, Code: "ReadQuotaExceed", Message: "Read QPS Exceed"})
	s.FailNext("CreateConsumerGroup", 1, slstest.Answer{Status: 503, Code: "ServerBusy", Message: "busy"})
	logs := &logLines{}
	cfg := consumerConfig(s, "replica-0")
	cfg.Logger = logs
	var n atomic.Int64
	cons, err := NewConsumer(context.Background(), cfg, func(b []Message) error { n.Add(int64(len(b))); return nil })
	if err != nil {
		t.Fatal(err)
	}
	cons.Start()
	defer cons.Stop()
	for deadline := time.Now().Add(20 * time.Second); n.Load() < 10; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of 10 events delivered; log:\n%s", n.Load(), logs.text())
		}
	}
	text := logs.text()
	for _, want := range []string{"creating or verifying the consumer group failed", "ReadQuotaExceed", "heart beat result"} {
		if !strings.Contains(text, want) {
			t.Errorf("the logger did not get %q:\n%s", want, text)
		}
	}
}

// TestConsumerGroupSetupFailsClearly: when the group cannot be created
// within the bound (throttled throughout, or a logstore that is not there),
// NewConsumer fails naming the group and the last error.
func TestConsumerGroupSetupFailsClearly(t *testing.T) {
	s, _ := server(t, 1)
	s.FailNext("CreateConsumerGroup", 1000, slstest.Answer{Status: 403, Code: "ReadQuotaExceed", Message: "Read QPS Exceed"})
	cfg := consumerConfig(s, "replica-0")
	cfg.SetupTimeout = 1500 * time.Millisecond
	t0 := time.Now()
	_, err := NewConsumer(context.Background(), cfg, func([]Message) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "consumer group auditlane of k8s-log-c1/audit-c1 not created") || !strings.Contains(err.Error(), "ReadQuotaExceed") {
		t.Fatalf("error %v", err)
	}
	// The backoff stops when the next wait would pass the bound.
	if d := time.Since(t0); d < 500*time.Millisecond || d > 5*time.Second {
		t.Fatalf("gave up after %s, bound 1.5s", d)
	}
	cfg.Logstore = "missing"
	if _, err := NewConsumer(context.Background(), cfg, func([]Message) error { return nil }); err == nil || !strings.Contains(err.Error(), "LogStoreNotExist") {
		t.Fatalf("missing logstore: %v", err)
	}
}

// TestConsumerBacksOffAndDecodesOnce: while the next consumer refuses, the
// same pull is handed again with growing pauses (not every 50 ms) and is
// decoded once.
func TestConsumerBacksOffAndDecodesOnce(t *testing.T) {
	s, c := server(t, 1)
	sh, _ := shape.New(shape.Config{Layout: shape.LayoutSLS})
	if err := c.PutLogs("k8s-log-c1", "audit-c1", logGroup(t, sh, fixtures(t)[:5])); err != nil {
		t.Fatal(err)
	}
	var refuse atomic.Bool
	refuse.Store(true)
	var got atomic.Int64
	cfg := consumerConfig(s, "replica-0")
	cfg.Logger = log.NewNopLogger()
	cons, err := NewConsumer(context.Background(), cfg, func(b []Message) error {
		if refuse.Load() {
			return errors.New("queue full")
		}
		got.Add(int64(len(b)))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cons.Start()
	defer cons.Stop()
	for deadline := time.Now().Add(20 * time.Second); cons.Stats().Attempts == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no delivery attempt")
		}
	}
	time.Sleep(2 * time.Second)
	st := cons.Stats()
	refuse.Store(false)
	// 50 ms doubling: about 6 tries in 2 s; the SDK's own loop tried 40.
	if st.Refused < 3 || st.Refused > 10 || st.Pulls != 1 {
		t.Fatalf("in 2 s of refusals: %+v", st)
	}
	for deadline := time.Now().Add(20 * time.Second); got.Load() < 5; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("delivered %d of 5 after the refusals ended", got.Load())
		}
	}
	if st := cons.Stats(); st.Pulls != 1 || st.Delivered != 5 {
		t.Fatalf("after delivery: %+v", st)
	}
}

func TestTransient(t *testing.T) {
	s, c := server(t, 1)
	s.FailNext("ListShards", 1, slstest.Answer{Status: 403, Code: "ShardReadQuotaExceed", Message: "x"})
	s.FailNext("ListShards", 1, slstest.Answer{Status: 429, Code: "Whatever", Message: "x"})
	s.FailNext("ListShards", 1, slstest.Answer{Status: 401, Code: "Unauthorized", Message: "x"})
	for i, want := range []bool{true, true, false} {
		_, err := c.ListShards("k8s-log-c1", "audit-c1")
		if err == nil || transient(err) != want {
			t.Errorf("answer %d: %v transient %v, want %v", i, err, transient(err), want)
		}
	}
	if _, err := c.ListShards("k8s-log-c1", "nope"); transient(err) || !setupRetryable(err) {
		t.Errorf("LogStoreNotExist: transient %v, retried at setup %v: %v", transient(err), setupRetryable(err), err)
	}
}
