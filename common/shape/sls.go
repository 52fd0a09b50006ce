package shape

import (
	"bytes"
	"hash/maphash"

	"github.com/buger/jsonparser"

	"github.com/auditlane/auditlane/common/sink"
)

// appendTopLevelFields appends one field per top-level member of the JSON
// object body: strings unescaped, objects and arrays as their JSON text,
// numbers and booleans as written, null as "". Short keys and values come
// from the Output's cache: audit streams repeat them constantly.
func (o *Output) appendTopLevelFields(dst []sink.Field, body []byte) []sink.Field {
	if o.strs == nil {
		o.strs = new(strCache)
	}
	jsonparser.ObjectEach(body, func(key, value []byte, t jsonparser.ValueType, _ int) error {
		f := sink.Field{Key: o.strs.get(key, false)}
		switch t {
		case jsonparser.String:
			f.Value = o.strs.get(value, true)
		case jsonparser.Null:
		default:
			f.Value = o.strs.get(value, false)
		}
		dst = append(dst, f)
		return nil
	})
	return dst
}

// strCache is a direct-mapped cache of recently made strings.
type strCache struct {
	slots [256]struct {
		raw, val string
		esc      bool
	}
}

var strSeed = maphash.MakeSeed()

// get returns b as a string, JSON-unescaped when esc.
func (c *strCache) get(b []byte, esc bool) string {
	conv := func() string {
		if esc && bytes.IndexByte(b, '\\') >= 0 {
			s, err := jsonparser.ParseString(b)
			if err == nil {
				return s
			}
		}
		return string(b)
	}
	if len(b) == 0 {
		return ""
	}
	if len(b) > 256 {
		return conv()
	}
	s := &c.slots[maphash.Bytes(strSeed, b)&255]
	if s.esc == esc && s.raw == string(b) {
		return s.val
	}
	s.raw, s.esc, s.val = string(b), esc, conv()
	return s.val
}
