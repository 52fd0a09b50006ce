package pipeline

import (
	"bufio"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/auditlane/auditlane/common/audit"
)

// Dead-letter defaults (dead_letter_max_size, dead_letter_max_files).
const (
	DefaultDeadLetterMaxSize  = 100 << 20
	DefaultDeadLetterMaxFiles = 5
	// DeadLetterPrefix is how many bytes of undecodable input a letter
	// shows, values masked, unless raw copies are asked for.
	DeadLetterPrefix = 256
)

// DeadLetter keeps what the pipeline could not deliver, as JSON lines, one
// object per input:
//
//	{"time":"…","reason":"too_large","error":"…","source":"…","event":{…}}
//	{"time":"…","reason":"invalid_json","error":"…","line":12,"size":5120,"sha256":"…","prefix":"{\"kind\":\"***\",…"}
//
// A dead letter never holds what the policy or redaction would strip:
// an event that was decoded is kept as the pipeline shaped it (policy
// applied, redacted: Letter.Event); input that could not be decoded (where
// the policy cannot be applied) is kept as its size, a SHA-256 of its
// bytes and a short prefix whose string values are masked — unless the
// user asked for raw copies (dead_letter_raw), then as the bytes themselves
// ("raw", or "raw_base64" when not UTF-8).
//
// The file is rotated when it would grow over MaxSize: path becomes
// path.1, path.1 becomes path.2 and so on, keeping MaxFiles old files.
// Write syncs each letter to disk before returning, so that a reported
// dead letter survives a crash.
type DeadLetter struct {
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	buf  []byte
	path string
	size int64
	opt  DeadLetterOptions
}

// DeadLetterOptions are the dead letter's settings.
type DeadLetterOptions struct {
	// Raw keeps undecodable input verbatim (dead_letter_raw).
	Raw bool
	// MaxSize is the size at which the file is rotated
	// (dead_letter_max_size); 0 means DefaultDeadLetterMaxSize.
	MaxSize int64
	// MaxFiles is how many rotated files are kept (dead_letter_max_files);
	// 0 means DefaultDeadLetterMaxFiles.
	MaxFiles int
}

// OpenDeadLetter opens (appending, creating with mode 0600) the file path
// with the default options.
func OpenDeadLetter(path string) (*DeadLetter, error) {
	return OpenDeadLetterWith(path, DeadLetterOptions{})
}

// OpenDeadLetterWith opens (appending, creating with mode 0600) the file
// path.
func OpenDeadLetterWith(path string, opt DeadLetterOptions) (*DeadLetter, error) {
	if opt.MaxSize <= 0 {
		opt.MaxSize = DefaultDeadLetterMaxSize
	}
	if opt.MaxFiles <= 0 {
		opt.MaxFiles = DefaultDeadLetterMaxFiles
	}
	d := &DeadLetter{path: path, opt: opt}
	if err := d.open(); err != nil {
		return nil, err
	}
	return d, nil
}

