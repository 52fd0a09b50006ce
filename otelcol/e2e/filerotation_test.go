package e2e

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
	"github.com/auditlane/auditlane/otelcol/internal/audittest"
)

// lumberjack imitates gopkg.in/natefinch/lumberjack.v2 as kube-apiserver
// uses it for --audit-log-path: when a write would take the file past
// maxSize it renames the file to <name>-<UTC timestamp>.log, opens a new
// one, then (its "mill") deletes the backups beyond maxBackups, newest
// kept, and compresses the ones compress picks (.gz written, plain
// removed). It deletes right after each rotation, as lumberjack's mill
// goroutine does a moment later.
type lumberjack struct {
	path       string
	maxSize    int64
	maxBackups int
	compress   func(n int) bool

	mu        sync.Mutex
	f         *os.File
	size      int64
	rotations int
	backups   []string // oldest first, as named now
	last      time.Time
	deleted   int64 // bytes in backups deleted
}

func (l *lumberjack) write(t *testing.T, p string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		l.open(t)
	}
	if l.size > 0 && l.size+int64(len(p)) > l.maxSize {
		l.rotate(t)
	}
	n, err := l.f.WriteString(p)
	if err != nil {
		t.Fatal(err)
	}
	l.size += int64(n)
}

func (l *lumberjack) open(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	l.f, l.size = f, fi.Size()
}

func (l *lumberjack) rotate(t *testing.T) {
	t.Helper()
	_ = l.f.Close()
	stamp := time.Now().UTC()
	if !stamp.After(l.last.Add(time.Millisecond)) {
		stamp = l.last.Add(time.Millisecond)
	}
	l.last = stamp
	ext := filepath.Ext(l.path)
	backup := strings.TrimSuffix(l.path, ext) + "-" + stamp.Format("2006-01-02T15-04-05.000") + ext
	if err := os.Rename(l.path, backup); err != nil {
		t.Fatal(err)
	}
	l.open(t)
	l.rotations++
	l.backups = append(l.backups, backup)
	for len(l.backups) > l.maxBackups {
		if fi, err := os.Stat(l.backups[0]); err == nil {
			l.deleted += fi.Size()
		}
		_ = os.Remove(l.backups[0])
		l.backups = l.backups[1:]
	}
	if l.compress(l.rotations) {
		data, err := os.ReadFile(backup)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(data)
		_ = zw.Close()
		if err := os.WriteFile(backup+".gz", b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		_ = os.Remove(backup)
		l.backups[len(l.backups)-1] = backup + ".gz"
	}
}

func (l *lumberjack) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f != nil {
		_ = l.f.Close()
	}
}

const rotationConfig = `extensions:
  file_storage:
    directory: ${env:DIR}/storage
    create_directory: true
receivers:
  k8saudit:
    mode: file
    file:
      path: ${env:DIR}/audit.log
      start_at: beginning
      storage: file_storage
exporters:
  k8saudit_cloudwatch:
    endpoint: ${env:CW_ENDPOINT}
    region: us-east-1
    log_group_name: /k8s/rotation
    log_stream_name: apiserver
    auto_create_group: true
    sending_queue:
      storage: file_storage
      queue_size: ${env:QUEUE_SIZE}
      sizer: items
    retry_on_failure:
      enabled: true
      initial_interval: 100ms
      max_interval: 500ms
      max_elapsed_time: 0
service:
  extensions: [file_storage]
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: ${env:METRICS_PORT}
  pipelines:
    logs:
      receivers: [k8saudit]
      exporters: [k8saudit_cloudwatch]
`

