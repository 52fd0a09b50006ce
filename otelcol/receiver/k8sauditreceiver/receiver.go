package k8sauditreceiver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/receiverhelper"
	"go.uber.org/zap"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/otelcol/internal/auditotel"
	"github.com/auditlane/auditlane/otelcol/receiver/k8sauditreceiver/internal/metadata"
)

type auditReceiver struct {
	cfg    *Config
	set    receiver.Settings
	next   consumer.Logs
	flow   *auditotel.Flow
	obs    *receiverhelper.ObsReport
	logger *zap.Logger

	cancel  context.CancelFunc
	wg      sync.WaitGroup
	server  *http.Server
	webhook *webhook
	tailer  *tailer
	cw      *cwReader
	sls     *slsReader
}

func newReceiver(set receiver.Settings, cfg *Config, next consumer.Logs) (*auditReceiver, error) {
	transport := "file"
	if cfg.Mode != ModeFile {
		transport = "http"
	}
	obs, err := receiverhelper.NewObsReport(receiverhelper.ObsReportSettings{ReceiverID: set.ID, Transport: transport, ReceiverCreateSettings: set})
	if err != nil {
		return nil, err
	}
	flow, err := auditotel.NewFlow(cfg.Pipeline, set.TelemetrySettings, metadata.ScopeName, set.ID)
	if err != nil {
		return nil, err
	}
	return &auditReceiver{cfg: cfg, set: set, next: next, flow: flow, obs: obs, logger: set.Logger}, nil
}

// Start starts tailing or serving.
func (r *auditReceiver) Start(ctx context.Context, host component.Host) error {
	switch r.cfg.Mode {
	case ModeWebhook:
		return r.startWebhook(ctx, host)
	case ModeCloudWatch:
		return r.startCloudWatch(ctx, host)
	case ModeSLS:
		return r.startSLS(ctx)
	default:
		return r.startFile(ctx, host)
	}
}

// Shutdown stops the receiver; in file mode the checkpoint is saved, in
// sls mode what was delivered is committed and the consumer group left.
func (r *auditReceiver) Shutdown(ctx context.Context) error {
	var errs []error
	if r.server != nil {
		errs = append(errs, r.server.Shutdown(ctx))
	}
	if r.sls != nil {
		r.sls.stop()
	}

	if r.cancel != nil {
		r.cancel()
	}
	r.wg.Wait()
	if r.tailer != nil {
		errs = append(errs, r.tailer.close(ctx))
	}
	if r.cw != nil {
		errs = append(errs, r.cw.close(ctx))
	}
	errs = append(errs, r.flow.Close())
	return errors.Join(errs...)
}

// storageClient returns the client of the storage extension id (a no-op
// client when id is nil); key names the setting in errors.
func (r *auditReceiver) storageClient(ctx context.Context, host component.Host, id *component.ID, key string) (storage.Client, error) {
	if id == nil {
		return storage.NewNopClient(), nil
	}
	ext, ok := host.GetExtensions()[*id]
	if !ok {
		return nil, fmt.Errorf("k8saudit: %s: extension %s not found", key, id)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("k8saudit: %s: extension %s is not a storage extension", key, id)
	}
	return se.GetClient(ctx, component.KindReceiver, r.set.ID, "")
}

// batch collects log records of one call to the next consumer, with the
// outcomes of the inputs behind them.
type batch struct {
	ld  plog.Logs
	lrs plog.LogRecordSlice
	out auditotel.Batch
}

func newBatch() *batch {
	ld := plog.NewLogs()
	sl := ld.ResourceLogs().AppendEmpty().ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	return &batch{ld: ld, lrs: sl.LogRecords()}
}

// addRecord runs one record (an event, an EventList, an array, a provider
// record: the pipeline's one record entry splits it) through the flow and
// appends the kept events.
func (r *auditReceiver) addRecord(b *batch, raw []byte, s *pipeline.Scratch, source string, line int) {
	now := auditotel.Now()
	r.flow.Pipeline.Records(raw, s, func(res *pipeline.Result) {
		r.flow.File(&b.out, res, source, line)
		if res.Outcome == pipeline.Kept {
			r.flow.Fill(b.lrs.AppendEmpty(), &s.Event, *res, s, now)
		}
	})
}

// add runs one decoded event through the flow and appends it when kept.
func (r *auditReceiver) add(b *batch, ev *audit.Event, s *pipeline.Scratch, source string) {
	res := r.flow.Pipeline.Eval(ev, s)
	r.flow.File(&b.out, &res, source, ev.Line)
	if res.Outcome == pipeline.Kept {
		r.flow.Fill(b.lrs.AppendEmpty(), ev, res, s, auditotel.Now())
	}
}

func (r *auditReceiver) source() string {
	switch r.cfg.Mode {
	case ModeWebhook:
		return "webhook"
	case ModeCloudWatch:
		return "cloudwatch:" + r.cfg.CloudWatch.LogGroupName
	case ModeSLS:
		return "sls:" + r.cfg.SLS.Project + "/" + r.cfg.SLS.Logstore
	}
	return r.cfg.File.Path
}

// consume passes b on, with the receiver's observability report. When the
// next consumer accepts b (or refuses it for good), b's outcomes are
// counted and its dead letters written; on a retryable error its events
// are counted as retried and its outcomes kept, for the caller to send b
// again (consume again) or give it back (b.out.Reset).
func (r *auditReceiver) consume(ctx context.Context, b *batch) error {
	n := b.lrs.Len()
	var err error
	if n > 0 {
		octx := r.obs.StartLogsOp(ctx)
		err = r.next.ConsumeLogs(octx, b.ld)
		r.obs.EndLogsOp(octx, "k8s_audit", n, err)
	}
	switch {
	case err == nil:
		r.flow.Commit(&b.out, false)
	case consumererror.IsPermanent(err):
		r.flow.Commit(&b.out, true)
	default:
		r.flow.Pipeline.Retried(b.out.Len())
	}
	return err
}
