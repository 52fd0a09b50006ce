package k8sauditreceiver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"

	"github.com/auditlane/auditlane/otelcol/internal/audittest"
	"github.com/auditlane/auditlane/otelcol/receiver/k8sauditreceiver/internal/metadata"
)

// startWithTelemetry starts a file-mode receiver on st (nil: no storage)
// and returns it with its telemetry.
func startWithTelemetry(t *testing.T, cfg *Config, next consumer.Logs, st *audittest.Storage) (receiver.Logs, *componenttest.Telemetry) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	if st == nil {
		cfg.File.Storage = nil
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
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
	return r, tel
}

// TestFileStartAtBeginningReadsExistingBackups: with start_at: beginning
// and no checkpoint, the backups already there (plain and compressed) are
// read before the log, oldest first.
func TestFileStartAtBeginningReadsExistingBackups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	appendLines(t, path, 0, 40)
	compress(t, rotate(t, path, "2025-01-01T00-00-00.000"))
	appendLines(t, path, 40, 40)
	rotate(t, path, "2025-01-02T00-00-00.000")
	appendLines(t, path, 80, 40)
	sink := newIDSink()
	r := startReceiver(t, fileConfig(path, "beginning"), sink, audittest.NewStorage())
	defer func() { _ = r.Shutdown(context.Background()) }()
	sink.wait(t, 120)
	time.Sleep(50 * time.Millisecond)
	sink.check(t, seq(0, 120))
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for i, lr := range sink.records {
		if v, _ := lr.Attributes().Get("auditlane.audit_id"); v.Str() != audittest.ID(i) {
			t.Fatalf("record %d is %s: files not read oldest first", i, v.Str())
		}
	}
}

// TestFileStartAtEndSkipsExistingBackups: with start_at: end, backups
// there at the first start are history, also after a restart; a rotation
// after the start is followed.
func TestFileStartAtEndSkipsExistingBackups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	st := audittest.NewStorage()
	appendLines(t, path, 0, 20)
	rotate(t, path, "2025-01-01T00-00-00.000")
	appendLines(t, path, 20, 20)
	sink := newIDSink()
	r := startReceiver(t, fileConfig(path, "end"), sink, st)
	appendLines(t, path, 40, 10)
	sink.wait(t, 10)
	rotate(t, path, "2025-01-02T00-00-00.000")
	appendLines(t, path, 50, 10)
	sink.wait(t, 20)
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	sink.check(t, seq(40, 60))
	r = startReceiver(t, fileConfig(path, "end"), sink, st)
	defer func() { _ = r.Shutdown(context.Background()) }()
	appendLines(t, path, 60, 5)
	sink.wait(t, 25)
	time.Sleep(50 * time.Millisecond)
	sink.check(t, seq(40, 65))
}

// TestFileBackupsDeletedWhileConsumerRefuses rotates the log many times
// while the next consumer refuses everything, deleting every backup but
// the newest right after each rotation (--audit-log-maxbackup=1): the
// receiver holds each file open from the poll after it appeared, so
// nothing is lost once the consumer accepts again.
func TestFileBackupsDeletedWhileConsumerRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	appendLines(t, path, 0, 20)
	sink := newIDSink()
	r, tel := startWithTelemetry(t, fileConfig(path, "beginning"), sink, audittest.NewStorage())
	defer func() { _ = r.Shutdown(context.Background()) }()
	sink.wait(t, 20)
	sink.refuse.Store(1 << 30)
	n := 20
	var backups []string
	for round := range 8 {
		appendLines(t, path, n, 40)
		n += 40
		time.Sleep(40 * time.Millisecond) // a few polls: the finder opens the file
		b := rotate(t, path, fmt.Sprintf("2025-01-01T00-00-%02d.000", round))
		if round%2 == 1 {
			compress(t, b)
			b += ".gz"
		}
		backups = append(backups, b)
		for _, old := range backups[:len(backups)-1] {
			_ = os.Remove(old)
		}
		backups = backups[len(backups)-1:]
	}
	appendLines(t, path, n, 10)
	n += 10
	time.Sleep(100 * time.Millisecond)
	sink.refuse.Store(0)
	sink.wait(t, n)
	time.Sleep(50 * time.Millisecond)
	sink.check(t, seq(0, n))
	if lost := audittest.Sum(tel, "auditlane.input_bytes_lost", "", ""); lost > 0 {
		t.Errorf("%d bytes counted lost, want none", lost)
	}
}

// TestFileCheckpointedFileGone: a file the checkpoint points into is
// rotated and deleted while the receiver is down; the restart warns and
// counts the bytes it knew were unread as lost, then reads the new file.
func TestFileCheckpointedFileGone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	st := audittest.NewStorage()
	appendLines(t, path, 0, 30)
	sink := newIDSink()
	r := startReceiver(t, fileConfig(path, "beginning"), sink, st)
	sink.wait(t, 30)
	sink.refuse.Store(1 << 30)
	before, _ := os.Stat(path)
	appendLines(t, path, 30, 25) // read, refused, not checkpointed
	after, _ := os.Stat(path)
	time.Sleep(100 * time.Millisecond)
	if err := r.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Down: the file rotates and lumberjack deletes the backup.
	if err := os.Remove(rotate(t, path, "2025-01-01T00-00-00.000")); err != nil {
		t.Fatal(err)
	}
	appendLines(t, path, 100, 10)
	sink2 := newIDSink()
	r2, tel := startWithTelemetry(t, fileConfig(path, "end"), sink2, st)
	defer func() { _ = r2.Shutdown(context.Background()) }()
	sink2.wait(t, 10)
	sink2.check(t, seq(100, 110))
	want := after.Size() - before.Size()
	if lost := audittest.Sum(tel, "auditlane.input_bytes_lost", "reason", lostDeletedWhileDown); lost != want {
		t.Fatalf("input bytes lost = %d, want %d (the 25 lines read but not passed on)", lost, want)
	}
}
