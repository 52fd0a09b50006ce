package k8sauditreceiver

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.uber.org/zap"
	"golang.org/x/net/http2"

	"github.com/auditlane/auditlane/common/audit"
)

// Reasons of auditlane_requests_refused in webhook mode.
const (
	refusedTooLarge        = "too_large"
	refusedTooManyRequests = "too_many_requests"
	refusedTimeout         = "timeout"
	refusedBadMethod       = "bad_method"
	refusedNotFound        = "not_found"
	refusedBadEncoding     = "bad_encoding"
	refusedNoClientCert    = "no_client_cert"
	refusedTLSHandshake    = "tls_handshake"
	refusedUnauthenticated = "unauthenticated"
	refusedAborted         = "aborted"
)

// subBatchBytes bounds the input bytes behind one call to the next
// consumer from a webhook request (with webhook::max_batch events).
const subBatchBytes = 4 << 20

// webhook is webhook mode's server state.
type webhook struct {
	mtls     bool          // a client CA is configured: the event path needs a verified client certificate
	maxBody  int64         // max_request_body_size in force
	maxInput int           // the decoder's bound on one event (max_input_size)
	slots    chan struct{} // max_concurrent_requests
}

func (r *auditReceiver) startWebhook(ctx context.Context, host component.Host) error {
	wc := r.cfg.Webhook
	settings, err := r.cfg.Pipeline.Settings()
	if err != nil {
		return err
	}
	wh := &webhook{maxInput: settings.MaxInputSize, slots: make(chan struct{}, wc.MaxConcurrentRequests)}
	if wh.maxInput <= 0 {
		wh.maxInput = audit.DefaultMaxSize
	}
	raw, err := wc.NetAddr.Listen(ctx)
	if err != nil {
		return fmt.Errorf("k8saudit: webhook listen on %s: %w", wc.NetAddr.Endpoint, err)
	}
	var ln net.Listener = &timeoutListener{Listener: raw}
	if wc.TLS.HasValue() {
		tlsCfg, err := wc.TLS.Get().LoadTLSConfig(ctx)
		if err != nil {
			_ = raw.Close()
			return fmt.Errorf("k8saudit: webhook::tls: %w", err)
		}
		// With client_ca_file the handshake verifies a client certificate
		// when one is given but does not require one: the health path
		// serves probes without one (a kubelet httpGet probe has none), and
		// the event path refuses requests without a verified certificate.
		if tlsCfg.ClientAuth == tls.RequireAndVerifyClientCert {
			wh.mtls = true
			tlsCfg.ClientAuth = tls.VerifyClientCertIfGiven
			if get := tlsCfg.GetConfigForClient; get != nil {
				tlsCfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
					c, err := get(hello)
					if c != nil {
						c.ClientAuth = tls.VerifyClientCertIfGiven
					}
					return c, err
				}
			}
		}
		tlsCfg.NextProtos = []string{http2.NextProtoTLS, "http/1.1"}
		ln = tls.NewListener(ln, tlsCfg)
	}
	r.server, err = wc.ToServer(ctx, host.GetExtensions(), r.set.TelemetrySettings, http.HandlerFunc(r.handleEvents),
		confighttp.WithErrorHandler(r.middlewareError))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("k8saudit: webhook server: %w", err)
	}
	wh.maxBody = wc.MaxRequestBodySize // ToServer filled in its default
	// No event is larger than the body that holds it.
	wh.maxInput = int(min(int64(wh.maxInput), wh.maxBody))
	r.webhook = wh
	// In front of confighttp's handler chain: health, paths, methods,
	// client certificates and the concurrency bound are decided before a
	// byte of the body is read or decompressed.
	r.server.Handler = r.front(r.server.Handler)
	r.server.ErrorLog = log.New(&serverLog{r: r}, "", 0)
	r.server.ConnState = r.connState
	r.server.ConnContext = connContext
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := r.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	return nil
}

// refuse answers a refused request and counts it by reason.
func (r *auditReceiver) refuse(w http.ResponseWriter, reason string, code int, msg string) {
	r.flow.Pipeline.Refused(reason, 1)
	if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", strconv.Itoa(int((r.cfg.Webhook.RetryAfter+999_999_999)/1_000_000_000)))
	}
	http.Error(w, "k8saudit: "+msg, code)
}

