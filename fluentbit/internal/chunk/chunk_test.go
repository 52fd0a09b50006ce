package chunk

import (
	"bytes"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/fluent/fluent-bit-go/output"
	"github.com/tinylib/msgp/msgp"
)

func logBody(line string) []byte {
	b := msgp.AppendMapHeader(nil, 2)
	b = msgp.AppendString(b, "stream")
	b = msgp.AppendString(b, "stdout")
	b = msgp.AppendString(b, "log")
	return msgp.AppendString(b, line)
}

func TestReaderFormats(t *testing.T) {
	t1 := time.Unix(1700000000, 123456789)
	var c []byte
	c = AppendRecordV2(c, t1, logBody(`{"a":1}`))
	// old format, integer timestamp
	c = msgp.AppendArrayHeader(c, 2)
	c = msgp.AppendInt64(c, 1700000001)
	c = append(c, logBody(`{"b":2}`)...)
	// old format, float timestamp
	c = msgp.AppendArrayHeader(c, 2)
	c = msgp.AppendFloat64(c, 1700000002.5)
	c = append(c, logBody(`{"c":3}`)...)
	// v2 with metadata and ext8 EventTime
	c = msgp.AppendArrayHeader(c, 2)
	c = msgp.AppendArrayHeader(c, 2)
	c = append(c, 0xc7, 8, 0, 0x65, 0x53, 0xf1, 0x03, 0, 0, 0, 0)
	c = msgp.AppendMapHeader(c, 1)
	c = msgp.AppendString(c, "k")
	c = msgp.AppendString(c, "v")
	c = append(c, logBody(`{"d":4}`)...)

	r := NewReader(c)
	var e Entry
	want := []struct {
		t    time.Time
		line string
	}{{t1, `{"a":1}`}, {time.Unix(1700000001, 0), `{"b":2}`}, {time.Unix(1700000002, 5e8), `{"c":3}`}, {time.Unix(0x6553f103, 0), `{"d":4}`}}
	for i, w := range want {
		if err := r.Next(&e); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !e.Time.Equal(w.t) {
			t.Errorf("record %d: time %v, want %v", i, e.Time, w.t)
		}
		v, ok, err := Lookup(e.Map, "log")
		if err != nil || !ok {
			t.Fatalf("record %d: lookup %v %v", i, ok, err)
		}
		s, ok := StringValue(v)
		if !ok || string(s) != w.line {
			t.Errorf("record %d: log %q", i, s)
		}
		if _, ok, _ := Lookup(e.Map, "missing"); ok {
			t.Error("found a missing key")
		}
	}
	if err := r.Next(&e); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
	js, err := AppendJSON(nil, e.Map)
	if err != nil || !bytes.Equal(js, []byte(`{"stream":"stdout","log":"{\"d\":4}"}`)) {
		t.Errorf("json %s %v", js, err)
	}
}

func TestReaderMalformed(t *testing.T) {
	good := AppendRecordV2(nil, time.Unix(1, 0), logBody("x"))
	cases := map[string][]byte{
		"not an array":   msgp.AppendString(nil, "x"),
		"three elements": msgp.AppendArrayHeader(nil, 3),
		"truncated":      good[:len(good)-2],
		"body not map":   append(msgp.AppendInt64(msgp.AppendArrayHeader(nil, 2), 1), msgp.AppendString(nil, "x")...),
		"bad timestamp":  append(msgp.AppendString(msgp.AppendArrayHeader(nil, 2), "t"), logBody("x")...),
		"wrong ext":      append(append(msgp.AppendArrayHeader(nil, 2), 0xd7, 5, 0, 0, 0, 0, 0, 0, 0, 0), logBody("x")...),
		"garbage":        {0xc1, 0xc1},
	}
	for name, c := range cases {
		r := NewReader(append(append([]byte{}, good...), c...))
		var e Entry
		if err := r.Next(&e); err != nil {
			t.Fatalf("%s: first record: %v", name, err)
		}
		err := r.Next(&e)
		if !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err = %v, want ErrFormat", name, err)
		}
	}
}

// groupMarker appends a Fluent Bit group start (-1) or end (-2) record in
// event format v2, as flb_log_event_encoder_group_init and
// flb_log_event_encoder_group_end write them: EventTime seconds -1 / -2.
func groupMarker(dst []byte, sec int32, attrs map[string]string) []byte {
	dst = msgp.AppendArrayHeader(dst, 2)
	dst = msgp.AppendArrayHeader(dst, 2)
	dst = append(dst, 0xd7, 0)
	dst = append(dst, byte(uint32(sec)>>24), byte(uint32(sec)>>16), byte(uint32(sec)>>8), byte(uint32(sec)), 0, 0, 0, 0)
	dst = msgp.AppendMapHeader(dst, 0)
	dst = msgp.AppendMapHeader(dst, uint32(len(attrs)))
	for k, v := range attrs {
		dst = msgp.AppendString(dst, k)
		dst = msgp.AppendString(dst, v)
	}
	return dst
}

