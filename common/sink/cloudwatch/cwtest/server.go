// Package cwtest is a strict local imitation of the Amazon CloudWatch Logs
// API for tests, examples and benchmarks.
//
// The server speaks the real wire protocol (AWS JSON 1.1: POST /,
// Content-Type application/x-amz-json-1.1, X-Amz-Target
// Logs_20140328.<Operation>), requires SigV4 Authorization headers (and, when
// Options.Credentials is set, verifies the signature with the SDK's own
// signer), and enforces the documented PutLogEvents rules with the service's
// error shapes ({"__type": ..., "message": ...}):
//
//   - batch size ≤ 1,048,576 bytes counting each message's UTF-8 bytes + 26,
//   - 1 to 10,000 events, each message 1 byte to 1 MB (with its 26 bytes),
//   - events in chronological order, valid events spanning ≤ 24 h,
//   - events more than 2 h in the future, older than 14 days or older than the
//     group's retention rejected individually through rejectedLogEventsInfo,
//   - log group and stream names validated, missing ones answered with
//     ResourceNotFoundException, duplicates with ResourceAlreadyExistsException.
//
// Supported operations: CreateLogGroup, CreateLogStream, PutRetentionPolicy,
// DescribeLogStreams, PutLogEvents, GetLogEvents, FilterLogEvents. Accepted
// events are stored for assertions (Events) unless Options.Discard is set;
// AddEvents stores events directly (test setup, no time-window checks).
//
// FilterLogEvents follows the service's rules: logGroupName or
// logGroupIdentifier (not both), logStreamNames or logStreamNamePrefix (not
// both: InvalidParameterException), startTime and endTime inclusive, limit 1
// to 10,000 (default 10,000), events of all selected streams interleaved in
// timestamp order, pages cut at the limit or at 1 MB (message bytes + 26 per
// event), an opaque nextToken bound to the query, every event with an
// eventId. Filter patterns: "" matches everything; space-separated terms
// (bare words of letters, digits and '_', or double-quoted phrases) must all
// occur, case-sensitively. Other pattern syntaxes (JSON, space-delimited,
// ?OR, -exclusion, regular expressions) are answered with
// InvalidParameterException naming the pattern as unsupported by cwtest, so a
// test never silently relies on an imitation of them.
//
// Faults (error rate, throttling, added latency, full outage for a duration,
// connection resets) are set through Options.Faults, SetFaults and Outage, and
// take effect before a request is applied: PutLogEvents is not idempotent, so
// a fault injected after storing would make duplicates unavoidable for any
// client. FailNext scripts exact error answers (any HTTP status, error type
// or an empty body) for the next requests of an operation.
//
// Reads are eventually consistent, as the service's are: with
// Options.Visibility (or SetVisibility) every stored event becomes visible to
// FilterLogEvents and GetLogEvents only some time after it was stored (a
// seeded random delay up to Visibility.MaxDelay, by the service clock), so
// an event routinely shows up after later events were read. An Event added
// with a non-zero VisibleAt keeps it. Options.Clock (or SetClock) lets a test
// compress time: visibility follows the service clock, not the wall clock.
package cwtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Service limits enforced by the server (and mirrored by the sink).
const (
	// MaxBatchBytes is the PutLogEvents size limit: the sum of every
	// message's UTF-8 bytes plus EventOverhead per event.
	MaxBatchBytes = 1_048_576
	// EventOverhead is the per-event size overhead counted by PutLogEvents.
	EventOverhead = 26
	// MaxEventBytes is the largest event (message bytes + EventOverhead).
	MaxEventBytes = 1_048_576
	// MaxBatchEvents is the largest number of events in one PutLogEvents.
	MaxBatchEvents = 10_000
	// MaxBatchSpan is the largest time span of the valid events of one batch.
	MaxBatchSpan = 24 * time.Hour
	// MaxFuture is how far in the future an event may be.
	MaxFuture = 2 * time.Hour
	// MaxAge is how old an event may be.
	MaxAge = 14 * 24 * time.Hour
	// MaxRequestBytes bounds a request body (a JSON-escaped 1 MB batch can
	// be several times larger than its message bytes).
	MaxRequestBytes = 16 << 20
)

// targetPrefix is the X-Amz-Target prefix of the CloudWatch Logs API.
const targetPrefix = "Logs_20140328."

// Credential is a key pair the server accepts when signatures are verified.
type Credential struct {
	SecretAccessKey string
	// SessionToken, when set, must arrive in X-Amz-Security-Token.
	SessionToken string
}

// Faults configures fault injection. Rates are fractions in [0, 1] drawn
// independently per request from a seeded generator.
type Faults struct {
	// ErrorRate answers ServiceUnavailableException (HTTP 500).
	ErrorRate float64
	// ThrottleRate answers ThrottlingException (HTTP 400).
	ThrottleRate float64
	// ResetRate resets the TCP connection without answering.
	ResetRate float64
	// Latency is added before every request is handled.
	Latency time.Duration
	// Operations limits faults to these operation names (for example
	// "PutLogEvents"); empty means every operation.
	Operations []string
	// Seed seeds the fault generator; equal seeds give equal sequences.
	Seed uint64
}

