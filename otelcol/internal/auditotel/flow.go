// Package auditotel holds what the auditlane collector components share:
// the pipeline section of their configuration, the mapping of pipeline
// results onto log records, the components' counters and the mapping of
// log records onto sink records with per-record delivery results.
package auditotel

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/pipeline"
)

// AttrAuditID is the log attribute holding the event's auditID; exporters
// use it to name records in errors.
const AttrAuditID = "auditlane.audit_id"

// PipelineConfig is the "pipeline" section of the receiver's and the
// processor's configuration: the shared pipeline keys (see pipeline.Keys),
// such as policy_file, cluster_name, layout or max_event_size, with YAML
// scalar values.
type PipelineConfig map[string]any

// Settings converts c into pipeline settings, starting from the defaults.
// Errors name the key.
func (c PipelineConfig) Settings() (pipeline.Settings, error) {
	s := pipeline.DefaultSettings()
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !pipeline.Known(k) {
			return s, fmt.Errorf("pipeline::%s: unknown key (known: %s)", k, strings.Join(pipeline.Keys(), ", "))
		}
		v := c[k]
		var str string
		switch x := v.(type) {
		case nil:
			continue
		case string:
			str = x
		case []any:
			parts := make([]string, len(x))
			for i, p := range x {
				parts[i] = fmt.Sprint(p)
			}
			str = strings.Join(parts, ",")
		case bool, int, int64, uint64, float64:
			str = fmt.Sprint(x)
		default:
			return s, fmt.Errorf("pipeline::%s: unsupported value of type %T", k, v)
		}
		if err := s.Set(k, str); err != nil {
			return s, fmt.Errorf("pipeline::%w", err)
		}
	}
	return s, s.Validate()
}

// Validate checks the section without loading files.
func (c PipelineConfig) Validate() error {
	_, err := c.Settings()
	return err
}

// Flow is a built pipeline with the counters and dead letter of one
// component.
type Flow struct {
	Pipeline *pipeline.Pipeline
	enrich   bool
	dead     *pipeline.DeadLetter
	tel      *Telemetry
	logger   *zap.Logger
	scratch  sync.Pool
}

// NewFlow builds the pipeline of c for a component.
func NewFlow(c PipelineConfig, set component.TelemetrySettings, scope string) (*Flow, error) {
	s, err := c.Settings()
	if err != nil {
		return nil, err
	}
	p, dead, err := s.Build()
	if err != nil {
		return nil, err
	}
	tel, err := NewTelemetry(set, scope)
	if err != nil {
		if dead != nil {
			_ = dead.Close()
		}
		return nil, err
	}
	e := s.Enrich
	f := &Flow{Pipeline: p, dead: dead, tel: tel, logger: set.Logger,
		enrich: e.Identity || e.Request || e.Authz || e.Network || e.RiskTags || e.ClusterName != "" || e.ClusterID != "" || e.Provider != ""}
	f.scratch.New = func() any { return new(pipeline.Scratch) }
	return f, nil
}

// Scratch takes a Scratch from the flow's pool; PutScratch returns it.
func (f *Flow) Scratch() *pipeline.Scratch { return f.scratch.Get().(*pipeline.Scratch) }

// PutScratch returns s to the pool.
func (f *Flow) PutScratch(s *pipeline.Scratch) { f.scratch.Put(s) }

// Close closes the dead letter.
func (f *Flow) Close() error {
	if f.dead != nil {
		return f.dead.Close()
	}
	return nil
}

// Count records r in the component's counters.
func (f *Flow) Count(ctx context.Context, r pipeline.Result) { f.tel.Record(ctx, r) }

// Reject counts an input that could not be decoded (with its raw bytes
// for the dead letter) and returns its Result.
func (f *Flow) Reject(ctx context.Context, err error, raw []byte, source string, line int) pipeline.Result {
	r := f.Pipeline.Reject(err, len(raw))
	f.Rejected(ctx, r, raw, source, line)
	return r
}

// Rejected counts and dead-letters a rejected result.
func (f *Flow) Rejected(ctx context.Context, r pipeline.Result, raw []byte, source string, line int) {
	f.tel.Record(ctx, r)
	if f.dead != nil {
		if err := f.dead.Write(pipeline.Letter{Reason: r.Reason, Err: r.Err, Line: line, Source: source, Raw: raw}); err != nil {
			f.logger.Error("auditlane: writing the dead letter failed", zap.String("reason", r.Reason), zap.Error(err))
		}
	} else {
		f.logger.Debug("auditlane: rejected input", zap.String("reason", r.Reason), zap.String("source", source), zap.Int("line", line), zap.Error(r.Err))
	}
}

