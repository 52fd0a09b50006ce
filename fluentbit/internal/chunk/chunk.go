// Package chunk reads Fluent Bit chunks — concatenated msgpack log records —
// without copying them or reflecting them into Go maps.
//
// Two record layouts are accepted: event format v2 ([[timestamp, metadata],
// record], Fluent Bit ≥ 2.1) and the older [timestamp, record]. A timestamp is
// an EventTime (msgpack ext type 0: big-endian uint32 seconds and
// nanoseconds), an integer or a float of seconds. The record must be a map.
//
// Fluent Bit ≥ 3 frames groups of records (OpenTelemetry resources and
// scopes) with marker records whose timestamp seconds are -1 (group start,
// carrying the group's attributes) and -2 (group end). Markers are framing,
// not events: the Reader skips them.
package chunk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/tinylib/msgp/msgp"
)

// Entry is one record of a chunk. Its slices point into the chunk.
type Entry struct {
	// Time is the record's Fluent Bit timestamp.
	Time time.Time
	// Map is the record's msgpack map, exactly as in the chunk.
	Map []byte
	// Raw is the whole record (array with timestamp and map) in the chunk.
	Raw []byte
}

// Reader iterates over the records of a chunk.
type Reader struct {
	b       []byte
	off     int
	markers int
}

// NewReader returns a Reader over chunk; the chunk is not copied.
func NewReader(chunk []byte) *Reader { return &Reader{b: chunk} }

// Reset makes r read chunk from its start.
func (r *Reader) Reset(chunk []byte) { r.b, r.off, r.markers = chunk, 0, 0 }

// Offset is the number of bytes consumed so far.
func (r *Reader) Offset() int { return r.off }

// ErrFormat is wrapped by every error about a malformed record.
var ErrFormat = errors.New("malformed record")

// Next decodes the next record, skipping group markers. It returns io.EOF at
// the end of the chunk. After any other error the rest of the chunk cannot
// be located and Next keeps returning that error.
func (r *Reader) Next(e *Entry) error {
	for {
		marker, err := r.next(e)
		if err != nil || !marker {
			return err
		}
		r.markers++
	}
}

// GroupMarkers is the number of group start and end markers skipped so far.
func (r *Reader) GroupMarkers() int { return r.markers }

// next decodes one record and reports whether it is a group marker.
func (r *Reader) next(e *Entry) (marker bool, err error) {
	rest := r.b[r.off:]
	if len(rest) == 0 {
		return false, io.EOF
	}
	n, p, err := msgp.ReadArrayHeaderBytes(rest)
	if err != nil {
		return false, r.fail("record is not an array: %v", err)
	}
	if n != 2 {
		return false, r.fail("record array has %d elements, want 2", n)
	}
	// v2: the first element is [timestamp, metadata].
	if msgp.NextType(p) == msgp.ArrayType {
		m, q, err := msgp.ReadArrayHeaderBytes(p)
		if err != nil || m < 1 {
			return false, r.fail("v2 header is not [timestamp, metadata]")
		}
		if e.Time, marker, q, err = readTime(q); err != nil {
			return false, r.fail("%v", err)
		}
		for i := uint32(1); i < m; i++ {
			if q, err = msgp.Skip(q); err != nil {
				return false, r.fail("v2 metadata: %v", err)
			}
		}
		p = q
	} else if e.Time, marker, p, err = readTime(p); err != nil {
		return false, r.fail("%v", err)
	}
	if marker {
		end, err := msgp.Skip(p)
		if err != nil {
			return false, r.fail("group marker body: %v", err)
		}
		r.off += len(rest) - len(end)
		return true, nil
	}
	if msgp.NextType(p) != msgp.MapType {
		return false, r.fail("record body is %s, want map", msgp.NextType(p))
	}
	end, err := msgp.Skip(p)
	if err != nil {
		return false, r.fail("record body: %v", err)
	}
	e.Map = p[:len(p)-len(end)]
	used := len(rest) - len(end)
	e.Raw = rest[:used]
	r.off += used
	return false, nil
}

func (r *Reader) fail(format string, args ...any) error {
	err := fmt.Errorf("chunk: record at byte %d: %w: %s", r.off, ErrFormat, fmt.Sprintf(format, args...))
	return err
}

// Group marker timestamps (seconds), as Fluent Bit's
// FLB_LOG_EVENT_GROUP_START and FLB_LOG_EVENT_GROUP_END.
const (
	groupStart = -1
	groupEnd   = -2
)