// Options configures a Server.
type Options struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// Region is the region the credential scope must name; default
	// "us-east-1".
	Region string
	// Credentials, when non-nil, lists the accepted access key IDs; requests
	// signed with another key get UnrecognizedClientException and every
	// signature is verified. When nil any well-formed SigV4 header passes.
	Credentials map[string]Credential
	// Clock is the service time used for the event time window and
	// ingestion times; default time.Now. SigV4 dates are always checked
	// against the real time.
	Clock func() time.Time
	// Discard validates and counts accepted events without keeping them
	// (for benchmarks and soak runs).
	Discard bool
	// Faults is the initial fault configuration.
	Faults Faults
	// Visibility makes stored events visible to reads only after a delay.
	Visibility Visibility
}

// Visibility configures eventually consistent reads: each event stored
// becomes visible to FilterLogEvents and GetLogEvents after a delay drawn
// uniformly from [0, MaxDelay] (service clock), or after Delay's answer
// when Delay is set.
type Visibility struct {
	MaxDelay time.Duration
	// Delay, when set, decides each event's delay instead of MaxDelay.
	Delay func(group, stream string, ev Event) time.Duration
	// Seed seeds the delay draws; equal seeds give equal sequences.
	Seed uint64
}

// Answer is an error answer scripted with FailNext.
type Answer struct {
	// Status is the HTTP status code.
	Status int
	// Type is the __type of the JSON error body; empty sends an empty body
	// (as a load balancer in front of the service may).
	Type    string
	Message string
}

// Event is one stored log event.
type Event struct {
	Timestamp     int64
	Message       string
	IngestionTime int64
	// ID is the eventId FilterLogEvents reports: 56 decimal digits, unique
	// in the server and ordered like (Timestamp, arrival). AddEvents and
	// PutLogEvents assign it.
	ID string
	// VisibleAt is when reads start returning the event (Unix ms, service
	// clock); zero means at once. Set from Visibility when stored; an event
	// passed to AddEvents with VisibleAt set keeps it.
	VisibleAt int64
}

// GroupInfo describes a stored log group.
type GroupInfo struct {
	Name          string
	RetentionDays int
	Class         string
	KMSKeyID      string
	Tags          map[string]string
	Streams       []string
}

// Stats are the server's counters.
type Stats struct {
	Requests       int            // requests received
	Calls          map[string]int // requests per operation (after faults)
	Errors         map[string]int // error answers by __type
	Throttled      int            // injected ThrottlingException answers
	Unavailable    int            // injected ServiceUnavailableException answers
	Resets         int            // injected connection resets
	Scripted       int            // answers scripted with FailNext
	Hidden         int            // events left out of read answers because not yet visible
	StoredEvents   int            // events accepted
	RejectedEvents map[string]int // events rejected individually: too_old, too_new, expired
	SequenceTokens int            // PutLogEvents requests that carried a sequenceToken
}

type logStream struct {
	created         int64
	first, last     int64
	lastIngestion   int64
	events          []Event
	count           int
	storedBytes     int64
	hasFirstAndLast bool
}

type logGroup struct {
	info    GroupInfo
	created int64
	streams map[string]*logStream
}

// Server is a running local CloudWatch Logs endpoint.
type Server struct {
	// URL is the base URL, for example "http://127.0.0.1:38123".
	URL string

	srv    *httptest.Server
	region string
	creds  map[string]Credential
	signer *v4.Signer

	mu          sync.Mutex
	clock       func() time.Time
	discard     bool
	faults      Faults
	rng         *rand.Rand
	outageUntil time.Time
	groups      map[string]*logGroup
	stats       Stats
	eventSeq    uint64
	visibility  Visibility
	visRng      *rand.Rand
	scripted    map[string][]Answer // operation → answers for its next requests
}

// New starts a server. It fails only when the address cannot be listened on.
func New(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("cwtest: listen on %s: %w", opts.Addr, err)
	}
	s := &Server{
		region:  opts.Region,
		signer:  v4.NewSigner(),
		clock:   opts.Clock,
		discard: opts.Discard,
		groups:  make(map[string]*logGroup),
	}
	if opts.Credentials != nil {
		s.creds = make(map[string]Credential, len(opts.Credentials))
		for k, v := range opts.Credentials {
			s.creds[k] = v
		}
	}
	s.resetStats()
	s.setFaultsLocked(opts.Faults)
	s.setVisibilityLocked(opts.Visibility)
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serveHTTP))
	s.srv.Listener.Close()
	s.srv.Listener = ln
	s.srv.Start()
	s.URL = s.srv.URL
	return s, nil
}

// Close shuts the server down.
func (s *Server) Close() {
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Region returns the region the server expects in credential scopes.
func (s *Server) Region() string { return s.region }

// SetFaults replaces the fault configuration.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	s.setFaultsLocked(f)
	s.mu.Unlock()
}

func (s *Server) setFaultsLocked(f Faults) {
	s.faults = f
	s.faults.Operations = slices.Clone(f.Operations)
	s.rng = rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
}

// SetVisibility replaces the visibility configuration for events stored
// from now on.
func (s *Server) SetVisibility(v Visibility) {
	s.mu.Lock()
	s.setVisibilityLocked(v)
	s.mu.Unlock()
}

func (s *Server) setVisibilityLocked(v Visibility) {
	s.visibility = v
	s.visRng = rand.New(rand.NewPCG(v.Seed^0x5851f42d4c957f2d, v.Seed))
}

