package shape

import (
	"github.com/buger/jsonparser"

	"github.com/auditlane/auditlane/common/sink"
)

// appendTopLevelFields appends one field per top-level member of the JSON
// object body: strings unescaped, objects and arrays as their JSON text,
// numbers and booleans as written, null as "".
func appendTopLevelFields(dst []sink.Field, body []byte) []sink.Field {
	jsonparser.ObjectEach(body, func(key, value []byte, t jsonparser.ValueType, _ int) error {
		f := sink.Field{Key: string(key)}
		switch t {
		case jsonparser.String:
			f.Value, _ = jsonparser.ParseString(value)
		case jsonparser.Null:
		default:
			f.Value = string(value)
		}
		dst = append(dst, f)
		return nil
	})
	return dst
}
