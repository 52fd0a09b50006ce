package sls

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/buger/jsonparser"

	"github.com/auditlane/auditlane/common/sink"
)

// The writer serialises LogGroups itself, following the SDK's log.proto
// (proto2):
//
//	message LogContent { required string Key = 1; required string Value = 2; }
//	message Log { required uint32 Time = 1; repeated LogContent Contents = 2; optional fixed32 TimeNs = 4; }
//	message LogTag { required string Key = 1; required string Value = 2; }
//	message LogGroup { repeated Log Logs = 1; optional string Topic = 3; optional string Source = 4; repeated LogTag LogTags = 6; }
//
// Encoding straight into a reusable buffer avoids the SDK's pointer-heavy
// generated types (three allocations per field) and gives exact sizes for
// batching. The bytes are sent with the SDK's PostRawLogWithCompressType,
// and the test server decodes them with the SDK's generated Unmarshal.
const (
	tagGroupLogs   = 1<<3 | 2 // LogGroup.Logs, length-delimited
	tagGroupTopic  = 3<<3 | 2
	tagGroupSource = 4<<3 | 2
	tagGroupTags   = 6<<3 | 2
	tagLogTime     = 1<<3 | 0 // Log.Time, varint
	tagLogContents = 2<<3 | 2
	tagLogTimeNs   = 4<<3 | 5 // Log.TimeNs, fixed32
	tagKey         = 1<<3 | 2 // LogContent.Key / LogTag.Key
	tagValue       = 2<<3 | 2 // LogContent.Value / LogTag.Value
)

// Reasons reported in sink.Result.Reason for records rejected before they
// are sent.
const (
	ReasonInvalidBody = "invalid_body" // Body is not a JSON object
	ReasonEmpty       = "empty"        // no fields to store
	ReasonInvalidKey  = "invalid_key"  // empty, too long or reserved key
	ReasonTooLarge    = "too_large"    // a value or the whole log exceeds a limit
	ReasonInvalidTime = "invalid_time" // time not representable as uint32 seconds
)

// reservedKeys are the SLS reserved field names; a log field with one of
// these names would collide with the LogGroup metadata.
var reservedKeys = map[string]bool{
	"__time__":           true,
	"__time_ns_part__":   true,
	"__source__":         true,
	"__topic__":          true,
	"__partition_time__": true,
	"_extract_others_":   true,
	"__extract_others__": true,
}

// recordError is a per-record rejection found while encoding.
type recordError struct {
	reason string
	msg    string
}

func (e *recordError) Error() string { return "sls: " + e.msg }

// kv is one log field. Exactly one of the string or byte forms is set.
type kv struct {
	ks, vs string
	kb, vb []byte
	str    bool
}

func (f *kv) keyLen() int {
	if f.str {
		return len(f.ks)
	}
	return len(f.kb)
}

func (f *kv) valLen() int {
	if f.str {
		return len(f.vs)
	}
	return len(f.vb)
}

func (f *kv) key() string {
	if f.str {
		return f.ks
	}
	return string(f.kb)
}

// encoder turns records into serialized Log messages. It is not safe for
// concurrent use; each Write uses its own.
type encoder struct {
	kvs     []kv
	scratch []byte
	now     func() time.Time
}

// layout fills e.kvs with the record's fields: Record.Fields when set,
// otherwise the top-level keys of Record.Body (strings unquoted, other
// values as compact JSON text).
func (e *encoder) layout(rec *sink.Record) error {
	e.kvs = e.kvs[:0]
	if rec.Fields != nil {
		for _, f := range rec.Fields {
			e.kvs = append(e.kvs, kv{ks: f.Key, vs: f.Value, str: true})
		}
		return nil
	}
	body := rec.Body
	if len(body) == 0 {
		return &recordError{ReasonEmpty, "record has neither fields nor body"}
	}
	// Unescaped keys/values and compacted JSON are never longer than
	// their source, so a scratch buffer of len(body) never reallocates and
	// slices into it stay valid.
	if cap(e.scratch) < len(body) {
		e.scratch = make([]byte, 0, len(body))
	}
	e.scratch = e.scratch[:0]
	var bad error
	err := jsonparser.ObjectEach(body, func(key, value []byte, dt jsonparser.ValueType, _ int) error {
		k, err := e.unescape(key)
		if err != nil {
			bad = &recordError{ReasonInvalidBody, "body: bad key escape: " + err.Error()}
			return bad
		}
		var v []byte
		switch dt {
		case jsonparser.String:
			v, err = e.unescape(value)
			if err != nil {
				bad = &recordError{ReasonInvalidBody, fmt.Sprintf("body: bad string escape in %q: %v", k, err)}
				return bad
			}
		case jsonparser.Object, jsonparser.Array:
			v = e.compact(value)
		case jsonparser.Null:
			v = nil // stored as "", like the shape package's SLS layout
		default:
			v = value
		}
		e.kvs = append(e.kvs, kv{kb: k, vb: v})
		return nil
	})
	if bad != nil {
		return bad
	}
	if err != nil {
		return &recordError{ReasonInvalidBody, "body is not a JSON object: " + err.Error()}
	}
	return nil
}

