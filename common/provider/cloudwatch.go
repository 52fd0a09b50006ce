package provider

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

// TruncatedMarker ends a message CloudWatch Logs cut to its event size
// limit (as cloudwatchsrc.TruncatedMarker).
const TruncatedMarker = "[Truncated...]"

// MaxDecoded bounds what one base64 or gzip payload may expand to.
var MaxDecoded = 64 << 20

// cwMeta is the CloudWatch metadata of one log event.
type cwMeta struct {
	group, stream, owner, id []byte // raw JSON strings (or nil)
	timestamp, ingestion     []byte // raw JSON numbers (ms) or strings
}

// cwOrigin names the cluster of an EKS log group /aws/eks/NAME/cluster.
func cwOrigin(format string, group, stream, owner []byte) Origin {
	o := Origin{Format: format}
	var buf [256]byte
	if g := string(str(group, buf[:])); strings.HasPrefix(g, "/aws/eks/") && strings.HasSuffix(g, "/cluster") {
		o.Provider = "eks"
		o.ClusterName = strings.TrimSuffix(strings.TrimPrefix(g, "/aws/eks/"), "/cluster")
	}
	if s := str(stream, buf[:]); bytes.HasPrefix(s, []byte("kube-apiserver-audit-")) {
		o.Provider = "eks" // EKS's name for its audit log streams
	}
	o.AccountID = string(str(owner, buf[:]))
	return o
}

// msTime renders a CloudWatch timestamp (milliseconds since the epoch as a
// JSON number, or a string already) as a raw JSON string in RFC 3339.
func msTime(v []byte) []byte {
	if isNull(v) {
		return nil
	}
	if v[0] == '"' {
		return v
	}
	ms, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return nil
	}
	return appendQuote(nil, time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z07:00"))
}

// cwMessage converts one log event's message (a raw JSON string holding an
// audit Event, or the Event object) with the metadata m.
func (o *Out) cwMessage(field string, msg []byte, m *cwMeta, origin Origin) {
	add := [...]annotation{
		{AnnProvider, quoted(origin.Provider)}, {AnnFormat, quoted(origin.Format)},
		{AnnAWSLogGroup, m.group}, {AnnAWSLogStream, m.stream}, {AnnAWSAccount, m.owner},
		{AnnAWSEventID, m.id}, {AnnAWSTimestamp, msTime(m.timestamp)}, {AnnAWSIngestion, msTime(m.ingestion)},
	}
	if isNull(msg) {
		o.fail(nil, fail(EKS, field, ErrMissing, ""), "", origin)
		return
	}
	text := msg
	if msg[0] == '"' {
		o.tmp = unescape(o.tmp[:0], msg[1:len(msg)-1])
		text = o.tmp
	} else if msg[0] != '{' {
		o.fail(msg, typeErr(EKS, field, "string or object", msg), "", origin)
		return
	}
	t0, t1 := skipWS(text, 0), len(text)
	for t1 > t0 && isWS(text[t1-1]) {
		t1--
	}
	text = text[t0:t1]
	switch {
	case bytes.HasSuffix(text, []byte(TruncatedMarker)):
		id := auditIDOf(text)
		o.fail(text, fail(EKS, field, ErrTruncated, "message cut by CloudWatch Logs ("+TruncatedMarker+")"), id, origin)
		return
	case len(text) == 0 || text[0] != '{':
		o.fail(text, fail(EKS, field, ErrNotAudit, "not a JSON object (a text log line)"), "", origin)
		return
	}
	if err := validate(EKS, field, text); err != nil {
		o.fail(text, err, auditIDOf(text), origin)
		return
	}
	start := len(o.Buf)
	buf, err := appendEvent(o.Buf, EKS, field, text, add[:])
	if err != nil {
		o.Buf = buf[:start]
		if errors.Is(err, ErrNotEvent) {
			err = fail(EKS, field, ErrNotAudit, "a JSON log line that is not an audit Event")
		}
		o.fail(text, err, auditIDOf(text), origin)
		return
	}
	o.Buf = buf
	o.compactFrom(start)
	o.Units = append(o.Units, Unit{Start: start, End: len(o.Buf), AuditID: auditIDOf(o.Buf[start:]), Origin: origin})
}

