package cloudwatch

import (
	"context"
	"errors"
	"time"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Class is how a failed CloudWatch Logs call is treated, by the sink and
// by the CloudWatch source alike (see Classify).
type Class uint8

// Classes.
const (
	// ClassRetryable: transient (5xx, network, timeouts): retry with backoff.
	ClassRetryable Class = iota
	// ClassThrottled: throttling: retry with backoff.
	ClassThrottled
	// ClassPermanent: the request can never succeed as sent.
	ClassPermanent
	// ClassNotFound: the group or stream does not exist.
	ClassNotFound
	// ClassExists: the group or stream exists already.
	ClassExists
	// ClassDestination: the destination refuses everything for now —
	// credentials, signatures, permissions, expired tokens. IAM
	// propagation, key rotation and clock skew make these transient: they
	// are retried later, not inside one call's budget, and never turn an
	// event into a dead letter.
	ClassDestination
)

// classes kept short inside the package.
const (
	classRetryable   = ClassRetryable
	classThrottled   = ClassThrottled
	classPermanent   = ClassPermanent
	classNotFound    = ClassNotFound
	classExists      = ClassExists
	classDestination = ClassDestination
)

type class = Class

// LogInterval is the least time between two error lines for the same
// failure (reason and log group): destination trouble is reported loudly,
// but not once per batch.
const LogInterval = 30 * time.Second

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
	ReasonAccessDenied     = "access_denied"     // AccessDeniedException, 403
	ReasonAuthFailure      = "auth_failure"      // unknown key, bad or missing signature, 401
	ReasonExpiredToken     = "expired_token"     // ExpiredToken(Exception)
	ReasonClientError      = "client_error"      // other 4xx answers
	ReasonThrottled        = "throttled"         // throttling outlasted the retry budget
	ReasonUnavailable      = "unavailable"       // 5xx outlasted the retry budget
	ReasonNetwork          = "network"           // transport failures
	ReasonCanceled         = "canceled"          // the caller's context ended
)

// Classify maps an SDK error of a CloudWatch Logs call onto a class and a
// reason, by error code and by HTTP status: the sink's writer and the
// CloudWatch source (FilterLogEvents) share it.
func Classify(err error) (Class, string) { return classify(err) }

// classify maps an SDK error onto a class and a reason.
func classify(err error) (class, string) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return classRetryable, ReasonCanceled
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
			"ThrottledException", "SlowDown":
			return classThrottled, ReasonThrottled
		case "ServiceUnavailableException", "ServiceUnavailable", "InternalServerException", "InternalServerError",
			"InternalFailure", "InternalError", "OperationAbortedException", "LimitExceededException",
			"RequestTimeout", "RequestTimeoutException":
			return classRetryable, ReasonUnavailable
		case "ExpiredTokenException", "ExpiredToken", "RequestExpired":
			return classDestination, ReasonExpiredToken
		case "ResourceNotFoundException":
			return classNotFound, ReasonNotFound
		case "ResourceAlreadyExistsException":
			return classExists, ReasonClientError
		case "InvalidParameterException", "ValidationException", "SerializationException":
			return classPermanent, ReasonInvalidParameter
		case "AccessDeniedException", "AccessDenied", "UnauthorizedOperation", "KMSAccessDeniedException":
			return classDestination, ReasonAccessDenied
		case "UnrecognizedClientException", "InvalidSignatureException", "IncompleteSignatureException",
			"MissingAuthenticationTokenException", "InvalidClientTokenId", "SignatureDoesNotMatch",
			"NotAuthorized", "AuthFailure":
			return classDestination, ReasonAuthFailure
		}
		var re *smithyhttp.ResponseError
		if errors.As(err, &re) {
			switch code := re.HTTPStatusCode(); {
			case code == 429:
				return classThrottled, ReasonThrottled
			case code >= 500:
				return classRetryable, ReasonUnavailable
			case code == 401:
				return classDestination, ReasonAuthFailure
			case code == 403:
				return classDestination, ReasonAccessDenied
			case code == 408:
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
	if errors.As(err, &re) {
		switch code := re.HTTPStatusCode(); {
		case code == 429:
			return classThrottled, ReasonThrottled
		case code >= 500, code == 408:
			return classRetryable, ReasonUnavailable
		case code == 401:
			return classDestination, ReasonAuthFailure
		case code == 403:
			return classDestination, ReasonAccessDenied
		}
	}
	return classRetryable, ReasonNetwork
}
