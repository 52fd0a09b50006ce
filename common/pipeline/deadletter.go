package pipeline

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"os"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/auditlane/auditlane/common/audit"
)

// DeadLetter keeps rejected inputs as JSON lines, one object per input:
//
//	{"time":"…","reason":"invalid_json","error":"…","line":12,"raw":"…"}
//
// raw holds the rejected bytes as a string when they are valid UTF-8 and as
// raw_base64 otherwise. Write syncs each record to disk before returning
// so that a reported dead letter survives a crash.
type DeadLetter struct {
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	buf  []byte
	path string
}

// OpenDeadLetter opens (appending, creating with mode 0600) the file path.
func OpenDeadLetter(path string) (*DeadLetter, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("dead letter: %w", err)
	}
	return &DeadLetter{f: f, w: bufio.NewWriter(f), path: path}, nil
}

// Letter is one dead-lettered input.
type Letter struct {
	Reason string
	Err    error
	Line   int
	// Source names the input (a file, a Fluent Bit tag), if known.
	Source string
	Raw    []byte
}

// Write appends one letter and syncs the file.
func (d *DeadLetter) Write(l Letter) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.buf[:0]
	b = append(b, `{"time":`...)
	b = audit.AppendQuote(b, time.Now().UTC().Format(time.RFC3339Nano))
	b = append(b, `,"reason":`...)
	b = audit.AppendQuote(b, l.Reason)
	if l.Err != nil {
		b = append(b, `,"error":`...)
		b = audit.AppendQuote(b, l.Err.Error())
	}
	if l.Line > 0 {
		b = fmt.Appendf(b, `,"line":%d`, l.Line)
	}
	if l.Source != "" {
		b = append(b, `,"source":`...)
		b = audit.AppendQuote(b, l.Source)
	}
	if l.Raw != nil {
		if utf8.Valid(l.Raw) {
			b = append(b, `,"raw":`...)
			b = audit.AppendQuote(b, string(l.Raw))
		} else {
			b = append(b, `,"raw_base64":"`...)
			b = base64.StdEncoding.AppendEncode(b, l.Raw)
			b = append(b, '"')
		}
	}
	b = append(b, "}\n"...)
	d.buf = b
	if _, err := d.w.Write(b); err != nil {
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	if err := d.w.Flush(); err != nil {
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	return nil
}

// Close closes the file.
func (d *DeadLetter) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.w.Flush(); err != nil {
		d.f.Close()
		return err
	}
	return d.f.Close()
}
