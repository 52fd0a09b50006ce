package k8sauditreceiver

import (
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"

	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
	"github.com/auditlane/auditlane/otelcol/internal/audittest"
	"github.com/auditlane/auditlane/otelcol/receiver/k8sauditreceiver/internal/metadata"
)

var storageID = component.MustNewIDWithName("file_storage", "test")

// idSink records the audit IDs it accepts, optionally refusing the first
// calls with a retryable error.
type idSink struct {
	mu      sync.Mutex
	ids     map[string]int
	refuse  atomic.Int32
	records []plog.LogRecord
}

func newIDSink() *idSink { return &idSink{ids: map[string]int{}} }

func (s *idSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (s *idSink) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	if s.refuse.Load() > 0 {
		s.refuse.Add(-1)
		return errors.New("busy")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < lrs.Len(); i++ {
		v, _ := lrs.At(i).Attributes().Get(auditotel.AttrAuditID)
		s.ids[v.Str()]++
		lr := plog.NewLogRecord()
		lrs.At(i).CopyTo(lr)
		s.records = append(s.records, lr)
	}
	return nil
}

func (s *idSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.ids)
}

// check asserts that exactly the events in want arrived, each once.
func (s *idSink) check(t *testing.T, want []int) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ids) != len(want) {
		t.Errorf("received %d distinct events, want %d", len(s.ids), len(want))
	}
	for _, n := range want {
		if c := s.ids[audittest.ID(n)]; c != 1 {
			t.Errorf("event %d received %d times, want once", n, c)
		}
	}
}

