// Package slstest is a strict local imitation of the Alibaba Cloud SLS
// PutLogs / PostLogStoreLogs API, and of the read APIs the SDK's
// consumer-group library uses, for tests, examples and benchmarks.
//
// The server decodes the requests the real SDK sends: it takes the project
// from the Host name ("<project>.<domain>"), checks x-log-apiversion, Date
// (RFC 1123, GMT, within the allowed skew), x-log-signaturemethod,
// Content-Type, Content-MD5 and x-log-bodyrawsize, verifies the v1
// "Authorization: LOG <AccessKeyId>:<signature>" HMAC-SHA1 signature (and
// the x-acs-security-token of STS keys) against its configured key pairs,
// decompresses LZ4 blocks with the pierrec/lz4 package the SDK uses, decodes
// the LogGroup with the SDK's own generated protobuf code, and stores the
// logs for assertions. Failures are answered with SLS error codes and
// statuses in the service's JSON error body and an x-log-requestid header.
// Faults (error rate, throttling, latency, outages, connection resets) can
// be changed while the server runs and limited to operations
// (Faults.Operations); throttled writes are answered WriteQuotaExceed or
// ShardWriteQuotaExceed, throttled reads and consumer-group calls
// ReadQuotaExceed or ShardReadQuotaExceed (403). FailNext scripts exact
// answers (any status and code, or a connection reset) for the next
// requests of one operation.
//
// Read side: each logstore has Options.Shards shards (default 2) splitting
// the 128-bit hash key space evenly. An accepted PutLogs request becomes one
// LogGroup in the shard its hash key falls in (round-robin without one),
// with the server time as receive time; AddLogGroup adds history directly.
// Served, with the same header and signature checks: ListShards, GetCursor
// (begin, end, unix seconds: the first LogGroup received at or after),
// GetCursorTime, PullLogs (count 1 to 1000, optional end_cursor, LZ4
// LogGroupList answer with x-log-cursor, x-log-count, x-log-bodyrawsize,
// x-log-read-last-cursor), and consumer groups: create (400
// ConsumerGroupAlreadyExist when it exists), list, update, delete, heartbeat (leases: a
// consumer silent for longer than the group timeout loses its shards; shards
// are balanced, and one moves to another consumer only after its former
// owner stops reporting it), UpdateCheckpoint (ConsumerNotMatch unless
// forceSuccess) and GetCheckpoint. Cursors are base64 numbers, as the
// service's, valid in their own shard only (InvalidCursor otherwise). Logs
// are kept in shards only when neither CountOnly nor StoreKeys is set.
//
// The server only listens on the address it is given (127.0.0.1 in tests);
// Client returns an *http.Client that sends every host name to it.
package slstest

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/pierrec/lz4/v4"
)

// Limits the server enforces by default: the numbers the sls package
// enforces (see its constants for sources). Where the service's exact
// answer is not documented (more than 4096 logs, a Content-MD5 that does
// not match the body), the server picks the closest SLS error code:
// PostBodyInvalid and InvalidContentMD5.
const (
	DefaultMaxRawBytes  = 10 * 1024 * 1024 // x-log-bodyrawsize; 413 PostBodyTooLarge above
	DefaultMaxLogs      = 4096             // logs per LogGroup; 400 PostBodyInvalid above
	DefaultMaxClockSkew = 15 * time.Minute // Date header; 400 RequestTimeTooSkewed beyond
	DefaultDomain       = "sls.test"       // endpoint host; requests go to <project>.sls.test
	APIVersion          = "0.6.0"          // the x-log-apiversion the SDK sends
)

