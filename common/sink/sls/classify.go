package sls

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
)

// Reasons reported in sink.Result.Reason for failures answered by the
// service or the network.
const (
	ReasonThrottled        = "throttled"          // WriteQuotaExceed, ShardWriteQuotaExceed, 429
	ReasonServerError      = "server_error"       // 5xx
	ReasonNetwork          = "network"            // no response (reset, refused, timeout)
	ReasonCanceled         = "canceled"           // the Write context ended
	ReasonCredentials      = "credentials"        // credentials could not be fetched or expired
	ReasonClockSkew        = "clock_skew"         // RequestTimeTooSkewed, RequestTimeExpired
	ReasonAccessDenied     = "access_denied"      // Unauthorized, SignatureNotMatch, 401/403
	ReasonProjectNotFound  = "project_not_found"  // ProjectNotExist
	ReasonLogstoreNotFound = "logstore_not_found" // LogStoreNotExist
	ReasonInvalidRecord    = "invalid_record"     // PostBodyInvalid, InvalidKey, ... for one record
	ReasonRejected         = "rejected"           // any other 4xx
	ReasonClientError      = "client_error"       // the SDK could not build the request
	ReasonClosed           = "closed"             // Write after Close
)

// LogInterval is the least time between two error lines for the same
// destination trouble.
const LogInterval = 30 * time.Second

// ErrClosed is reported for records passed to Write after Close.
var ErrClosed = errors.New("sls: writer is closed")

type verdict uint8

const (
	vDelivered   verdict = iota
	vRetry               // transient: back off and resend the batch
	vSplit               // the batch as a whole was refused; halve it to find the culprit
	vPermanent           // no resend of these records can succeed
	vDestination         // the destination refuses everything for now: retried later, not here
)

type classified struct {
	verdict  verdict
	reason   string
	throttle bool
	err      error
}

// Class is how a failed SLS call is treated (see Classify).
type Class uint8

// Classes.
const (
	// ClassRetryable: transient (5xx, network): retry with backoff.
	ClassRetryable Class = iota
	// ClassThrottled: write or read quota exceeded, 429: retry with backoff.
	ClassThrottled
	// ClassDestination: credentials, signatures, permissions, clock skew,
	// a missing project or logstore: retried later, never a verdict on an
	// event.
	ClassDestination
	// ClassRecord: the request's content was refused (a bad record):
	// split the batch to find it.
	ClassRecord
	// ClassPermanent: the request can never succeed.
	ClassPermanent
)

// Classify maps an SLS answer (HTTP status and error code; status 0 for no
// answer) onto a class and a reason, by code and by HTTP status: the sink's
// writer and the SLS source share it.
func Classify(status int, code string) (Class, string) {
	switch {
	case status == 0:
		return ClassRetryable, ReasonNetwork
	case code == "WriteQuotaExceed" || code == "ShardWriteQuotaExceed" || code == "ReadQuotaExceed" ||
		code == "ShardReadQuotaExceed" || code == "ExceedQuota" || status == http.StatusTooManyRequests:
		return ClassThrottled, ReasonThrottled
	case status >= 500 || status == http.StatusRequestTimeout:
		return ClassRetryable, ReasonServerError
	case code == "SecurityTokenExpired" || code == "InvalidSecurityToken.Expired":
		return ClassDestination, ReasonCredentials
	case code == "RequestTimeTooSkewed" || code == "RequestTimeExpired":
		return ClassDestination, ReasonClockSkew
	case code == "ProjectNotExist":
		return ClassDestination, ReasonProjectNotFound
	case code == "LogStoreNotExist":
		return ClassDestination, ReasonLogstoreNotFound
	case code == "PostBodyTooLarge" || status == http.StatusRequestEntityTooLarge:
		return ClassRecord, ReasonTooLarge
	case code == "PostBodyInvalid" || code == "InvalidKey" || code == "InvalidTimestamp" ||
		code == "InvalidEncoding" || code == "InvalidLogSize":
		return ClassRecord, ReasonInvalidRecord
	case status == http.StatusUnauthorized || status == http.StatusForbidden ||
		code == "Unauthorized" || code == "SignatureNotMatch" || code == "InvalidAccessKeyId" ||
		code == "InvalidAccessKeyId.NotFound" || code == "NoPermission" || code == "Forbidden":
		return ClassDestination, ReasonAccessDenied
	}
	return ClassDestination, ReasonRejected
}

// classify maps one attempt's outcome onto the delivery contract.
func (w *Writer) classify(ctx context.Context, o *outcome) classified {
	dest := w.cfg.Project + "/" + w.cfg.Logstore
	if o.status == http.StatusOK {
		return classified{verdict: vDelivered}
	}
	if o.status == 0 {
		if o.netErr != nil {
			reason := ReasonNetwork
			if ctx.Err() != nil {
				reason = ReasonCanceled
			}
			return classified{verdict: vRetry, reason: reason,
				err: fmt.Errorf("sls: put logs to %s: %s", dest, w.red.clean(o.netErr.Error()))}
		}
		msg := "unknown failure"
		if o.sdkErr != nil {
			msg = sdkMessage(o.sdkErr)
		}
		msg = w.red.clean(msg)
		if strings.Contains(msg, "credentials") {
			return classified{verdict: vDestination, reason: ReasonCredentials,
				err: fmt.Errorf("sls: put logs to %s: %s", dest, msg)}
		}
		return classified{verdict: vPermanent, reason: ReasonClientError,
			err: fmt.Errorf("sls: put logs to %s: %s", dest, msg)}
	}
	err := fmt.Errorf("sls: put logs to %s: HTTP %d %s: %s (request id %s)",
		dest, o.status, o.code, w.red.clean(o.msg), o.requestID)
	c := classified{err: err}
	class, reason := Classify(o.status, o.code)
	c.reason = reason
	switch class {
	case ClassThrottled:
		c.verdict, c.throttle = vRetry, true
	case ClassRetryable:
		c.verdict = vRetry
	case ClassRecord:
		c.verdict = vSplit
	case ClassPermanent:
		c.verdict = vPermanent
	default:
		// Destination trouble, and any answer this list does not know: the
		// records wait, they are never dropped on an unknown code.
		c.verdict = vDestination
	}
	return c
}

// sdkMessage extracts the message of an SDK error without the SDK's
// pretty-printed JSON wrapper.
func sdkMessage(err error) string {
	var se *slssdk.Error
	if errors.As(err, &se) {
		return truncate(se.Code+": "+se.Message, 512)
	}
	return truncate(strings.Join(strings.Fields(err.Error()), " "), 512)
}
