package cwtest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// FilterLogEvents limits (CloudWatch Logs API reference, FilterLogEvents).
const (
	// MaxFilterLimit is the largest FilterLogEvents limit (and the default).
	MaxFilterLimit = 10_000
	// MaxFilterStreams is the largest number of logStreamNames.
	MaxFilterStreams = 100
	// MaxFilterResponseBytes bounds a FilterLogEvents page: as many events as
	// fit in 1 MB, counted like PutLogEvents (message bytes + 26 each).
	MaxFilterResponseBytes = 1_048_576
)

// nextEventID returns a new eventId for an event at ts. Callers hold s.mu.
func (s *Server) nextEventID(ts int64) string {
	s.eventSeq++
	return fmt.Sprintf("%020d%036d", max(ts, 0), s.eventSeq)
}

// AddEvents stores events in group/stream directly, creating both when
// missing, without PutLogEvents' time-window checks (test setup: history of
// any age). Events get IDs and, when IngestionTime is zero, the Timestamp as
// ingestion time; they become visible to reads as Options.Visibility says
// unless VisibleAt is set. It returns the stored events.
func (s *Server) AddEvents(group, stream string, evs ...Event) []Event {
	s.CreateStream(group, stream)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.groups[group].streams[stream]
	out := make([]Event, len(evs))
	now := s.clock()
	for i, ev := range evs {
		if ev.IngestionTime == 0 {
			ev.IngestionTime = ev.Timestamp
		}
		ev.ID = s.nextEventID(ev.Timestamp)
		ev.VisibleAt = s.visibleAtLocked(group, stream, ev, now)
		if !st.hasFirstAndLast || ev.Timestamp < st.first {
			st.first = ev.Timestamp
		}
		if !st.hasFirstAndLast || ev.Timestamp > st.last {
			st.last = ev.Timestamp
		}
		st.hasFirstAndLast = true
		st.lastIngestion = max(st.lastIngestion, ev.IngestionTime)
		st.count++
		st.storedBytes += int64(len(ev.Message))
		st.events = append(st.events, ev)
		out[i] = ev
	}
	s.stats.StoredEvents += len(evs)
	return out
}

// filterPattern is a compiled pattern of the supported subset: every term
// must occur in the message.
type filterPattern []string

func compileFilterPattern(p string) (filterPattern, *apiError) {
	var terms filterPattern
	rest := strings.TrimSpace(p)
	unsupported := func(why string) *apiError {
		return errInvalidParameter("Invalid filter pattern %q: %s (cwtest supports \"\" and space-separated terms: words of letters, digits and '_' or double-quoted phrases)", p, why)
	}
	for rest != "" {
		switch c := rest[0]; {
		case c == '"':
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				return nil, unsupported("unterminated quoted term")
			}
			term := rest[1 : 1+end]
			if term == "" {
				return nil, unsupported("empty quoted term")
			}
			terms = append(terms, term)
			rest = rest[2+end:]
			if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
				return nil, unsupported("a quoted term must be followed by a space")
			}
		case c == '{' || c == '[' || c == '?' || c == '-' || c == '%':
			return nil, unsupported(fmt.Sprintf("pattern syntax starting with %q is not supported", c))
		default:
			end := strings.IndexAny(rest, " \t")
			if end < 0 {
				end = len(rest)
			}
			word := rest[:end]
			for _, r := range word {
				if !(r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
					return nil, unsupported(fmt.Sprintf("term %q must be quoted", word))
				}
			}
			terms = append(terms, word)
			rest = rest[end:]
		}
		rest = strings.TrimLeft(rest, " \t")
	}
	return terms, nil
}

func (f filterPattern) match(msg string) bool {
	for _, t := range f {
		if !strings.Contains(msg, t) {
			return false
		}
	}
	return true
}

type filterInput struct {
	LogGroupName        string   `json:"logGroupName"`
	LogGroupIdentifier  string   `json:"logGroupIdentifier"`
	LogStreamNames      []string `json:"logStreamNames"`
	LogStreamNamePrefix string   `json:"logStreamNamePrefix"`
	StartTime           *int64   `json:"startTime"`
	EndTime             *int64   `json:"endTime"`
	FilterPattern       *string  `json:"filterPattern"`
	NextToken           *string  `json:"nextToken"`
	Limit               *int     `json:"limit"`
	Interleaved         *bool    `json:"interleaved"` // deprecated; always interleaved
	Unmask              bool     `json:"unmask"`
}