func (d *DeadLetter) open() error {
	f, err := os.OpenFile(d.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("dead letter: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("dead letter: %w", err)
	}
	d.f, d.w, d.size = f, bufio.NewWriter(f), st.Size()
	return nil
}

// Letter is one dead-lettered input.
type Letter struct {
	Reason string
	Err    error
	Line   int
	// Source names the input (a file, a Fluent Bit tag), if known.
	Source string
	// Event is a decoded event as the pipeline shaped it (policy applied,
	// redacted): a JSON value, kept as it is.
	Event []byte
	// Raw is input that could not be decoded; Size its size when Raw is
	// not kept (too large). Only its size, hash and a masked prefix are
	// written unless the dead letter keeps raw copies.
	Raw  []byte
	Size int
}

// LetterFor returns the letter for a rejected result: the shaped event
// when it was decoded, else its input.
func LetterFor(r *Result, source string, line int) Letter {
	l := Letter{Reason: r.Reason, Err: r.Err, Source: source, Line: line, Size: r.Size}
	if r.Decoded {
		l.Event = r.Out
	} else {
		l.Raw = r.Raw
	}
	return l
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
		b = append(b, `,"line":`...)
		b = strconv.AppendInt(b, int64(l.Line), 10)
	}
	if l.Source != "" {
		b = append(b, `,"source":`...)
		b = audit.AppendQuote(b, l.Source)
	}
	switch {
	case len(l.Event) > 0:
		b = append(b, `,"event":`...)
		b = append(b, l.Event...)
	case l.Raw != nil && d.opt.Raw:
		if utf8.Valid(l.Raw) {
			b = append(b, `,"raw":`...)
			b = audit.AppendQuote(b, string(l.Raw))
		} else {
			b = append(b, `,"raw_base64":"`...)
			b = base64.StdEncoding.AppendEncode(b, l.Raw)
			b = append(b, '"')
		}
	case l.Raw != nil:
		sum := sha256.Sum256(l.Raw)
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, int64(len(l.Raw)), 10)
		b = append(b, `,"sha256":"`...)
		b = hex.AppendEncode(b, sum[:])
		b = append(b, `","prefix":`...)
		b = audit.AppendQuote(b, MaskPrefix(l.Raw, DeadLetterPrefix))
	case l.Size > 0:
		b = append(b, `,"size":`...)
		b = strconv.AppendInt(b, int64(l.Size), 10)
	}
	b = append(b, "}\n"...)
	d.buf = b
	if d.size > 0 && d.size+int64(len(b)) > d.opt.MaxSize {
		if err := d.rotate(); err != nil {
			return err
		}
	}
	if _, err := d.w.Write(b); err != nil {
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	if err := d.w.Flush(); err != nil {
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	if err := d.f.Sync(); err != nil {
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	d.size += int64(len(b))
	return nil
}

// rotate renames path to path.1 (shifting older files up, dropping the
// one past MaxFiles) and opens a new path.
func (d *DeadLetter) rotate() error {
	if err := d.w.Flush(); err != nil {
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	if err := d.f.Close(); err != nil {
		return fmt.Errorf("dead letter %s: %w", d.path, err)
	}
	name := func(i int) string { return d.path + "." + strconv.Itoa(i) }
	_ = os.Remove(name(d.opt.MaxFiles))
	for i := d.opt.MaxFiles - 1; i >= 1; i-- {
		if _, err := os.Stat(name(i)); err == nil {
			if err := os.Rename(name(i), name(i+1)); err != nil {
				return fmt.Errorf("dead letter rotation: %w", err)
			}
		}
	}
	if err := os.Rename(d.path, name(1)); err != nil {
		return fmt.Errorf("dead letter rotation: %w", err)
	}
	return d.open()
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

// shownKeys are the members whose string values MaskPrefix shows: they
// identify an audit event and never hold a secret.
var shownKeys = map[string]bool{`"kind"`: true, `"apiVersion"`: true, `"level"`: true, `"auditID"`: true, `"stage"`: true, `"verb"`: true}

// MaskPrefix returns at most max bytes of the start of b with every value
// masked: the contents of JSON strings that are not object keys become
// "***" (but for the audit event's kind, apiVersion, level, auditID, stage
// and verb), and letters outside strings other than true, false and null
// become '*'. Structure, keys, numbers and punctuation stay, so a reader
// can see what kind of input it was, and which event, without seeing its
// values. Invalid UTF-8 is replaced.
func MaskPrefix(b []byte, max int) string {
	cut := len(b) > max
	if cut {
		b = b[:max]
	}
	out := make([]byte, 0, len(b)+8)
	key := "" // the last object key seen
	afterColon := false
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(b) && b[j] != '"' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			closed := j < len(b)
			end := min(j+1, len(b))
			k := end
			for k < len(b) && (b[k] == ' ' || b[k] == '\t' || b[k] == '\n' || b[k] == '\r') {
				k++
			}
			switch {
			case closed && k < len(b) && b[k] == ':':
				out = appendValidUTF8(out, b[i:end])
				key = string(b[i:end])
			case closed && afterColon && shownKeys[key] && end-i <= 80:
				out = appendValidUTF8(out, b[i:end])
			default:
				out = append(out, `"***`...)
				if closed {
					out = append(out, '"')
				}
			}
			afterColon = false
			i = end
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
			j := i
			for j < len(b) && (b[j] >= 'a' && b[j] <= 'z' || b[j] >= 'A' && b[j] <= 'Z' || b[j] == '_' || b[j] >= '0' && b[j] <= '9') {
				j++
			}
			switch w := string(b[i:j]); w {
			case "true", "false", "null":
				out = append(out, w...)
			default:
				out = append(out, '*')
			}
			i = j
		case c < utf8.RuneSelf:
			out = append(out, c)
			if c == ':' {
				afterColon = true
			} else if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
				afterColon = false
			}
			i++
		default:
			_, n := utf8.DecodeRune(b[i:])
			out = append(out, '*')
			i += n
		}
	}
	if cut {
		out = append(out, "…"...)
	}
	return string(out)
}

func appendValidUTF8(out, b []byte) []byte {
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			out = append(out, "\uFFFD"...)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return out
}
