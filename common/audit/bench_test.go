package audit

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/buger/jsonparser"
	"github.com/valyala/fastjson"

	"github.com/auditlane/auditlane/internal/corpus"
	"github.com/auditlane/auditlane/internal/cputime"
)

// decisionFields is what each contender extracts: the fields the policy
// decision needs.
type decisionFields struct {
	stage, verb, username, uri                    string
	groups                                        []string
	resource, subresource, group, namespace, name string
	hasObjectRef                                  bool
}

var sink decisionFields

// BenchmarkParse compares JSON approaches for the decision fields. One op
// is one event; the corpus is cycled.
func BenchmarkParse(b *testing.B) {
	lines, avg := corpus.Lines(b)
	b.Run("auditlane", func(b *testing.B) {
		var ev Event
		b.SetBytes(avg)
		b.ReportAllocs()
		cpu := cputime.Start(b)
		defer cpu.Report(b)
		for i := 0; b.Loop(); i++ {
			if err := Parse(lines[i%len(lines)], &ev); err != nil {
				b.Fatal(err)
			}
			sink.verb = ev.Verb
		}
	})
	b.Run("fastjson", func(b *testing.B) {
		var p fastjson.Parser
		b.SetBytes(avg)
		b.ReportAllocs()
		cpu := cputime.Start(b)
		defer cpu.Report(b)
		var f decisionFields
		for i := 0; b.Loop(); i++ {
			v, err := p.ParseBytes(lines[i%len(lines)])
			if err != nil {
				b.Fatal(err)
			}
			f.stage = string(v.GetStringBytes("stage"))
			f.verb = string(v.GetStringBytes("verb"))
			f.uri = string(v.GetStringBytes("requestURI"))
			f.username = string(v.GetStringBytes("user", "username"))
			f.groups = f.groups[:0]
			for _, g := range v.GetArray("user", "groups") {
				f.groups = append(f.groups, string(g.GetStringBytes()))
			}
			if o := v.Get("objectRef"); o != nil {
				f.hasObjectRef = true
				f.resource = string(o.GetStringBytes("resource"))
				f.subresource = string(o.GetStringBytes("subresource"))
				f.group = string(o.GetStringBytes("apiGroup"))
				f.namespace = string(o.GetStringBytes("namespace"))
				f.name = string(o.GetStringBytes("name"))
			}
			sink = f
		}
	})
	b.Run("jsonparser", func(b *testing.B) {
		paths := [][]string{{"stage"}, {"verb"}, {"requestURI"}, {"user", "username"}, {"user", "groups"},
			{"objectRef", "resource"}, {"objectRef", "subresource"}, {"objectRef", "apiGroup"},
			{"objectRef", "namespace"}, {"objectRef", "name"}}
		b.SetBytes(avg)
		b.ReportAllocs()
		cpu := cputime.Start(b)
		defer cpu.Report(b)
		var f decisionFields
		for i := 0; b.Loop(); i++ {
			f.groups = f.groups[:0]
			jsonparser.EachKey(lines[i%len(lines)], func(idx int, v []byte, t jsonparser.ValueType, err error) {
				switch idx {
				case 0:
					f.stage = string(v)
				case 1:
					f.verb = string(v)
				case 2:
					f.uri = string(v)
				case 3:
					f.username = string(v)
				case 4:
					jsonparser.ArrayEach(v, func(g []byte, _ jsonparser.ValueType, _ int, _ error) {
						f.groups = append(f.groups, string(g))
					})
				case 5:
					f.hasObjectRef = true
					f.resource = string(v)
				case 6:
					f.subresource = string(v)
				case 7:
					f.group = string(v)
				case 8:
					f.namespace = string(v)
				case 9:
					f.name = string(v)
				}
			}, paths...)
			sink = f
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(avg)
		b.ReportAllocs()
		cpu := cputime.Start(b)
		defer cpu.Report(b)
		for i := 0; b.Loop(); i++ {
			var ref refEvent
			if err := json.Unmarshal(lines[i%len(lines)], &ref); err != nil {
				b.Fatal(err)
			}
			sink.verb = ref.Verb
		}
	})
}

// BenchmarkDecoder measures the stream decoder over the whole corpus as
// JSON lines, one op per event.
func BenchmarkDecoder(b *testing.B) {
	lines, avg := corpus.Lines(b)
	data := append(bytes.Join(lines, []byte("\n")), '\n')
	b.SetBytes(avg)
	b.ReportAllocs()
	var d *Decoder
	for b.Loop() {
		if d == nil {
			d = NewDecoder(bytes.NewReader(data))
		}
		ev, err := d.Next()
		if err != nil {
			d = nil
			continue
		}
		sink.verb = ev.Verb
	}
}