// queryHash binds a nextToken to the query it continues.
func (in *filterInput) queryHash(group string) string {
	q := *in
	q.NextToken, q.Limit, q.LogGroupName, q.LogGroupIdentifier = nil, nil, group, ""
	b, _ := json.Marshal(q)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

type filteredEvent struct {
	EventID       string `json:"eventId"`
	IngestionTime int64  `json:"ingestionTime"`
	LogStreamName string `json:"logStreamName"`
	Message       string `json:"message"`
	Timestamp     int64  `json:"timestamp"`
}

func (s *Server) filterLogEvents(body []byte) (any, *apiError) {
	var in filterInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if in.LogGroupName != "" && in.LogGroupIdentifier != "" {
		return nil, errInvalidParameter("LogGroupName and LogGroupIdentifier are mutually exclusive parameters.")
	}
	name := in.LogGroupName
	if name == "" {
		name = groupFromIdentifier(in.LogGroupIdentifier)
	}
	if e := validGroupName("logGroupName", name); e != nil {
		return nil, e
	}
	if len(in.LogStreamNames) > 0 && in.LogStreamNamePrefix != "" {
		return nil, errInvalidParameter("logStreamNames and logStreamNamePrefix are mutually exclusive parameters.")
	}
	if in.LogStreamNames != nil && (len(in.LogStreamNames) < 1 || len(in.LogStreamNames) > MaxFilterStreams) {
		return nil, errInvalidParameter("1 validation error detected: Value at 'logStreamNames' failed to satisfy constraint: Member must have length between 1 and %d", MaxFilterStreams)
	}
	for _, n := range in.LogStreamNames {
		if e := validStreamName(n); e != nil {
			return nil, e
		}
	}
	if in.LogStreamNamePrefix != "" {
		if e := validStreamName(in.LogStreamNamePrefix); e != nil {
			return nil, e
		}
	}
	if in.StartTime != nil && *in.StartTime < 0 {
		return nil, errInvalidParameter("1 validation error detected: Value '%d' at 'startTime' failed to satisfy constraint: Member must have value greater than or equal to 0", *in.StartTime)
	}
	if in.EndTime != nil && *in.EndTime < 0 {
		return nil, errInvalidParameter("1 validation error detected: Value '%d' at 'endTime' failed to satisfy constraint: Member must have value greater than or equal to 0", *in.EndTime)
	}
	if in.StartTime != nil && in.EndTime != nil && *in.EndTime < *in.StartTime {
		return nil, errInvalidParameter("endTime must be greater than or equal to startTime.")
	}
	limit := MaxFilterLimit
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > MaxFilterLimit {
			return nil, errInvalidParameter("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", *in.Limit, MaxFilterLimit)
		}
		limit = *in.Limit
	}
	var pattern filterPattern
	if in.FilterPattern != nil {
		if len(*in.FilterPattern) > 1024 {
			return nil, errInvalidParameter("1 validation error detected: Value at 'filterPattern' failed to satisfy constraint: Member must have length less than or equal to 1024")
		}
		var e *apiError
		if pattern, e = compileFilterPattern(*in.FilterPattern); e != nil {
			return nil, e
		}
	}
	hash := in.queryHash(name)
	after := ""
	if in.NextToken != nil {
		raw, err := base64.RawURLEncoding.DecodeString(*in.NextToken)
		h, last, ok := strings.Cut(string(raw), ":")
		if err != nil || !ok || h != hash || len(last) != 56 {
			return nil, errInvalidParameter("The specified nextToken is invalid.")
		}
		after = last
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[name]
	if !ok {
		return nil, errNotFound("The specified log group does not exist.")
	}
	var sel []filteredEvent
	nowMS := s.clock().UnixMilli()
	for sn, st := range g.streams {
		if len(in.LogStreamNames) > 0 && !slices.Contains(in.LogStreamNames, sn) {
			continue
		}
		if !strings.HasPrefix(sn, in.LogStreamNamePrefix) {
			continue
		}
		for _, ev := range st.events {
			if ev.VisibleAt > nowMS {
				s.stats.Hidden++
				continue
			}
			if in.StartTime != nil && ev.Timestamp < *in.StartTime ||
				in.EndTime != nil && ev.Timestamp > *in.EndTime ||
				ev.ID <= after || !pattern.match(ev.Message) {
				continue
			}
			sel = append(sel, filteredEvent{ev.ID, ev.IngestionTime, sn, ev.Message, ev.Timestamp})
		}
	}
	// IDs order like (timestamp, arrival): one interleaved timeline.
	slices.SortFunc(sel, func(a, b filteredEvent) int { return strings.Compare(a.EventID, b.EventID) })
	n, budget := 0, MaxFilterResponseBytes
	for n < len(sel) && n < limit && budget-len(sel[n].Message)-EventOverhead >= 0 {
		budget -= len(sel[n].Message) + EventOverhead
		n++
	}
	out := struct {
		Events    []filteredEvent `json:"events"`
		NextToken *string         `json:"nextToken,omitempty"`
	}{Events: sel[:n:n]}
	if out.Events == nil {
		out.Events = []filteredEvent{}
	}
	if n < len(sel) {
		last := after
		if n > 0 {
			last = sel[n-1].EventID
		}
		tok := base64.RawURLEncoding.EncodeToString([]byte(hash + ":" + last))
		if last == "" {
			tok = base64.RawURLEncoding.EncodeToString([]byte(hash + ":" + strings.Repeat("0", 56)))
		}
		out.NextToken = &tok
	}
	return out, nil
}
