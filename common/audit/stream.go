package audit

import (
	"bufio"
	"errors"
	"io"

	"github.com/auditlane/auditlane/common/provider"
)

// This file splits a stream into top-level JSON values. JSON lines take a
// zero-copy fast path: a line that fits the read buffer and starts with
// '{' and ends with '}' (or '[' and ']') is one value, validated later by
// the parser. Anything else — a value spread over several lines
// (pretty-printed events, EventList bodies, arrays) or a line longer than
// the buffer — is read fragment by fragment with a bracket counter.
//
// Lists are streamed: a JSON array, or an object that its members before
// "items" declare to be an EventList, is not gathered whole; each item is
// gathered alone (at most MaxSize bytes) and decoded as soon as it is
// complete, so a 50 MB EventList costs the memory of its largest event.
// Its members after the items are checked once the list closes.
//
// A line that starts in column 0 with '{' or '[' while a value is still
// open means the open value was truncated: real truncation happens at line
// ends, and pretty-printers indent nested values.

// streamState is the Decoder's fragment-level state.
type streamState struct {
	frag     []byte // unread bytes of the current fragment, without its line end
	fragEOL  bool   // a line end follows frag
	fragOff  int64  // stream offset of frag[0]
	fragLine int    // line of frag[0]
	bol      bool   // frag[0] is the first byte of its line
	atEOF    bool   // the reader returned io.EOF

	acc      []byte // value being gathered, or a streamed EventList's members
	skipLine bool   // skip to the end of the current line
	skipping bool   // after a bad multi-line value: skip to the next column-0 value

	list listState
	hdr  Event // an EventList's members, checked without its items
}

// listState is a list being streamed.
type listState struct {
	active    bool
	depth     int // 1: a top-level array; 2: an EventList's items
	line      int
	off       int64
	state     uint8
	idx       int // index of the next item
	item      []byte
	itemLine  int
	itemOff   int64
	itemStart bool // the item started in the current fragment, item is unused
	scalar    bool
	tooLarge  bool
	st        bracketState // inside the item, or the members after items
	sc        scalarState
}

// List states.
const (
	lsOpen       uint8 = iota // after '[': an item or ']'
	lsAfterItem               // ',' or ']'
	lsAfterComma              // an item
	lsInItem
	lsTail // after the items of an EventList: its remaining members
)

// errListEnd: a streamed list ended well; Next goes on with the stream.
var errListEnd = errors.New("list end")

func (d *Decoder) maxSize() int {
	if d.MaxSize > 0 {
		return d.MaxSize
	}
	return DefaultMaxSize
}

// fill reads the next fragment: a line (up to the buffer's size) without
// its line terminator. It returns io.EOF at the end of the input.
func (d *Decoder) fill() error {
	if d.fragEOL {
		d.fragEOL = false
		d.bol = true
	}
	if d.atEOF {
		return io.EOF
	}
	b, err := d.r.ReadSlice('\n')
	d.fragOff, d.fragLine = d.off, d.line
	d.off += int64(len(b))
	switch err {
	case nil:
		d.line++
		d.fragEOL = true
		b = trimEOL(b)
	case bufio.ErrBufferFull:
	case io.EOF:
		d.atEOF = true
		if len(b) == 0 {
			return io.EOF
		}
		d.fragEOL = true
	default:
		return err
	}
	d.frag = b
	return nil
}

