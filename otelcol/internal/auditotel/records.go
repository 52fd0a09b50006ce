package auditotel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/auditlane/auditlane/common/sink"
)

// Records converts every log record of ld, in order, into a sink.Record
// appended to dst. The body becomes the record body: a string or bytes as
// is, a map as compact JSON (and, when every value is a string, also the
// key/value layout in Fields, which the SLS writer stores as keys). The time
// is the record's timestamp, else its observed timestamp.
func Records(ld plog.Logs, dst []sink.Record) ([]sink.Record, error) {
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		sls := rls.At(i).ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			lrs := sls.At(j).LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				lr := lrs.At(k)
				rec := sink.Record{}
				ts := lr.Timestamp()
				if ts == 0 {
					ts = lr.ObservedTimestamp()
				}
				if ts != 0 {
					rec.Time = ts.AsTime()
				}
				if id, ok := lr.Attributes().Get(AttrAuditID); ok {
					rec.ID = id.Str()
				}
				body := lr.Body()
				switch body.Type() {
				case pcommon.ValueTypeStr:
					rec.Body = []byte(body.Str())
				case pcommon.ValueTypeBytes:
					rec.Body = body.Bytes().AsRaw()
				case pcommon.ValueTypeMap:
					m := body.Map()
					raw := m.AsRaw()
					b, err := json.Marshal(raw)
					if err != nil {
						return dst, fmt.Errorf("record %d: encode body: %w", len(dst), err)
					}
					rec.Body = b
					fields := make([]sink.Field, 0, m.Len())
					m.Range(func(k string, v pcommon.Value) bool {
						if v.Type() != pcommon.ValueTypeStr {
							fields = nil
							return false
						}
						fields = append(fields, sink.Field{Key: k, Value: v.Str()})
						return true
					})
					if len(fields) > 0 {
						rec.Fields = fields
					}
				default:
					// Anything else is not an audit event; the sinks reject it
					// as an invalid body, permanently.
					rec.Body = []byte(body.AsString())
				}
				dst = append(dst, rec)
			}
		}
	}
	return dst, nil
}

// Deliver writes ld through w and maps the per-record results onto the
// collector's error model: nil when every record was delivered; a
// consumererror.Logs holding only the records that failed in a retryable
// way (or were never attempted), so that exporterhelper retries those and
// no delivered record twice; a permanent error when nothing is worth
// retrying. Permanently rejected records are logged with their reasons and
// counted by the caller through the returned DeliverStats.
func Deliver(ctx context.Context, w sink.Writer, ld plog.Logs, logger *zap.Logger, name string) (DeliverStats, error) {
	recs, err := Records(ld, make([]sink.Record, 0, ld.LogRecordCount()))
	if err != nil {
		return DeliverStats{}, consumererror.NewPermanent(fmt.Errorf("%s: %w", name, err))
	}
	if len(recs) == 0 {
		return DeliverStats{}, nil
	}
	results := make([]sink.Result, len(recs))
	werr := w.Write(ctx, recs, results)
	st := DeliverStats{Permanent: map[string]int{}, Failed: map[string]int{}}
	for _, r := range results {
		switch r.Status {
		case sink.Delivered:
			st.Delivered++
		case sink.Permanent:
			st.Permanent[r.Reason]++
			st.Failed[r.Reason]++
		default:
			st.Retry++
			if r.Reason != "" {
				st.Failed[r.Reason]++
			}
		}
	}
	// Destination trouble (credentials, permissions, a missing group) is
	// reported by the writer, at error level and rate-limited.
	if werr == nil && st.Delivered == len(recs) {
		return st, nil
	}
	if werr == nil {
		werr = sink.Summarize(results)
		if werr == nil {
			werr = errors.New("records not delivered")
		}
	}
	for reason, n := range st.Permanent {
		logger.Warn("auditlane: records rejected permanently by the destination", zap.String("exporter", name), zap.String("reason", reason), zap.Int("records", n))
	}
	werr = fmt.Errorf("%s: %w", name, werr)
	if st.Retry == 0 {
		return st, consumererror.NewPermanent(werr)
	}
	return st, consumererror.NewLogs(werr, Select(ld, func(i int) bool {
		s := results[i].Status
		return s == sink.Retryable || s == sink.Pending
	}))
}

// DeliverStats counts the outcomes of one Deliver call.
type DeliverStats struct {
	Delivered, Retry int
	// Permanent counts records refused for good, by reason; Failed every
	// failed record, by reason.
	Permanent, Failed map[string]int
}

// Select returns a copy of ld with only the log records whose running
// index (in ResourceLogs/ScopeLogs/LogRecords order) keep returns true for,
// keeping their resource and scope.
func Select(ld plog.Logs, keep func(i int) bool) plog.Logs {
	out := plog.NewLogs()
	idx := 0
	rls := ld.ResourceLogs()
	for i := 0; i < rls.Len(); i++ {
		rl := rls.At(i)
		var orl plog.ResourceLogs
		hasRL := false
		sls := rl.ScopeLogs()
		for j := 0; j < sls.Len(); j++ {
			sl := sls.At(j)
			var osl plog.ScopeLogs
			hasSL := false
			lrs := sl.LogRecords()
			for k := 0; k < lrs.Len(); k++ {
				if keep(idx) {
					if !hasRL {
						orl = out.ResourceLogs().AppendEmpty()
						rl.Resource().CopyTo(orl.Resource())
						orl.SetSchemaUrl(rl.SchemaUrl())
						hasRL = true
					}
					if !hasSL {
						osl = orl.ScopeLogs().AppendEmpty()
						sl.Scope().CopyTo(osl.Scope())
						osl.SetSchemaUrl(sl.SchemaUrl())
						hasSL = true
					}
					lrs.At(k).CopyTo(osl.LogRecords().AppendEmpty())
				}
				idx++
			}
		}
	}
	return out
}
