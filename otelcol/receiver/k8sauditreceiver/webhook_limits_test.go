package k8sauditreceiver

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver/receivertest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/auditlane/auditlane/otelcol/internal/audittest"
	"github.com/auditlane/auditlane/otelcol/receiver/k8sauditreceiver/internal/metadata"
)

// startWebhookTel starts a webhook receiver with telemetry and a log
// observer.
func startWebhookTel(t *testing.T, cfg *Config, next consumer.Logs) (*componenttest.Telemetry, *observer.ObservedLogs) {
	t.Helper()
	tel := componenttest.NewTelemetry()
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.DebugLevel)
	set := receivertest.NewNopSettings(metadata.Type)
	set.ID = component.NewID(metadata.Type)
	set.TelemetrySettings = tel.NewTelemetrySettings()
	set.Logger = zap.New(core)
	r, err := NewFactory().CreateLogs(context.Background(), set, cfg, next)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	return tel, logs
}

func refused(tel *componenttest.Telemetry, reason string) int64 {
	return max(audittest.Sum(tel, "auditlane.requests.refused", "reason", reason), 0)
}

// callSink records the size of each call and can hold calls until
// released, or refuse calls after the first n.
type callSink struct {
	mu      sync.Mutex
	calls   []int
	ids     map[string]int
	hold    chan struct{}
	entered chan struct{}
	acceptN atomic.Int64 // refuse (retryably) once this many calls were accepted; 0: never
}

func newCallSink() *callSink { return &callSink{ids: map[string]int{}} }

func (s *callSink) Capabilities() consumer.Capabilities { return consumer.Capabilities{} }

func (s *callSink) ConsumeLogs(_ context.Context, ld plog.Logs) error {
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.hold != nil {
		<-s.hold
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := s.acceptN.Load(); n > 0 && int64(len(s.calls)) >= n {
		return errors.New("queue is full")
	}
	s.calls = append(s.calls, ld.LogRecordCount())
	lrs := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	for i := 0; i < lrs.Len(); i++ {
		v, _ := lrs.At(i).Attributes().Get("auditlane.audit_id")
		s.ids[v.Str()]++
	}
	return nil
}

func gz(s string) []byte {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte(s))
	_ = zw.Close()
	return b.Bytes()
}

func do(t *testing.T, method, url string, body io.Reader, hdr map[string]string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestWebhookStreamsSubBatches posts one EventList of 2,500 events with
// max_batch 400: it is passed on in calls of at most 400 events as it is
// read, every event once, answered 200.
func TestWebhookStreamsSubBatches(t *testing.T) {
	cfg := webhookConfig(t, nil)
	cfg.Webhook.MaxBatch = 400
	sink := newCallSink()
	tel, _ := startWebhookTel(t, cfg, sink)
	code, body := do(t, http.MethodPost, "http://"+cfg.Webhook.NetAddr.Endpoint+"/", strings.NewReader(audittest.EventList(0, 2500, time.Now())), nil)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.calls) != 7 || len(sink.ids) != 2500 {
		t.Fatalf("calls %v, %d distinct events", sink.calls, len(sink.ids))
	}
	for _, n := range sink.calls {
		if n > 400 {
			t.Fatalf("a call of %d events (max_batch 400): %v", n, sink.calls)
		}
	}
	if in := audittest.Sum(tel, "auditlane.events.in", "", ""); in != 2500 {
		t.Fatalf("events in %d", in)
	}
}

