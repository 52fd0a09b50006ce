package audit

import (
	"errors"

	"github.com/auditlane/auditlane/common/provider"
)

// ErrProvider: a cloud provider's audit record (AKS, GKE, a CloudWatch or
// Pub/Sub wrapper) could not be turned into an audit Event.
var ErrProvider = errors.New("invalid provider record")

// ErrNotAudit: a provider's log record that is not an audit event (an AKS
// kube-apiserver or guard category beside kube-audit, a GKE
// container.googleapis.com entry, a CloudWatch control message or text log
// line). It is not bad input: pipelines count it as skipped.
var ErrNotAudit = errors.New("not an audit record")

// ErrTruncated: the transport cut the event (a CloudWatch Logs message
// ending in [Truncated...]); DecodeError.AuditID names it when readable.
var ErrTruncated = errors.New("truncated by the transport")

// Origin returns where a converted event came from (provider, wrapper
// format, cluster) and whether the event was converted from a provider's
// record at all. The auditlane.io/* annotations of a converted event were
// written by the converter, which drops any the source carried.
func (e *Event) Origin() (provider.Origin, bool) { return e.origin, e.hasOrigin }

// unitErr turns a failed provider unit into a DecodeError.
func unitErr(u *provider.Unit) *DecodeError {
	de := &DecodeError{Pos: -1, Index: -1, Err: ErrProvider, Detail: u.Err.Error(), AuditID: u.AuditID}
	switch {
	case errors.Is(u.Err, provider.ErrNotAudit):
		de.Err = ErrNotAudit
	case errors.Is(u.Err, provider.ErrTruncated):
		de.Err = ErrTruncated
	}
	if u.AuditID != "" {
		de.Detail += " (auditID " + u.AuditID + ")"
	}
	return de
}

// parseUnit decodes the Event of a converted unit into ev.
func (e *Event) parseUnit(o *provider.Out, u *provider.Unit) *DecodeError {
	if u.Err != nil {
		e.Raw = o.Bytes(u)
		return unitErr(u)
	}
	e.Raw = o.Bytes(u)
	if perr := e.parse(); perr != nil {
		perr.Pos = -1
		perr.Detail = "in the Event of a " + u.Origin.Format + " record: " + perr.Detail
		if perr.AuditID == "" {
			perr.AuditID = u.AuditID
		}
		return perr
	}
	if e.isProvider || e.isList {
		return &DecodeError{Pos: -1, Index: -1, Err: ErrProvider, Detail: u.Origin.Format + " record nests another record"}
	}
	e.origin, e.hasOrigin = u.Origin, true
	return nil
}

// convert converts raw, an object that parse found to be no audit Event,
// into sp.conv. notEvent is the error to report when raw is in no provider
// format either.
func (sp *splitter) convert(raw []byte, notEvent *DecodeError) *DecodeError {
	sp.conv.Reset()
	sp.cnext = 0
	if err := provider.Convert(&sp.conv, raw); err != nil {
		if errors.Is(err, provider.ErrNotProvider) && notEvent != nil {
			return notEvent
		}
		if errors.Is(err, provider.ErrNotProvider) {
			return &DecodeError{Pos: -1, Index: -1, Err: ErrKind, Detail: "not an audit Event: no kind and none of auditID, stage, verb, requestURI, user"}
		}
		return &DecodeError{Pos: -1, Index: -1, Err: ErrProvider, Detail: err.Error()}
	}
	return nil
}