// Options configure a Server.
type Options struct {
	// Domain is the endpoint host; the Host of each request must be
	// "<project>.<Domain>" (an optional port is ignored). Default "sls.test".
	Domain string
	// Projects maps each project to its logstores.
	Projects map[string][]string
	// Keys maps AccessKeyId to AccessKeySecret.
	Keys map[string]string
	// Tokens maps an AccessKeyId to the x-acs-security-token its requests
	// must carry (STS credentials).
	Tokens map[string]string
	// MaxRawBytes, MaxLogs and MaxClockSkew override the defaults.
	MaxRawBytes  int
	MaxLogs      int
	MaxClockSkew time.Duration
	// Faults is the initial fault configuration.
	Faults Faults
	// Now is the server's clock (default time.Now).
	Now func() time.Time
	// CountOnly validates and counts logs without storing them (for
	// benchmarks and long runs); Logs then returns nothing.
	CountOnly bool
	// TLS serves HTTPS with a self-signed certificate for Domain and
	// *.Domain; Client trusts it and Endpoint uses https.
	TLS bool
	// Shards is the number of shards of each logstore (default
	// DefaultShards).
	Shards int
	// StoreKeys, when set, limits the stored contents of each log to these
	// keys (to keep memory low in large tests). All logs are still decoded
	// and counted.
	StoreKeys []string
}

// Faults inject failures. Rates are probabilities in [0,1] drawn per
// request, in this order: reset, throttle, error. Injected failures happen
// before the request is processed, so nothing is stored for them.
type Faults struct {
	// ResetRate is the share of requests whose connection is reset
	// (TCP RST) without an answer.
	ResetRate float64
	// ThrottleRate is the share answered 403 WriteQuotaExceed or
	// ShardWriteQuotaExceed (PutLogs), or 403 ReadQuotaExceed or
	// ShardReadQuotaExceed (every other operation: reads and consumer
	// groups).
	ThrottleRate float64
	// Operations limits the random faults (not outages) to these
	// operations, named as the SDK's methods: PutLogs, ListShards,
	// GetCursor, GetCursorTime, PullLogs, ListConsumerGroup,
	// CreateConsumerGroup, UpdateConsumerGroup, DeleteConsumerGroup,
	// HeartBeat, UpdateCheckpoint, GetCheckpoint. Empty: all.
	Operations []string
	// ErrorRate is the share answered 500 InternalServerError or 503
	// ServerBusy.
	ErrorRate float64
	// Latency is added before every answer.
	Latency time.Duration
	// OutageReset makes outages reset connections instead of answering
	// 503 ServerBusy.
	OutageReset bool
	// Seed seeds the fault draws (0: a fixed default seed).
	Seed uint64
}

// Answer is a scripted answer (FailNext): an SLS error, or a connection
// reset.
type Answer struct {
	Status        int
	Code, Message string
	// Reset resets the connection instead of answering.
	Reset bool
}

// Log is one stored log.
type Log struct {
	Time      time.Time // seconds and nanoseconds from the request
	Contents  []Field   // in request order
	Topic     string
	Source    string
	Tags      map[string]string
	HashKey   string // the shard route key, "" for load-balanced writes
	RequestID string
}

// Field is one key/value of a stored log.
type Field struct {
	Key, Value string
}

