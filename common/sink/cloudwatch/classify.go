package cloudwatch

import (
	"context"
	"errors"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// class is how the writer treats a failed API call.
type class uint8

const (
	classRetryable class = iota
	classThrottled
	classPermanent
	classNotFound
	classExists
)

// Result reasons reported by the writer (sink.Result.Reason and the keys of
// Stats.Rejected).
const (
	ReasonTooOld           = "too_old"           // older than 14 days
	ReasonTooNew           = "too_new"           // more than 2 h in the future
	ReasonExpired          = "expired"           // older than the group's retention
	ReasonTooLarge         = "too_large"         // event over MaxEventBytes
	ReasonEmpty            = "empty"             // zero-length message
	ReasonBadName          = "bad_name"          // template unresolved or invalid name
	ReasonNotFound         = "not_found"         // group or stream missing, auto-create off
	ReasonInvalidParameter = "invalid_parameter" // InvalidParameterException
	ReasonAccessDenied     = "access_denied"     // AccessDeniedException
	ReasonAuthFailure      = "auth_failure"      // unknown key, bad or missing signature
	ReasonClientError      = "client_error"      // other 4xx answers
	ReasonThrottled        = "throttled"         // throttling outlasted the retry budget
	ReasonUnavailable      = "unavailable"       // 5xx outlasted the retry budget
	ReasonNetwork          = "network"           // transport failures
	ReasonCanceled         = "canceled"          // the caller's context ended
)

// classify maps an SDK error onto a class and a reason.
func classify(err error) (class, string) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return classRetryable, ReasonCanceled
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded":
			return classThrottled, ReasonThrottled
		case "ServiceUnavailableException", "InternalServerException", "InternalFailure",
			"OperationAbortedException", "LimitExceededException", "ExpiredTokenException",
			"RequestTimeout", "RequestTimeoutException":
			return classRetryable, ReasonUnavailable
		case "ResourceNotFoundException":
			return classNotFound, ReasonNotFound
		case "ResourceAlreadyExistsException":
			return classExists, ReasonClientError
		case "InvalidParameterException", "ValidationException", "SerializationException":
			return classPermanent, ReasonInvalidParameter
		case "AccessDeniedException", "AccessDenied":
			return classPermanent, ReasonAccessDenied
		case "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException",
			"MissingAuthenticationTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch":
			return classPermanent, ReasonAuthFailure
		}
		var re *smithyhttp.ResponseError
		if errors.As(err, &re) {
			switch code := re.HTTPStatusCode(); {
			case code == 429:
				return classThrottled, ReasonThrottled
			case code >= 500:
				return classRetryable, ReasonUnavailable
			case code >= 400:
				return classPermanent, ReasonClientError
			}
		}
		if ae.ErrorFault() == smithy.FaultClient {
			return classPermanent, ReasonClientError
		}
		return classRetryable, ReasonUnavailable
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
		return classRetryable, ReasonUnavailable
	}
	return classRetryable, ReasonNetwork
}
