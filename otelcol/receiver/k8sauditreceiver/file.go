package k8sauditreceiver

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.uber.org/zap"
)

// File mode finds files and reads them in two goroutines. The finder lists
// the log and its lumberjack backups every poll_interval and opens each
// file it has not seen at once: an open descriptor keeps a file readable
// after lumberjack deletes it (--audit-log-maxbackup), however long the
// reader takes to get to it. The reader reads the open files oldest first,
// each to its end, passing lines on in batches, and advances the checkpoint
// after each accepted batch.
//
// What is lost is logged and counted (auditlane_input_bytes_lost): a file
// listed but deleted before it could be opened (reason
// deleted_before_open, its listed size) and, at start, a checkpointed file
// that is gone (deleted_while_down, at least its size at the checkpoint
// less the offset read). A file created and deleted between two listings
// is not seen at all: with the default 200ms poll it would have to be
// filled (--audit-log-maxsize, at least 1 MB) and rotated twice within one
// poll.

// checkpointKey is the storage key of the file-mode checkpoint.
const checkpointKey = "k8saudit.checkpoint"

// maxDone bounds the fingerprints of finished files kept in the checkpoint.
const maxDone = 256

// Reasons of auditlane_input_bytes_lost in file mode.
const (
	lostDeletedBeforeOpen = "deleted_before_open"
	lostDeletedWhileDown  = "deleted_while_down"
)

// fileState is the checkpoint of one file: its fingerprint (the SHA-256 of
// its first FPLen bytes), the offset (in decompressed bytes) up to which
// every line has been passed on, and its size and path when last seen,
// to report what is skipped when the file is gone at restart.
type fileState struct {
	FP     string `json:"fp"`
	FPLen  int    `json:"fp_len"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size,omitempty"`
	Path   string `json:"path,omitempty"`
}

// checkpoint is what file mode keeps in the storage extension.
type checkpoint struct {
	// Files are the files being read.
	Files []fileState `json:"files"`
	// Done are the fingerprints of files read to the end (or, on the first
	// start with start_at: end, skipped).
	Done []string `json:"done"`
}

// tracked is one open file.
type tracked struct {
	path     string // where it was opened
	lastPath string // where the finder saw it last (under tailer.mu)
	f        *os.File
	r        io.Reader // f, or a gzip reader over f
	gz       bool
	dev, ino uint64
	st       fileState // st.FP is "" until the file holds a whole first line
	buf      []byte    // bytes read past st.Offset: the unfinished line
	saved    int64     // the size in the last saved checkpoint (under tailer.mu)
}

// fileKey identifies a listed file whose content is known not to need
// reading (finished, skipped, or a compressed copy of a tracked file).
type fileKey struct {
	dev, ino      uint64
	size, modTime int64
}

type tailer struct {
	r      *auditReceiver
	cfg    FileConfig
	client storage.Client
	chunk  []byte

	saveMu  sync.Mutex
	mu      sync.Mutex // guards what follows; the finder and the reader share it
	cp      checkpoint
	files   []*tracked // oldest first
	first   bool       // no checkpoint existed
	skip    map[fileKey]bool
	resumed map[string]bool // fingerprints of cp.Files found again
}

func (r *auditReceiver) startFile(ctx context.Context, host component.Host) error {
	client, err := r.storageClient(ctx, host, r.cfg.File.Storage, "file::storage")
	if err != nil {
		return err
	}
	t := &tailer{r: r, cfg: r.cfg.File, client: client, chunk: make([]byte, 256<<10), skip: map[fileKey]bool{}, resumed: map[string]bool{}}
	raw, err := client.Get(ctx, checkpointKey)
	if err != nil {
		return fmt.Errorf("k8saudit: read checkpoint: %w", err)
	}
	if raw == nil {
		t.first = true
	} else if err := json.Unmarshal(raw, &t.cp); err != nil {
		return fmt.Errorf("k8saudit: checkpoint in storage is corrupt: %w", err)
	}
	r.tailer = t
	// The files there are now are classified before anything else runs:
	// read (start_at: beginning, or files the checkpoint does not know),
	// resumed, or skipped (start_at: end on the first start).
	t.mu.Lock()
	t.scan(true)
	t.mu.Unlock()
	runCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(2)
	go func() {
		defer r.wg.Done()
		t.find(runCtx)
	}()
	go func() {
		defer r.wg.Done()
		t.run(runCtx)
	}()
	return nil
}

