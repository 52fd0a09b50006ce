package audit

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// DefaultMaxSize is the default limit on one top-level input value (a line
// of JSON lines, a whole EventList or array).
const DefaultMaxSize = 64 << 20

// Parse decodes one audit event from raw, a single JSON object (surrounding
// whitespace allowed), into ev, reusing ev's memory. ev.Raw is set to the
// object's bytes inside raw (not copied). Position fields (Line, Offset,
// Index) are left for the caller. A record holding several events (an
// EventList, an array, a provider batch) is refused with ErrList: pass
// records to Records. Errors are *DecodeError.
func Parse(raw []byte, ev *Event) error {
	// Leading space is skipped here and trailing space by parse, which
	// reads the event front to back: touching its last byte first would
	// cost a cache miss ahead of the scan.
	start := 0
	for start < len(raw) && isSpace(raw[start]) {
		start++
	}
	ev.Raw = raw[start:]
	ev.Line, ev.Offset, ev.Index = 0, 0, -1
	if start < len(raw) && raw[start] == '[' {
		return listErr("a JSON array")
	}
	if err := ev.parse(); err != nil {
		err.Pos += start
		return err
	}
	if ev.isList {
		return listErr("an EventList")
	}
	if ev.isProvider {
		sp := &ev.split
		if perr := sp.convert(ev.Raw, nil); perr != nil {
			return perr
		}
		if len(sp.conv.Units) != 1 {
			sp.reset()
			return listErr("a batch of provider records")
		}
		u := &sp.conv.Units[0]
		sp.cnext = 1
		if perr := ev.parseUnit(&sp.conv, u); perr != nil {
			return perr // a nil *DecodeError must not become a non-nil error
		}
		ev.Line, ev.Offset, ev.Index = 0, 0, -1
	}
	return nil
}

func listErr(what string) *DecodeError {
	return &DecodeError{Pos: -1, Index: -1, Err: ErrList, Detail: what + " holds several events: decode the record with audit.Records"}
}

// Decoder reads audit events from a stream holding any mix of JSON lines of
// Event, EventList objects (webhook batches) and JSON arrays of events, as
// compact lines or pretty-printed.
//
// Lists are streamed: the items of an EventList or an array are decoded one
// by one as they are read, each bounded by MaxSize, so the memory a list
// takes is that of its largest item, not of the list. (A list that fits a
// line of the read buffer, 64 KiB, is split as Records splits it.) Items
// read before a list turns out broken (truncated, a syntax error between
// items, bad members after the items) have been returned by then.
//
// After a bad value, the Decoder reports one *DecodeError and resumes at the
// next line that starts a JSON object or array, so one truncated line costs
// one event, not the rest of the stream.
type Decoder struct {
	// MaxSize limits one top-level value in bytes, or one item of a
	// streamed list (default DefaultMaxSize). A longer value is skipped
	// and reported as ErrTooLarge.
	MaxSize int

	r    *bufio.Reader
	line int   // 1-based line of the next unread byte
	off  int64 // stream offset of the next unread byte
	streamState

	err      error // sticky read error
	ev       Event
	rejected []byte
}

// Rejected returns the bytes of the value behind the last *DecodeError
// from Next (nil for values too large to keep), valid until the next call.
func (d *Decoder) Rejected() []byte { return d.rejected }

// NewDecoder returns a Decoder reading from r.
func NewDecoder(r io.Reader) *Decoder { return newDecoderSize(r, 64<<10) }

// newDecoderSize returns a Decoder whose read buffer holds size bytes: the
// longest line the fast path takes (tests stream small lists with it).
func newDecoderSize(r io.Reader, size int) *Decoder {
	return &Decoder{r: bufio.NewReaderSize(r, size), line: 1, streamState: streamState{bol: true}}
}

// Next returns the next event. The Event is owned by the Decoder and valid
// until the next call to Next (Clone it to keep it). Next returns a
// *DecodeError for a bad value and can be called again to continue; it
// returns io.EOF at the end of the input and other errors from the reader.
func (d *Decoder) Next() (*Event, error) {
	d.rejected = nil
	for {
		if ev, bad, perr, ok := d.ev.split.item(&d.ev); ok {
			if d.list.active {
				d.list.idx = d.ev.split.n // items of a streamed list are numbered on
			}
			if perr != nil {
				d.rejected = bad
				return nil, perr
			}
			return ev, nil
		}
		if d.err != nil {
			return nil, d.err
		}
		if d.list.active {
			raw, line, off, err := d.listItem()
			if err == errListEnd {
				continue
			}
			if err != nil {
				var de *DecodeError
				if errors.As(err, &de) {
					return nil, err
				}
				d.err = err
				continue
			}
			// The splitter decodes the item as it decodes the items of a
			// list it holds whole.
			sp := &d.ev.split
			sp.batch, sp.line, sp.off = raw, line, off
			sp.items = append(sp.items[:0], [2]int{0, len(raw)})
			sp.next, sp.n = 0, d.list.idx
			continue
		}
		raw, line, off, err := d.readValue()
		if err == errListStart {
			continue
		}
		if err != nil {
			var de *DecodeError
			if errors.As(err, &de) {
				return nil, err
			}
			d.err = err
			continue
		}
		if len(raw) == 0 {
			continue
		}
		ev, perr := d.ev.split.first(&d.ev, raw, line, off)
		if perr != nil {
			d.rejected = raw
			if d.ev.Raw != nil {
				d.rejected = d.ev.Raw // the failed unit of a converted record
			}
			return nil, perr
		}
		if ev != nil {
			return ev, nil
		}
	}
}

// ForEach decodes every event in data (JSON lines, EventList or array) and
// calls fn for each event or decode error in input order; fn returns false
// to stop. The Event passed to fn is reused between calls.
func ForEach(data []byte, fn func(ev *Event, err error) bool) error {
	d := NewDecoder(bytes.NewReader(data))
	d.MaxSize = len(data) + 1
	for {
		ev, err := d.Next()
		if err == io.EOF {
			return nil
		}
		var de *DecodeError
		if err != nil && !errors.As(err, &de) {
			return err
		}
		if !fn(ev, err) {
			return nil
		}
	}
}

func trimSpace(b []byte) (int, int) {
	i, j := 0, len(b)
	for i < j && isSpace(b[i]) {
		i++
	}
	for j > i && isSpace(b[j-1]) {
		j--
	}
	return i, j
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
