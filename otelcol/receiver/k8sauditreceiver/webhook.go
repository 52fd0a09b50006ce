package k8sauditreceiver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.uber.org/zap"

	"github.com/auditlane/auditlane/common/audit"
)

func (r *auditReceiver) startWebhook(ctx context.Context, host component.Host) error {
	wc := r.cfg.Webhook
	ln, err := wc.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("k8saudit: webhook listen on %s: %w", wc.NetAddr.Endpoint, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc(wc.Path, r.handleEvents)
	if wc.HealthPath != "" {
		mux.HandleFunc(wc.HealthPath, func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "ok\n")
		})
	}
	r.server, err = wc.ToServer(ctx, host.GetExtensions(), r.set.TelemetrySettings, mux)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("k8saudit: webhook server: %w", err)
	}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		if err := r.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			componentstatus.ReportStatus(host, componentstatus.NewFatalErrorEvent(err))
		}
	}()
	return nil
}

// handleEvents accepts one EventList (or JSON lines / array) POST. It
// answers 200 only after the next consumer accepted the kept events; 429 or
// 503 with Retry-After when the pipeline pushes back, so the apiserver's
// webhook backend retries the batch; 400 when nothing in the body is an
// audit event or the pipeline refuses the data for good.
func (r *auditReceiver) handleEvents(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "k8saudit: only POST is accepted", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, "k8saudit: body larger than max_request_body_size", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "k8saudit: reading the body failed", http.StatusBadRequest)
		return
	}
	ctx := req.Context()
	s := r.flow.Scratch()
	defer r.flow.PutScratch(s)
	b := newBatch()
	dec := audit.NewDecoder(bytes.NewReader(body))
	dec.MaxSize = len(body) + 1
	events, rejected := 0, 0
	for {
		ev, err := dec.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			var de *audit.DecodeError
			if !errors.As(err, &de) {
				http.Error(w, "k8saudit: reading the body failed", http.StatusBadRequest)
				return
			}
			rejected++
			r.flow.Reject(&b.out, err, dec.Rejected(), "webhook", de.Line)
			continue
		}
		events++
		r.add(b, ev, s, "webhook")
	}
	if events == 0 && rejected > 0 {
		r.flow.Commit(&b.out, false)
		http.Error(w, fmt.Sprintf("k8saudit: no audit event in the body (%d rejected)", rejected), http.StatusBadRequest)
		return
	}
	if err := r.consume(ctx, b); err != nil {
		if consumererror.IsPermanent(err) {
			r.logger.Warn("k8saudit: the pipeline refused a webhook batch for good", zap.Int("records", b.lrs.Len()), zap.Error(err))
			http.Error(w, "k8saudit: the pipeline refused the events", http.StatusBadRequest)
			return
		}
		// The apiserver sends the batch again: its outcomes are counted then.
		b.out.Reset()
		code := http.StatusServiceUnavailable
		// The memory limiter's refusal (a plain error in its internal
		// package) and explicit 429s mean "too many requests".
		if consumererror.ToHTTPStatus(err) == http.StatusTooManyRequests || strings.Contains(err.Error(), "refused due to high memory usage") {
			code = http.StatusTooManyRequests
		}
		w.Header().Set("Retry-After", strconv.Itoa(int((r.cfg.Webhook.RetryAfter+999_999_999)/1_000_000_000)))
		http.Error(w, "k8saudit: the pipeline is busy, retry later", code)
		return
	}
	w.WriteHeader(http.StatusOK)
}