// TestWebhookSubBatchRefused: the pipeline refuses the third sub-batch;
// the request is answered 503 with Retry-After, the two accepted
// sub-batches are counted and the apiserver's resend delivers the rest
// (the first 800 twice: at-least-once).
func TestWebhookSubBatchRefused(t *testing.T) {
	cfg := webhookConfig(t, nil)
	cfg.Webhook.MaxBatch = 400
	sink := newCallSink()
	sink.acceptN.Store(2)
	tel, _ := startWebhookTel(t, cfg, sink)
	url := "http://" + cfg.Webhook.NetAddr.Endpoint + "/"
	list := audittest.EventList(0, 1000, time.Now())
	if code, _ := do(t, http.MethodPost, url, strings.NewReader(list), nil); code != http.StatusServiceUnavailable {
		t.Fatalf("answer %d, want 503", code)
	}
	if in := audittest.Sum(tel, "auditlane.events.in", "", ""); in != 800 {
		t.Fatalf("events in %d after the refusal, want the 800 accepted", in)
	}
	sink.acceptN.Store(0)
	if code, body := do(t, http.MethodPost, url, strings.NewReader(list), nil); code != http.StatusOK {
		t.Fatalf("resend: %d %s", code, body)
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if len(sink.ids) != 1000 {
		t.Fatalf("%d distinct events delivered", len(sink.ids))
	}
}

// TestWebhookRefusals sends every kind of request the webhook refuses and
// checks the answer and auditlane_requests_refused{reason}; nothing reaches
// the pipeline.
func TestWebhookRefusals(t *testing.T) {
	cfg := webhookConfig(t, nil)
	cfg.Webhook.MaxRequestBodySize = 1 << 20
	sink := newCallSink()
	tel, logs := startWebhookTel(t, cfg, sink)
	base := "http://" + cfg.Webhook.NetAddr.Endpoint
	now := time.Now()
	one := audittest.EventList(0, 1, now)
	bomb := gz(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[` + strings.Repeat(" ", 8<<20) + `]}`)
	corrupt := gz(audittest.EventList(0, 50, now))
	corrupt[len(corrupt)/2] ^= 0xff
	for _, c := range []struct {
		name, method, path string
		body               []byte
		hdr                map[string]string
		code               int
		reason             string
	}{
		{"GET on the event path", http.MethodGet, "/", nil, nil, 405, refusedBadMethod},
		{"PUT on the event path", http.MethodPut, "/", []byte(one), nil, 405, refusedBadMethod},
		{"POST elsewhere", http.MethodPost, "/other", []byte(one), nil, 404, refusedNotFound},
		{"POST on the health path", http.MethodPost, "/healthz", []byte(one), nil, 405, refusedBadMethod},
		{"Content-Length over the limit", http.MethodPost, "/", bytes.Repeat([]byte(" "), 2<<20), nil, 413, refusedTooLarge},
		{"gzip bomb", http.MethodPost, "/", bomb, map[string]string{"Content-Encoding": "gzip"}, 413, refusedTooLarge},
		{"corrupt gzip", http.MethodPost, "/", corrupt, map[string]string{"Content-Encoding": "gzip"}, 400, refusedBadEncoding},
		{"not gzip", http.MethodPost, "/", []byte(one), map[string]string{"Content-Encoding": "gzip"}, 400, refusedBadEncoding},
		{"unknown encoding", http.MethodPost, "/", []byte(one), map[string]string{"Content-Encoding": "br"}, 400, refusedBadEncoding},
	} {
		before := refused(tel, c.reason)
		code, body := do(t, c.method, base+c.path, bytes.NewReader(c.body), c.hdr)
		if code != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.code)
		}
		if n := refused(tel, c.reason) - before; n != 1 {
			t.Errorf("%s: refused{reason=%q} grew by %d, want 1 (%s)", c.name, c.reason, n, body)
		}
	}
	sink.mu.Lock()
	if len(sink.ids) != 0 {
		t.Errorf("%d events passed on from refused requests", len(sink.ids))
	}
	sink.mu.Unlock()
	if code, _ := do(t, http.MethodGet, base+"/healthz", nil, nil); code != 200 {
		t.Errorf("health %d", code)
	}
	for _, e := range logs.FilterLevelExact(zapcore.ErrorLevel).All() {
		t.Errorf("error logged: %s %v", e.Message, e.Context)
	}
}

// TestWebhookConcurrencyBound holds the pipeline while
// max_concurrent_requests requests are in it: the next one is answered
// 429 with Retry-After before its body is read, and counted.
func TestWebhookConcurrencyBound(t *testing.T) {
	cfg := webhookConfig(t, nil)
	cfg.Webhook.MaxConcurrentRequests = 2
	sink := newCallSink()
	sink.hold, sink.entered = make(chan struct{}), make(chan struct{}, 4)
	tel, _ := startWebhookTel(t, cfg, sink)
	url := "http://" + cfg.Webhook.NetAddr.Endpoint + "/"
	now := time.Now()
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _ = do(t, http.MethodPost, url, strings.NewReader(audittest.EventList(i*10, 10, now)), nil)
		}()
	}
	<-sink.entered
	<-sink.entered
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(audittest.EventList(100, 10, now)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "3" {
		t.Fatalf("third request: %d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	close(sink.hold)
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Fatalf("held requests answered %v", codes)
	}
	if n := refused(tel, refusedTooManyRequests); n != 1 {
		t.Fatalf("refused{too_many_requests} = %d", n)
	}
}

// TestWebhookTimeouts: a body that stops coming (slow drip) is answered
// 408 after read_timeout, a header that stops coming is dropped after
// read_header_timeout; both are counted once as timeouts, and a
// keep-alive connection closed while idle is not.
func TestWebhookTimeouts(t *testing.T) {
	cfg := webhookConfig(t, nil)
	cfg.Webhook.ReadTimeout = 400 * time.Millisecond
	cfg.Webhook.ReadHeaderTimeout = 200 * time.Millisecond
	sink := newCallSink()
	tel, _ := startWebhookTel(t, cfg, sink)
	addr := cfg.Webhook.NetAddr.Endpoint
	list := audittest.EventList(0, 5, time.Now())

	// Slow drip: half the body, then nothing.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(list), list[:len(list)/2])
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("slow body: no answer: %v", err)
	}
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("slow body answered %d", resp.StatusCode)
	}
	_ = c.Close()

	// Slowloris: half a header, then nothing.
	c, err = net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.WriteString(c, "POST / HTTP/1.1\r\nHost: x\r\n")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("the server answered half a header")
	}
	_ = c.Close()

	// A keep-alive connection left idle is closed without a refusal.
	tr := &http.Transport{}
	hc := &http.Client{Transport: tr}
	resp, err = hc.Post("http://"+addr+"/", "application/json", strings.NewReader(list))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	time.Sleep(time.Second) // idle past read_timeout, which is the idle timeout too
	tr.CloseIdleConnections()

	deadline := time.Now().Add(5 * time.Second)
	for refused(tel, refusedTimeout) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if n := refused(tel, refusedTimeout); n != 2 {
		t.Fatalf("refused{timeout} = %d, want 2", n)
	}
}

// TestWebhookTLSHandshakeRefusals: handshakes that fail (no TLS at all, a
// certificate of another CA) are counted and logged below error.
func TestWebhookTLSHandshakeRefusals(t *testing.T) {
	p := newPKI(t)
	cfg := webhookConfig(t, p)
	tel, logs := startWebhookTel(t, cfg, newCallSink())
	addr := cfg.Webhook.NetAddr.Endpoint
	if resp, err := http.Post("http://"+addr+"/", "application/json", strings.NewReader("{}")); err == nil {
		_ = resp.Body.Close() // the TLS server answers plain HTTP with a 400 of its own
	}
	intruder := client(p, tls.Certificate{})
	intruder.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &p.otherClient, nil
	}
	if resp, err := intruder.Post("https://"+addr+"/", "application/json", strings.NewReader("{}")); err == nil {
		_ = resp.Body.Close()
		t.Fatal("certificate of another CA accepted")
	}
	deadline := time.Now().Add(5 * time.Second)
	for refused(tel, refusedTLSHandshake) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := refused(tel, refusedTLSHandshake); n != 2 {
		t.Fatalf("refused{tls_handshake} = %d, want 2", n)
	}
	if n := logs.FilterMessage("k8saudit: webhook TLS handshake refused").FilterLevelExact(zapcore.DebugLevel).Len(); n != 2 {
		t.Fatalf("%d handshake refusals logged at debug", n)
	}
	for _, e := range logs.FilterLevelExact(zapcore.ErrorLevel).All() {
		t.Errorf("error logged: %s %v", e.Message, e.Context)
	}
}