// Get returns the value of the first field named key.
func (l *Log) Get(key string) (string, bool) {
	for _, f := range l.Contents {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

// Stats are the server's counters.
type Stats struct {
	Requests   int64            // requests received
	Accepted   int64            // requests answered 200
	LogsStored int64            // logs stored
	Resets     int64            // connections reset (faults and outages)
	Errors     map[string]int64 // error answers by errorCode
}

// Server is a running local SLS endpoint.
type Server struct {
	opts     Options
	ln       net.Listener
	roots    *x509.CertPool // trusts the TLS certificate, if any
	srv      *http.Server
	domain   string
	reqSeq   atomic.Int64
	requests atomic.Int64

	mu          sync.Mutex
	faults      Faults
	rng         *rand.Rand
	outageUntil time.Time
	logs        map[string][]Log // "project/logstore"
	stats       Stats
	stores      map[string]*logstoreState // read side, "project/logstore"
	scripted    map[string][]Answer       // operation → answers for its next requests
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves.
func Start(addr string, opts Options) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("slstest: listen on %s: %w", addr, err)
	}
	if opts.Domain == "" {
		opts.Domain = DefaultDomain
	}
	if opts.MaxRawBytes == 0 {
		opts.MaxRawBytes = DefaultMaxRawBytes
	}
	if opts.MaxLogs == 0 {
		opts.MaxLogs = DefaultMaxLogs
	}
	if opts.MaxClockSkew == 0 {
		opts.MaxClockSkew = DefaultMaxClockSkew
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{
		opts:   opts,
		ln:     ln,
		domain: strings.ToLower(opts.Domain),
		logs:   map[string][]Log{},
		stats:  Stats{Errors: map[string]int64{}},
	}
	s.SetFaults(opts.Faults)
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	if opts.TLS {
		cert, leaf, err := selfSigned(s.domain)
		if err != nil {
			ln.Close()
			return nil, err
		}
		s.roots = x509.NewCertPool()
		s.roots.AddCert(leaf)
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	go s.srv.Serve(ln)
	return s, nil
}

// Addr is the listening address (host:port).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Endpoint is the SLS endpoint to configure in clients that use Client:
// "http://<Domain>", or "https://<Domain>" with Options.TLS.
func (s *Server) Endpoint() string {
	if s.opts.TLS {
		return "https://" + s.opts.Domain
	}
	return "http://" + s.opts.Domain
}

// Client returns an HTTP client that connects to this server whatever host
// a request names, so the SDK's "<project>.<endpoint>" addresses reach it.
// It uses no proxy.
func (s *Server) Client() *http.Client {
	addr := s.Addr()
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: s.roots, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     30 * time.Second,
	}}
}

// Close stops the server and closes its connections.
func (s *Server) Close() error { return s.srv.Close() }

// SetFaults replaces the fault configuration.
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seed := f.Seed
	if seed == 0 {
		seed = 0x5EED
	}
	s.faults = f
	s.rng = rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
}

// FailNext answers the next n requests of operation op (named as in
// Faults.Operations) with a, before any other check. Scripted answers come
// before outages and random faults.
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

// Operation names the API a request calls, as Faults.Operations does
// ("" when it is none of them).
func Operation(r *http.Request) string {
	rest, ok := strings.CutPrefix(r.URL.Path, "/logstores/")
	if !ok || rest == "" {
		return ""
	}
	parts := strings.Split(rest, "/")
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPost && (len(parts) == 1 || len(parts) == 3 && parts[1] == "shards" && parts[2] == "route"):
		return "PutLogs"
	case len(parts) == 2 && parts[1] == "shards" && r.Method == http.MethodGet:
		return "ListShards"
	case len(parts) == 3 && parts[1] == "shards" && r.Method == http.MethodGet:
		switch q.Get("type") {
		case "cursor":
			return "GetCursor"
		case "cursor_time":
			return "GetCursorTime"
		case "logs":
			return "PullLogs"
		}
	case len(parts) == 2 && parts[1] == "consumergroups":
		switch r.Method {
		case http.MethodGet:
			return "ListConsumerGroup"
		case http.MethodPost:
			return "CreateConsumerGroup"
		}
	case len(parts) == 3 && parts[1] == "consumergroups":
		switch r.Method {
		case http.MethodPut:
			return "UpdateConsumerGroup"
		case http.MethodDelete:
			return "DeleteConsumerGroup"
		case http.MethodGet:
			return "GetCheckpoint"
		case http.MethodPost:
			switch q.Get("type") {
			case "heartbeat":
				return "HeartBeat"
			case "checkpoint":
				return "UpdateCheckpoint"
			}
		}
	}
	return ""
}

// Outage makes the server fail every request for d from now (503
// ServerBusy, or connection resets with Faults.OutageReset).
func (s *Server) Outage(d time.Duration) {
	s.mu.Lock()
	s.outageUntil = s.opts.Now().Add(d)
	s.mu.Unlock()
}

// Logs returns a copy of the logs stored in project/logstore.
func (s *Server) Logs(project, logstore string) []Log {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Log(nil), s.logs[project+"/"+logstore]...)
}

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Requests = s.requests.Load()
	st.Errors = make(map[string]int64, len(s.stats.Errors))
	for k, v := range s.stats.Errors {
		st.Errors[k] = v
	}
	return st
}

// Reset drops stored logs, shards, consumer groups and counters (faults
// are kept).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logs = map[string][]Log{}
	s.stats = Stats{Errors: map[string]int64{}}
	s.stores = nil
	s.requests.Store(0)
}

