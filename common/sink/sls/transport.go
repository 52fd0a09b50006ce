package sls

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// requestIDHeader is the response header carrying the SLS request id.
const requestIDHeader = "x-log-requestid"

// errAnswered is returned to the SDK in place of a non-200 response: the
// SDK treats a transport error as final for writes, so its own retry loop
// (which retries 500/502/503 for up to its RetryTimeOut, ignoring the
// caller's context) never runs, and the writer's bounded, context-aware
// backoff is the only retry. The real answer is kept in the outcome.
var errAnswered = errors.New("sls: answered with an error status")

// outcome is what one PutLogs attempt produced.
type outcome struct {
	status    int    // HTTP status; 0 when no response arrived
	code      string // SLS errorCode
	msg       string // SLS errorMessage
	requestID string
	netErr    error // transport failure (no response)
	sdkErr    error // SDK failure before any request (credentials, ...)
	latency   time.Duration
}

// callTransport carries one SDK call: it binds the request to the Write
// context with the per-request timeout and records the response.
type callTransport struct {
	ctx     context.Context
	base    http.RoundTripper
	timeout time.Duration
	out     *outcome
}

// RoundTrip implements http.RoundTripper.
func (t *callTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithTimeout(t.ctx, t.timeout)
	resp, err := t.base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		cancel()
		t.out.netErr = err
		return nil, err
	}
	t.out.status = resp.StatusCode
	t.out.requestID = resp.Header.Get(requestIDHeader)
	if resp.StatusCode == http.StatusOK {
		resp.Body = &cancelBody{ReadCloser: resp.Body, cancel: cancel}
		return resp, nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	cancel()
	var e struct {
		Code    string `json:"errorCode"`
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal(body, &e) == nil {
		t.out.code, t.out.msg = e.Code, e.Message
	} else {
		t.out.msg = truncate(string(body), 256)
	}
	return nil, errAnswered
}

// cancelBody releases the request context once the SDK closes the body.
type cancelBody struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelBody) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