// consume drops the first n bytes of the fragment.
func (d *Decoder) consume(n int) {
	d.frag = d.frag[n:]
	d.fragOff += int64(n)
	if n > 0 {
		d.bol = false
	}
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// bracketState counts open brackets outside strings.
type bracketState struct {
	depth    int
	inString bool
	escape   bool
}

// scan advances over b[from:] and returns the index after the value's
// closing bracket and true when the depth returns to zero.
func (s *bracketState) scan(b []byte, from int) (int, bool) {
	for i := from; i < len(b); i++ {
		c := b[i]
		if s.inString {
			if s.escape {
				s.escape = false
				continue
			}
			i = nextSpecial(b, i)
			if i >= len(b) {
				return len(b), false
			}
			switch b[i] {
			case '\\':
				s.escape = true
			case '"':
				s.inString = false
			}
			continue
		}
		switch c {
		case '"':
			s.inString = true
		case '{', '[':
			s.depth++
		case '}', ']':
			s.depth--
			if s.depth <= 0 {
				return i + 1, true
			}
		}
	}
	return len(b), false
}

// scalarState finds the end of a non-container list item (a number, a
// string, a literal): the ',' or ']' or space after it, outside strings.
type scalarState struct {
	inString bool
	escape   bool
}

func (s *scalarState) scan(b []byte) (int, bool) {
	for i := 0; i < len(b); i++ {
		c := b[i]
		if s.inString {
			switch {
			case s.escape:
				s.escape = false
			case c == '\\':
				s.escape = true
			case c == '"':
				s.inString = false
			}
			continue
		}
		switch c {
		case '"':
			s.inString = true
		case ',', ']', '}', '{', '[', ' ', '\t', '\r':
			return i, true
		}
	}
	return len(b), false
}

// gatherState follows a value being gathered whole, and the members of a
// top-level object, to find the array of an "items" member.
type gatherState struct {
	bracketState
	obj      bool
	wantKey  bool   // at depth 1, a key comes next
	inKey    bool   // inside a depth-1 key
	key      []byte // the key so far (only its first bytes matter)
	items    uint8  // 1: the key was "items"; 2: and its ':' followed
	noStream bool   // the object is not a list: gather it whole
}

// Events of gatherState.scan.
const (
	gMore  = iota // b consumed, the value goes on
	gEnd          // the value ends at the returned index
	gItems        // an items array opens: the returned index is after its '['
)

func (g *gatherState) scan(b []byte) (int, int) {
	if !g.obj || g.noStream {
		end, done := g.bracketState.scan(b, 0)
		if done {
			return end, gEnd
		}
		return end, gMore
	}
	for i := 0; i < len(b); i++ {
		if g.depth > 1 || g.inString && !g.inKey {
			// Inside a member's value.
			j, closed := g.skipDeep(b, i)
			if closed {
				return j, gEnd
			}
			i = j - 1
			continue
		}
		c := b[i]
		if g.inKey {
			switch {
			case g.escape:
				g.escape = false
			case c == '\\':
				g.escape = true
			case c == '"':
				g.inKey, g.inString = false, false
				if string(g.key) == "items" {
					g.items = 1
				}
				continue
			}
			if len(g.key) < 8 {
				g.key = append(g.key, c)
			}
			continue
		}
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case ':':
			if g.items == 1 {
				g.items = 2
				continue
			}
		case '"':
			g.inString = true
			if g.wantKey {
				g.inKey, g.wantKey, g.key = true, false, g.key[:0]
			}
		case ',':
			g.wantKey = true
		case '{', '[':
			g.depth++
			if g.depth == 1 {
				g.wantKey = true // the object opens
			} else if c == '[' && g.items == 2 {
				g.items = 0
				return i + 1, gItems
			}
		case '}', ']':
			g.depth--
			if g.depth <= 0 {
				return i + 1, gEnd
			}
		}
		g.items = 0
	}
	return len(b), gMore
}

// skipDeep scans b from i while the gatherer is inside a value (deeper
// than the members, or in a value string); it returns the index where the
// member level resumes (or len(b)), and ok when the whole value closed.
func (g *gatherState) skipDeep(b []byte, i int) (int, bool) {
	for ; i < len(b); i++ {
		c := b[i]
		if g.inString {
			if g.escape {
				g.escape = false
				continue
			}
			i = nextSpecial(b, i)
			if i >= len(b) {
				return len(b), false
			}
			switch b[i] {
			case '\\':
				g.escape = true
			case '"':
				g.inString = false
				if g.depth == 1 {
					return i + 1, false
				}
			}
			continue
		}
		switch c {
		case '"':
			g.inString = true
		case '{', '[':
			g.depth++
		case '}', ']':
			g.depth--
			if g.depth <= 0 {
				return i + 1, true
			}
			if g.depth == 1 {
				return i + 1, false
			}
		}
	}
	return len(b), false
}