// Fill writes a kept result into lr: body (the shaped JSON as a string, or
// a map of the key/value layout when the layout has one), timestamp
// (stageTimestamp), observed timestamp, severity from the response code and
// the enricher's flat attribute map.
func (f *Flow) Fill(lr plog.LogRecord, ev *audit.Event, r pipeline.Result, s *pipeline.Scratch, observed pcommon.Timestamp) {
	if r.Fields != nil {
		m := lr.Body().SetEmptyMap()
		m.EnsureCapacity(len(r.Fields))
		for _, fl := range r.Fields {
			m.PutStr(fl.Key, fl.Value)
		}
	} else {
		lr.Body().SetStr(string(r.Out))
	}
	if !r.Time.IsZero() {
		lr.SetTimestamp(pcommon.NewTimestampFromTime(r.Time))
	}
	lr.SetObservedTimestamp(observed)
	num, text := Severity(ev.ResponseCode)
	lr.SetSeverityNumber(num)
	lr.SetSeverityText(text)
	attrs := lr.Attributes()
	if ev.AuditID != "" {
		attrs.PutStr(AttrAuditID, ev.AuditID)
	}
	if f.enrich {
		s.Enrich.Attributes(func(k, v string) { attrs.PutStr(k, v) })
	}
}

// Severity maps an HTTP response code onto a log severity: 5xx ERROR, 4xx
// WARN, anything else (including no code) INFO.
func Severity(code int) (plog.SeverityNumber, string) {
	switch {
	case code >= 500:
		return plog.SeverityNumberError, "ERROR"
	case code >= 400:
		return plog.SeverityNumberWarn, "WARN"
	}
	return plog.SeverityNumberInfo, "INFO"
}

// Telemetry holds the pipeline counters a component reports through the
// collector's own telemetry:
//
//	auditlane.events.in       inputs seen
//	auditlane.events.kept     kept events, by policy rule
//	auditlane.events.dropped  dropped events, by policy rule ("none": no rule matched)
//	auditlane.events.rejected rejected inputs, by reason
type Telemetry struct {
	in, kept, dropped, rejected metric.Int64Counter
	mu                          sync.Mutex
	rules                       map[int]metric.AddOption
	reasons                     map[string]metric.AddOption
}

// NewTelemetry creates the counters with the component's meter.
func NewTelemetry(set component.TelemetrySettings, scope string) (*Telemetry, error) {
	m := set.MeterProvider.Meter(scope)
	t := &Telemetry{rules: map[int]metric.AddOption{}, reasons: map[string]metric.AddOption{}}
	var err error
	if t.in, err = m.Int64Counter("auditlane.events.in", metric.WithDescription("Audit inputs seen."), metric.WithUnit("{event}")); err != nil {
		return nil, err
	}
	if t.kept, err = m.Int64Counter("auditlane.events.kept", metric.WithDescription("Events kept, by policy rule."), metric.WithUnit("{event}")); err != nil {
		return nil, err
	}
	if t.dropped, err = m.Int64Counter("auditlane.events.dropped", metric.WithDescription("Events dropped by the policy, by rule."), metric.WithUnit("{event}")); err != nil {
		return nil, err
	}
	if t.rejected, err = m.Int64Counter("auditlane.events.rejected", metric.WithDescription("Inputs rejected, by reason."), metric.WithUnit("{event}")); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *Telemetry) rule(i int) metric.AddOption {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.rules[i]
	if !ok {
		v := "none"
		if i >= 0 {
			v = strconv.Itoa(i)
		}
		o = metric.WithAttributeSet(attribute.NewSet(attribute.String("rule", v)))
		t.rules[i] = o
	}
	return o
}

func (t *Telemetry) reason(r string) metric.AddOption {
	t.mu.Lock()
	defer t.mu.Unlock()
	o, ok := t.reasons[r]
	if !ok {
		o = metric.WithAttributeSet(attribute.NewSet(attribute.String("reason", r)))
		t.reasons[r] = o
	}
	return o
}

// Record counts one result.
func (t *Telemetry) Record(ctx context.Context, r pipeline.Result) {
	t.in.Add(ctx, 1)
	switch r.Outcome {
	case pipeline.Kept:
		t.kept.Add(ctx, 1, t.rule(r.Decision.Rule))
	case pipeline.Dropped:
		t.dropped.Add(ctx, 1, t.rule(r.Decision.Rule))
	case pipeline.Rejected:
		t.rejected.Add(ctx, 1, t.reason(r.Reason))
	}
}

// Now returns the current time as a pdata timestamp.
func Now() pcommon.Timestamp { return pcommon.NewTimestampFromTime(time.Now()) }