// cloudWatchData converts a subscription filter payload:
// {"messageType":"DATA_MESSAGE","owner","logGroup","logStream",
// "subscriptionFilters","logEvents":[{"id","timestamp","message"}]}.
// A CONTROL_MESSAGE (sent once to check the destination) is one unit that
// is not audit.
func (o *Out) cloudWatchData(obj []byte) {
	var typ, events []byte
	var m cwMeta
	it, _ := newObjIter(obj, 0)
	for {
		key, _, vs, ve, ok := it.next()
		if !ok {
			break
		}
		v := obj[vs:ve]
		switch string(key) {
		case "messageType":
			typ = v
		case "owner":
			m.owner = v
		case "logGroup":
			m.group = v
		case "logStream":
			m.stream = v
		case "logEvents":
			events = v
		}
	}
	origin := cwOrigin(FormatCloudWatch, m.group, m.stream, m.owner)
	for _, f := range [...]struct {
		name string
		v    []byte
	}{{"messageType", typ}, {"owner", m.owner}, {"logGroup", m.group}, {"logStream", m.stream}} {
		if !isNull(f.v) && f.v[0] != '"' {
			o.fail(obj, typeErr(EKS, f.name, "string", f.v), "", origin)
			return
		}
	}
	if string(typ) == `"CONTROL_MESSAGE"` {
		o.fail(obj, fail(EKS, "messageType", ErrNotAudit, "a CONTROL_MESSAGE"), "", origin)
		return
	}
	if !isNull(typ) && string(typ) != `"DATA_MESSAGE"` {
		o.fail(obj, fail(EKS, "messageType", ErrValue, shortRaw(typ)+" is not DATA_MESSAGE"), "", origin)
		return
	}
	o.cwEvents(obj, events, "logEvents", &m, origin)
}

// cwEvents converts each element of the log event array events: objects
// with message, id or eventId, timestamp, ingestionTime, logStreamName.
func (o *Out) cwEvents(obj, events []byte, field string, m *cwMeta, origin Origin) {
	if isNull(events) {
		o.fail(obj, fail(EKS, field, ErrMissing, ""), "", origin)
		return
	}
	arr, ok := newArrIter(events, 0)
	if !ok {
		o.fail(obj, typeErr(EKS, field, "array", events), "", origin)
		return
	}
	for {
		s, e, ok := arr.next()
		if !ok {
			return
		}
		ev := events[s:e]
		em := *m
		var msg []byte
		it, ok := newObjIter(ev, 0)
		if !ok {
			o.fail(ev, typeErr(EKS, field+"[]", "object", ev), "", origin)
			continue
		}
		for {
			key, _, vs, ve, ok := it.next()
			if !ok {
				break
			}
			v := ev[vs:ve]
			switch string(key) {
			case "message":
				msg = v
			case "id", "eventId":
				em.id = v
			case "timestamp":
				em.timestamp = v
			case "ingestionTime":
				em.ingestion = v
			case "logStreamName":
				em.stream = v
			case "logGroupName":
				em.group = v
			}
		}
		eo := origin
		if em.stream != nil || em.group != nil {
			eo = cwOrigin(origin.Format, em.group, em.stream, em.owner)
		}
		if !isNull(em.id) && em.id[0] != '"' {
			em.id = nil // numeric ids are not kept
		}
		if !isNull(em.stream) && em.stream[0] != '"' {
			em.stream = nil
		}
		if !isNull(em.group) && em.group[0] != '"' {
			em.group = nil
		}
		o.cwMessage(field+"[].message", msg, &em, eo)
	}
}

// cloudWatchEvents converts aws logs filter-log-events or get-log-events
// output: {"events":[{"logStreamName","timestamp","message",
// "ingestionTime","eventId"}],...}.
func (o *Out) cloudWatchEvents(obj []byte) {
	var events []byte
	it, _ := newObjIter(obj, 0)
	for {
		key, _, vs, ve, ok := it.next()
		if !ok {
			break
		}
		if string(key) == "events" {
			events = obj[vs:ve]
		}
	}
	o.cwEvents(obj, events, "events", &cwMeta{}, Origin{Format: FormatCloudWatchEvents})
}

// cloudWatchInsights converts one Logs Insights result row:
// {"@timestamp","@message","@logStream","@log":"ACCOUNT:GROUP",...}.
func (o *Out) cloudWatchInsights(obj []byte) {
	var msg, log []byte
	var m cwMeta
	it, _ := newObjIter(obj, 0)
	for {
		key, _, vs, ve, ok := it.next()
		if !ok {
			break
		}
		v := obj[vs:ve]
		switch string(key) {
		case "@message":
			msg = v
		case "@logStream":
			m.stream = v
		case "@log":
			log = v
		case "@timestamp":
			m.timestamp = v
		case "@ingestionTime":
			m.ingestion = v
		}
	}
	for _, v := range [...]*[]byte{&m.stream, &log} {
		if !isNull(*v) && (*v)[0] != '"' {
			*v = nil
		}
	}
	if !isNull(log) {
		var buf [256]byte
		account, group, ok := strings.Cut(string(str(log, buf[:])), ":")
		if ok {
			m.owner, m.group = quoted(account), quoted(group)
		} else {
			m.group = quoted(account)
		}
	}
	o.cwMessage("@message", msg, &m, cwOrigin(FormatCloudWatchInsights, m.group, m.stream, m.owner))
}