// unescape decodes JSON string escapes into scratch; input without escapes
// is returned as is.
func (e *encoder) unescape(in []byte) ([]byte, error) {
	if bytes.IndexByte(in, '\\') < 0 {
		return in, nil
	}
	n := len(e.scratch)
	out, err := jsonparser.Unescape(in, e.scratch[n:cap(e.scratch)])
	if err != nil {
		return nil, err
	}
	if cap(e.scratch)-n >= len(in) {
		// Unescape wrote into the free tail of scratch.
		e.scratch = e.scratch[:n+len(out)]
	}
	return out, nil
}

// compact returns v without insignificant whitespace, copying only when
// there is whitespace to remove.
func (e *encoder) compact(v []byte) []byte {
	ws := false
	for _, c := range v {
		if c == ' ' || c == '\n' || c == '\t' || c == '\r' {
			ws = true
			break
		}
	}
	if !ws {
		return v
	}
	n := len(e.scratch)
	out := e.scratch
	inStr, esc := false, false
	for _, c := range v {
		if inStr {
			out = append(out, c)
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			}
			continue
		}
		switch c {
		case ' ', '\n', '\t', '\r':
			continue
		case '"':
			inStr = true
		}
		out = append(out, c)
	}
	e.scratch = out
	return out[n:]
}

// check validates the current layout against the SLS data model limits.
func (e *encoder) check() error {
	if len(e.kvs) == 0 {
		return &recordError{ReasonEmpty, "record has no fields"}
	}
	for i := range e.kvs {
		f := &e.kvs[i]
		// Protobuf strings are UTF-8; replace invalid bytes with U+FFFD as
		// encoding/json does rather than lose the record.
		if f.str {
			if !utf8.ValidString(f.ks) {
				f.ks = strings.ToValidUTF8(f.ks, "\uFFFD")
			}
			if !utf8.ValidString(f.vs) {
				f.vs = strings.ToValidUTF8(f.vs, "\uFFFD")
			}
		} else {
			if !utf8.Valid(f.kb) {
				f.kb = bytes.ToValidUTF8(f.kb, []byte("\uFFFD"))
			}
			if !utf8.Valid(f.vb) {
				f.vb = bytes.ToValidUTF8(f.vb, []byte("\uFFFD"))
			}
		}
		kl := f.keyLen()
		if kl == 0 {
			return &recordError{ReasonInvalidKey, "empty field key"}
		}
		if kl > MaxKeyBytes {
			return &recordError{ReasonInvalidKey, fmt.Sprintf("field key of %d bytes exceeds %d", kl, MaxKeyBytes)}
		}
		if f.str {
			if reservedKeys[f.ks] || strings.HasPrefix(f.ks, "__tag__:") {
				return &recordError{ReasonInvalidKey, fmt.Sprintf("field key %q is reserved by SLS", f.ks)}
			}
		} else if reservedKeys[string(f.kb)] || bytes.HasPrefix(f.kb, []byte("__tag__:")) {
			return &recordError{ReasonInvalidKey, fmt.Sprintf("field key %q is reserved by SLS", f.kb)}
		}
		if vl := f.valLen(); vl > MaxValueBytes {
			return &recordError{ReasonTooLarge, fmt.Sprintf("value of %q has %d bytes, limit %d", f.key(), vl, MaxValueBytes)}
		}
	}
	return nil
}