// readValue returns the next top-level JSON object or array, the line it
// starts on and its stream offset. The bytes are valid until the next call.
// Errors about the input are *DecodeError; others come from the reader.
// When a streamed list starts, it returns errListStart with the list set
// up (see listItem).
func (d *Decoder) readValue() ([]byte, int, int64, error) {
	for {
		if len(d.frag) == 0 {
			if err := d.fill(); err != nil {
				return nil, 0, 0, err
			}
			if len(d.frag) == 0 {
				d.skipLine = false
				continue
			}
		}
		if d.skipLine {
			d.consume(len(d.frag))
			if d.fragEOL {
				d.skipLine = false
			}
			continue
		}
		if d.skipping {
			if !d.bol || (d.frag[0] != '{' && d.frag[0] != '[') {
				d.consume(len(d.frag))
				continue
			}
			d.skipping = false
		}
		line := d.frag
		t0, t1 := trimSpace(line)
		if t0 == t1 {
			d.consume(len(line))
			continue
		}
		d.consume(t0)
		lineNo, off := d.fragLine, d.fragOff
		c := line[t0]
		if c != '{' && c != '[' {
			if c >= '0' && c <= '9' && provider.IsTimestampPrefix(line[t0:t1]) {
				// A CloudWatch export-task line: "<time> <event>".
				return d.restOfLine(lineNo, off)
			}
			if t0 == 0 && isYAMLStart(line) {
				return d.readYAML(lineNo, off)
			}
			d.consume(len(d.frag))
			d.skipLine = !d.fragEOL
			d.rejected = line[t0:t1]
			return nil, 0, 0, &DecodeError{Line: lineNo, Offset: off, Pos: -1, Index: -1, Err: ErrNotObject, Detail: "line does not start a JSON object or array"}
		}
		if d.fragEOL && t0 == 0 || d.fragEOL && d.frag[0] == c {
			// The fast path: a whole line holding one value.
			if last := line[t1-1]; c == '{' && last == '}' || c == '[' && last == ']' {
				v := line[t0:t1]
				d.consume(len(d.frag))
				return v, lineNo, off, nil
			}
		}
		return d.gather(lineNo, off)
	}
}

// gather reads a value that does not fit the fast path, starting at the
// current fragment: whole, or, for a list, up to its first item (then it
// returns errListStart).
func (d *Decoder) gather(lineNo int, off int64) ([]byte, int, int64, error) {
	max := d.maxSize()
	g := gatherState{}
	g.obj = d.frag[0] == '{'
	if d.frag[0] == '[' {
		d.consume(1)
		d.startList(1, lineNo, off)
		return nil, 0, 0, errListStart
	}
	d.acc = d.acc[:0]
	fail := func(err error, detail string, keep bool) ([]byte, int, int64, error) {
		if keep {
			d.rejected = d.acc
		}
		return nil, 0, 0, &DecodeError{Line: lineNo, Offset: off, Pos: -1, Index: -1, Err: err, Detail: detail}
	}
	for {
		if len(d.frag) == 0 {
			if d.fragEOL {
				if g.inString {
					d.skipping = true
					return fail(ErrSyntax, "line ends inside a string: value truncated", true)
				}
				d.acc = append(d.acc, '\n')
			}
			if err := d.fill(); err == io.EOF {
				return fail(ErrSyntax, "unexpected end of input: value truncated", true)
			} else if err != nil {
				return nil, 0, 0, err
			}
			if d.bol && len(d.frag) > 0 && (d.frag[0] == '{' || d.frag[0] == '[') {
				// The new value starts here; the open one was cut.
				return fail(ErrSyntax, "value truncated: a new value starts on line "+itoa(d.fragLine), true)
			}
			continue
		}
		end, ev := g.scan(d.frag)
		if len(d.acc)+end > max {
			d.acc = nil // its memory goes back at once
			d.consume(end)
			d.skipLine = true
			d.skipping = d.fragLine != lineNo
			if d.fragEOL && len(d.frag) == 0 {
				d.skipLine = false
			}
			return fail(ErrTooLarge, "value longer than "+itoa(max)+" bytes", false)
		}
		d.acc = appendBounded(d.acc, d.frag[:end], max)
		d.consume(end)
		switch ev {
		case gEnd:
			if g.depth < 0 {
				return fail(ErrSyntax, "unbalanced closing bracket", true)
			}
			return d.acc, lineNo, off, nil
		case gItems:
			if d.isListHeader() {
				d.startList(2, lineNo, off)
				return nil, 0, 0, errListStart
			}
			g.noStream = true
		}
	}
}