// middlewareError answers for confighttp's decompression (an unknown or
// broken Content-Encoding) and authentication interceptors.
func (r *auditReceiver) middlewareError(w http.ResponseWriter, _ *http.Request, msg string, code int) {
	reason := refusedBadEncoding
	if code == http.StatusUnauthorized {
		reason = refusedUnauthenticated
	}
	r.refuse(w, reason, code, msg)
}

func (r *auditReceiver) front(next http.Handler) http.Handler {
	wc := r.cfg.Webhook
	wh := r.webhook
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch req.URL.Path {
		case wc.Path:
		case wc.HealthPath:
			if req.Method != http.MethodGet && req.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				r.refuse(w, refusedBadMethod, http.StatusMethodNotAllowed, "the health path answers GET")
				return
			}
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "ok\n")
			return
		default:
			r.refuse(w, refusedNotFound, http.StatusNotFound, "no such path; events are POSTed to "+wc.Path)
			return
		}
		if req.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			r.refuse(w, refusedBadMethod, http.StatusMethodNotAllowed, "only POST is accepted")
			return
		}
		if wh.mtls && (req.TLS == nil || len(req.TLS.VerifiedChains) == 0) {
			r.refuse(w, refusedNoClientCert, http.StatusUnauthorized, "a client certificate signed by client_ca_file is required")
			return
		}
		if req.ContentLength > wh.maxBody {
			r.refuse(w, refusedTooLarge, http.StatusRequestEntityTooLarge, fmt.Sprintf("body of %d bytes, max_request_body_size %d", req.ContentLength, wh.maxBody))
			return
		}
		select {
		case wh.slots <- struct{}{}:
			defer func() { <-wh.slots }()
		default:
			r.refuse(w, refusedTooManyRequests, http.StatusTooManyRequests, "max_concurrent_requests reached, retry later")
			return
		}
		if enc := req.Header.Get("Content-Encoding"); enc != "" && enc != "identity" {
			// confighttp's decompressor drops the header; bodyError needs it.
			req = req.WithContext(context.WithValue(req.Context(), encodingKey{}, enc))
		}
		next.ServeHTTP(w, req)
	})
}

// encodingKey holds a request's Content-Encoding in its context.
type encodingKey struct{}

// handleEvents decodes one POST body (an EventList, JSON lines or an
// array) as a stream: events are passed on in sub-batches of at most
// max_batch events and 4 MiB, so a request holds the memory of one
// sub-batch and its largest event, never the whole body. The answer is 200
// once every sub-batch was accepted; 429 or 503 with Retry-After when the
// pipeline pushes back (the apiserver sends the whole batch again: what
// was accepted before arrives twice, at-least-once); 400 when nothing in
// the body is an audit event, the pipeline refuses the events for good or
// the body cannot be decoded; 413 when the (decompressed) body is over
// max_request_body_size; 408 when it is not read within read_timeout.
func (r *auditReceiver) handleEvents(w http.ResponseWriter, req *http.Request) {
	ctx := req.Context()
	s := r.flow.Scratch()
	defer r.flow.PutScratch(s)
	dec := audit.NewDecoder(req.Body)
	dec.MaxSize = r.webhook.maxInput
	b := newBatch()
	events, rejected, size := 0, 0, 0
	for {
		ev, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var de *audit.DecodeError
			if errors.As(err, &de) {
				rejected++
				r.flow.Reject(&b.out, err, dec.Rejected(), "webhook", de.Line)
				continue
			}
			// The body broke off: what was decoded is passed on, the
			// request refused.
			if r.pass(w, ctx, b) {
				r.bodyError(w, req, err)
			}
			return
		}
		events++
		size += len(ev.Raw)
		r.add(b, ev, s, "webhook")
		if b.out.Len() >= r.cfg.Webhook.MaxBatch || size >= subBatchBytes {
			if !r.pass(w, ctx, b) {
				return
			}
			b, size = newBatch(), 0
		}
	}
	if events == 0 && rejected > 0 {
		r.flow.Commit(&b.out, false)
		http.Error(w, fmt.Sprintf("k8saudit: no audit event in the body (%d rejected)", rejected), http.StatusBadRequest)
		return
	}
	if r.pass(w, ctx, b) {
		w.WriteHeader(http.StatusOK)
	}
}

