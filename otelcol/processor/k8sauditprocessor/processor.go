package k8sauditprocessor

import (
	"context"
	"encoding/json"
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
)

type auditProcessor struct {
	flow *auditotel.Flow
}

// body returns the audit event bytes a record carries.
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

func (p *auditProcessor) processLogs(ctx context.Context, ld plog.Logs) (plog.Logs, error) {
	s := p.flow.Scratch()
	defer p.flow.PutScratch(s)
	now := auditotel.Now()
	var buf []byte
	ld.ResourceLogs().RemoveIf(func(rl plog.ResourceLogs) bool {
		rl.ScopeLogs().RemoveIf(func(sl plog.ScopeLogs) bool {
			sl.LogRecords().RemoveIf(func(lr plog.LogRecord) bool {
				raw, err := body(lr.Body(), buf)
				if err != nil {
					p.flow.Reject(ctx, err, []byte(lr.Body().AsString()), "k8saudit processor", 0)
					return true
				}
				buf = raw
				r := p.flow.Pipeline.ProcessRaw(raw, s)
				switch r.Outcome {
				case pipeline.Dropped:
					p.flow.Count(ctx, r)
					return true
				case pipeline.Rejected:
					p.flow.Rejected(ctx, r, raw, "k8saudit processor", 0)
					return true
				}
				p.flow.Count(ctx, r)
				observed := lr.ObservedTimestamp()
				if observed == 0 {
					observed = now
				}
				p.flow.Fill(lr, &s.Event, r, s, observed)
				return false
			})
			return sl.LogRecords().Len() == 0
		})
		return rl.ScopeLogs().Len() == 0
	})
	return ld, nil
}