// visibleAtLocked returns when an event stored now becomes visible.
// Callers hold s.mu.
func (s *Server) visibleAtLocked(group, stream string, ev Event, now time.Time) int64 {
	if ev.VisibleAt != 0 {
		return ev.VisibleAt
	}
	v := s.visibility
	var d time.Duration
	switch {
	case v.Delay != nil:
		d = v.Delay(group, stream, ev)
	case v.MaxDelay > 0:
		d = time.Duration(s.visRng.Int64N(int64(v.MaxDelay) + 1))
	default:
		return 0
	}
	return now.Add(d).UnixMilli()
}

// FailNext answers the next n requests of operation op (for example
// "FilterLogEvents") with a, after signature checks are skipped as for the
// other faults. Scripted answers come before random faults and outages.
func (s *Server) FailNext(op string, n int, a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.scripted == nil {
		s.scripted = map[string][]Answer{}
	}
	for range n {
		s.scripted[op] = append(s.scripted[op], a)
	}
}

// Outage answers every request with ServiceUnavailableException (HTTP 503)
// for d, starting now (real time). A zero d ends an outage.
func (s *Server) Outage(d time.Duration) {
	s.mu.Lock()
	s.outageUntil = time.Now().Add(d)
	s.mu.Unlock()
}

// SetClock replaces the service clock.
func (s *Server) SetClock(clock func() time.Time) {
	s.mu.Lock()
	s.clock = clock
	s.mu.Unlock()
}

// CreateGroup creates a log group directly (test setup). retentionDays 0
// means never expire.
func (s *Server) CreateGroup(name string, retentionDays int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[name]; !ok {
		s.groups[name] = &logGroup{info: GroupInfo{Name: name, Class: "STANDARD"},
			created: s.clock().UnixMilli(), streams: make(map[string]*logStream)}
	}
	s.groups[name].info.RetentionDays = retentionDays
}

// CreateStream creates a log stream directly (test setup), creating its
// group when missing.
func (s *Server) CreateStream(group, stream string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[group]
	if !ok {
		g = &logGroup{info: GroupInfo{Name: group, Class: "STANDARD"},
			created: s.clock().UnixMilli(), streams: make(map[string]*logStream)}
		s.groups[group] = g
	}
	if _, ok := g.streams[stream]; !ok {
		g.streams[stream] = &logStream{created: s.clock().UnixMilli()}
	}
}

// DeleteGroup deletes a log group and its streams (test setup), as if
// someone removed it behind the writer's back.
func (s *Server) DeleteGroup(name string) {
	s.mu.Lock()
	delete(s.groups, name)
	s.mu.Unlock()
}

// Group describes a log group.
func (s *Server) Group(name string) (GroupInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[name]
	if !ok {
		return GroupInfo{}, false
	}
	info := g.info
	info.Tags = make(map[string]string, len(g.info.Tags))
	for k, v := range g.info.Tags {
		info.Tags[k] = v
	}
	for n := range g.streams {
		info.Streams = append(info.Streams, n)
	}
	sort.Strings(info.Streams)
	return info, true
}

// Groups returns the names of all log groups, sorted.
func (s *Server) Groups() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.groups))
	for n := range s.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Events returns a copy of the events stored in a stream, in arrival order.
func (s *Server) Events(group, stream string) []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[group]
	if !ok {
		return nil
	}
	st, ok := g.streams[stream]
	if !ok {
		return nil
	}
	return slices.Clone(st.events)
}

// Stats returns a copy of the server's counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Calls = cloneMap(s.stats.Calls)
	st.Errors = cloneMap(s.stats.Errors)
	st.RejectedEvents = cloneMap(s.stats.RejectedEvents)
	return st
}

// ResetStats zeroes the counters (stored events are kept).
func (s *Server) ResetStats() {
	s.mu.Lock()
	s.resetStats()
	s.mu.Unlock()
}

func (s *Server) resetStats() {
	s.stats = Stats{Calls: map[string]int{}, Errors: map[string]int{}, RejectedEvents: map[string]int{}}
}

func cloneMap(m map[string]int) map[string]int {
	c := make(map[string]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// apiError is an error answer in the service's shape.
type apiError struct {
	status  int
	typ     string
	message string
}

func (e *apiError) Error() string { return e.typ + ": " + e.message }

func errInvalidParameter(format string, args ...any) *apiError {
	return &apiError{http.StatusBadRequest, "InvalidParameterException", fmt.Sprintf(format, args...)}
}

func errNotFound(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "ResourceNotFoundException", msg}
}

func errAlreadyExists(msg string) *apiError {
	return &apiError{http.StatusBadRequest, "ResourceAlreadyExistsException", msg}
}

func (s *Server) writeError(w http.ResponseWriter, e *apiError) {
	s.mu.Lock()
	s.stats.Errors[e.typ]++
	s.mu.Unlock()
	body, _ := json.Marshal(map[string]string{"__type": e.typ, "message": e.message})
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", requestID())
	w.WriteHeader(e.status)
	_, _ = w.Write(body)
}

// writeScripted writes a FailNext answer: the service's error shape, or an
// empty body when the answer has no type.
func (s *Server) writeScripted(w http.ResponseWriter, a Answer) {
	if a.Type != "" {
		s.writeError(w, &apiError{a.Status, a.Type, a.Message})
		return
	}
	s.mu.Lock()
	s.stats.Errors[fmt.Sprintf("HTTP %d", a.Status)]++
	s.mu.Unlock()
	w.Header().Set("X-Amzn-Requestid", requestID())
	w.WriteHeader(a.Status)
}

func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-Requestid", requestID())
	_, _ = w.Write(body)
}