// find lists and opens new files every poll interval.
func (t *tailer) find(ctx context.Context) {
	tick := time.NewTicker(t.cfg.PollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		t.mu.Lock()
		t.scan(false)
		grew := t.grew()
		t.mu.Unlock()
		if grew {
			// Sizes in the checkpoint bound what a restart reports lost
			// when these files are gone by then.
			if err := t.save(ctx); err != nil {
				t.r.logger.Warn("k8saudit: checkpoint not saved", zap.Error(err))
			}
		}
	}
}

// grew reports whether a tracked file's size differs from the one last
// saved. The caller holds t.mu.
func (t *tailer) grew() bool {
	for _, tf := range t.files {
		if tf.st.FP != "" && tf.size() != tf.saved {
			return true
		}
	}
	return false
}

// run reads the open files every poll interval.
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
	t.mu.Lock()
	for _, f := range t.files {
		_ = f.f.Close()
	}
	t.files = nil
	t.mu.Unlock()
	return errors.Join(err, t.client.Close(ctx))
}

func (t *tailer) save(ctx context.Context) error {
	t.saveMu.Lock() // snapshots are stored in the order they are taken
	defer t.saveMu.Unlock()
	t.mu.Lock()
	t.cp.Files = t.cp.Files[:0]
	for _, f := range t.files {
		if f.st.FP == "" && f.st.Offset > 0 {
			t.identify(f)
		}
		if f.st.FP == "" {
			continue // nothing read yet that a restart could repeat
		}
		st := f.st
		st.Size, st.Path = f.size(), f.lastPath
		f.saved = st.Size
		t.cp.Files = append(t.cp.Files, st)
	}
	if len(t.cp.Done) > maxDone {
		t.cp.Done = append([]string(nil), t.cp.Done[len(t.cp.Done)-maxDone:]...)
	}
	raw, err := json.Marshal(&t.cp)
	t.mu.Unlock()
	if err != nil {
		return err
	}
	if err := t.client.Set(ctx, checkpointKey, raw); err != nil {
		return fmt.Errorf("k8saudit: save checkpoint: %w", err)
	}
	return nil
}

// size returns the file's (decompressed) size as far as it is known.
func (tf *tracked) size() int64 {
	fi, err := tf.f.Stat()
	if err != nil {
		return 0
	}
	if !tf.gz {
		return fi.Size()
	}
	// gzip's trailer holds the decompressed size modulo 2^32.
	var b [4]byte
	if fi.Size() < 18 {
		return 0
	}
	if _, err := tf.f.ReadAt(b[:], fi.Size()-4); err != nil {
		return 0
	}
	return int64(binary.LittleEndian.Uint32(b[:]))
}

func fileID(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino
	}
	return 0, 0
}