// readTime reads a Fluent Bit timestamp and reports whether it marks a
// group start or end.
func readTime(b []byte) (t time.Time, marker bool, rest []byte, err error) {
	if len(b) == 0 {
		return time.Time{}, false, b, errors.New("missing timestamp")
	}
	switch b[0] {
	case 0xd7: // fixext8
		if len(b) < 10 || int8(b[1]) != 0 {
			return time.Time{}, false, b, errors.New("timestamp: ext is not an EventTime (type 0, 8 bytes)")
		}
		return eventTime(b[2:10]), eventMarker(b[2:10]), b[10:], nil
	case 0xc7: // ext8
		if len(b) < 11 || b[1] != 8 || int8(b[2]) != 0 {
			return time.Time{}, false, b, errors.New("timestamp: ext is not an EventTime (type 0, 8 bytes)")
		}
		return eventTime(b[3:11]), eventMarker(b[3:11]), b[11:], nil
	}
	switch msgp.NextType(b) {
	case msgp.IntType:
		v, o, err := msgp.ReadInt64Bytes(b)
		return time.Unix(v, 0), err == nil && (v == groupStart || v == groupEnd), o, err
	case msgp.UintType:
		v, o, err := msgp.ReadUint64Bytes(b)
		if err == nil && v > math.MaxInt64 {
			// FLB_TIME_ETFMT_INT packs the signed seconds as uint64.
			if s := int64(v); s == groupStart || s == groupEnd {
				return time.Unix(s, 0), true, o, nil
			}
			err = errors.New("timestamp out of range")
		}
		return time.Unix(int64(v), 0), false, o, err
	case msgp.Float64Type, msgp.Float32Type:
		v, o, err := msgp.ReadFloat64Bytes(b)
		if err == nil && (math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e12) {
			err = errors.New("timestamp out of range")
		}
		sec, frac := math.Modf(v)
		return time.Unix(int64(sec), int64(frac*1e9)), false, o, err
	}
	return time.Time{}, false, b, fmt.Errorf("timestamp is %s, want EventTime or number", msgp.NextType(b))
}

// eventMarker reports whether an EventTime's seconds, read as Fluent Bit
// reads them (int32), mark a group start or end.
func eventMarker(b []byte) bool {
	s := int32(binary.BigEndian.Uint32(b))
	return s == groupStart || s == groupEnd
}

func eventTime(b []byte) time.Time {
	return time.Unix(int64(binary.BigEndian.Uint32(b)), int64(binary.BigEndian.Uint32(b[4:])))
}

// Lookup returns the value of the first string key equal to key in the
// msgpack map m, as raw msgpack, or ok=false.
func Lookup(m []byte, key string) (val []byte, ok bool, err error) {
	n, p, err := msgp.ReadMapHeaderBytes(m)
	if err != nil {
		return nil, false, fmt.Errorf("chunk: %w: %v", ErrFormat, err)
	}
	for i := uint32(0); i < n; i++ {
		var k []byte
		switch msgp.NextType(p) {
		case msgp.StrType:
			k, p, err = msgp.ReadStringZC(p)
		case msgp.BinType:
			k, p, err = msgp.ReadBytesZC(p)
		default:
			p, err = msgp.Skip(p)
		}
		if err != nil {
			return nil, false, fmt.Errorf("chunk: %w: map key: %v", ErrFormat, err)
		}
		end, err := msgp.Skip(p)
		if err != nil {
			return nil, false, fmt.Errorf("chunk: %w: map value: %v", ErrFormat, err)
		}
		if k != nil && string(k) == key {
			return p[:len(p)-len(end)], true, nil
		}
		p = end
	}
	return nil, false, nil
}

// StringValue returns the bytes of a msgpack str or bin value (zero-copy).
func StringValue(v []byte) ([]byte, bool) {
	switch msgp.NextType(v) {
	case msgp.StrType:
		s, _, err := msgp.ReadStringZC(v)
		return s, err == nil
	case msgp.BinType:
		s, _, err := msgp.ReadBytesZC(v)
		return s, err == nil
	}
	return nil, false
}

// AppendJSON appends the JSON form of the msgpack value v to dst.
func AppendJSON(dst []byte, v []byte) ([]byte, error) {
	w := appendWriter{b: dst}
	if _, err := msgp.UnmarshalAsJSON(&w, v); err != nil {
		return dst, fmt.Errorf("chunk: record to JSON: %w", err)
	}
	return w.b, nil
}

// appendWriter is the minimal writer msgp's JSON translation needs.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }
func (w *appendWriter) WriteByte(c byte) error      { w.b = append(w.b, c); return nil }
func (w *appendWriter) WriteString(s string) (int, error) {
	w.b = append(w.b, s...)
	return len(s), nil
}

// AppendRecordV2 appends a record in event format v2 with an EventTime
// timestamp and empty metadata; body is a msgpack map. Tests, benchmarks and
// the harness use it to build chunks.
func AppendRecordV2(dst []byte, t time.Time, body []byte) []byte {
	dst = msgp.AppendArrayHeader(dst, 2)
	dst = msgp.AppendArrayHeader(dst, 2)
	dst = AppendEventTime(dst, t)
	dst = msgp.AppendMapHeader(dst, 0)
	return append(dst, body...)
}

// AppendEventTime appends t as an EventTime (fixext8, type 0).
func AppendEventTime(dst []byte, t time.Time) []byte {
	dst = append(dst, 0xd7, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(t.Unix()))
	return binary.BigEndian.AppendUint32(dst, uint32(t.Nanosecond()))
}
