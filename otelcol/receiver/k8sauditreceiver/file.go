package k8sauditreceiver

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"
)

// checkpointKey is the storage key of the file-mode checkpoint.
const checkpointKey = "k8saudit.checkpoint"

// maxDone bounds the fingerprints of finished files kept in the checkpoint.
const maxDone = 256

// fileState is the checkpoint of one file: its fingerprint (the SHA-256 of
// its first FPLen bytes) and the offset (in decompressed bytes) up to which
// every line has been passed on.
type fileState struct {
	FP     string `json:"fp"`
	FPLen  int    `json:"fp_len"`
	Offset int64  `json:"offset"`
}

// checkpoint is what file mode keeps in the storage extension.
type checkpoint struct {
	// Since is when the receiver first ran (Unix nanoseconds): rotated
	// backups last written before it predate the receiver and are not read.
	Since int64 `json:"since"`
	// Files are the files being read.
	Files []fileState `json:"files"`
	// Done are the fingerprints of files read to the end and closed.
	Done []string `json:"done"`
}

// tracked is one open file.
type tracked struct {
	path     string
	f        *os.File
	r        io.Reader // f, or a gzip reader over f
	gz       bool
	dev, ino uint64
	st       fileState
	buf      []byte // bytes read past st.Offset: the unfinished line
	eof      bool
}

type tailer struct {
	r       *auditReceiver
	cfg     FileConfig
	client  storage.Client
	cp      checkpoint
	files   []*tracked // oldest first
	first   bool       // no checkpoint existed
	scanned bool
	chunk   []byte
}

func (r *auditReceiver) startFile(ctx context.Context, host component.Host) error {
	client, err := r.storageClient(ctx, host, r.cfg.File.Storage, "file::storage")
	if err != nil {
		return err
	}
	t := &tailer{r: r, cfg: r.cfg.File, client: client, chunk: make([]byte, 256<<10)}
	raw, err := client.Get(ctx, checkpointKey)
	if err != nil {
		return fmt.Errorf("k8saudit: read checkpoint: %w", err)
	}
	if raw == nil {
		t.first = true
		t.cp.Since = time.Now().UnixNano()
	} else if err := json.Unmarshal(raw, &t.cp); err != nil {
		return fmt.Errorf("k8saudit: checkpoint in storage is corrupt: %w", err)
	}
	r.tailer = t
	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		t.run(runCtx)
	}()
	return nil
}

func (t *tailer) run(ctx context.Context) {
	tick := time.NewTicker(t.cfg.PollInterval)
	defer tick.Stop()
	for {
		t.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// close saves the checkpoint and closes the files and the storage client.
func (t *tailer) close(ctx context.Context) error {
	err := t.save(ctx)
	for _, f := range t.files {
		_ = f.f.Close()
	}
	t.files = nil
	return errors.Join(err, t.client.Close(ctx))
}

func (t *tailer) save(ctx context.Context) error {
	t.cp.Files = t.cp.Files[:0]
	for _, f := range t.files {
		t.cp.Files = append(t.cp.Files, f.st)
	}
	if len(t.cp.Done) > maxDone {
		t.cp.Done = append([]string(nil), t.cp.Done[len(t.cp.Done)-maxDone:]...)
	}
	raw, err := json.Marshal(&t.cp)
	if err != nil {
		return err
	}
	if err := t.client.Set(ctx, checkpointKey, raw); err != nil {
		return fmt.Errorf("k8saudit: save checkpoint: %w", err)
	}
	return nil
}

func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino
	}
	return 0, 0
}

// fingerprint reads the identity prefix of r: up to size bytes, ending
// after the first newline. ok is false when the file does not hold a whole
// first line (or size bytes) yet.
func fingerprint(r io.Reader, size int) (fp string, n int, ok bool) {
	buf := make([]byte, size)
	m, _ := io.ReadFull(r, buf)
	buf = buf[:m]
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		buf = buf[:i+1]
	} else if m < size {
		return "", 0, false
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:]), len(buf), true
}

// prefixFP hashes the first n bytes of r; ok is false when r is shorter.
func prefixFP(r io.Reader, n int) (string, bool) {
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", false
	}
	sum := sha256.Sum256(buf)
	return hex.EncodeToString(sum[:]), true
}

// openAny opens path, through gzip when it ends in .gz.
func openAny(path string) (*os.File, io.Reader, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, false, err
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, f, false, nil
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		_ = f.Close()
		return nil, nil, false, fmt.Errorf("gzip %s: %w", path, err)
	}
	return f, zr, true, nil
}

// matches reports whether the file at path starts with the prefix st
// fingerprints.
func matches(path string, st fileState) bool {
	f, r, _, err := openAny(path)
	if err != nil {
		return false
	}
	defer f.Close()
	fp, ok := prefixFP(r, st.FPLen)
	return ok && fp == st.FP
}

func (t *tailer) isDone(fp string) bool {
	for _, d := range t.cp.Done {
		if d == fp {
			return true
		}
	}
	return false
}

func (t *tailer) trackedFP(fp string) bool {
	for _, f := range t.files {
		if f.st.FP == fp {
			return true
		}
	}
	return false
}