// logTime converts a record time to SLS seconds and nanoseconds.
func (e *encoder) logTime(t time.Time) (uint32, uint32, error) {
	if t.IsZero() {
		t = e.now()
	}
	s := t.Unix()
	if s < 0 || s > math.MaxUint32 {
		return 0, 0, &recordError{ReasonInvalidTime, fmt.Sprintf("time %s is outside the SLS range (1970..2106)", t.UTC().Format(time.RFC3339))}
	}
	return uint32(s), uint32(t.Nanosecond()), nil
}

// appendLog appends the record as one LogGroup.Logs entry (tag, length,
// Log message) to dst. It returns dst unchanged and an error when the
// record cannot be stored.
func (e *encoder) appendLog(dst []byte, rec *sink.Record) ([]byte, error) {
	if err := e.layout(rec); err != nil {
		return dst, err
	}
	if err := e.check(); err != nil {
		return dst, err
	}
	sec, ns, err := e.logTime(rec.Time)
	if err != nil {
		return dst, err
	}
	size := 1 + varintLen(uint64(sec)) + 1 + 4
	for i := range e.kvs {
		cs := contentLen(e.kvs[i].keyLen(), e.kvs[i].valLen())
		size += 1 + varintLen(uint64(cs)) + cs
	}
	dst = append(dst, tagGroupLogs)
	dst = appendVarint(dst, uint64(size))
	dst = append(dst, tagLogTime)
	dst = appendVarint(dst, uint64(sec))
	for i := range e.kvs {
		f := &e.kvs[i]
		dst = append(dst, tagLogContents)
		dst = appendVarint(dst, uint64(contentLen(f.keyLen(), f.valLen())))
		if f.str {
			dst = appendBytesField(dst, tagKey, f.ks)
			dst = appendBytesField(dst, tagValue, f.vs)
		} else {
			dst = appendBytesField(dst, tagKey, f.kb)
			dst = appendBytesField(dst, tagValue, f.vb)
		}
	}
	dst = append(dst, tagLogTimeNs, byte(ns), byte(ns>>8), byte(ns>>16), byte(ns>>24))
	return dst, nil
}

func contentLen(k, v int) int {
	return 1 + varintLen(uint64(k)) + k + 1 + varintLen(uint64(v)) + v
}

// groupTrailer encodes the LogGroup fields that follow the logs: topic,
// source and tags (sorted by key for stable output).
func groupTrailer(topic, source string, tags map[string]string) []byte {
	var b []byte
	if topic != "" {
		b = appendBytesField(b, tagGroupTopic, topic)
	}
	if source != "" {
		b = appendBytesField(b, tagGroupSource, source)
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := tags[k]
		b = append(b, tagGroupTags)
		b = appendVarint(b, uint64(contentLen(len(k), len(v))))
		b = appendBytesField(b, tagKey, k)
		b = appendBytesField(b, tagValue, v)
	}
	return b
}

func appendBytesField[S ~string | ~[]byte](b []byte, tag byte, s S) []byte {
	b = append(b, tag)
	b = appendVarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// hashKeyer computes the shard hash key of a record.
type hashKeyer struct {
	fixed string   // used for every record when set
	field string   // template field name
	path  []string // the field name split on dots, for body lookups
}

var errNoHashKey = errors.New("no hash key")

func newHashKeyer(spec string) *hashKeyer {
	if spec == "" {
		return nil
	}
	if m := templateRE.FindStringSubmatch(spec); m != nil {
		return &hashKeyer{field: m[1], path: strings.Split(m[1], ".")}
	}
	if hexKeyRE.MatchString(spec) {
		return &hashKeyer{fixed: strings.ToLower(spec)}
	}
	sum := md5.Sum([]byte(spec))
	return &hashKeyer{fixed: hex.EncodeToString(sum[:])}
}

// digest returns the MD5 of the template field's value in rec: the field
// of that name in rec.Fields, or the value at the dotted path in rec.Body
// (strings unquoted). A missing field hashes as the empty string.
func (h *hashKeyer) digest(rec *sink.Record, scratch []byte) [md5.Size]byte {
	if rec.Fields != nil {
		for _, f := range rec.Fields {
			if f.Key == h.field {
				return md5.Sum([]byte(f.Value))
			}
		}
		return md5.Sum(nil)
	}
	v, dt, _, err := jsonparser.Get(rec.Body, h.path...)
	if err != nil {
		return md5.Sum(nil)
	}
	if dt == jsonparser.String {
		if u, err := jsonparser.Unescape(v, scratch[:0]); err == nil {
			v = u
		}
	}
	return md5.Sum(v)
}
