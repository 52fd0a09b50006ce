package audit

import "errors"

// ErrList: Parse was given a record that holds several events (an
// EventList, a JSON array of events or a provider batch). Records takes any
// record; Parse takes exactly one event.
var ErrList = errors.New("a list of events")

// Records decodes one record — a single Event, an EventList (an apiserver
// webhook batch), a JSON array of events, or a cloud provider's record or
// batch of records (see common/provider) — and calls fn for each event it
// holds, in order, until fn returns false.
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
			ev.Raw, ev.Index = raw, -1
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
// EventList or a JSON array, or the records of a provider batch. It is the
// one place where lists are split (Records and Decoder both use it).
type splitter struct {
	batch []byte
	line  int
	off   int64
	items [][2]int
	next  int
}

// reset forgets pending items, keeping their memory.
func (sp *splitter) reset() { sp.batch, sp.items, sp.next = nil, sp.items[:0], 0 }

// first decodes raw, one trimmed top-level value that starts at the given
// line and stream offset, into ev. It returns ev when raw is one event;
// for a list it keeps the items for item and returns nil, nil.
func (sp *splitter) first(ev *Event, raw []byte, line int, off int64) (*Event, *DecodeError) {
	sp.items, sp.next = sp.items[:0], 0
	if raw[0] == '[' {
		return nil, sp.split(raw, line, off, 0)
	}
	ev.Raw, ev.Line, ev.Offset, ev.Index = raw, line, off, -1
	if perr := ev.parse(); perr != nil {
		perr.Line, perr.Offset = line, off
		return nil, perr
	}
	if ev.isList {
		return nil, sp.split(raw, line, off, ev.itemsStart())
	}
	if ev.isProvider {
		items, batch, perr := providerRecords(raw, sp.items[:0])
		sp.items = items[:0]
		if perr != nil {
			perr.Line, perr.Offset = line, off
			return nil, perr
		}
		if batch {
			sp.batch, sp.line, sp.off, sp.items = raw, line, off, items
			return nil, nil
		}
		if perr := ev.unwrapProvider(); perr != nil {
			perr.Line, perr.Offset = line, off
			return nil, perr
		}
	}
	return ev, nil
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
	if sp.next >= len(sp.items) {
		sp.reset()
		return nil, nil, nil, false
	}
	it := sp.items[sp.next]
	idx := sp.next
	sp.next++
	ev.Raw = sp.batch[it[0]:it[1]]
	ev.Line, ev.Offset, ev.Index = sp.line, sp.off+int64(it[0]), idx
	perr := ev.parse()
	if perr == nil && ev.isProvider {
		perr = ev.unwrapProvider()
	}
	if perr == nil && ev.isList {
		perr = &DecodeError{Pos: -1, Field: "kind", Err: ErrKind, Detail: "EventList nested in a list"}
	}
	if perr != nil {
		perr.Line, perr.Offset, perr.Index = ev.Line, ev.Offset, idx
		return nil, sp.batch[it[0]:it[1]], perr, true
	}
	return ev, nil, nil, true
}
