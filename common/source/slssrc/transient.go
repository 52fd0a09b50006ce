package slssrc

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
)

// Transient tells whether a failed SLS call may succeed when repeated:
// throttling (by code, or HTTP 429), server errors (5xx, with or without a
// code), expired STS tokens and clock skew, and failures before an answer
// (the SDK reports a reset connection, a timeout or a credentials provider
// that failed as ClientError with HTTP code -1). Errors about the request
// or the resource (a missing project or logstore, invalid parameters,
// refused credentials) are not.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	status, code := 0, ""
	var se *slssdk.Error
	var be *slssdk.BadResponseError
	switch {
	case errors.As(err, &se):
		status, code = int(se.HTTPCode), se.Code
	case errors.As(err, &be):
		status = be.HTTPCode
	default:
		var ue *url.Error
		var ne net.Error
		return errors.As(err, &ue) || errors.As(err, &ne)
	}
	switch code {
	case "ClientError":
		return status <= 0
	case "ReadQuotaExceed", "ShardReadQuotaExceed", "WriteQuotaExceed", "ShardWriteQuotaExceed", "QuotaExceed",
		"ServerBusy", "InternalServerError", "RequestTimeout",
		"SecurityTokenExpired", "InvalidSecurityToken.Expired", "RequestTimeTooSkewed", "RequestTimeExpired":
		return true
	}
	return status == http.StatusTooManyRequests || status >= 500
}
