package audit

import (
	"errors"

	"github.com/auditlane/auditlane/common/provider"
)

// ErrList: Parse was given a record that holds several events (an
// EventList, a JSON array of events or a provider batch). Records takes any
// record; Parse takes exactly one event.
var ErrList = errors.New("a list of events")

// Records decodes one record — a single Event, an EventList (an apiserver
// webhook batch), a JSON array of events, a cloud provider's record or
// batch of records or export wrapper (see common/provider), concatenated
// JSON values (Firehose), an export-task line ("<RFC 3339 time> <event>"),
// YAML (gcloud logging read) or gzip of any of these — and calls fn for
// each event it holds, in order, until fn returns false.
//
// It is the one entry point for records: the Fluent Bit plugin (a record's
// log value), the collector components (a log body, a file line, a
// webhook body's values) and the command line (each top-level value of a
// stream, through Decoder) all split records here, and no front end looks
// inside a record to decide how.
//
// fn receives ev (reused between calls) with Raw, Line, Offset and Index
// set: Raw is the event's bytes (or, with err, the bytes that could not be
// decoded), Index its position in a list (-1 when the record is one
// event). With err != nil (a *DecodeError), the other fields of ev are
// undefined.
func Records(raw []byte, ev *Event, fn func(ev *Event, err error) bool) {
	sp := &ev.split
	t0, t1 := trimSpace(raw)
	raw = raw[t0:t1]
	if len(raw) == 0 {
		ev.Raw, ev.Line, ev.Offset, ev.Index = raw, 0, 0, -1
		fn(ev, syntaxErr(0, "empty input"))
		return
	}
	one, perr := sp.first(ev, raw, 0, 0)
	if perr != nil || one != nil {
		if perr != nil {
			if ev.Raw == nil {
				ev.Raw = raw
			}
			ev.Index = -1
			fn(ev, perr)
			return
		}
		fn(one, nil)
		return
	}
	for {
		e, bad, perr, ok := sp.item(ev)
		if !ok {
			return
		}
		var err error
		if perr != nil {
			ev.Raw, e, err = bad, ev, perr
		}
		if !fn(e, err) {
			sp.reset()
			return
		}
	}
}

// splitter yields the events of one top-level value: the value itself
// when it is one event or one provider record, else the items of an
// EventList, a JSON array or concatenated values, or the units a provider
// batch converts to. It is the one place where lists are split and
// wrappers recognised (Records and Decoder both use it).
type splitter struct {
	batch []byte
	line  int
	off   int64
	items [][2]int
	next  int
	// n counts the units yielded from the current value (their Index).
	n int
	// conv holds the converted units of the provider record being split,
	// cnext the next one to yield.
	conv  provider.Out
	cnext int
	// text holds a value rewritten before splitting (YAML as JSON,
	// decompressed gzip).
	text []byte
}

// reset forgets pending items, keeping their memory.
func (sp *splitter) reset() {
	sp.batch, sp.items, sp.next, sp.n = nil, sp.items[:0], 0, 0
	sp.conv.Reset()
	sp.cnext = 0
}

// first decodes raw, one trimmed top-level value that starts at the given
// line and stream offset, into ev. It returns ev when raw is one event;
// for a list it keeps the items for item and returns nil, nil. On error,
// ev.Raw holds the bytes that could not be decoded.
func (sp *splitter) first(ev *Event, raw []byte, line int, off int64) (*Event, *DecodeError) {
	return sp.firstAt(ev, raw, line, off, 0)
}

func (sp *splitter) firstAt(ev *Event, raw []byte, line int, off int64, depth int) (*Event, *DecodeError) {
	sp.items, sp.next, sp.n = sp.items[:0], 0, 0
	sp.cnext = len(sp.conv.Units)
	ev.Raw, ev.Line, ev.Offset, ev.Index = raw, line, off, -1
	switch raw[0] {
	case '[':
		return nil, sp.split(raw, line, off, 0)
	case '{':
	default:
		if depth == 0 {
			if e, perr, ok := sp.other(ev, raw, line, off); ok {
				return e, perr
			}
		}
	}
	if perr := ev.parse(); perr != nil {
		perr.Line, perr.Offset = line, off
		if perr.Err == ErrSyntax && perr.Pos >= 0 && perr.Pos < len(raw) && raw[perr.Pos] == '{' {
			// Concatenated values ({...}{...}: Firehose writes records
			// without separators).
			if items, ok := concatenated(raw, sp.items[:0]); ok {
				sp.batch, sp.line, sp.off, sp.items, sp.next = raw, line, off, items, 0
				ev.Raw = nil
				return nil, nil
			}
		}
		return nil, perr
	}
	if ev.isList {
		return nil, sp.split(raw, line, off, ev.itemsStart())
	}
	if ev.isProvider {
		if perr := sp.convert(raw, nil); perr != nil {
			perr.Line, perr.Offset = line, off
			return nil, perr
		}
		if len(sp.conv.Units) == 1 {
			u := &sp.conv.Units[0]
			sp.cnext = 1
			if perr := ev.parseUnit(&sp.conv, u); perr != nil {
				perr.Line, perr.Offset = line, off
				return nil, perr
			}
			ev.Line, ev.Offset, ev.Index = line, off, -1
			return ev, nil
		}
		sp.batch, sp.line, sp.off = raw, line, off
		return nil, nil
	}
	return ev, nil
}