// backups lists lumberjack's rotated files of the log, oldest first:
// <name>-<timestamp><ext> and <name>-<timestamp><ext>.gz.
func (t *tailer) backups() []string {
	dir, base := filepath.Split(t.cfg.Path)
	ext := filepath.Ext(base)
	prefix := strings.TrimSuffix(base, ext) + "-"
	entries, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasPrefix(n, prefix) || !(strings.HasSuffix(n, ext) || strings.HasSuffix(n, ext+".gz")) {
			continue
		}
		out = append(out, filepath.Join(dir, n))
	}
	sort.Strings(out) // lumberjack's timestamps sort by time
	return out
}

// scanBackups picks up rotated files not read to the end: files whose
// checkpoint says they are unfinished, and files rotated since the
// receiver first ran that it never saw (several rotations while it was
// down or between two polls).
func (t *tailer) scanBackups() {
	since := time.Unix(0, t.cp.Since)
	for _, p := range t.backups() {
		if strings.HasSuffix(p, ".gz") {
			// While lumberjack compresses, the plain copy still exists;
			// read that one.
			if _, err := os.Stat(strings.TrimSuffix(p, ".gz")); err == nil {
				continue
			}
		}
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		f, r, gz, err := openAny(p)
		if err != nil {
			t.r.logger.Warn("k8saudit: cannot open rotated audit log", zap.String("path", p), zap.Error(err))
			continue
		}
		var st *fileState
		for i := range t.cp.Files {
			s := t.cp.Files[i]
			if matches(p, s) {
				st = &s
				break
			}
		}
		if st == nil {
			fp, n, ok := fingerprint(r, t.cfg.FingerprintSize)
			_ = f.Close()
			if !ok || t.isDone(fp) || t.trackedFP(fp) || fi.ModTime().Before(since) {
				continue
			}
			st = &fileState{FP: fp, FPLen: n}
			f, r, gz, err = openAny(p)
			if err != nil {
				continue
			}
		} else if t.isDone(st.FP) || t.trackedFP(st.FP) {
			_ = f.Close()
			continue
		} else {
			_ = f.Close()
			if f, r, gz, err = openAny(p); err != nil {
				continue
			}
		}
		tf := &tracked{path: p, f: f, r: r, gz: gz, st: *st}
		tf.dev, tf.ino = fileID(fi)
		if err := tf.seek(st.Offset); err != nil {
			t.r.logger.Warn("k8saudit: cannot resume rotated audit log", zap.String("path", p), zap.Error(err))
			_ = f.Close()
			continue
		}
		t.r.logger.Info("k8saudit: reading rotated audit log", zap.String("path", p), zap.Int64("offset", st.Offset))
		t.files = append(t.files, tf)
	}
}

// seek positions the reader at offset (decompressed for gzip).
func (tf *tracked) seek(off int64) error {
	if tf.gz {
		_, err := io.CopyN(io.Discard, tf.r, off)
		return err
	}
	_, err := tf.f.Seek(off, io.SeekStart)
	return err
}

// discover opens the active file when it is new (first run or rotation).
func (t *tailer) discover() {
	fi, err := os.Stat(t.cfg.Path)
	if err != nil {
		if !t.scanned {
			t.scanned = true
			t.scanBackups()
		}
		return
	}
	dev, ino := fileID(fi)
	for _, f := range t.files {
		if f.dev == dev && f.ino == ino && !f.gz {
			return
		}
	}
	f, err := os.Open(t.cfg.Path)
	if err != nil {
		t.r.logger.Warn("k8saudit: cannot open audit log", zap.String("path", t.cfg.Path), zap.Error(err))
		return
	}
	fp, n, ok := fingerprint(f, t.cfg.FingerprintSize)
	if !ok {
		_ = f.Close() // no whole line yet
		return
	}
	// The active file changed: rotated files come first.
	if !t.scanned || len(t.files) > 0 || !t.first {
		t.scanBackups()
	}
	t.scanned = true
	st := fileState{FP: fp, FPLen: n}
	resumed := false
	for _, s := range t.cp.Files {
		if s.FP == fp && s.FPLen == n {
			st.Offset, resumed = s.Offset, true
		}
	}
	if t.isDone(fp) || t.trackedFP(fp) {
		_ = f.Close()
		return
	}
	if !resumed && t.first && len(t.files) == 0 && t.cfg.StartAt == "end" {
		// First run: start after the last whole line.
		st.Offset = lastLineEnd(f, fi.Size())
	}
	t.first = false
	tf := &tracked{path: t.cfg.Path, f: f, r: f, dev: dev, ino: ino, st: st}
	if err := tf.seek(st.Offset); err != nil {
		_ = f.Close()
		return
	}
	t.r.logger.Info("k8saudit: reading audit log", zap.String("path", t.cfg.Path), zap.Int64("offset", st.Offset), zap.Bool("resumed", resumed))
	t.files = append(t.files, tf)
}

