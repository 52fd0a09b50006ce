package k8sauditprocessor

import (
	"context"
	"encoding/json"
	"fmt"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
)

// auditProcessor runs the flow on each log record and passes the kept
// events on. It is its own consumer (not processorhelper's function
// wrapper) because it must know whether the next consumer accepted the
// batch: outcomes are counted, and dead letters written, only then, so
// that a batch a receiver sends again after a retryable error is counted
// once.
type auditProcessor struct {
	flow *auditotel.Flow
	next consumer.Logs
}

const source = "k8saudit processor"

func (p *auditProcessor) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: true}
}

func (p *auditProcessor) Start(context.Context, component.Host) error { return nil }

func (p *auditProcessor) Shutdown(context.Context) error { return p.flow.Close() }

// body returns the audit record bytes a log record carries.
func body(v pcommon.Value, buf []byte) ([]byte, error) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return append(buf[:0], v.Str()...), nil
	case pcommon.ValueTypeBytes:
		return append(buf[:0], v.Bytes().AsRaw()...), nil
	case pcommon.ValueTypeMap:
		b, err := json.Marshal(v.Map().AsRaw())
		if err != nil {
			return nil, fmt.Errorf("k8saudit: encode map body: %w", err)
		}
		return b, nil
	}
	return nil, fmt.Errorf("k8saudit: log body of type %s is not an audit event", v.Type())
}

// ConsumeLogs replaces each log record by the events its body holds (one,
// or several for an EventList or a provider batch: the pipeline's one
// record entry splits them), drops what the policy drops and removes what
// is not an audit event, then passes the rest on.
func (p *auditProcessor) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	var b auditotel.Batch
	p.process(ld, &b)
	if ld.LogRecordCount() == 0 {
		p.flow.Commit(&b, false)
		return nil
	}
	err := p.next.ConsumeLogs(ctx, ld)
	switch {
	case err == nil:
		p.flow.Commit(&b, false)
	case consumererror.IsPermanent(err):
		p.flow.Commit(&b, true)
	default:
		p.flow.Retry(&b)
	}
	return err
}

func (p *auditProcessor) process(ld plog.Logs, b *auditotel.Batch) {
	s := p.flow.Scratch()
	defer p.flow.PutScratch(s)
	now := auditotel.Now()
	var buf []byte
	ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
			in := sl.LogRecords()
			out := plog.NewLogRecordSlice()
			out.EnsureCapacity(in.Len())
			for i := 0; i < in.Len(); i++ {
				lr := in.At(i)
				raw, err := body(lr.Body(), buf)
				if err != nil {
					p.flow.Reject(b, err, []byte(lr.Body().AsString()), source, 0)
					continue
				}
				buf = raw
				observed := lr.ObservedTimestamp()
				if observed == 0 {
					observed = now
				}
				p.flow.Pipeline.Records(raw, s, func(r *pipeline.Result) {
					p.flow.File(b, r, source, 0)
					if r.Outcome != pipeline.Kept {
						return
					}
					nl := out.AppendEmpty()
					if r.Index < 0 {
						lr.MoveTo(nl) // the record is one event: reuse it
					} else {
						lr.CopyTo(nl) // one of several: each keeps the record's attributes
					}
					p.flow.Fill(nl, &s.Event, *r, s, observed)
				})
			}
			in.RemoveIf(func(plog.LogRecord) bool { return true })
			out.MoveAndAppendTo(in)
			return in.Len() == 0
		})
		return rl.ScopeLogs().Len() == 0
	})
}
