package sls

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

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

// ErrClosed is reported for records passed to Write after Close.
var ErrClosed = errors.New("sls: writer is closed")

type verdict uint8

const (
	vDelivered verdict = iota
	vRetry             // transient: back off and resend the batch
	vSplit             // the batch as a whole was refused; halve it to find the culprit
	vPermanent         // no resend of these records can succeed
)

type classified struct {
	verdict  verdict
	reason   string
	throttle bool
	err      error
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
			return classified{verdict: vRetry, reason: ReasonCredentials,
				err: fmt.Errorf("sls: put logs to %s: %s", dest, msg)}
		}
		return classified{verdict: vPermanent, reason: ReasonClientError,
			err: fmt.Errorf("sls: put logs to %s: %s", dest, msg)}
	}
	err := fmt.Errorf("sls: put logs to %s: HTTP %d %s: %s (request id %s)",
		dest, o.status, o.code, w.red.clean(o.msg), o.requestID)
	c := classified{err: err}
	switch {
	case o.code == "WriteQuotaExceed" || o.code == "ShardWriteQuotaExceed" || o.status == http.StatusTooManyRequests:
		c.verdict, c.reason, c.throttle = vRetry, ReasonThrottled, true
	case o.status >= 500:
		c.verdict, c.reason = vRetry, ReasonServerError
	case o.code == "SecurityTokenExpired" || o.code == "InvalidSecurityToken.Expired":
		c.verdict, c.reason = vRetry, ReasonCredentials
	case o.code == "RequestTimeTooSkewed" || o.code == "RequestTimeExpired":
		c.verdict, c.reason = vRetry, ReasonClockSkew
	case o.code == "ProjectNotExist":
		c.verdict, c.reason = vPermanent, ReasonProjectNotFound
	case o.code == "LogStoreNotExist":
		c.verdict, c.reason = vPermanent, ReasonLogstoreNotFound
	case o.code == "PostBodyTooLarge" || o.status == http.StatusRequestEntityTooLarge:
		c.verdict, c.reason = vSplit, ReasonTooLarge
	case o.code == "PostBodyInvalid" || o.code == "InvalidKey" || o.code == "InvalidTimestamp" ||
		o.code == "InvalidEncoding" || o.code == "InvalidLogSize":
		c.verdict, c.reason = vSplit, ReasonInvalidRecord
	case o.status == http.StatusUnauthorized || o.status == http.StatusForbidden ||
		o.code == "Unauthorized" || o.code == "SignatureNotMatch" || o.code == "InvalidAccessKeyId":
		c.verdict, c.reason = vPermanent, ReasonAccessDenied
	default:
		c.verdict, c.reason = vPermanent, ReasonRejected
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
