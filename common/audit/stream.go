package audit

import (
	"bufio"
	"io"

	"github.com/auditlane/auditlane/common/provider"
)

// This file splits a stream into top-level JSON values. JSON lines take a
// zero-copy fast path (a line that starts with '{' and ends with '}' is one
// value, validated later by the parser); values spread over several lines
// (pretty-printed events, EventList bodies, arrays) are gathered with a
// bracket counter. A line that starts in column 0 with '{' or '[' while a
// value is still open means the open value was truncated: real truncation
// happens at line ends, and pretty-printers indent nested values.

// streamState is the Decoder's line-level state.
type streamState struct {
	lbuf     []byte // long lines
	acc      []byte // multi-line value being gathered
	pend     []byte // a line to process before reading more
	pendLine int
	pendOff  int64
	hasPend  bool
	skipping bool // after a bad multi-line value: skip to the next column-0 value
	// rejectedBuf keeps a truncated value whose buffer is reused.
	rejectedBuf []byte
}

func (d *Decoder) maxSize() int {
	if d.MaxSize > 0 {
		return d.MaxSize
	}
	return DefaultMaxSize
}

// readLine returns the next line without its line terminator. tooLong
// reports a line longer than MaxSize, whose content is then discarded.
func (d *Decoder) readLine() (line []byte, lineNo int, off int64, tooLong bool, err error) {
	if d.hasPend {
		d.hasPend = false
		return d.pend, d.pendLine, d.pendOff, false, nil
	}
	lineNo, off = d.line, d.off
	max := d.maxSize() + 2 // room for "\r\n"
	frag, err := d.r.ReadSlice('\n')
	d.off += int64(len(frag))
	switch err {
	case nil:
		d.line++
		return trimEOL(frag), lineNo, off, len(frag) > max, nil
	case io.EOF:
		if len(frag) == 0 {
			return nil, lineNo, off, false, io.EOF
		}
		return trimEOL(frag), lineNo, off, len(frag) > max, nil
	case bufio.ErrBufferFull:
	default:
		return nil, lineNo, off, false, err
	}
	d.lbuf = append(d.lbuf[:0], frag...)
	for {
		frag, err = d.r.ReadSlice('\n')
		d.off += int64(len(frag))
		if !tooLong {
			if len(d.lbuf)+len(frag) > max {
				tooLong = true
				d.lbuf = d.lbuf[:0]
			} else {
				d.lbuf = append(d.lbuf, frag...)
			}
		}
		switch err {
		case bufio.ErrBufferFull:
			continue
		case nil:
			d.line++
		case io.EOF:
		default:
			return nil, lineNo, off, false, err
		}
		return trimEOL(d.lbuf), lineNo, off, tooLong, nil
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// bracketState counts open brackets outside strings.
type bracketState struct {
	depth    int
	inString bool
	escape   bool
}

// scan advances over b[from:] and returns the index after the value's
// closing bracket and true when the depth returns to zero.
func (s *bracketState) scan(b []byte, from int) (int, bool) {
	for i := from; i < len(b); i++ {
		c := b[i]
		if s.inString {
			if s.escape {
				s.escape = false
				continue
			}
			i = nextSpecial(b, i)
			if i >= len(b) {
				return len(b), false
			}
			switch b[i] {
			case '\\':
				s.escape = true
			case '"':
				s.inString = false
			}
			continue
		}
		switch c {
		case '"':
			s.inString = true
		case '{', '[':
			s.depth++
		case '}', ']':
			s.depth--
			if s.depth <= 0 {
				return i + 1, true
			}
		}
	}
	return len(b), false
}

// readValue returns the next top-level JSON object or array, the line it
// starts on and its stream offset. The bytes are valid until the next call.
// Errors about the input are *DecodeError; others come from the reader.
func (d *Decoder) readValue() ([]byte, int, int64, error) {
	var (
		gathering bool
		accLine   int
		accOff    int64
		st        bracketState
	)
	var cur []byte // the bad value's bytes, for Decoder.Rejected
	fail := func(err error, detail string) ([]byte, int, int64, error) {
		if err != ErrTooLarge {
			d.rejected = cur
		}
		d.acc = d.acc[:0]
		d.skipping = gathering
		return nil, 0, 0, &DecodeError{Line: accLine, Offset: accOff, Pos: -1, Index: -1, Err: err, Detail: detail}
	}
	for {
		line, lineNo, off, tooLong, err := d.readLine()
		if err == io.EOF {
			if gathering {
				d.skipping = false
				return fail(ErrSyntax, "unexpected end of input: value truncated")
			}
			return nil, 0, 0, io.EOF
		}
		if err != nil {
			return nil, 0, 0, err
		}
		if gathering && len(line) > 0 && (line[0] == '{' || line[0] == '[') {
			cur = append(d.rejectedBuf[:0], d.acc...)
			d.rejectedBuf = cur
			d.pend = append(d.pend[:0], line...)
			d.pendLine, d.pendOff, d.hasPend = lineNo, off, true
			gathering = false // the new value starts afresh; no skipping
			return fail(ErrSyntax, "value truncated: a new value starts on line "+itoa(lineNo))
		}
		if d.skipping {
			if len(line) == 0 || (line[0] != '{' && line[0] != '[') {
				continue
			}
			d.skipping = false
		}
		if tooLong {
			if !gathering {
				accLine, accOff = lineNo, off
			}
			return fail(ErrTooLarge, "line longer than "+itoa(d.maxSize())+" bytes")
		}
		if !gathering {
			t0, t1 := trimSpace(line)
			if t0 == t1 {
				continue
			}
			accLine, accOff = lineNo, off+int64(t0)
			cur = line[t0:t1]
			c, last := line[t0], line[t1-1]
			if c != '{' && c != '[' {
				if c >= '0' && c <= '9' && provider.IsTimestampPrefix(line[t0:t1]) {
					// A CloudWatch export-task line: "<time> <event>".
					return line[t0:t1], lineNo, off + int64(t0), nil
				}
				if t0 == 0 && isYAMLStart(line) {
					return d.readYAML(line, lineNo, off)
				}
				return fail(ErrNotObject, "line does not start a JSON object or array")
			}
			if c == '{' && last == '}' || c == '[' && last == ']' {
				return line[t0:t1], lineNo, off + int64(t0), nil
			}
			gathering = true
			st = bracketState{}
			d.acc = append(d.acc[:0], line[t0:t1]...)
		} else {
			d.acc = append(d.acc, '\n')
			d.acc = append(d.acc, line...)
		}
		cur = d.acc
		from := len(d.acc) - len(line)
		if from < 0 || !gathering {
			from = 0
		}
		if len(d.acc) > d.maxSize() {
			return fail(ErrTooLarge, "value longer than "+itoa(d.maxSize())+" bytes")
		}
		end, done := st.scan(d.acc, from)
		if done {
			if st.depth < 0 {
				return fail(ErrSyntax, "unbalanced closing bracket")
			}
			if t0, t1 := trimSpace(d.acc[end:]); t0 < t1 {
				rest := d.acc[end+t0 : end+t1]
				d.pend = append(d.pend[:0], rest...)
				d.pendLine, d.pendOff, d.hasPend = lineNo, off+int64(len(line)-len(rest)), true
			}
			return d.acc[:end], accLine, accOff, nil
		}
		if st.inString {
			return fail(ErrSyntax, "line ends inside a string: value truncated")
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// readYAML gathers one YAML document that starts with first (gcloud
// logging read writes LogEntries as documents separated by "---"): up to
// the next document marker, a line that starts a JSON value, or the end.
func (d *Decoder) readYAML(first []byte, lineNo int, off int64) ([]byte, int, int64, error) {
	d.acc = d.acc[:0]
	if !isDocMarker(first) {
		d.acc = append(d.acc, first...)
	}
	for {
		line, ln, lo, tooLong, err := d.readLine()
		if err == io.EOF {
			return d.acc, lineNo, off, nil
		}
		if err != nil {
			return nil, 0, 0, err
		}
		if len(line) > 0 && (line[0] == '{' || line[0] == '[') {
			d.pend = append(d.pend[:0], line...)
			d.pendLine, d.pendOff, d.hasPend = ln, lo, true
			return d.acc, lineNo, off, nil
		}
		if isDocMarker(line) {
			if len(trimYAMLSpace(d.acc)) == 0 {
				continue // "---" before the first document
			}
			if string(line[:3]) == "---" {
				d.pend = append(d.pend[:0], line...)
				d.pendLine, d.pendOff, d.hasPend = ln, lo, true
			}
			return d.acc, lineNo, off, nil
		}
		if tooLong || len(d.acc)+len(line) > d.maxSize() {
			d.acc = d.acc[:0]
			d.skipping = true
			return nil, 0, 0, &DecodeError{Line: lineNo, Offset: off, Pos: -1, Index: -1, Err: ErrTooLarge, Detail: "YAML document longer than " + itoa(d.maxSize()) + " bytes"}
		}
		if len(d.acc) > 0 {
			d.acc = append(d.acc, '\n')
		}
		d.acc = append(d.acc, line...)
	}
}

// isDocMarker reports a YAML document start ("---") or end ("...") line.
func isDocMarker(line []byte) bool {
	if len(line) < 3 || (string(line[:3]) != "---" && string(line[:3]) != "...") {
		return false
	}
	return len(line) == 3 || line[3] == ' ' || line[3] == '\t'
}

func trimYAMLSpace(b []byte) []byte {
	t0, t1 := trimSpace(b)
	return b[t0:t1]
}