// apiError is an SLS error answer.
type apiError struct {
	status  int
	code    string
	message string
}

func fail(status int, code, format string, args ...any) *apiError {
	return &apiError{status, code, fmt.Sprintf(format, args...)}
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	reqID := fmt.Sprintf("%024X", s.reqSeq.Add(1))
	w.Header().Set("x-log-requestid", reqID)
	// Read the body first (bounded): the client has sent it either way.
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.opts.MaxRawBytes)+1))
	if err != nil {
		s.reset(w)
		return
	}
	if fe, reset := s.injectFault(r.Context(), Operation(r)); reset {
		s.reset(w)
		return
	} else if fe != nil {
		s.answer(w, fe)
		return
	}
	res, ae := s.handle(r, body, reqID)
	if ae != nil {
		s.answer(w, ae)
		return
	}
	s.mu.Lock()
	s.stats.Accepted++
	s.mu.Unlock()
	res.write(w)
}

// store keeps the logs of one accepted PutLogs request: in the assertion
// list and, as one LogGroup, in a shard (by hash key or round-robin).
func (s *Server) store(logs []storedLog, raw []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.opts.CountOnly {
		key := logs[0].project + "/" + logs[0].logstore
		for i := range logs {
			s.logs[key] = append(s.logs[key], logs[i].Log)
		}
		if s.opts.StoreKeys == nil {
			st := s.logstoreLocked(logs[0].project, logs[0].logstore)
			sh := st.route(logs[0].HashKey)
			sh.groups = append(sh.groups, shardGroup{raw: append([]byte(nil), raw...), received: s.opts.Now()})
		}
	}
	s.stats.LogsStored += int64(len(logs))
}

// injectFault applies scripted answers, latency, outages and random
// faults to a request of operation op.
func (s *Server) injectFault(ctx context.Context, op string) (*apiError, bool) {
	s.mu.Lock()
	f := s.faults
	outage := s.opts.Now().Before(s.outageUntil)
	u1, u2, u3, pick := s.rng.Float64(), s.rng.Float64(), s.rng.Float64(), s.rng.IntN(2)
	var script *Answer
	if q := s.scripted[op]; len(q) > 0 {
		script, s.scripted[op] = &q[0], q[1:]
	}
	s.mu.Unlock()
	if script != nil {
		if script.Reset {
			return nil, true
		}
		return fail(script.Status, script.Code, "%s", script.Message), false
	}
	if len(f.Operations) > 0 && !slices.Contains(f.Operations, op) {
		u1, u2, u3 = 1, 1, 1 // no random fault for this operation
	}
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	switch {
	case outage && f.OutageReset:
		return nil, true
	case outage:
		return fail(http.StatusServiceUnavailable, "ServerBusy", "the server is busy, please try again later"), false
	case u1 < f.ResetRate:
		return nil, true
	case u2 < f.ThrottleRate && op != "PutLogs":
		if pick == 0 {
			return fail(http.StatusForbidden, "ReadQuotaExceed", "Read QPS Exceed"), false
		}
		return fail(http.StatusForbidden, "ShardReadQuotaExceed", "Shard read quota exceed"), false
	case u2 < f.ThrottleRate:
		if pick == 0 {
			return fail(http.StatusForbidden, "WriteQuotaExceed", "Project write quota exceed"), false
		}
		return fail(http.StatusForbidden, "ShardWriteQuotaExceed", "Shard write quota exceed"), false
	case u3 < f.ErrorRate:
		if pick == 0 {
			return fail(http.StatusInternalServerError, "InternalServerError", "internal server error"), false
		}
		return fail(http.StatusServiceUnavailable, "ServerBusy", "the server is busy, please try again later"), false
	}
	return nil, false
}

// reset closes the connection with a TCP RST and no answer.
func (s *Server) reset(w http.ResponseWriter) {
	s.mu.Lock()
	s.stats.Resets++
	s.mu.Unlock()
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func (s *Server) answer(w http.ResponseWriter, e *apiError) {
	s.mu.Lock()
	s.stats.Errors[e.code]++
	s.mu.Unlock()
	b, _ := json.Marshal(map[string]string{"errorCode": e.code, "errorMessage": e.message})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.status)
	w.Write(b)
}

