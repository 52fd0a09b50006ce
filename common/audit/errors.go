package audit

import (
	"errors"
	"fmt"
)

// Sentinel causes of a decode failure; test with errors.Is.
var (
	// ErrSyntax: the input is not valid JSON (includes truncated input).
	ErrSyntax = errors.New("invalid JSON")
	// ErrUTF8: the input is not valid UTF-8.
	ErrUTF8 = errors.New("invalid UTF-8")
	// ErrNotObject: an event is not a JSON object.
	ErrNotObject = errors.New("event is not a JSON object")
	// ErrType: a known field has the wrong JSON type ({"kind":0}).
	ErrType = errors.New("wrong type")
	// ErrKind: kind is neither Event nor EventList.
	ErrKind = errors.New("unsupported kind")
	// ErrAPIVersion: apiVersion is not audit.k8s.io/v1, v1beta1 or v1alpha1.
	ErrAPIVersion = errors.New("unsupported apiVersion")
	// ErrTooLarge: a line or value exceeds the configured maximum size.
	ErrTooLarge = errors.New("too large")
	// ErrMissing: a field every audit Event has is absent (level).
	ErrMissing = errors.New("missing")
)

// DecodeError reports why and where an event could not be decoded.
type DecodeError struct {
	// Line is the 1-based line on which the bad value starts (0 if unknown).
	Line int
	// Offset is the byte offset in the input stream of the bad value's start.
	Offset int64
	// Pos is the byte offset inside the value where the problem was found,
	// or -1 when it concerns the value as a whole.
	Pos int
	// Index is the element index inside an EventList or array, or -1.
	Index int
	// Field names the offending field ("kind", "objectRef.resource"), if any.
	Field string
	// Err is one of the sentinel errors above.
	Err error
	// Detail adds specifics ("expected string, found number").
	Detail string
	// AuditID is the event's auditID when it could be read (a truncated
	// CloudWatch message, a converted event that failed to decode).
	AuditID string
}

// Error implements error.
func (e *DecodeError) Error() string {
	msg := "audit: "
	if e.Line > 0 {
		msg += fmt.Sprintf("line %d: ", e.Line)
	}
	if e.Index >= 0 {
		msg += fmt.Sprintf("item %d: ", e.Index)
	}
	if e.Field != "" {
		msg += e.Field + ": "
	}
	msg += e.Err.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	off := e.Offset
	if e.Pos >= 0 {
		off += int64(e.Pos)
	}
	return msg + fmt.Sprintf(" (byte offset %d)", off)
}

// Unwrap returns the sentinel cause.
func (e *DecodeError) Unwrap() error { return e.Err }
