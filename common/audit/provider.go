package audit

import (
	"bytes"
	"errors"

	"github.com/auditlane/auditlane/common/provider"
)

// ErrProvider: a cloud provider's audit record (AKS, GKE) could not be
// turned into an audit Event.
var ErrProvider = errors.New("invalid provider record")

// errBatch means a provider record is a batch of records (AKS's
// {"records":[...]}), which only a Decoder can split.
var errBatch = errors.New("a batch of provider records: decode it with a Decoder or ForEach")

// unwrapProvider turns e, parsed as a provider record, into the audit
// Event the record carries: e.Raw then points at memory e owns. Provider
// metadata lands in auditlane.io/* annotations (see common/provider).
func (e *Event) unwrapProvider() *DecodeError {
	raw := e.Raw
	buf, kind, err := provider.Unwrap(e.provBuf[:0], raw)
	if err != nil {
		return &DecodeError{Pos: -1, Index: -1, Err: ErrProvider, Detail: err.Error()}
	}
	e.provBuf = buf
	e.Raw = buf
	if perr := e.parse(); perr != nil {
		perr.Pos = -1
		perr.Detail = "in the Event of a " + kind.String() + " record: " + perr.Detail
		return perr
	}
	if e.isProvider || e.isList {
		return &DecodeError{Pos: -1, Index: -1, Err: ErrProvider, Detail: kind.String() + " record nests another record"}
	}
	return nil
}

// providerRecords returns the [start, end) ranges in raw of the records of
// a provider batch, or ok == false when raw is a single record.
func providerRecords(raw []byte, items [][2]int) ([][2]int, bool, *DecodeError) {
	var bad bool
	isBatch, err := provider.Records(raw, func(rec []byte) error {
		k := cap(raw) - cap(rec)
		if k < 0 || k+len(rec) > len(raw) || !bytes.Equal(raw[k:k+len(rec)], rec) {
			bad = true
			return errors.New("record outside the batch")
		}
		items = append(items, [2]int{k, k + len(rec)})
		return nil
	})
	if err != nil || bad {
		return items, isBatch, &DecodeError{Pos: -1, Index: -1, Err: ErrProvider, Detail: err.Error()}
	}
	return items, isBatch, nil
}
