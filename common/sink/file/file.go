// Package file is the file and stdout sink: a sink.Writer that appends each
// record's body as one line (JSON lines) to a file or any io.Writer.
//
// Each Write call formats its records into one buffer and hands it to the
// underlying writer in a single call, then syncs a file (when Sync is set),
// so a batch is written whole or reported undelivered. A failed write
// reports every record of the batch Retryable; records with an empty body or
// a body containing a newline (which would break the one-record-per-line
// format) are Permanent.
package file

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/auditlane/auditlane/common/sink"
)

// Result reasons reported by the writer.
const (
	ReasonEmpty   = "empty"    // zero-length body
	ReasonNewline = "newline"  // body contains a line break
	ReasonIO      = "io_error" // the underlying write failed
	ReasonClosed  = "closed"   // Write after Close
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("file: writer closed")

// Writer writes records as lines. It implements sink.Writer and
// sink.StatsReporter and is safe for concurrent use.
type Writer struct {
	mu     sync.Mutex
	w      io.Writer
	f      *os.File // set when the writer owns a file
	name   string
	sync   bool
	closed bool
	buf    bytes.Buffer
	stats  sink.Stats
}

// Open opens (appending, creating with mode 0600) the file path. When
// syncEach is set, every Write is synced to disk before it returns.
func Open(path string, syncEach bool) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("file: open %s: %w", path, err)
	}
	return &Writer{w: f, f: f, name: path, sync: syncEach, stats: sink.Stats{Rejected: map[string]int64{}}}, nil
}

// New returns a Writer on w (for example os.Stdout). Close does not close w.
func New(w io.Writer, name string) *Writer {
	return &Writer{w: w, name: name, stats: sink.Stats{Rejected: map[string]int64{}}}
}

// Write appends one line per valid record and fills results; see
// sink.Writer.
func (w *Writer) Write(ctx context.Context, recs []sink.Record, results []sink.Result) error {
	if len(results) != len(recs) {
		return fmt.Errorf("file: write to %s: %d results for %d records", w.name, len(results), len(recs))
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		for i := range results {
			results[i] = sink.Result{Status: sink.Retryable, Reason: ReasonClosed, Err: ErrClosed}
		}
		return sink.Summarize(results)
	}
	if err := ctx.Err(); err != nil {
		for i := range results {
			results[i] = sink.Result{Status: sink.Pending, Err: err}
		}
		return sink.Summarize(results)
	}
	w.buf.Reset()
	n, bytesOut := 0, 0
	for i := range recs {
		b := recs[i].Body
		switch {
		case len(b) == 0:
			results[i] = sink.Result{Status: sink.Permanent, Reason: ReasonEmpty, Err: fmt.Errorf("file: record %q: empty body", recs[i].ID)}
			w.stats.Rejected[ReasonEmpty]++
			continue
		case bytes.IndexAny(b, "\n\r") >= 0:
			results[i] = sink.Result{Status: sink.Permanent, Reason: ReasonNewline, Err: fmt.Errorf("file: record %q: body contains a line break", recs[i].ID)}
			w.stats.Rejected[ReasonNewline]++
			continue
		}
		w.buf.Write(b)
		w.buf.WriteByte('\n')
		results[i] = sink.Result{Status: sink.Delivered}
		n++
		bytesOut += len(b)
	}
	if n == 0 {
		return sink.Summarize(results)
	}
	start := time.Now()
	_, err := w.w.Write(w.buf.Bytes())
	if err == nil && w.sync && w.f != nil {
		err = w.f.Sync()
	}
	if w.buf.Cap() > 4<<20 {
		w.buf = bytes.Buffer{} // do not keep a huge batch's buffer
	}
	if err != nil {
		err = fmt.Errorf("file: write to %s: %w", w.name, err)
		for i := range results {
			if results[i].Status == sink.Delivered {
				results[i] = sink.Result{Status: sink.Retryable, Reason: ReasonIO, Err: err}
			}
		}
		w.stats.Retries++
		return sink.Summarize(results)
	}
	lat := time.Since(start)
	w.stats.EventsSent += int64(n)
	w.stats.BytesSent += int64(bytesOut)
	w.stats.Batches++
	w.stats.LatencySum += lat
	if lat > w.stats.LatencyMax {
		w.stats.LatencyMax = lat
	}
	return sink.Summarize(results)
}

// Stats returns the writer's cumulative counters.
func (w *Writer) Stats() sink.Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.stats
	s.Rejected = make(map[string]int64, len(w.stats.Rejected))
	for k, v := range w.stats.Rejected {
		s.Rejected[k] = v
	}
	return s
}

// Close stops accepting writes and closes the file the writer opened.
func (w *Writer) Close(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.f != nil {
		if err := w.f.Close(); err != nil {
			return fmt.Errorf("file: close %s: %w", w.name, err)
		}
	}
	return nil
}