type storedLog struct {
	project, logstore string
	Log
}

// handle validates the headers every API shares, then serves the request.
func (s *Server) handle(r *http.Request, body []byte, reqID string) (*response, *apiError) {
	if r.Method != http.MethodPost && r.Method != http.MethodGet && r.Method != http.MethodPut && r.Method != http.MethodDelete {
		return nil, fail(http.StatusMethodNotAllowed, "MethodNotAllowed", "method %s is not supported", r.Method)
	}
	// Project from the Host name.
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	project, ok := strings.CutSuffix(host, "."+s.domain)
	if !ok || project == "" || strings.Contains(project, ".") {
		return nil, fail(http.StatusBadRequest, "InvalidHost", "host %s is not <project>.%s", r.Host, s.domain)
	}
	logstores, ok := s.opts.Projects[project]
	if !ok {
		return nil, fail(http.StatusNotFound, "ProjectNotExist", "The Project does not exist : %s", project)
	}
	h := r.Header
	// Common headers.
	switch v := h.Get("x-log-apiversion"); {
	case v == "":
		return nil, fail(http.StatusBadRequest, "MissingAPIVersion", "x-log-apiversion is missing")
	case v != APIVersion:
		return nil, fail(http.StatusBadRequest, "InvalidAPIVersion", "x-log-apiversion %q is not supported", v)
	}
	date := h.Get("Date")
	if date == "" {
		return nil, fail(http.StatusBadRequest, "MissingDate", "Date is missing")
	}
	t, err := time.Parse(time.RFC1123, date)
	if err != nil || !strings.HasSuffix(date, " GMT") {
		return nil, fail(http.StatusBadRequest, "InvalidDateFormat", "Date %q is not RFC 1123 GMT", date)
	}
	if d := s.opts.Now().Sub(t); d > s.opts.MaxClockSkew || -d > s.opts.MaxClockSkew {
		return nil, fail(http.StatusBadRequest, "RequestTimeTooSkewed", "request time %s differs from server time by %v", date, d.Round(time.Second))
	}
	switch v := h.Get("x-log-signaturemethod"); {
	case v == "":
		return nil, fail(http.StatusBadRequest, "MissingSignatureMethod", "x-log-signaturemethod is missing")
	case v != "hmac-sha1":
		return nil, fail(http.StatusBadRequest, "InvalidSignatureMethod", "signature method %q is not supported", v)
	}
	if res, ae, ok := s.handleRead(r, body, project, logstores); ok {
		return res, ae
	}
	if r.Method != http.MethodPost {
		return nil, fail(http.StatusMethodNotAllowed, "MethodNotAllowed", "method %s is not supported for %s", r.Method, r.URL.Path)
	}
	logs, raw, ae := s.putLogs(r, body, reqID, project, logstores)
	if ae != nil {
		return nil, ae
	}
	s.store(logs, raw)
	return &response{}, nil
}