// fingerprint reads the identity prefix of r: up to size bytes, ending
// after the first newline. It returns the bytes it read; ok is false when
// the file does not hold a whole first line (or size bytes) yet.
func fingerprint(r io.Reader, size int) (fp string, n int, read []byte, ok bool) {
	buf := make([]byte, size)
	m, _ := io.ReadFull(r, buf)
	buf = buf[:m]
	id := buf
	if i := bytes.IndexByte(buf, '\n'); i >= 0 {
		id = buf[:i+1]
	} else if m < size {
		return "", 0, buf, false
	}
	sum := sha256.Sum256(id)
	return hex.EncodeToString(sum[:]), len(id), buf, true
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

func (t *tailer) byInode(dev, ino uint64) *tracked {
	for _, f := range t.files {
		if !f.gz && f.dev == dev && f.ino == ino {
			return f
		}
	}
	return nil
}

// candidates lists lumberjack's rotated files of the log, oldest first
// (<name>-<timestamp><ext>, optionally .gz), then the log itself.
func (t *tailer) candidates() []string {
	dir, base := filepath.Split(t.cfg.Path)
	ext := filepath.Ext(base)
	prefix := strings.TrimSuffix(base, ext) + "-"
	entries, err := os.ReadDir(filepath.Clean(dir))
	if err != nil {
		return []string{t.cfg.Path}
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
	return append(out, t.cfg.Path)
}

// identify fingerprints a plain tracked file that had no whole first line
// when it was opened.
func (t *tailer) identify(tf *tracked) {
	if tf.gz || tf.st.FP != "" {
		return
	}
	if fp, n, _, ok := fingerprint(io.NewSectionReader(tf.f, 0, int64(t.cfg.FingerprintSize)), t.cfg.FingerprintSize); ok {
		tf.st.FP, tf.st.FPLen = fp, n
	}
}

// scan lists the files and opens those not seen before. initial is the
// scan at start: it also reports checkpointed files that are gone. The
// caller holds t.mu.
func (t *tailer) scan(initial bool) {
	for _, tf := range t.files {
		t.identify(tf)
	}
	seen := map[fileKey]bool{}
	for _, p := range t.candidates() {
		if strings.HasSuffix(p, ".gz") {
			// While lumberjack compresses, the plain copy still exists;
			// that one is read.
			if _, err := os.Stat(strings.TrimSuffix(p, ".gz")); err == nil {
				continue
			}
		}
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		dev, ino := fileID(fi)
		if tf := t.byInode(dev, ino); tf != nil {
			tf.lastPath = p // renamed by rotation
			continue
		}
		key := fileKey{dev, ino, fi.Size(), fi.ModTime().UnixNano()}
		seen[key] = true
		if t.skip[key] {
			continue
		}
		t.open(p, fi, key, initial)
	}
	for k := range t.skip {
		if !seen[k] {
			delete(t.skip, k)
		}
	}
	// Oldest first: backups by name (lumberjack's timestamps), the log
	// itself last. A listing taken while lumberjack rotates can see the new
	// log before the backup the old one became.
	sort.SliceStable(t.files, func(i, j int) bool {
		ai, aj := t.files[i].lastPath == t.cfg.Path, t.files[j].lastPath == t.cfg.Path
		if ai != aj {
			return aj
		}
		return !ai && t.files[i].lastPath < t.files[j].lastPath
	})
	if !initial {
		return
	}
	for _, st := range t.cp.Files {
		if t.resumed[st.FP] {
			continue
		}
		lost := max(st.Size-st.Offset, 0)
		t.r.logger.Warn("k8saudit: a checkpointed audit log is gone (rotated and deleted while the collector was down); the rest of it is lost",
			zap.String("path", st.Path), zap.Int64("offset", st.Offset), zap.Int64("bytes_skipped_at_least", lost))
		t.r.flow.Pipeline.LostBytes(lostDeletedWhileDown, lost)
	}
}

// open opens the file at p, seen as fi, and tracks it unless its content
// was read (or skipped) before.
func (t *tailer) open(p string, fi os.FileInfo, key fileKey, initial bool) {
	f, r, gz, err := openAny(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if p == t.cfg.Path {
				return // rotated meanwhile: the next scan finds it under its backup name
			}
			if _, err := os.Stat(p + ".gz"); err == nil {
				return // compressed meanwhile: the next scan reads the copy
			}
			// Listed, then deleted before it could be opened.
			t.r.logger.Warn("k8saudit: a rotated audit log was deleted before it could be read; its events are lost (raise --audit-log-maxbackup or lower poll_interval)",
				zap.String("path", p), zap.Int64("bytes", fi.Size()))
			t.r.flow.Pipeline.LostBytes(lostDeletedBeforeOpen, fi.Size())
			return
		}
		t.r.logger.Warn("k8saudit: cannot open audit log", zap.String("path", p), zap.Error(err))
		return
	}
	tf := &tracked{path: p, lastPath: p, f: f, r: r, gz: gz, dev: key.dev, ino: key.ino}
	var prefix []byte
	if gz {
		fp, n, read, ok := fingerprint(r, t.cfg.FingerprintSize)
		if !ok && len(read) > 0 {
			// A whole compressed file without a newline in its first
			// bytes: identify it by what it holds.
			sum := sha256.Sum256(read)
			fp, n, ok = hex.EncodeToString(sum[:]), len(read), true
		}
		if ok {
			tf.st.FP, tf.st.FPLen = fp, n
		}
		prefix = read
	} else {
		t.identify(tf)
	}
	fp := tf.st.FP
	if fp != "" && (t.isDone(fp) || t.trackedFP(fp)) {
		// Finished before, or a compressed copy of a file being read.
		_ = f.Close()
		t.skip[key] = true
		return
	}
	if gz && fp == "" {
		_ = f.Close() // an empty compressed file
		t.skip[key] = true
		return
	}
	var off int64
	resumed := false
	for _, s := range t.cp.Files {
		if fp != "" && s.FP == fp && s.FPLen == tf.st.FPLen {
			off, resumed = s.Offset, true
			t.resumed[fp] = true
			break
		}
	}
	active := p == t.cfg.Path
	if !resumed && initial && t.first && t.cfg.StartAt == "end" {
		if !active {
			// First start at the end: backups there now are history.
			_ = f.Close()
			if fp != "" {
				t.cp.Done = append(t.cp.Done, fp)
			}
			t.skip[key] = true
			return
		}
		off = lastLineEnd(f, fi.Size())
	}
	if err := tf.seek(off, prefix); err != nil {
		t.r.logger.Warn("k8saudit: cannot resume audit log", zap.String("path", p), zap.Int64("offset", off), zap.Error(err))
		_ = f.Close()
		return
	}
	t.r.logger.Info("k8saudit: reading audit log", zap.String("path", p), zap.Int64("offset", off), zap.Bool("resumed", resumed))
	t.files = append(t.files, tf)
}

// seek positions tf at off (decompressed for gzip, where prefix holds the
// bytes already read from the start).
func (tf *tracked) seek(off int64, prefix []byte) error {
	tf.st.Offset = off
	if !tf.gz {
		_, err := tf.f.Seek(off, io.SeekStart)
		return err
	}
	if off <= int64(len(prefix)) {
		tf.buf = append(tf.buf[:0], prefix[off:]...)
		return nil
	}
	_, err := io.CopyN(io.Discard, tf.r, off-int64(len(prefix)))
	return err
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

// head returns the oldest open file.
func (t *tailer) head() *tracked {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.files) == 0 {
		return nil
	}
	return t.files[0]
}

// finish closes tf, read to the end, and records it as done.
func (t *tailer) finish(tf *tracked) {
	t.mu.Lock()
	t.identify(tf)
	_ = tf.f.Close()
	if tf.st.FP != "" {
		t.cp.Done = append(t.cp.Done, tf.st.FP)
	}
	if i := slices.Index(t.files, tf); i >= 0 {
		t.files = slices.Delete(t.files, i, i+1)
	}
	t.mu.Unlock()
}

func (t *tailer) poll(ctx context.Context) {
	for ctx.Err() == nil {
		tf := t.head()
		if tf == nil {
			return
		}
		if !t.drain(ctx, tf) {
			return
		}
		if t.isActive(tf) {
			return // the apiserver writes on; wait for more
		}
		// Rotated away and read to the end: lumberjack no longer writes
		// to it. Finish it and move on to the next file.
		if t.readMore(tf) {
			continue
		}
		if len(tf.buf) > 0 && !t.flushLast(ctx, tf) {
			return
		}
		t.finish(tf)
		if err := t.save(ctx); err != nil {
			t.r.logger.Warn("k8saudit: checkpoint not saved", zap.Error(err))
		}
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
			t.mu.Lock()
			tf.st.Offset = 0
			t.mu.Unlock()
			tf.buf = tf.buf[:0]
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
		t.mu.Lock() // the finder saves checkpoints too
		if last && consumed > len(tf.buf)-1 {
			consumed = len(tf.buf) // the newline flushLast added
			tf.st.Offset += int64(consumed - 1)
		} else {
			tf.st.Offset += int64(consumed)
		}
		t.mu.Unlock()
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