// pass hands one sub-batch to the next consumer. When it is refused, pass
// answers the request and returns false.
func (r *auditReceiver) pass(w http.ResponseWriter, ctx context.Context, b *batch) bool {
	err := r.consume(ctx, b)
	if err == nil {
		return true
	}
	if consumererror.IsPermanent(err) {
		r.logger.Warn("k8saudit: the pipeline refused a webhook batch for good", zap.Int("records", b.lrs.Len()), zap.Error(err))
		http.Error(w, "k8saudit: the pipeline refused the events", http.StatusBadRequest)
		return false
	}
	// The apiserver sends the batch again: its outcomes are counted then.
	b.out.Reset()
	code := http.StatusServiceUnavailable
	// The memory limiter's refusal (a plain error in its internal package)
	// and explicit 429s mean "too many requests".
	if consumererror.ToHTTPStatus(err) == http.StatusTooManyRequests || strings.Contains(err.Error(), "refused due to high memory usage") {
		code = http.StatusTooManyRequests
	}
	w.Header().Set("Retry-After", strconv.Itoa(int((r.cfg.Webhook.RetryAfter+999_999_999)/1_000_000_000)))
	http.Error(w, "k8saudit: the pipeline is busy, retry later", code)
	return false
}

// bodyError answers a request whose body could not be read to its end.
func (r *auditReceiver) bodyError(w http.ResponseWriter, req *http.Request, err error) {
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		r.refuse(w, refusedTooLarge, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than max_request_body_size (%d bytes, decompressed)", mbe.Limit))
	case errors.As(err, &ne) && ne.Timeout():
		markCounted(req.Context())
		r.refuse(w, refusedTimeout, http.StatusRequestTimeout, "the body was not read within read_timeout")
	case req.Context().Value(encodingKey{}) != nil:
		r.refuse(w, refusedBadEncoding, http.StatusBadRequest, "the body cannot be decompressed: "+err.Error())
	default:
		r.refuse(w, refusedAborted, http.StatusBadRequest, "reading the body failed")
	}
	r.logger.Debug("k8saudit: webhook body refused", zap.String("remote", req.RemoteAddr), zap.Error(err))
}

// serverLog receives the HTTP server's own log lines: refused TLS
// handshakes (a scanner, a probe without a certificate, a wrong CA) are
// counted and logged at debug, not as errors; the rest at warn.
type serverLog struct{ r *auditReceiver }

func (l *serverLog) Write(p []byte) (int, error) {
	msg := string(bytes.TrimSpace(p))
	if strings.Contains(msg, "TLS handshake error") {
		if !strings.Contains(msg, "i/o timeout") { // counted as a timeout
			l.r.flow.Pipeline.Refused(refusedTLSHandshake, 1)
		}
		l.r.logger.Debug("k8saudit: webhook TLS handshake refused", zap.String("detail", msg))
		return len(p), nil
	}
	l.r.logger.Warn("k8saudit: webhook server", zap.String("detail", msg))
	return len(p), nil
}

// Timeouts: connections whose reads time out — a slow header
// (read_header_timeout), a slow TLS handshake, a slow body (read_timeout)
// — are counted once, when the connection closes, unless the handler
// answered the request (and counted it) itself. A connection closed while
// idle between requests is not a refusal.

// timeoutConn notes read timeouts on one connection.
type timeoutConn struct {
	net.Conn
	timedOut atomic.Bool
	counted  atomic.Bool
	state    atomic.Int32 // the last http.ConnState
}

func (c *timeoutConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	var ne net.Error
	if err != nil && errors.As(err, &ne) && ne.Timeout() {
		c.timedOut.Store(true)
	}
	return n, err
}

type timeoutListener struct{ net.Listener }

func (l *timeoutListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &timeoutConn{Conn: c}, nil
}

func connOf(c net.Conn) *timeoutConn {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	t, _ := c.(*timeoutConn)
	return t
}

type connKey struct{}

func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

func (r *auditReceiver) connState(c net.Conn, st http.ConnState) {
	tc := connOf(c)
	if tc == nil {
		return
	}
	prev := http.ConnState(tc.state.Swap(int32(st)))
	if st == http.StateClosed && prev != http.StateIdle && tc.timedOut.Load() && !tc.counted.Load() {
		r.flow.Pipeline.Refused(refusedTimeout, 1)
	}
}

// markCounted records that the handler counted its request's timeout.
func markCounted(ctx context.Context) {
	if c, ok := ctx.Value(connKey{}).(net.Conn); ok {
		if tc := connOf(c); tc != nil {
			tc.counted.Store(true)
		}
	}
}