var reqSeq struct {
	sync.Mutex
	n uint64
}

func requestID() string {
	reqSeq.Lock()
	reqSeq.n++
	n := reqSeq.n
	reqSeq.Unlock()
	return fmt.Sprintf("00000000-0000-4000-8000-%012x", n)
}

type fault uint8

const (
	noFault fault = iota
	faultOutage
	faultReset
	faultThrottle
	faultUnavailable
	faultScripted
)

// pickFault decides the fault for one request of operation op; a
// scripted answer comes with faultScripted.
func (s *Server) pickFault(op string) (fault, time.Duration, Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Requests++
	f := s.faults
	if q := s.scripted[op]; len(q) > 0 {
		s.scripted[op] = q[1:]
		s.stats.Scripted++
		return faultScripted, f.Latency, q[0]
	}
	if time.Now().Before(s.outageUntil) {
		s.stats.Unavailable++
		return faultOutage, f.Latency, Answer{}
	}
	if len(f.Operations) > 0 && !slices.Contains(f.Operations, op) {
		return noFault, f.Latency, Answer{}
	}
	if f.ResetRate > 0 && s.rng.Float64() < f.ResetRate {
		s.stats.Resets++
		return faultReset, f.Latency, Answer{}
	}
	if f.ThrottleRate > 0 && s.rng.Float64() < f.ThrottleRate {
		s.stats.Throttled++
		return faultThrottle, f.Latency, Answer{}
	}
	if f.ErrorRate > 0 && s.rng.Float64() < f.ErrorRate {
		s.stats.Unavailable++
		return faultUnavailable, f.Latency, Answer{}
	}
	return noFault, f.Latency, Answer{}
}

func resetConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // close with RST
	}
	_ = conn.Close()
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op, hasPrefix := strings.CutPrefix(target, targetPrefix)

	// Faults come first, as they would from the service's front door.
	f, latency, scripted := s.pickFault(op)
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	switch f {
	case faultScripted:
		s.writeScripted(w, scripted)
		return
	case faultReset:
		resetConn(w)
		return
	case faultOutage:
		s.writeError(w, &apiError{http.StatusServiceUnavailable, "ServiceUnavailableException", "The service is unavailable. Please try again later."})
		return
	case faultThrottle:
		s.writeError(w, &apiError{http.StatusBadRequest, "ThrottlingException", "Rate exceeded"})
		return
	case faultUnavailable:
		s.writeError(w, &apiError{http.StatusInternalServerError, "ServiceUnavailableException", "The server failed to process the request."})
		return
	}

	if r.Method != http.MethodPost || r.URL.Path != "/" {
		s.writeError(w, &apiError{http.StatusBadRequest, "UnknownOperationException", "only POST / is served"})
		return
	}
	if !hasPrefix || op == "" {
		s.writeError(w, &apiError{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("unknown X-Amz-Target %q", target)})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		s.writeError(w, &apiError{http.StatusBadRequest, "SerializationException", fmt.Sprintf("unsupported Content-Type %q, want application/x-amz-json-1.1", ct)})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxRequestBytes+1))
	if err != nil {
		return // connection gone
	}
	if len(body) > MaxRequestBytes {
		s.writeError(w, &apiError{http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException", "request body too large"})
		return
	}
	if e := s.authenticate(r, body); e != nil {
		s.writeError(w, e)
		return
	}

	s.mu.Lock()
	s.stats.Calls[op]++
	s.mu.Unlock()

	var out any
	var e *apiError
	switch op {
	case "CreateLogGroup":
		out, e = s.createLogGroup(body)
	case "CreateLogStream":
		out, e = s.createLogStream(body)
	case "PutRetentionPolicy":
		out, e = s.putRetentionPolicy(body)
	case "DescribeLogStreams":
		out, e = s.describeLogStreams(body)
	case "PutLogEvents":
		out, e = s.putLogEvents(body)
	case "GetLogEvents":
		out, e = s.getLogEvents(body)
	case "FilterLogEvents":
		out, e = s.filterLogEvents(body)
	default:
		e = &apiError{http.StatusBadRequest, "UnknownOperationException", fmt.Sprintf("operation %q is not supported", op)}
	}
	if e != nil {
		s.writeError(w, e)
		return
	}
	writeJSON(w, out)
}

// authorizationRE matches a SigV4 Authorization header.
var authorizationRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/([^/,\s]+)/([^/,\s]+), ?SignedHeaders=([a-z0-9;\-]+), ?Signature=([0-9a-f]+)$`)

func (s *Server) authenticate(r *http.Request, body []byte) *apiError {
	authz := r.Header.Get("Authorization")
	if authz == "" {
		return &apiError{http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	m := authorizationRE.FindStringSubmatch(authz)
	if m == nil {
		return &apiError{http.StatusBadRequest, "IncompleteSignatureException", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters in the AWS4-HMAC-SHA256 format."}
	}
	keyID, day, region, service, term, signedHeaders, signature := m[1], m[2], m[3], m[4], m[5], m[6], m[7]
	if len(signature) != 64 {
		return &apiError{http.StatusBadRequest, "IncompleteSignatureException", "Signature must be 64 hexadecimal characters."}
	}
	if service != "logs" || term != "aws4_request" {
		return &apiError{http.StatusBadRequest, "InvalidSignatureException", fmt.Sprintf("Credential should be scoped to correct service: 'logs', not %q.", service)}
	}
	if region != s.region {
		return &apiError{http.StatusBadRequest, "InvalidSignatureException", fmt.Sprintf("Credential should be scoped to a valid region, not %q.", region)}
	}
	headers := strings.Split(signedHeaders, ";")
	if !slices.Contains(headers, "host") || !slices.Contains(headers, "x-amz-date") {
		return &apiError{http.StatusBadRequest, "IncompleteSignatureException", "SignedHeaders must include host and x-amz-date."}
	}
	amzDate := r.Header.Get("X-Amz-Date")
	signedAt, err := time.Parse("20060102T150405Z", amzDate)
	if err != nil || amzDate[:8] != day {
		return &apiError{http.StatusBadRequest, "IncompleteSignatureException", "X-Amz-Date is missing, malformed or does not match the credential scope date."}
	}
	if skew := time.Since(signedAt); skew > 15*time.Minute || skew < -15*time.Minute {
		return &apiError{http.StatusBadRequest, "InvalidSignatureException", "Signature expired: the request time is more than 15 minutes from the server time."}
	}
	if s.creds == nil {
		return nil
	}
	cred, ok := s.creds[keyID]
	if !ok {
		return &apiError{http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid."}
	}
	if cred.SessionToken != "" && r.Header.Get("X-Amz-Security-Token") != cred.SessionToken {
		return &apiError{http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid."}
	}

	// Re-sign a copy made only of the signed parts with the SDK's signer.
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	check, err := http.NewRequestWithContext(context.Background(), r.Method, u.String(), nil)
	if err != nil {
		return &apiError{http.StatusBadRequest, "InvalidSignatureException", "request URL cannot be signed"}
	}
	check.Host = r.Host
	for _, h := range headers {
		switch h {
		case "host", "x-amz-date", "x-amz-security-token":
		case "content-length":
			check.ContentLength = int64(len(body))
		default:
			vals := r.Header.Values(h)
			if len(vals) == 0 {
				return &apiError{http.StatusBadRequest, "InvalidSignatureException", fmt.Sprintf("signed header %q is missing", h)}
			}
			check.Header[http.CanonicalHeaderKey(h)] = vals
		}
	}
	sum := sha256.Sum256(body)
	err = s.signer.SignHTTP(context.Background(), aws.Credentials{
		AccessKeyID: keyID, SecretAccessKey: cred.SecretAccessKey, SessionToken: cred.SessionToken,
	}, check, hex.EncodeToString(sum[:]), "logs", region, signedAt)
	if err != nil {
		return &apiError{http.StatusBadRequest, "InvalidSignatureException", "request cannot be signed"}
	}
	want := authorizationRE.FindStringSubmatch(check.Header.Get("Authorization"))
	if want == nil || want[7] != signature || want[6] != signedHeaders {
		return &apiError{http.StatusBadRequest, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}
	}
	return nil
}

var (
	groupNameRE = regexp.MustCompile(`^[\.\-_/#A-Za-z0-9]+$`)
	tagKeyRE    = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$`)
	tagValueRE  = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)
)

// RetentionDays lists the retentionInDays values the service accepts.
var RetentionDays = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653}

func validGroupName(field, name string) *apiError {
	if name == "" {
		return errInvalidParameter("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", field)
	}
	if n := utf8.RuneCountInString(name); n > 512 {
		return errInvalidParameter("1 validation error detected: Value at '%s' failed to satisfy constraint: Member must have length less than or equal to 512", field)
	}
	if !groupNameRE.MatchString(name) {
		return errInvalidParameter("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_/#A-Za-z0-9]+", name, field)
	}
	return nil
}

func validStreamName(name string) *apiError {
	if name == "" {
		return errInvalidParameter("1 validation error detected: Value null at 'logStreamName' failed to satisfy constraint: Member must not be null")
	}
	if utf8.RuneCountInString(name) > 512 {
		return errInvalidParameter("1 validation error detected: Value at 'logStreamName' failed to satisfy constraint: Member must have length less than or equal to 512")
	}
	if strings.ContainsAny(name, ":*") {
		return errInvalidParameter("1 validation error detected: Value '%s' at 'logStreamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [^:*]*", name)
	}
	return nil
}

func decode(body []byte, v any) *apiError {
	if err := json.Unmarshal(body, v); err != nil {
		return &apiError{http.StatusBadRequest, "SerializationException", "request body is not valid JSON for this operation: " + err.Error()}
	}
	return nil
}

type createLogGroupInput struct {
	LogGroupName              string            `json:"logGroupName"`
	KmsKeyID                  *string           `json:"kmsKeyId"`
	LogGroupClass             *string           `json:"logGroupClass"`
	Tags                      map[string]string `json:"tags"`
	DeletionProtectionEnabled *bool             `json:"deletionProtectionEnabled"`
}

func (s *Server) createLogGroup(body []byte) (any, *apiError) {
	var in createLogGroupInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := validGroupName("logGroupName", in.LogGroupName); e != nil {
		return nil, e
	}
	class := "STANDARD"
	if in.LogGroupClass != nil {
		switch *in.LogGroupClass {
		case "STANDARD", "INFREQUENT_ACCESS", "DELIVERY":
			class = *in.LogGroupClass
		default:
			return nil, errInvalidParameter("1 validation error detected: Value '%s' at 'logGroupClass' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY]", *in.LogGroupClass)
		}
	}
	var kms string
	if in.KmsKeyID != nil {
		kms = *in.KmsKeyID
		if len(kms) > 256 || !strings.HasPrefix(kms, "arn:") {
			return nil, errInvalidParameter("Specified KMS key %q is not a valid key ARN.", kms)
		}
	}
	if len(in.Tags) > 50 {
		return nil, errInvalidParameter("1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50")
	}
	for k, v := range in.Tags {
		if k == "" || utf8.RuneCountInString(k) > 128 || !tagKeyRE.MatchString(k) || strings.HasPrefix(k, "aws:") {
			return nil, errInvalidParameter("Tag key %q is not valid.", k)
		}
		if utf8.RuneCountInString(v) > 256 || !tagValueRE.MatchString(v) {
			return nil, errInvalidParameter("Tag value for key %q is not valid.", k)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.groups[in.LogGroupName]; ok {
		return nil, errAlreadyExists("The specified log group already exists")
	}
	tags := make(map[string]string, len(in.Tags))
	for k, v := range in.Tags {
		tags[k] = v
	}
	s.groups[in.LogGroupName] = &logGroup{
		info:    GroupInfo{Name: in.LogGroupName, Class: class, KMSKeyID: kms, Tags: tags},
		created: s.clock().UnixMilli(),
		streams: make(map[string]*logStream),
	}
	return struct{}{}, nil
}

type streamInput struct {
	LogGroupName       string `json:"logGroupName"`
	LogGroupIdentifier string `json:"logGroupIdentifier"`
	LogStreamName      string `json:"logStreamName"`
}

func (s *Server) createLogStream(body []byte) (any, *apiError) {
	var in streamInput
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := validGroupName("logGroupName", in.LogGroupName); e != nil {
		return nil, e
	}
	if e := validStreamName(in.LogStreamName); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[in.LogGroupName]
	if !ok {
		return nil, errNotFound("The specified log group does not exist.")
	}
	if _, ok := g.streams[in.LogStreamName]; ok {
		return nil, errAlreadyExists("The specified log stream already exists")
	}
	g.streams[in.LogStreamName] = &logStream{created: s.clock().UnixMilli()}
	return struct{}{}, nil
}

func (s *Server) putRetentionPolicy(body []byte) (any, *apiError) {
	var in struct {
		LogGroupName    string `json:"logGroupName"`
		RetentionInDays *int   `json:"retentionInDays"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := validGroupName("logGroupName", in.LogGroupName); e != nil {
		return nil, e
	}
	if in.RetentionInDays == nil {
		return nil, errInvalidParameter("1 validation error detected: Value null at 'retentionInDays' failed to satisfy constraint: Member must not be null")
	}
	if !slices.Contains(RetentionDays, *in.RetentionInDays) {
		return nil, errInvalidParameter("1 validation error detected: Value '%d' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: %v", *in.RetentionInDays, RetentionDays)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[in.LogGroupName]
	if !ok {
		return nil, errNotFound("The specified log group does not exist.")
	}
	g.info.RetentionDays = *in.RetentionInDays
	return struct{}{}, nil
}

type logStreamOut struct {
	Arn                 string `json:"arn"`
	CreationTime        int64  `json:"creationTime"`
	FirstEventTimestamp *int64 `json:"firstEventTimestamp,omitempty"`
	LastEventTimestamp  *int64 `json:"lastEventTimestamp,omitempty"`
	LastIngestionTime   *int64 `json:"lastIngestionTime,omitempty"`
	LogStreamName       string `json:"logStreamName"`
	StoredBytes         int64  `json:"storedBytes"`
}

func (s *Server) describeLogStreams(body []byte) (any, *apiError) {
	var in struct {
		LogGroupName        string  `json:"logGroupName"`
		LogGroupIdentifier  string  `json:"logGroupIdentifier"`
		LogStreamNamePrefix string  `json:"logStreamNamePrefix"`
		OrderBy             string  `json:"orderBy"`
		Descending          bool    `json:"descending"`
		Limit               *int    `json:"limit"`
		NextToken           *string `json:"nextToken"`
	}
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
	switch in.OrderBy {
	case "", "LogStreamName":
	case "LastEventTime":
		if in.LogStreamNamePrefix != "" {
			return nil, errInvalidParameter("Cannot order by LastEventTime with a logStreamNamePrefix.")
		}
	default:
		return nil, errInvalidParameter("1 validation error detected: Value '%s' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]", in.OrderBy)
	}
	limit := 50
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > 50 {
			return nil, errInvalidParameter("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 50", *in.Limit)
		}
		limit = *in.Limit
	}
	start := 0
	if in.NextToken != nil {
		n, err := strconv.Atoi(strings.TrimPrefix(*in.NextToken, "s/"))
		if err != nil || n < 0 || !strings.HasPrefix(*in.NextToken, "s/") {
			return nil, errInvalidParameter("The specified nextToken is invalid.")
		}
		start = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[name]
	if !ok {
		return nil, errNotFound("The specified log group does not exist.")
	}
	var list []logStreamOut
	for n, st := range g.streams {
		if !strings.HasPrefix(n, in.LogStreamNamePrefix) {
			continue
		}
		o := logStreamOut{
			Arn:           fmt.Sprintf("arn:aws:logs:%s:123456789012:log-group:%s:log-stream:%s", s.region, name, n),
			CreationTime:  st.created,
			LogStreamName: n,
		}
		if st.hasFirstAndLast {
			first, last, ing := st.first, st.last, st.lastIngestion
			o.FirstEventTimestamp, o.LastEventTimestamp, o.LastIngestionTime = &first, &last, &ing
		}
		list = append(list, o)
	}
	sort.Slice(list, func(i, j int) bool {
		if in.OrderBy == "LastEventTime" {
			a, b := lastOf(list[i]), lastOf(list[j])
			if a != b {
				return a < b
			}
		}
		return list[i].LogStreamName < list[j].LogStreamName
	})
	if in.Descending {
		slices.Reverse(list)
	}
	out := struct {
		LogStreams []logStreamOut `json:"logStreams"`
		NextToken  *string        `json:"nextToken,omitempty"`
	}{LogStreams: []logStreamOut{}}
	if start < len(list) {
		end := min(start+limit, len(list))
		out.LogStreams = list[start:end]
		if end < len(list) {
			tok := "s/" + strconv.Itoa(end)
			out.NextToken = &tok
		}
	}
	return out, nil
}

func lastOf(o logStreamOut) int64 {
	if o.LastEventTimestamp == nil {
		return 0
	}
	return *o.LastEventTimestamp
}

// groupFromIdentifier accepts a log group name or ARN.
func groupFromIdentifier(id string) string {
	if !strings.HasPrefix(id, "arn:") {
		return id
	}
	_, name, ok := strings.Cut(id, ":log-group:")
	if !ok {
		return ""
	}
	return strings.TrimSuffix(name, ":*")
}

type inputEvent struct {
	Timestamp *int64  `json:"timestamp"`
	Message   *string `json:"message"`
}

type rejectedInfo struct {
	TooNewLogEventStartIndex *int `json:"tooNewLogEventStartIndex,omitempty"`
	TooOldLogEventEndIndex   *int `json:"tooOldLogEventEndIndex,omitempty"`
	ExpiredLogEventEndIndex  *int `json:"expiredLogEventEndIndex,omitempty"`
}

func (s *Server) putLogEvents(body []byte) (any, *apiError) {
	var in struct {
		LogGroupName  string          `json:"logGroupName"`
		LogStreamName string          `json:"logStreamName"`
		LogEvents     []inputEvent    `json:"logEvents"`
		SequenceToken *string         `json:"sequenceToken"`
		Entity        json.RawMessage `json:"entity"`
	}
	if e := decode(body, &in); e != nil {
		return nil, e
	}
	if e := validGroupName("logGroupName", in.LogGroupName); e != nil {
		return nil, e
	}
	if e := validStreamName(in.LogStreamName); e != nil {
		return nil, e
	}
	n := len(in.LogEvents)
	if n < 1 || n > MaxBatchEvents {
		return nil, errInvalidParameter("1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length between 1 and %d", MaxBatchEvents)
	}
	total := 0
	for i, ev := range in.LogEvents {
		if ev.Timestamp == nil || ev.Message == nil {
			return nil, errInvalidParameter("1 validation error detected: Value null at 'logEvents.%d.member.timestamp/message' failed to satisfy constraint: Member must not be null", i+1)
		}
		size := len(*ev.Message)
		if size < 1 {
			return nil, errInvalidParameter("1 validation error detected: Value '' at 'logEvents.%d.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1", i+1)
		}
		if size+EventOverhead > MaxEventBytes {
			return nil, errInvalidParameter("Log event too large: %d bytes exceeds limit of %d", size+EventOverhead, MaxEventBytes)
		}
		total += size + EventOverhead
		if i > 0 && *ev.Timestamp < *in.LogEvents[i-1].Timestamp {
			return nil, errInvalidParameter("Log events in a single PutLogEvents request must be in chronological order.")
		}
	}
	if total > MaxBatchBytes {
		return nil, errInvalidParameter("Upload too large: %d bytes exceeds limit of %d", total, MaxBatchBytes)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if in.SequenceToken != nil {
		s.stats.SequenceTokens++
	}
	g, ok := s.groups[in.LogGroupName]
	if !ok {
		return nil, errNotFound("The specified log group does not exist.")
	}
	st, ok := g.streams[in.LogStreamName]
	if !ok {
		return nil, errNotFound("The specified log stream does not exist.")
	}
	now := s.clock()
	nowMS := now.UnixMilli()
	oldCut := now.Add(-MaxAge).UnixMilli()
	newCut := now.Add(MaxFuture).UnixMilli()
	tooOldEnd, expiredEnd, tooNewStart := 0, 0, n
	for tooOldEnd < n && *in.LogEvents[tooOldEnd].Timestamp < oldCut {
		tooOldEnd++
	}
	if days := g.info.RetentionDays; days > 0 {
		cut := now.Add(-time.Duration(days) * 24 * time.Hour).UnixMilli()
		for expiredEnd < n && *in.LogEvents[expiredEnd].Timestamp < cut {
			expiredEnd++
		}
	}
	for tooNewStart > 0 && *in.LogEvents[tooNewStart-1].Timestamp > newCut {
		tooNewStart--
	}
	lo := max(tooOldEnd, expiredEnd)
	hi := max(tooNewStart, lo)
	if hi-lo > 1 {
		first, last := *in.LogEvents[lo].Timestamp, *in.LogEvents[hi-1].Timestamp
		if time.Duration(last-first)*time.Millisecond > MaxBatchSpan {
			return nil, errInvalidParameter("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
		}
	}
	var rej rejectedInfo
	reject := false
	if tooOldEnd > 0 {
		v := tooOldEnd
		rej.TooOldLogEventEndIndex, reject = &v, true
		s.stats.RejectedEvents["too_old"] += tooOldEnd
	}
	if expiredEnd > tooOldEnd {
		v := expiredEnd
		rej.ExpiredLogEventEndIndex, reject = &v, true
		s.stats.RejectedEvents["expired"] += expiredEnd - tooOldEnd
	}
	if tooNewStart < n {
		v := tooNewStart
		rej.TooNewLogEventStartIndex, reject = &v, true
		s.stats.RejectedEvents["too_new"] += n - max(tooNewStart, lo)
	}
	for _, ev := range in.LogEvents[lo:hi] {
		ts := *ev.Timestamp
		if !st.hasFirstAndLast || ts < st.first {
			st.first = ts
		}
		if !st.hasFirstAndLast || ts > st.last {
			st.last = ts
		}
		st.hasFirstAndLast = true
		st.lastIngestion = nowMS
		st.count++
		st.storedBytes += int64(len(*ev.Message))
		if !s.discard {
			e := Event{Timestamp: ts, Message: *ev.Message, IngestionTime: nowMS, ID: s.nextEventID(ts)}
			e.VisibleAt = s.visibleAtLocked(in.LogGroupName, in.LogStreamName, e, now)
			st.events = append(st.events, e)
		}
	}
	s.stats.StoredEvents += hi - lo
	out := struct {
		NextSequenceToken     string        `json:"nextSequenceToken,omitempty"`
		RejectedLogEventsInfo *rejectedInfo `json:"rejectedLogEventsInfo,omitempty"`
	}{}
	if reject {
		out.RejectedLogEventsInfo = &rej
	}
	return out, nil
}

func (s *Server) getLogEvents(body []byte) (any, *apiError) {
	var in struct {
		streamInput
		StartTime     *int64  `json:"startTime"`
		EndTime       *int64  `json:"endTime"`
		Limit         *int    `json:"limit"`
		NextToken     *string `json:"nextToken"`
		StartFromHead bool    `json:"startFromHead"`
		Unmask        bool    `json:"unmask"`
	}
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
	if e := validStreamName(in.LogStreamName); e != nil {
		return nil, e
	}
	limit := MaxBatchEvents
	if in.Limit != nil {
		if *in.Limit < 1 || *in.Limit > MaxBatchEvents {
			return nil, errInvalidParameter("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and 10000", *in.Limit)
		}
		limit = *in.Limit
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.groups[name]
	if !ok {
		return nil, errNotFound("The specified log group does not exist.")
	}
	st, ok := g.streams[in.LogStreamName]
	if !ok {
		return nil, errNotFound("The specified log stream does not exist.")
	}
	// The selection, ordered by timestamp (stable: arrival order within a
	// millisecond).
	var sel []Event
	nowMS := s.clock().UnixMilli()
	for _, ev := range st.events {
		if ev.VisibleAt > nowMS {
			s.stats.Hidden++
			continue
		}
		if in.StartTime != nil && ev.Timestamp < *in.StartTime {
			continue
		}
		if in.EndTime != nil && ev.Timestamp >= *in.EndTime {
			continue
		}
		sel = append(sel, ev)
	}
	sort.SliceStable(sel, func(i, j int) bool { return sel[i].Timestamp < sel[j].Timestamp })

	forward, pos := in.StartFromHead, 0
	if !forward {
		pos = len(sel)
	}
	if in.NextToken != nil {
		dir, num, ok := strings.Cut(*in.NextToken, "/")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 0 || n > len(sel) || (dir != "f" && dir != "b") {
			return nil, errInvalidParameter("The specified nextToken is invalid.")
		}
		forward, pos = dir == "f", n
	}
	lo, hi := pos, pos
	budget := MaxBatchBytes
	if forward {
		for hi < len(sel) && hi-lo < limit && budget-len(sel[hi].Message)-EventOverhead >= 0 {
			budget -= len(sel[hi].Message) + EventOverhead
			hi++
		}
	} else {
		for lo > 0 && hi-lo < limit && budget-len(sel[lo-1].Message)-EventOverhead >= 0 {
			budget -= len(sel[lo-1].Message) + EventOverhead
			lo--
		}
	}
	type outEvent struct {
		IngestionTime int64  `json:"ingestionTime"`
		Message       string `json:"message"`
		Timestamp     int64  `json:"timestamp"`
	}
	out := struct {
		Events            []outEvent `json:"events"`
		NextForwardToken  string     `json:"nextForwardToken"`
		NextBackwardToken string     `json:"nextBackwardToken"`
	}{Events: make([]outEvent, 0, hi-lo), NextForwardToken: "f/" + strconv.Itoa(hi), NextBackwardToken: "b/" + strconv.Itoa(lo)}
	for _, ev := range sel[lo:hi] {
		out.Events = append(out.Events, outEvent{ev.IngestionTime, ev.Message, ev.Timestamp})
	}
	return out, nil
}