// putLogs validates and decodes one PutLogs request.
func (s *Server) putLogs(r *http.Request, body []byte, reqID, project string, logstores []string) ([]storedLog, []byte, *apiError) {
	h := r.Header
	if ct := h.Get("Content-Type"); ct != "application/x-protobuf" {
		return nil, nil, fail(http.StatusBadRequest, "InvalidContentType", "Content-Type %q is not application/x-protobuf", ct)
	}
	rawSizeStr := h.Get("x-log-bodyrawsize")
	if rawSizeStr == "" {
		return nil, nil, fail(http.StatusBadRequest, "MissingBodyRawSize", "x-log-bodyrawsize is missing")
	}
	rawSize, err := strconv.Atoi(rawSizeStr)
	if err != nil || rawSize < 0 {
		return nil, nil, fail(http.StatusBadRequest, "InvalidBodyRawSize", "x-log-bodyrawsize %q is invalid", rawSizeStr)
	}
	// Authentication.
	if ae := s.authenticate(r, body); ae != nil {
		return nil, nil, ae
	}
	// Resource.
	logstore, hashKey, ae := s.route(r.URL)
	if ae != nil {
		return nil, nil, ae
	}
	found := false
	for _, ls := range logstores {
		if ls == logstore {
			found = true
			break
		}
	}
	if !found {
		return nil, nil, fail(http.StatusNotFound, "LogStoreNotExist", "logstore %s does not exist", logstore)
	}
	// Body.
	if rawSize > s.opts.MaxRawBytes || len(body) > s.opts.MaxRawBytes {
		return nil, nil, fail(http.StatusRequestEntityTooLarge, "PostBodyTooLarge", "body size %d must little than %d", rawSize, s.opts.MaxRawBytes)
	}
	var raw []byte
	switch ctype := h.Get("x-log-compresstype"); ctype {
	case "lz4":
		raw = make([]byte, rawSize)
		n, err := lz4.UncompressBlock(body, raw)
		if err != nil {
			// Tell a wrong x-log-bodyrawsize from a corrupt block.
			if m, err2 := lz4.UncompressBlock(body, make([]byte, s.opts.MaxRawBytes)); err2 == nil {
				return nil, nil, fail(http.StatusBadRequest, "InvalidBodyRawSize", "x-log-bodyrawsize %d but body decompresses to %d bytes", rawSize, m)
			}
			return nil, nil, fail(http.StatusBadRequest, "PostBodyUncompressError", "lz4 decompression failed: %v", err)
		}
		if n != rawSize {
			return nil, nil, fail(http.StatusBadRequest, "InvalidBodyRawSize", "x-log-bodyrawsize %d but body decompresses to %d bytes", rawSize, n)
		}
	case "":
		if len(body) != rawSize {
			return nil, nil, fail(http.StatusBadRequest, "InvalidBodyRawSize", "x-log-bodyrawsize %d but body has %d bytes", rawSize, len(body))
		}
		raw = body
	default:
		return nil, nil, fail(http.StatusBadRequest, "InvalidCompressType", "x-log-compresstype %q is not supported", ctype)
	}
	var lg slssdk.LogGroup
	if err := lg.Unmarshal(raw); err != nil {
		return nil, nil, fail(http.StatusBadRequest, "PostBodyInvalid", "LogGroup does not decode: %v", err)
	}
	if len(lg.Logs) == 0 {
		return nil, nil, fail(http.StatusBadRequest, "PostBodyInvalid", "LogGroup has no logs")
	}
	if len(lg.Logs) > s.opts.MaxLogs {
		return nil, nil, fail(http.StatusBadRequest, "PostBodyInvalid", "log count %d exceeds %d", len(lg.Logs), s.opts.MaxLogs)
	}
	var tags map[string]string
	if len(lg.LogTags) > 0 {
		tags = make(map[string]string, len(lg.LogTags))
		for _, t := range lg.LogTags {
			tags[t.GetKey()] = t.GetValue()
		}
	}
	out := make([]storedLog, len(lg.Logs))
	for i, l := range lg.Logs {
		fields := make([]Field, 0, len(l.Contents))
		for _, c := range l.Contents {
			if c.GetKey() == "" {
				return nil, nil, fail(http.StatusBadRequest, "InvalidKey", "log %d has an empty key", i)
			}
			if s.keep(c.GetKey()) {
				fields = append(fields, Field{c.GetKey(), c.GetValue()})
			}
		}
		out[i] = storedLog{project: project, logstore: logstore, Log: Log{
			Time:      time.Unix(int64(l.GetTime()), int64(l.GetTimeNs())),
			Contents:  fields,
			Topic:     lg.GetTopic(),
			Source:    lg.GetSource(),
			Tags:      tags,
			HashKey:   hashKey,
			RequestID: reqID,
		}}
	}
	return out, raw, nil
}

func (s *Server) keep(key string) bool {
	if s.opts.StoreKeys == nil {
		return true
	}
	for _, k := range s.opts.StoreKeys {
		if k == key {
			return true
		}
	}
	return false
}