// cloudWatchLambda converts a Lambda subscription event
// {"awslogs":{"data":"<base64 of gzip of a DATA_MESSAGE>"}}.
func (o *Out) cloudWatchLambda(obj []byte, depth int) {
	origin := Origin{Format: FormatCloudWatch}
	var awslogs, data []byte
	it, _ := newObjIter(obj, 0)
	for {
		key, _, vs, ve, ok := it.next()
		if !ok {
			break
		}
		if string(key) == "awslogs" {
			awslogs = obj[vs:ve]
		}
	}
	if err := readSlots(EKS, "awslogs", awslogs, []slot{{"data", &data, '"'}}); err != nil {
		o.fail(obj, err, "", origin)
		return
	}
	if isNull(data) {
		o.fail(obj, fail(EKS, "awslogs.data", ErrMissing, ""), "", origin)
		return
	}
	payload, err := gunzipBase64(data[1 : len(data)-1])
	if err != nil {
		o.fail(obj, fail(EKS, "awslogs.data", ErrValue, err.Error()), "", origin)
		return
	}
	if err := validate(EKS, "awslogs.data", payload); err != nil {
		o.fail(obj, err, "", origin)
		return
	}
	if detect(payload) != wCWData {
		o.fail(obj, fail(EKS, "awslogs.data", ErrValue, "not a CloudWatch Logs subscription message"), "", origin)
		return
	}
	o.convert(wCWData, payload, depth+1)
}

// gunzipBase64 decodes standard base64 (escapes such as \/ removed first)
// and gunzips the result, up to MaxDecoded bytes.
func gunzipBase64(b64 []byte) ([]byte, error) {
	raw, err := decodeBase64(b64)
	if err != nil {
		return nil, err
	}
	return gunzip(raw)
}

func decodeBase64(b64 []byte) ([]byte, error) {
	if bytes.IndexByte(b64, '\\') >= 0 {
		b64 = unescape(nil, b64)
	}
	if len(b64) > 4*MaxDecoded/3+4 {
		return nil, errors.New("base64 payload too large")
	}
	raw := make([]byte, base64.RawStdEncoding.DecodedLen(len(b64))+3) // room for every alphabet, padded or not
	n, err := base64.StdEncoding.Decode(raw, b64)
	if err != nil {
		// Some encoders leave out the padding, or use the URL alphabet.
		for _, enc := range [...]*base64.Encoding{base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if n, err = enc.Decode(raw, b64); err == nil {
				break
			}
		}
		if err != nil {
			return nil, errors.New("invalid base64")
		}
	}
	return raw[:n], nil
}

// gunzip decompresses raw when it starts with the gzip magic number, else
// returns it as it is.
func gunzip(raw []byte) ([]byte, error) {
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		return raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, errors.New("invalid gzip data")
	}
	out, err := io.ReadAll(io.LimitReader(zr, int64(MaxDecoded)+1))
	if err != nil {
		return nil, errors.New("invalid gzip data")
	}
	if len(out) > MaxDecoded {
		return nil, errors.New("decompressed payload larger than " + strconv.Itoa(MaxDecoded) + " bytes")
	}
	return out, nil
}

// ExportLine converts an export-task line (CreateExportTask writes
// "<RFC 3339 time> <message>" per log event) into o, and reports whether
// line has that form; a line that does not is left alone.
func ExportLine(o *Out, line []byte) bool {
	ts, rest, ok := cutTimestamp(line)
	if !ok {
		return false
	}
	m := cwMeta{timestamp: appendQuote(nil, ts)}
	origin := Origin{Format: FormatCloudWatchExport}
	if err := validate(EKS, "message", rest); err != nil {
		o.fail(rest, err, auditIDOf(rest), origin)
		return true
	}
	o.cwMessage("message", rest, &m, origin)
	return true
}

// cutTimestamp splits "2024-05-14T10:02:11.402Z {...}" into the time and
// the JSON object after it.
func cutTimestamp(line []byte) (ts, rest []byte, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 20 || sp > 40 || !IsTimestampPrefix(line) {
		return nil, nil, false
	}
	rest = line[sp+1:]
	i := skipWS(rest, 0)
	if i >= len(rest) || rest[i] != '{' {
		return nil, nil, false
	}
	return line[:sp], rest[i:], true
}

// IsTimestampPrefix reports whether b starts with an RFC 3339 date and
// time ("2024-05-14T10:02:11") followed, after fractional seconds and zone,
// by a space.
func IsTimestampPrefix(b []byte) bool {
	const layout = "dddd-dd-ddTdd:dd:dd"
	if len(b) < len(layout)+2 {
		return false
	}
	for i := 0; i < len(layout); i++ {
		switch layout[i] {
		case 'd':
			if b[i] < '0' || b[i] > '9' {
				return false
			}
		default:
			if b[i] != layout[i] {
				return false
			}
		}
	}
	sp := bytes.IndexByte(b[:min(len(b), 40)], ' ')
	if sp < 0 {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, string(b[:sp]))
	return err == nil
}

// compactFrom removes whitespace between tokens from o.Buf[start:] when it
// holds a line break, so every unit is one line.
func (o *Out) compactFrom(start int) {
	if bytes.IndexByte(o.Buf[start:], '\n') < 0 && bytes.IndexByte(o.Buf[start:], '\r') < 0 {
		return
	}
	o.tmp2 = append(o.tmp2[:0], o.Buf[start:]...)
	o.Buf = appendCompact(o.Buf[:start], o.tmp2)
}