// other handles a value that starts with neither '{' nor '[': an
// export-task line, gzip data or YAML. ok is false when raw is none of
// these.
func (sp *splitter) other(ev *Event, raw []byte, line int, off int64) (*Event, *DecodeError, bool) {
	switch {
	case raw[0] >= '0' && raw[0] <= '9' && provider.IsTimestampPrefix(raw):
		sp.conv.Reset()
		sp.cnext = 0
		if !provider.ExportLine(&sp.conv, raw) {
			return nil, nil, false
		}
		sp.batch, sp.line, sp.off = raw, line, off
		if len(sp.conv.Units) == 1 {
			u := &sp.conv.Units[0]
			sp.cnext = 1
			if perr := ev.parseUnit(&sp.conv, u); perr != nil {
				perr.Line, perr.Offset = line, off
				return nil, perr, true
			}
			ev.Line, ev.Offset, ev.Index = line, off, -1
			return ev, nil, true
		}
		return nil, nil, true
	case len(raw) > 2 && raw[0] == 0x1f && raw[1] == 0x8b:
		text, err := gunzipValue(raw, sp.text[:0])
		sp.text = text[:0]
		if err != nil {
			return nil, &DecodeError{Line: line, Offset: off, Pos: -1, Index: -1, Err: ErrSyntax, Detail: err.Error()}, true
		}
		return sp.textValue(ev, text, line, off)
	case isYAMLStart(raw):
		text, err := yamlToJSON(raw, sp.text[:0])
		sp.text = text[:0]
		if err != nil {
			return nil, &DecodeError{Line: line, Offset: off, Pos: -1, Index: -1, Err: ErrSyntax, Detail: "YAML: " + err.Error()}, true
		}
		if len(text) == 0 {
			return nil, nil, true // only comments: nothing to decode
		}
		return sp.textValue(ev, text, line, off)
	}
	return nil, nil, false
}

// textValue splits text, a value rewritten from raw input, as a top-level
// value.
func (sp *splitter) textValue(ev *Event, text []byte, line int, off int64) (*Event, *DecodeError, bool) {
	t0, t1 := trimSpace(text)
	if t0 == t1 {
		return nil, nil, true
	}
	e, perr := sp.firstAt(ev, text[t0:t1], line, off, 1)
	return e, perr, true
}

// concatenated splits raw into the JSON values it holds back to back
// ({...}{...} or {...} {...}); ok is false when raw does not consist of
// two or more complete values.
func concatenated(raw []byte, items [][2]int) ([][2]int, bool) {
	i := 0
	for i < len(raw) {
		i = skipWS(raw, i)
		if i >= len(raw) {
			break
		}
		if raw[i] != '{' && raw[i] != '[' {
			return items, false
		}
		end, err := skipValue(raw, i, 0)
		if err != nil {
			return items, false
		}
		items = append(items, [2]int{i, end})
		i = end
	}
	return items, len(items) >= 2
}

// split keeps the elements of the array at raw[at] as pending items.
func (sp *splitter) split(raw []byte, line int, off int64, at int) *DecodeError {
	sp.batch, sp.line, sp.off = raw, line, off
	items, perr := arrayElements(raw, at, sp.items[:0])
	sp.items, sp.next = items, 0
	if perr != nil {
		perr.Line, perr.Offset = line, off
		sp.items = sp.items[:0]
		return perr
	}
	return nil
}

// item decodes the next pending item into ev. ok is false when no item is
// left; with err, bad holds the item's bytes.
func (sp *splitter) item(ev *Event) (e *Event, bad []byte, err *DecodeError, ok bool) {
	if sp.cnext < len(sp.conv.Units) {
		u := &sp.conv.Units[sp.cnext]
		sp.cnext++
		idx := sp.n
		sp.n++
		ev.Line, ev.Offset, ev.Index = sp.line, sp.off, idx
		if perr := ev.parseUnit(&sp.conv, u); perr != nil {
			perr.Line, perr.Offset, perr.Index = sp.line, sp.off, idx
			return nil, sp.conv.Bytes(u), perr, true
		}
		ev.Line, ev.Offset, ev.Index = sp.line, sp.off, idx
		return ev, nil, nil, true
	}
	if sp.next >= len(sp.items) {
		sp.reset()
		return nil, nil, nil, false
	}
	it := sp.items[sp.next]
	sp.next++
	idx := sp.n
	ev.Raw = sp.batch[it[0]:it[1]]
	ev.Line, ev.Offset, ev.Index = sp.line, sp.off+int64(it[0]), idx
	perr := ev.parse()
	if perr == nil && ev.isProvider {
		if perr = sp.convert(ev.Raw, nil); perr == nil {
			// The units of this item come next, numbered on.
			return sp.item(ev)
		}
	}
	sp.n++
	if perr == nil && ev.isList {
		perr = &DecodeError{Pos: -1, Field: "kind", Err: ErrKind, Detail: "EventList nested in a list"}
	}
	if perr != nil {
		perr.Line, perr.Offset, perr.Index = ev.Line, ev.Offset, idx
		return nil, sp.batch[it[0]:it[1]], perr, true
	}
	return ev, nil, nil, true
}