// route parses /logstores/<name> and /logstores/<name>/shards/route?key=<hex>.
func (s *Server) route(u *url.URL) (logstore, hashKey string, ae *apiError) {
	rest, ok := strings.CutPrefix(u.Path, "/logstores/")
	if !ok || rest == "" {
		return "", "", fail(http.StatusNotFound, "NotSupported", "path %s is not a PutLogs resource", u.Path)
	}
	name, sub, hasSub := strings.Cut(rest, "/")
	if !hasSub {
		return name, "", nil
	}
	if sub != "shards/route" {
		return "", "", fail(http.StatusNotFound, "NotSupported", "path %s is not a PutLogs resource", u.Path)
	}
	key := u.Query().Get("key")
	if len(key) != 32 {
		return "", "", fail(http.StatusBadRequest, "ParameterInvalid", "hash key %q is not 32 hex digits", key)
	}
	if _, err := hex.DecodeString(key); err != nil {
		return "", "", fail(http.StatusBadRequest, "ParameterInvalid", "hash key %q is not 32 hex digits", key)
	}
	return name, strings.ToLower(key), nil
}

// authenticate verifies the v1 signature:
//
//	Authorization: LOG <AccessKeyId>:base64(hmac-sha1(secret, StringToSign))
//	StringToSign = VERB + "\n" + Content-MD5 + "\n" + Content-Type + "\n" + Date + "\n" +
//	               CanonicalizedLOGHeaders + "\n" + CanonicalizedResource
//
// where CanonicalizedLOGHeaders are the x-log-* and x-acs-* headers,
// lower-cased, sorted, "name:value" joined by "\n", and
// CanonicalizedResource is the path plus the sorted "k=v" query pairs.
func (s *Server) authenticate(r *http.Request, body []byte) *apiError {
	auth := r.Header.Get("Authorization")
	cred, ok := strings.CutPrefix(auth, "LOG ")
	if !ok {
		return fail(http.StatusUnauthorized, "Unauthorized", "Authorization header is missing or not of the LOG scheme")
	}
	id, sig, ok := strings.Cut(cred, ":")
	if !ok || id == "" || sig == "" {
		return fail(http.StatusUnauthorized, "Unauthorized", "Authorization header is malformed")
	}
	secret, ok := s.opts.Keys[id]
	if !ok {
		return fail(http.StatusUnauthorized, "Unauthorized", "AccessKeyId %s is not found", id)
	}
	if want, sts := s.opts.Tokens[id]; sts {
		if got := r.Header.Get("x-acs-security-token"); got != want {
			return fail(http.StatusUnauthorized, "Unauthorized", "security token is missing or invalid for AccessKeyId %s", id)
		}
	}
	contentMD5 := r.Header.Get("Content-MD5")
	if len(body) > 0 {
		sum := md5.Sum(body)
		if !strings.EqualFold(contentMD5, hex.EncodeToString(sum[:])) {
			return fail(http.StatusBadRequest, "InvalidContentMD5", "Content-MD5 does not match the body")
		}
	}
	var keys []string
	vals := map[string]string{}
	for k, v := range r.Header {
		l := strings.ToLower(strings.TrimSpace(k))
		if strings.HasPrefix(l, "x-log-") || strings.HasPrefix(l, "x-acs-") {
			keys = append(keys, l)
			vals[l] = strings.TrimSpace(v[0])
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(r.Method + "\n" + contentMD5 + "\n" + r.Header.Get("Content-Type") + "\n" + r.Header.Get("Date") + "\n")
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k + ":" + vals[k])
	}
	b.WriteByte('\n')
	b.WriteString(r.URL.EscapedPath())
	if r.URL.RawQuery != "" {
		q := r.URL.Query()
		qk := make([]string, 0, len(q))
		for k := range q {
			qk = append(qk, k)
		}
		sort.Strings(qk)
		b.WriteByte('?')
		for i, k := range qk {
			if i > 0 {
				b.WriteByte('&')
			}
			for _, v := range q[k] {
				b.WriteString(k + "=" + v)
			}
		}
	}
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(b.String()))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(sig)) {
		return fail(http.StatusUnauthorized, "SignatureNotMatch", "signature %s does not match", sig)
	}
	return nil
}