// TestReaderSkipsGroupMarkers: the group start/end records Fluent Bit's
// OpenTelemetry input writes around each resource/scope are not records.
func TestReaderSkipsGroupMarkers(t *testing.T) {
	var c []byte
	c = groupMarker(c, -1, map[string]string{"resource": "r"})
	c = AppendRecordV2(c, time.Unix(1700000000, 0), logBody("a"))
	c = AppendRecordV2(c, time.Unix(1700000001, 0), logBody("b"))
	c = groupMarker(c, -2, nil)
	c = groupMarker(c, -1, nil)
	c = AppendRecordV2(c, time.Unix(1700000002, 0), logBody("c"))
	c = groupMarker(c, -2, nil)
	// FLB_TIME_ETFMT_INT: the seconds as a signed or an unsigned integer.
	c = msgp.AppendArrayHeader(c, 2)
	c = msgp.AppendArrayHeader(c, 2)
	c = msgp.AppendInt64(c, -1)
	c = msgp.AppendMapHeader(c, 0)
	c = msgp.AppendMapHeader(c, 0)
	c = msgp.AppendArrayHeader(c, 2)
	c = msgp.AppendArrayHeader(c, 2)
	c = msgp.AppendUint64(c, ^uint64(1)) // -2 as uint64
	c = msgp.AppendMapHeader(c, 0)
	c = msgp.AppendMapHeader(c, 0)

	r := NewReader(c)
	var e Entry
	var got []string
	for {
		err := r.Next(&e)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		v, _, _ := Lookup(e.Map, "log")
		s, _ := StringValue(v)
		got = append(got, string(s))
	}
	if strings.Join(got, ",") != "a,b,c" {
		t.Errorf("records %q, want a,b,c", got)
	}
	if r.GroupMarkers() != 6 {
		t.Errorf("GroupMarkers = %d, want 6", r.GroupMarkers())
	}
	if r.Offset() != len(c) {
		t.Errorf("offset %d of %d", r.Offset(), len(c))
	}
	// A timestamp that is merely large is not a marker.
	r = NewReader(AppendRecordV2(nil, time.Unix(0xFFFFFFFD, 0), logBody("late")))
	if err := r.Next(&e); err != nil || r.GroupMarkers() != 0 {
		t.Errorf("seconds 0xFFFFFFFD: %v, markers %d", err, r.GroupMarkers())
	}
	// A marker with a truncated body is malformed, not skipped.
	m := groupMarker(nil, -1, map[string]string{"k": "v"})
	r = NewReader(m[:len(m)-1])
	if err := r.Next(&e); !errors.Is(err, ErrFormat) {
		t.Errorf("truncated marker: %v, want ErrFormat", err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add(AppendRecordV2(nil, time.Unix(1, 0), logBody(`{"kind":"Event"}`)))
	f.Add(groupMarker(AppendRecordV2(groupMarker(nil, -1, map[string]string{"a": "b"}), time.Unix(1, 0), logBody("x")), -2, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(b)
		var e Entry
		for i := 0; i < 1000; i++ {
			if err := r.Next(&e); err != nil {
				return
			}
			Lookup(e.Map, "log")
			AppendJSON(nil, e.Map)
		}
	})
}

// sampleChunk is a chunk of the sample's first n lines as tail records.
func sampleChunk(tb testing.TB, n int) ([]byte, int) {
	data, err := os.ReadFile("../../../examples/data/sample-audit.log")
	if err != nil {
		tb.Fatal(err)
	}
	var c []byte
	k := 0
	for _, l := range bytes.SplitN(data, []byte("\n"), n+1)[:n] {
		c = AppendRecordV2(c, time.Unix(1700000000, 0), logBody(string(l)))
		k++
	}
	return c, k
}

// BenchmarkChunkDecode compares fluent-bit-go's decoder (copy + reflection
// into map[interface{}]interface{}) with this package's zero-copy reader,
// both extracting the log line of every record of a 512-record chunk.
func BenchmarkChunkDecode(b *testing.B) {
	c, n := sampleChunk(b, 512)
	b.Run("fluent-bit-go", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(c)))
		for b.Loop() {
			dec := output.NewDecoder(unsafe.Pointer(&c[0]), len(c))
			got := 0
			for {
				ret, _, rec := output.GetRecord(dec)
				if ret != 0 {
					break
				}
				if _, ok := rec["log"].([]byte); ok {
					got++
				}
			}
			if got != n {
				b.Fatalf("decoded %d of %d", got, n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
	})
	b.Run("msgp-zero-copy", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(c)))
		var r Reader
		var e Entry
		for b.Loop() {
			r.Reset(c)
			got := 0
			for r.Next(&e) == nil {
				if v, ok, _ := Lookup(e.Map, "log"); ok {
					if _, ok := StringValue(v); ok {
						got++
					}
				}
			}
			if got != n {
				b.Fatalf("decoded %d of %d", got, n)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
	})
}