func (s *idSink) wait(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s.count() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if c := s.count(); c < n {
		t.Fatalf("received %d events, want %d", c, n)
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func fileConfig(path, startAt string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Mode = ModeFile
	cfg.File.Path = path
	cfg.File.StartAt = startAt
	cfg.File.PollInterval = 10 * time.Millisecond
	cfg.File.MaxBatch = 30
	id := storageID
	cfg.File.Storage = &id
	return cfg
}

func startReceiver(t *testing.T, cfg *Config, next consumer.Logs, st *audittest.Storage) receiver.Logs {
	t.Helper()
	if st == nil {
		cfg.File.Storage = nil
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type)
	if testing.Verbose() {
		set.Logger, _ = zap.NewDevelopment()
	}
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	host := componenttest.NewNopHost()
	if st != nil {
		host = audittest.Host{storageID: st}
	}
	if err := r.Start(context.Background(), host); err != nil {
		t.Fatal(err)
	}
	return r
}

func appendLines(t *testing.T, path string, from, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(audittest.Lines(from, n, time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// rotate does what lumberjack does: rename the log to a timestamped backup
// name; the next write creates a new file.
func rotate(t *testing.T, path, stamp string) string {
	t.Helper()
	backup := filepath.Join(filepath.Dir(path), "audit-"+stamp+".log")
	if err := os.Rename(path, backup); err != nil {
		t.Fatal(err)
	}
	return backup
}

// compress replaces backup by backup.gz, as lumberjack's compression does.
func compress(t *testing.T, backup string) {
	t.Helper()
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(backup + ".gz")
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(backup); err != nil {
		t.Fatal(err)
	}
}

func TestFileFollowsRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	appendLines(t, path, 0, 100)
	sink := newIDSink()
	r := startReceiver(t, fileConfig(path, "beginning"), sink, audittest.NewStorage())
	defer func() { _ = r.Shutdown(context.Background()) }()
	sink.wait(t, 100)
	for round := 0; round < 5; round++ {
		base := 100 + round*60
		appendLines(t, path, base, 30)
		backup := rotate(t, path, "2025-01-0"+string(rune('1'+round))+"T00-00-00.000")
		appendLines(t, path, base+30, 30)
		if round%2 == 0 {
			compress(t, backup)
		}
	}
	sink.wait(t, 400)
	time.Sleep(50 * time.Millisecond)
	sink.check(t, seq(0, 400))
}

func TestFileResumesFromCheckpointAcrossRotations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	st := audittest.NewStorage()
	appendLines(t, path, 0, 50)
	sink := newIDSink()
	r := startReceiver(t, fileConfig(path, "beginning"), sink, st)
	sink.wait(t, 50)
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// While the receiver is down: more lines, two rotations (one backup
	// compressed), and a new current file.
	appendLines(t, path, 50, 20)
	compress(t, rotate(t, path, "2025-01-01T00-00-00.000"))
	appendLines(t, path, 70, 30)
	rotate(t, path, "2025-01-02T00-00-00.000")
	appendLines(t, path, 100, 10)

	sink2 := newIDSink()
	r2 := startReceiver(t, fileConfig(path, "end"), sink2, st)
	defer func() { _ = r2.Shutdown(context.Background()) }()
	sink2.wait(t, 60)
	appendLines(t, path, 110, 5)
	sink2.wait(t, 65)
	time.Sleep(50 * time.Millisecond)
	sink2.check(t, seq(50, 115))
}

func TestFileStartAtEnd(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	appendLines(t, path, 0, 10)
	sink := newIDSink()
	r := startReceiver(t, fileConfig(path, "end"), sink, nil)
	defer func() { _ = r.Shutdown(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	appendLines(t, path, 10, 5)
	sink.wait(t, 5)
	time.Sleep(50 * time.Millisecond)
	sink.check(t, seq(10, 15))
}

func TestFileRetriesWhileConsumerRefuses(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	appendLines(t, path, 0, 90)
	sink := newIDSink()
	sink.refuse.Store(3)
	r := startReceiver(t, fileConfig(path, "beginning"), sink, nil)
	defer func() { _ = r.Shutdown(context.Background()) }()
	sink.wait(t, 90)
	sink.check(t, seq(0, 90))
}

func TestFilePolicyAndRejects(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(audittest.Policy), 0o600); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path, 0, 12)
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	_, _ = f.WriteString("this is not json\n{\"kind\":0}\n")
	_ = f.Close()
	appendLines(t, path, 12, 6)
	sink := newIDSink()
	cfg := fileConfig(path, "beginning")
	cfg.Pipeline = auditotel.PipelineConfig{"policy_file": pol, "cluster_name": "prod", "dead_letter_file": filepath.Join(dir, "dead.jsonl")}
	r := startReceiver(t, cfg, sink, nil)
	defer func() { _ = r.Shutdown(context.Background()) }()
	var want []int
	for i := 0; i < 18; i++ {
		if !audittest.Dropped(i) {
			want = append(want, i)
		}
	}
	sink.wait(t, len(want))
	time.Sleep(50 * time.Millisecond)
	sink.check(t, want)
	// The dead letter is written once the batch is committed, just after
	// the consumer accepted it.
	var dead []byte
	for deadline := time.Now().Add(5 * time.Second); len(splitLines(dead)) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		dead, _ = os.ReadFile(filepath.Join(dir, "dead.jsonl"))
	}
	if n := len(splitLines(dead)); n != 2 {
		t.Fatalf("dead letter holds %d lines, want 2:\n%s", n, dead)
	}
	sink.mu.Lock()
	lr := sink.records[0]
	sink.mu.Unlock()
	if c, _ := lr.Attributes().Get("k8s.cluster.name"); c.Str() != "prod" {
		t.Errorf("k8s.cluster.name = %q", c.Str())
	}
	if lr.Timestamp() == 0 || lr.ObservedTimestamp() == 0 || lr.SeverityNumber() != plog.SeverityNumberInfo {
		t.Errorf("timestamp %v observed %v severity %v", lr.Timestamp(), lr.ObservedTimestamp(), lr.SeverityNumber())
	}
}

func splitLines(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == '\n' {
			out = append(out, string(b[start:i]))
			start = i + 1
		}
	}
	return out
}
