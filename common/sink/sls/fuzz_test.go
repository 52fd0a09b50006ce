package sls

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/sink"
)

// FuzzAppendLog feeds arbitrary bodies to the encoder: it must never
// panic, and whatever it accepts must decode with the SDK's protobuf code
// with one field per top-level key whose string values match
// encoding/json's.
func FuzzAppendLog(f *testing.F) {
	for _, s := range []string{
		`{"a":"b"}`, `{"k\u00e9y":"v\"al\n","n":1.5e3,"b":true,"z":null,"o":{ "a" : [1, "x y"] }}`,
		`{}`, `[]`, `{"a":`, `{"a":"\ud800"}`, `{"a":"\u12"}`, "{\"a\":\"b\" , \n \"c\" : { \"d\" : \"e \\\" f\" } }",
		`{"":1}`, `{"__time__":1}`, `nope`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		enc := encoder{now: time.Now}
		rec := sink.Record{Time: time.Unix(1700000000, 1), Body: body}
		raw, err := enc.appendLog(nil, &rec)
		if err != nil {
			if len(raw) != 0 {
				t.Fatalf("rejected record left %d bytes", len(raw))
			}
			return
		}
		lg := decodeLogGroup(t, raw)
		if len(lg.Logs) != 1 {
			t.Fatalf("%d logs", len(lg.Logs))
		}
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) != nil {
			return // jsonparser is more lenient than encoding/json
		}
		seen := map[string]int{}
		for _, c := range lg.Logs[0].Contents {
			seen[c.GetKey()]++
		}
		for _, c := range lg.Logs[0].Contents {
			v, ok := m[c.GetKey()]
			if !ok || seen[c.GetKey()] > 1 {
				continue // duplicate keys: encoding/json keeps the last
			}
			var s string
			if json.Unmarshal(v, &s) == nil && s != c.GetValue() {
				t.Fatalf("key %q: value %q, encoding/json says %q", c.GetKey(), c.GetValue(), s)
			}
		}
	})
}