func rotationCollector(t *testing.T, dir, cwURL, queueSize, logName string) (*proc, string) {
	t.Helper()
	cfg := filepath.Join(dir, "collector.yaml")
	if err := os.WriteFile(cfg, []byte(rotationConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	metrics := port(t)
	env := append([]string{"DIR=" + dir, "CW_ENDPOINT=" + cwURL, "QUEUE_SIZE=" + queueSize, "METRICS_PORT=" + metrics}, awsEnv...)
	return runConfig(t, cfg, env, logName), "127.0.0.1:" + metrics
}

// delivered counts the events of 0..n-1 stored in the test server, once
// every event arrived or limit passed.
func delivered(t *testing.T, srv *cwtest.Server, n int, limit time.Duration) (counts map[string]int, missing []int) {
	t.Helper()
	counts = waitCW(t, srv, "/k8s/rotation", "apiserver", n, limit)
	for i := range n {
		if counts[audittest.ID(i)] == 0 {
			missing = append(missing, i)
		}
	}
	return counts, missing
}

// TestFileModeMaxBackup1UnderOutage has the collector tail an audit log
// that a lumberjack imitation rotates at 1 MB (the apiserver's smallest
// --audit-log-maxsize) keeping one backup (--audit-log-maxbackup=1) and
// compressing every other one, at about 2 MB/s, while CloudWatch Logs is
// down for 5 s: the exporter's queue fills, the receiver cannot pass lines
// on, and lumberjack deletes backups the receiver has not read. Each file
// is held open from the poll after it appeared, so all 30,000 events
// arrive and nothing is counted lost.
func TestFileModeMaxBackup1UnderOutage(t *testing.T) {
	srv, err := cwtest.New(cwtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	lj := &lumberjack{path: filepath.Join(dir, "audit.log"), maxSize: 1 << 20, maxBackups: 1, compress: func(n int) bool { return n%2 == 0 }}
	defer lj.close()
	const total, burst = 30_000, 50
	lj.write(t, audittest.Lines(0, burst, time.Now()))
	p, metrics := rotationCollector(t, dir, srv.URL, "2000", "collector.log")
	for n := burst; n < total; n += burst {
		if n == total/3 {
			srv.Outage(5 * time.Second)
		}
		lj.write(t, audittest.Lines(n, burst, time.Now()))
		time.Sleep(15 * time.Millisecond)
	}
	counts, missing := delivered(t, srv, total, 120*time.Second)
	dups := 0
	for _, c := range counts {
		dups += max(c-1, 0)
	}
	m := scrapeCollector(t, metrics)
	lost := sumMetric(m, "auditlane_input_bytes_lost")
	t.Logf("%d events in %d rotations (%d bytes of backups deleted by the lumberjack imitation): %d distinct delivered, %d missing, %d duplicates, %.0f bytes counted lost",
		total, lj.rotations, lj.deleted, len(counts), len(missing), dups, lost)
	if len(missing) > 0 {
		t.Fatalf("%d events missing (first %d)", len(missing), missing[0])
	}
	if lost != 0 {
		t.Fatalf("%.0f bytes counted lost, none was", lost)
	}
	if lj.deleted == 0 || lj.rotations < 10 {
		t.Fatalf("only %d rotations, %d bytes deleted: the test did not exercise deletion", lj.rotations, lj.deleted)
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
}

// TestFileModeCheckpointedFileGoneAtRestart kills the collector (kill -9)
// while it is behind on a file — CloudWatch Logs is down and the queue
// holds 300 events — then lets lumberjack (maxbackup=1) rotate twice, so
// the file the checkpoint points into is deleted. The restarted collector
// reads the two newer files, logs a warning naming the gone file, and
// counts its unread bytes in auditlane_input_bytes_lost{reason=
// "deleted_while_down"}: exactly the bytes of the events that never
// arrived.
func TestFileModeCheckpointedFileGoneAtRestart(t *testing.T) {
	srv, err := cwtest.New(cwtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	lj := &lumberjack{path: filepath.Join(dir, "audit.log"), maxSize: 4 << 20, maxBackups: 1, compress: func(int) bool { return false }}
	defer lj.close()
	now := time.Now()
	srv.Outage(time.Hour)
	lj.write(t, audittest.Lines(0, 1000, now))
	p, _ := rotationCollector(t, dir, srv.URL, "300", "collector-1.log")
	// The finder saves the file's size; the reader is stuck behind the
	// full queue.
	deadline := time.Now().Add(60 * time.Second)
	for !logHas(p, "reading audit log") {
		if time.Now().After(deadline) {
			t.Fatal("the collector did not start reading")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()
	// Down: two rotations delete the file the checkpoint points into.
	lj.rotate(t)
	lj.write(t, audittest.Lines(1000, 100, now))
	lj.rotate(t)
	lj.write(t, audittest.Lines(1100, 100, now))
	srv.Outage(0)
	p, metrics := rotationCollector(t, dir, srv.URL, "300", "collector-2.log")
	// The files rotated while the collector was down arrive whole.
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		counts := waitCW(t, srv, "/k8s/rotation", "apiserver", 0, 0)
		n := 0
		for i := 1000; i < 1200; i++ {
			if counts[audittest.ID(i)] > 0 {
				n++
			}
		}
		if n == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the 200 events of the files rotated while the collector was down arrived", n)
		}
	}
	time.Sleep(time.Second)
	_, missing := delivered(t, srv, 1200, 0)
	var missingBytes int
	for _, i := range missing {
		missingBytes += len(audittest.Event(i, now)) + 1
	}
	var lost float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		lost = sumMetric(scrapeCollector(t, metrics), `auditlane_input_bytes_lost{component="k8saudit",reason="deleted_while_down"}`)
		if lost > 0 || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("kill -9 behind on a file, file deleted while down: %d of 1200 events missing (%d bytes), %.0f bytes counted lost", len(missing), missingBytes, lost)
	if len(missing) == 0 {
		t.Fatal("nothing missing: the file was read before the kill, the test did not exercise a gone checkpointed file")
	}
	if int(lost) != missingBytes {
		t.Fatalf("counted %.0f bytes lost, the missing events are %d bytes", lost, missingBytes)
	}
	if !logHas(p, "a checkpointed audit log is gone") {
		t.Fatal("no warning about the gone file in the collector's log")
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
}

func logHas(p *proc, s string) bool {
	b, _ := os.ReadFile(p.log)
	return bytes.Contains(b, []byte(s))
}

// sumMetric sums the samples whose key starts with prefix.
func sumMetric(m map[string]float64, prefix string) float64 {
	var n float64
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			n += v
		}
	}
	return n
}
