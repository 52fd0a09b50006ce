// Package auditotel holds what the auditlane collector components share:
// the pipeline section of their configuration, the mapping of pipeline
// results onto log records, the components' counters and the mapping of
// log records onto sink records with per-record delivery results.
package auditotel

import (
	"bytes"
	"fmt"
	"sort"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/config"
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

// Settings converts c into pipeline settings, starting from the defaults
// (pipeline.Schema: the same keys, values and defaults as the Fluent Bit
// plugin and the command line). Errors name the key as the user wrote it,
// once ("pipeline::polcy_file: unknown key (did you mean policy_file?)").
func (c PipelineConfig) Settings() (pipeline.Settings, error) {
	s := pipeline.DefaultSettings()
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if c[k] == nil {
			continue
		}
		v, err := config.FromYAML(c[k])
		if err == nil {
			err = s.SetValue(k, v)
		} else {
			err = config.Errorf(k, "%w", err)
		}
		if err != nil {
			return s, fmt.Errorf("pipeline::%w", err)
		}
	}
	if err := s.Validate(); err != nil {
		return s, fmt.Errorf("pipeline::%w", err)
	}
	return s, nil
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
	logger   *zap.Logger
	scratch  sync.Pool
	metrics  metric.Registration
}

// NewFlow builds the pipeline of c for the component id, and registers its
// counters (pipeline.Metrics) with the component's meter.
func NewFlow(c PipelineConfig, set component.TelemetrySettings, scope string, id component.ID) (*Flow, error) {
	s, err := c.Settings()
	if err != nil {
		return nil, err
	}
	p, dead, err := s.Build()
	if err != nil {
		return nil, fmt.Errorf("pipeline::%w", err)
	}
	e := s.Enrich
	f := &Flow{Pipeline: p, dead: dead, logger: set.Logger,
		enrich: e.Identity || e.Request || e.Authz || e.Network || e.RiskTags || e.ClusterName != "" || e.ClusterID != "" || e.Provider != ""}
	f.scratch.New = func() any { return new(pipeline.Scratch) }
	if f.metrics, err = RegisterMetrics(set, scope, id, p.Counters, false); err != nil {
		if dead != nil {
			_ = dead.Close()
		}
		return nil, err
	}
	return f, nil
}

// Scratch takes a Scratch from the flow's pool; PutScratch returns it.
func (f *Flow) Scratch() *pipeline.Scratch { return f.scratch.Get().(*pipeline.Scratch) }

// PutScratch returns s to the pool.
func (f *Flow) PutScratch(s *pipeline.Scratch) { f.scratch.Put(s) }

// Close closes the dead letter and unregisters the metrics.
func (f *Flow) Close() error {
	if f.metrics != nil {
		_ = f.metrics.Unregister()
	}
	if f.dead != nil {
		return f.dead.Close()
	}
	return nil
}

// Batch collects the outcomes of one batch of input (a webhook request, a
// run of file lines, a processor call) until the component knows whether
// the next consumer accepted it: Commit counts them and writes the dead
// letters; Retry forgets them, so that a batch sent again is counted once.
type Batch struct {
	tally   pipeline.Tally
	letters []pipeline.Letter
	// Kept counts the log records the batch passes on.
	Kept int
}

// Reset empties b for reuse.
func (b *Batch) Reset() {
	b.tally.Reset()
	clear(b.letters)
	b.letters = b.letters[:0]
	b.Kept = 0
}

// Len returns the number of inputs filed.
func (b *Batch) Len() int { return b.tally.Len() }

// File adds one result to b; a rejected one is kept for the dead letter
// (its bytes copied: they live in scratch memory).
func (f *Flow) File(b *Batch, r *pipeline.Result, source string, line int) {
	b.tally.Add(r)
	switch r.Outcome {
	case pipeline.Kept:
		b.Kept++
	case pipeline.Rejected:
		l := pipeline.LetterFor(r, source, line)
		l.Event = bytes.Clone(l.Event)
		l.Raw = bytes.Clone(l.Raw)
		b.letters = append(b.letters, l)
	}
}

// Reject files an input that could not be decoded at all (not a record).
func (f *Flow) Reject(b *Batch, err error, raw []byte, source string, line int) {
	r := pipeline.RejectResult(err, raw)
	f.File(b, &r, source, line)
}

// Commit counts b's results and writes its dead letters; with refused
// (the next consumer refused the batch for good), its kept events are
// counted lost. It resets b.
func (f *Flow) Commit(b *Batch, refused bool) {
	f.Pipeline.Commit(&b.tally)
	if refused && b.Kept > 0 {
		f.Pipeline.Lost("refused_by_pipeline", b.Kept)
	}
	for i := range b.letters {
		f.deadLetter(&b.letters[i])
	}
	b.Reset()
}

// Retry forgets b's results (the batch will come again) and counts its
// events as retried.
func (f *Flow) Retry(b *Batch) {
	f.Pipeline.Retried(b.Len())
	b.Reset()
}

func (f *Flow) deadLetter(l *pipeline.Letter) {
	if f.dead == nil {
		f.logger.Debug("auditlane: rejected input", zap.String("reason", l.Reason), zap.String("source", l.Source), zap.Int("line", l.Line), zap.Error(l.Err))
		return
	}
	if err := f.dead.Write(*l); err != nil {
		f.Pipeline.Lost("dead_letter_failed", 1)
		f.logger.Error("auditlane: writing the dead letter failed", zap.String("reason", l.Reason), zap.Error(err))
		return
	}
	f.Pipeline.DeadLettered(l.Reason, 1)
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

// Now returns the current time as a pdata timestamp.
func Now() pcommon.Timestamp { return pcommon.NewTimestampFromTime(time.Now()) }

// ApplySection sets every key of values (a component's settings as
// decoded from YAML) on target through section s, in key order. Errors
// name the key, and an unknown key the closest known one.
func ApplySection(s config.Section, target any, values map[string]any) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if values[k] == nil {
			continue
		}
		v, err := config.FromYAML(values[k])
		if err != nil {
			return config.Errorf(k, "%w", err)
		}
		if err := s.Set(target, k, v); err != nil {
			return err
		}
	}
	return nil
}