// errListStart: gather set up a streamed list.
var errListStart = errors.New("list start")

// isListHeader reports whether d.acc, an object up to the '[' of its
// items, declares an EventList.
func (d *Decoder) isListHeader() bool {
	n := len(d.acc)
	d.acc = append(d.acc, "]}"...)
	d.hdr.Raw = d.acc
	perr := d.hdr.parse()
	d.acc = d.acc[:n]
	return perr == nil && d.hdr.isList
}

func (d *Decoder) startList(depth, line int, off int64) {
	d.list = listState{active: true, depth: depth, line: line, off: off, item: d.list.item[:0]}
}

// listItem returns the next item of the streamed list: its bytes (valid
// until the next call), line and offset. It returns errListEnd
// when the list ended well, a *DecodeError for a bad item (the list goes
// on) or a broken list (the list ends), and other errors from the reader.
func (d *Decoder) listItem() ([]byte, int, int64, error) {
	l := &d.list
	max := d.maxSize()
	abandon := func(detail string, skip bool) ([]byte, int, int64, error) {
		l.active = false
		line, off, idx := l.line, l.off, -1
		if l.state == lsInItem {
			line, off, idx = l.itemLine, l.itemOff, l.idx
			if !l.tooLarge {
				d.rejected = l.item
			}
		}
		d.skipping = skip
		return nil, 0, 0, &DecodeError{Line: line, Offset: off, Pos: -1, Index: idx, Err: ErrSyntax, Detail: detail}
	}
	for {
		if len(d.frag) == 0 {
			if d.fragEOL {
				switch {
				case l.state == lsInItem && (l.st.inString || l.sc.inString):
					return abandon("line ends inside a string: value truncated", true)
				case l.state == lsTail && l.st.inString:
					return abandon("line ends inside a string: value truncated", true)
				case l.state == lsInItem && l.scalar:
					return d.endItem()
				case l.state == lsInItem:
					d.appendItem([]byte{'\n'}, max)
				case l.state == lsTail:
					d.acc = append(d.acc, '\n')
				}
			}
			l.itemStart = false
			if err := d.fill(); err == io.EOF {
				return abandon("unexpected end of input: list truncated", false)
			} else if err != nil {
				return nil, 0, 0, err
			}
			if d.bol && len(d.frag) > 0 && (d.frag[0] == '{' || d.frag[0] == '[') {
				return abandon("value truncated: a new value starts on line "+itoa(d.fragLine), false)
			}
			continue
		}
		switch l.state {
		case lsOpen, lsAfterItem, lsAfterComma:
			i := skipWS(d.frag, 0)
			d.consume(i)
			if len(d.frag) == 0 {
				continue
			}
			switch c := d.frag[0]; {
			case c == ']':
				if l.state == lsAfterComma {
					return abandon("expected a value after ','", true)
				}
				d.consume(1)
				if l.depth == 1 {
					l.active = false
					return nil, 0, 0, errListEnd
				}
				l.state = lsTail
				l.st = bracketState{depth: 1}
				d.acc = append(d.acc, ']')
			case c == ',':
				if l.state != lsAfterItem {
					return abandon("expected a value, found ','", true)
				}
				d.consume(1)
				l.state = lsAfterComma
			default:
				if l.state == lsAfterItem {
					return abandon("expected ',' or ']' after an item", true)
				}
				l.state = lsInItem
				l.item, l.tooLarge = l.item[:0], false
				l.itemLine, l.itemOff, l.itemStart = d.fragLine, d.fragOff, true
				l.scalar = c != '{' && c != '['
				l.st, l.sc = bracketState{}, scalarState{}
			}
		case lsInItem:
			var end int
			var done bool
			if l.scalar {
				end, done = l.sc.scan(d.frag)
			} else {
				end, done = l.st.scan(d.frag, 0)
			}
			if done && l.itemStart && len(l.item) == 0 && end <= max {
				// The whole item is in this fragment: no copy.
				raw := d.frag[:end]
				d.consume(end)
				return d.itemDone(raw)
			}
			l.itemStart = false
			d.appendItem(d.frag[:end], max)
			d.consume(end)
			if done {
				return d.endItem()
			}
		case lsTail:
			end, done := l.st.scan(d.frag, 0)
			if len(d.acc)+end > max {
				return abandon("EventList members longer than "+itoa(max)+" bytes", true)
			}
			d.acc = append(d.acc, d.frag[:end]...)
			d.consume(end)
			if done {
				l.active = false
				d.hdr.Raw = d.acc
				if perr := d.hdr.parse(); perr != nil || !d.hdr.isList {
					if perr == nil {
						perr = &DecodeError{Err: ErrKind, Detail: "not an EventList"}
					}
					perr.Line, perr.Offset, perr.Pos, perr.Index = l.line, l.off, -1, -1
					d.rejected = d.acc
					return nil, 0, 0, perr
				}
				return nil, 0, 0, errListEnd
			}
		}
	}
}