// lastLineEnd returns the offset just after the last newline before size.
func lastLineEnd(f *os.File, size int64) int64 {
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(end-int64(len(buf)), 0)
		n, _ := f.ReadAt(buf[:end-start], start)
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1
		}
		end = start
	}
	return 0
}

// isActive reports whether tf is the file at the configured path now.
func (t *tailer) isActive(tf *tracked) bool {
	if tf.gz {
		return false
	}
	fi, err := os.Stat(t.cfg.Path)
	if err != nil {
		return false
	}
	dev, ino := fileID(fi)
	return dev == tf.dev && ino == tf.ino
}

func (t *tailer) poll(ctx context.Context) {
	t.discover()
	for len(t.files) > 0 && ctx.Err() == nil {
		tf := t.files[0]
		if !t.drain(ctx, tf) {
			return
		}
		if !t.isActive(tf) {
			// Rotated away and read to the end: lumberjack no longer
			// writes to it. Finish it and move on to the next file.
			if t.readMore(tf) {
				continue
			}
			if len(tf.buf) > 0 && !t.flushLast(ctx, tf) {
				return
			}
			_ = tf.f.Close()
			t.cp.Done = append(t.cp.Done, tf.st.FP)
			t.files = t.files[1:]
			if err := t.save(ctx); err != nil {
				t.r.logger.Warn("k8saudit: checkpoint not saved", zap.Error(err))
			}
			t.discover()
			continue
		}
		return
	}
}

// readMore reports whether a rotated plain file grew since drain saw EOF.
func (t *tailer) readMore(tf *tracked) bool {
	if tf.gz {
		return false
	}
	fi, err := tf.f.Stat()
	return err == nil && fi.Size() > tf.st.Offset+int64(len(tf.buf))
}

// drain reads tf to its current end, passing whole lines on in batches.
// It returns false when the context ended or the consumer kept refusing.
func (t *tailer) drain(ctx context.Context, tf *tracked) bool {
	if !tf.gz {
		if fi, err := tf.f.Stat(); err == nil && fi.Size() < tf.st.Offset+int64(len(tf.buf)) && t.isActive(tf) {
			// Truncated in place (copytruncate): start over.
			t.r.logger.Warn("k8saudit: audit log truncated, reading from the start", zap.String("path", tf.path))
			tf.st.Offset, tf.buf = 0, tf.buf[:0]
			if _, err := tf.f.Seek(0, io.SeekStart); err != nil {
				return false
			}
		}
	}
	for ctx.Err() == nil {
		n, err := tf.r.Read(t.chunk)
		tf.buf = append(tf.buf, t.chunk[:n]...)
		if !t.emitLines(ctx, tf, false) {
			return false
		}
		if n == 0 || err != nil {
			if err != nil && err != io.EOF {
				t.r.logger.Warn("k8saudit: reading audit log failed", zap.String("path", tf.path), zap.Error(err))
			}
			tf.eof = true
			return true
		}
	}
	return false
}

// flushLast passes on a final line without a newline.
func (t *tailer) flushLast(ctx context.Context, tf *tracked) bool {
	tf.buf = append(tf.buf, '\n')
	ok := t.emitLines(ctx, tf, true)
	return ok
}

// emitLines passes whole lines of tf.buf on in batches of MaxBatch and
// advances the checkpoint after each accepted batch.
func (t *tailer) emitLines(ctx context.Context, tf *tracked, last bool) bool {
	s := t.r.flow.Scratch()
	defer t.r.flow.PutScratch(s)
	for {
		b := newBatch()
		consumed := 0
		lines := 0
		for lines < t.cfg.MaxBatch {
			i := bytes.IndexByte(tf.buf[consumed:], '\n')
			if i < 0 {
				break
			}
			line := tf.buf[consumed : consumed+i]
			consumed += i + 1
			line = bytes.TrimRight(line, "\r")
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			lines++
			t.r.addRecord(b, line, s, tf.path, 0)
		}
		if consumed == 0 {
			return true
		}
		if !t.send(ctx, b) {
			return false
		}
		if last && consumed > len(tf.buf)-1 {
			consumed = len(tf.buf) // the newline flushLast added
			tf.st.Offset += int64(consumed - 1)
		} else {
			tf.st.Offset += int64(consumed)
		}
		tf.buf = append(tf.buf[:0], tf.buf[consumed:]...)
		if err := t.save(ctx); err != nil {
			t.r.logger.Warn("k8saudit: checkpoint not saved", zap.Error(err))
		}
	}
}

// send passes b on, retrying with backoff while the pipeline pushes back.
func (t *tailer) send(ctx context.Context, b *batch) bool {
	wait := 50 * time.Millisecond
	for {
		err := t.r.consume(ctx, b)
		if err == nil {
			return true
		}
		if consumererror.IsPermanent(err) {
			t.r.logger.Error("k8saudit: the pipeline refused audit events for good; they are skipped and counted lost", zap.Int("records", b.lrs.Len()), zap.Error(err))
			return true
		}
		t.r.logger.Debug("k8saudit: the pipeline pushes back, retrying", zap.Error(err))
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
		}
		wait = min(wait*2, 5*time.Second)
	}
}
