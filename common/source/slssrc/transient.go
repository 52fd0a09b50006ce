package slssrc

import (
	"context"
	"errors"
	"strings"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"

	"github.com/auditlane/auditlane/common/sink/sls"
)

// classify maps a failed SLS call onto the SLS sink's classes: the sink's
// Classify (by HTTP status and error code) is the one owner of which
// errors are transient; this only finds status and code in the SDK's
// error. The SDK reports failures before an answer (a reset connection, a
// timeout, a credentials provider that failed) as ClientError with HTTP
// code -1: no answer, except credentials, which are destination trouble.
func classify(err error) sls.Class {
	var se *slssdk.Error
	var be *slssdk.BadResponseError
	switch {
	case errors.As(err, &se) && se.HTTPCode > 0:
		c, _ := sls.Classify(int(se.HTTPCode), se.Code)
		return c
	case errors.As(err, &se) && strings.Contains(se.Message, "credentials"):
		return sls.ClassDestination
	case errors.As(err, &be) && be.HTTPCode > 0:
		c, _ := sls.Classify(be.HTTPCode, "")
		return c
	}
	c, _ := sls.Classify(0, "") // no answer: the network
	return c
}

// transient tells whether a failed call is retried within its backoff:
// throttling, server errors and the network.
func transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	switch classify(err) {
	case sls.ClassRetryable, sls.ClassThrottled:
		return true
	}
	return false
}

// setupRetryable tells whether creating the consumer group is tried again
// within Config.SetupTimeout: transient errors and destination trouble
// (credentials, permissions, a project or logstore not there yet), which
// is retried later by definition; requests that can never succeed are not.
func setupRetryable(err error) bool {
	if transient(err) {
		return true
	}
	return err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && classify(err) == sls.ClassDestination
}