func (d *Decoder) appendItem(b []byte, max int) {
	l := &d.list
	if l.tooLarge {
		return
	}
	if len(l.item)+len(b) > max {
		l.tooLarge, l.item = true, nil // its memory goes back at once
		return
	}
	l.item = appendBounded(l.item, b, max)
}

// appendBounded appends b to dst, growing dst by doubling up to max: a
// value of several megabytes is gathered with a few copies (append's
// growth for large slices, 1.25×, would copy it about twenty times and
// leave the garbage collector five times its size to reclaim).
func appendBounded(dst, b []byte, limit int) []byte {
	if n := len(dst) + len(b); n > cap(dst) && n > 64<<10 {
		c := max(min(max(2*cap(dst), n), limit), n)
		grown := make([]byte, len(dst), c)
		copy(grown, dst)
		dst = grown
	}
	return append(dst, b...)
}

// endItem completes an item gathered in l.item.
func (d *Decoder) endItem() ([]byte, int, int64, error) {
	l := &d.list
	if l.tooLarge {
		l.state = lsAfterItem
		idx := l.idx
		l.idx++
		return nil, 0, 0, &DecodeError{Line: l.itemLine, Offset: l.itemOff, Pos: -1, Index: idx, Err: ErrTooLarge,
			Detail: "item longer than " + itoa(d.maxSize()) + " bytes"}
	}
	return d.itemDone(l.item)
}

func (d *Decoder) itemDone(raw []byte) ([]byte, int, int64, error) {
	l := &d.list
	l.state = lsAfterItem
	t0, t1 := trimSpace(raw)
	return raw[t0:t1], l.itemLine, l.itemOff, nil
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}

// restOfLine returns the rest of the current line (trimmed), gathered when
// it is longer than the read buffer.
func (d *Decoder) restOfLine(lineNo int, off int64) ([]byte, int, int64, error) {
	if d.fragEOL {
		v := d.frag
		d.consume(len(d.frag))
		t0, t1 := trimSpace(v)
		return v[t0:t1], lineNo, off, nil
	}
	d.acc = d.acc[:0]
	tooLong := d.appendLine(&d.acc)
	if tooLong {
		return nil, 0, 0, &DecodeError{Line: lineNo, Offset: off, Pos: -1, Index: -1, Err: ErrTooLarge, Detail: "line longer than " + itoa(d.maxSize()) + " bytes"}
	}
	t0, t1 := trimSpace(d.acc)
	return d.acc[t0:t1], lineNo, off, nil
}

// appendLine appends the rest of the current line to *dst, reading on
// until its end; past MaxSize it discards the line and reports tooLong.
func (d *Decoder) appendLine(dst *[]byte) (tooLong bool) {
	start := len(*dst)
	max := d.maxSize()
	for {
		if !tooLong {
			if len(*dst)-start+len(d.frag) > max {
				tooLong, *dst = true, (*dst)[:start]
			} else {
				*dst = append(*dst, d.frag...)
			}
		}
		d.consume(len(d.frag))
		if d.fragEOL {
			return tooLong
		}
		if err := d.fill(); err != nil {
			return tooLong
		}
	}
}

// nextLine moves to the start of the next line, loaded in d.frag; it
// returns io.EOF at the end of the input.
func (d *Decoder) nextLine() error {
	for !d.fragEOL {
		d.consume(len(d.frag))
		if err := d.fill(); err != nil {
			return err
		}
	}
	d.consume(len(d.frag))
	return d.fill()
}

// readYAML gathers one YAML document that starts at the current line
// (gcloud logging read writes LogEntries as documents separated by
// "---"): up to the next document marker, a line that starts a JSON
// value, or the end.
func (d *Decoder) readYAML(lineNo int, off int64) ([]byte, int, int64, error) {
	d.acc = d.acc[:0]
	tooLong := false
	if isDocMarker(d.frag) {
		d.consume(len(d.frag))
	} else {
		tooLong = d.appendLine(&d.acc)
	}
	for {
		if err := d.nextLine(); err == io.EOF {
			break
		} else if err != nil {
			return nil, 0, 0, err
		}
		line := d.frag
		if len(line) > 0 && (line[0] == '{' || line[0] == '[') {
			break // left for the next value
		}
		if isDocMarker(line) {
			if len(trimYAMLSpace(d.acc)) == 0 && !tooLong {
				continue // "---" before the first document
			}
			if string(line[:3]) == "..." {
				d.consume(len(d.frag))
			}
			break // "---" starts the next document
		}
		if len(d.acc) > 0 {
			d.acc = append(d.acc, '\n')
		}
		if d.appendLine(&d.acc) || len(d.acc) > d.maxSize() {
			tooLong = true
		}
	}
	if tooLong {
		d.acc = d.acc[:0]
		return nil, 0, 0, &DecodeError{Line: lineNo, Offset: off, Pos: -1, Index: -1, Err: ErrTooLarge, Detail: "YAML document longer than " + itoa(d.maxSize()) + " bytes"}
	}
	return d.acc, lineNo, off, nil
}

// isDocMarker reports a YAML document start ("---") or end ("...") line.
func isDocMarker(line []byte) bool {
	if len(line) < 3 || (string(line[:3]) != "---" && string(line[:3]) != "...") {
		return false
	}
	return len(line) == 3 || line[3] == ' ' || line[3] == '\t'
}

func trimYAMLSpace(b []byte) []byte {
	t0, t1 := trimSpace(b)
	return b[t0:t1]
}
