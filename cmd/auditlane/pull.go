package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/auditlane/auditlane/common/audit"
	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/shape"
	"github.com/auditlane/auditlane/common/source/cloudwatchsrc"
	"github.com/auditlane/auditlane/common/source/slssrc"
)

// slsDialEnv names the environment variable that sends every SLS request
// to one host:port whatever host name it names (tests, tunnels): the
// endpoint's "<project>.<endpoint>" host names need no DNS then.
const slsDialEnv = "AUDITLANE_SLS_DIAL_ADDR"

// The clock and sleep of pull; tests compress time through them.
var (
	pullNow   = time.Now
	pullSleep = sleepCtx
	// pullBackoff and pullSLSBackoff bound the retries of throttled and
	// failed calls (zero: the readers' defaults, 2 minutes per call).
	pullBackoff    cloudwatchsrc.Backoff
	pullSLSBackoff slssrc.Backoff
	// pullPullCount is the LogGroups per SLS PullLogs call.
	pullPullCount = 1000
)

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// pullPoll is the pause between CloudWatch reads while pull waits for
// events that become visible late.
const pullPoll = 5 * time.Second

const pullUsage = `Usage:
  auditlane pull --from cloudwatch --group /aws/eks/CLUSTER/cluster [--stream-prefix kube-apiserver-audit]
                 [--region R] [--endpoint URL] [--look-back 2m]
                 --since 2h|RFC3339 [--until ...] [--out FILE] [--dead-letter FILE]
  auditlane pull --from sls --endpoint ENDPOINT --project P --logstore audit-CLUSTERID
                 --since 2h|RFC3339 [--until ...] [--out FILE] [--dead-letter FILE]

Writes the audit events as JSON lines (to --out, else standard output), for
"auditlane policy test". --since is inclusive and --until (default now)
exclusive: to fetch history in consecutive windows without gaps or
overlaps, pass RFC 3339 times and use each run's --until as the next run's
--since (durations count back from each run's own start).

Everything that is not an audit event is not written: messages CloudWatch
cut ([Truncated...]) and values that are not audit events (other log lines
in the streams or the logstore) are counted and kept in --dead-letter with
their source and reason (as their size, SHA-256 and a masked prefix); the
exit status is then 1. Records holding several events (EventList, arrays)
are split, as every auditlane front end splits them.

CloudWatch Logs shows some events only after later ones (its reads are
eventually consistent): unless --until is at least --look-back ago, pull
reads on every 5s until --look-back after --until, then once more over the
look-back, so that events that became visible up to --look-back late are
in. --look-back 0 reads once.

SLS selects by receive time, in whole seconds. Logs are rebuilt from ACK's
key layout. Throttling and server errors are retried with backoff (2
minutes at most per call). Credentials: the default AWS chain;
ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET and
ALIBABA_CLOUD_SECURITY_TOKEN for SLS (` + slsDialEnv + `=host:port sends
every SLS request to that address).
`

type pullTotals struct {
	events, truncated, rejected int
	bytes                       int64
	late, retries               int
}

func runPull(args []string, _ io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pull", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, pullUsage); fs.PrintDefaults() }
	from := fs.String("from", "", "source: cloudwatch or sls")
	group := fs.String("group", "", "CloudWatch log group (name or ARN)")
	prefix := fs.String("stream-prefix", cloudwatchsrc.DefaultStreamPrefix, "CloudWatch log stream prefix")
	region := fs.String("region", "", "AWS region (default: the AWS configuration's)")
	endpoint := fs.String("endpoint", "", "CloudWatch Logs endpoint URL override, or the SLS endpoint")
	project := fs.String("project", "", "SLS project")
	logstore := fs.String("logstore", "", "SLS logstore")
	since := fs.String("since", "", "start (inclusive): a duration before now (2h) or an RFC 3339 time")
	until := fs.String("until", "", "end (exclusive): a duration before now or an RFC 3339 time (default now)")
	lookBack := fs.Duration("look-back", cloudwatchsrc.DefaultLookBack, "CloudWatch: how late an event may become visible and still be pulled (0: read once)")
	outPath := fs.String("out", "", "output file (default standard output)")
	dlPath := fs.String("dead-letter", "", "file for truncated or unreadable messages (JSON lines)")
	pageLimit := fs.Int("page-limit", 0, "CloudWatch events per FilterLogEvents page (1-10000)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return fmt.Errorf("pull: unexpected argument %q", pos[0])
	}
	if *lookBack < 0 {
		return fmt.Errorf("pull: --look-back %s must not be negative", *lookBack)
	}
	now := pullNow()
	start, err := parseWhen("since", *since, now)
	if err != nil {
		return err
	}
	if start.IsZero() {
		return errors.New("pull: --since is required")
	}
	end, err := parseWhen("until", *until, now)
	if err != nil {
		return err
	}
	if end.IsZero() {
		end = now
	}
	if end.Before(start) {
		return fmt.Errorf("pull: --until %s is before --since %s", end.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano))
	}

	var out io.Writer = stdout
	if *outPath != "" {
		f, err := os.Create(*outPath)
		if err != nil {
			return fmt.Errorf("pull: %w", err)
		}
		defer f.Close()
		out = f
	}
	// The pipeline's record entry decides what is an audit event, as in
	// every front end; pull applies no policy and writes events as stored.
	set := pipeline.Settings{MaxInputSize: audit.DefaultMaxSize, DeadLetterFile: *dlPath, Shape: shape.Config{Layout: shape.LayoutJSON}}
	pipe, dl, err := set.Build()
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	if dl != nil {
		defer dl.Close()
	}
	ctx := context.Background()
	pl := &puller{out: bufio.NewWriterSize(out, 256<<10), pipe: pipe, dl: dl, stderr: stderr}
	switch *from {
	case "cloudwatch":
		err = pl.cloudWatch(ctx, cloudwatchsrc.Config{LogGroup: *group, StreamPrefix: *prefix, StartTime: start, EndTime: end, PageLimit: int32(*pageLimit), LookBack: *lookBack},
			*region, *endpoint)
	case "sls":
		err = pl.sls(ctx, *endpoint, *project, *logstore, start, end)
	case "":
		return errors.New("pull: --from is required (cloudwatch or sls)")
	default:
		return fmt.Errorf("pull: --from %q is not cloudwatch or sls", *from)
	}
	if ferr := pl.out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("pull: write output: %w", ferr)
	}
	tot := &pl.tot
	fmt.Fprintf(stderr, "pulled %d events (%s) from %s, %s (inclusive) to %s (exclusive); %d truncated, %d unreadable",
		tot.events, humanBytes(tot.bytes), *from, start.Format(time.RFC3339Nano), end.Format(time.RFC3339Nano), tot.truncated, tot.rejected)
	if tot.late > 0 {
		fmt.Fprintf(stderr, "; %d became visible late", tot.late)
	}
	if tot.retries > 0 {
		fmt.Fprintf(stderr, "; %d calls retried (throttling, server or network errors)", tot.retries)
	}
	if dl == nil && tot.truncated+tot.rejected > 0 {
		fmt.Fprint(stderr, " (not kept: no --dead-letter)")
	}
	fmt.Fprintln(stderr)
	if err != nil {
		return err
	}
	if tot.truncated+tot.rejected > 0 {
		return exitError{1}
	}
	return nil
}

// parseWhen reads a duration before now or an RFC 3339 time; "" is zero.
func parseWhen(name, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("pull: --%s %q: a duration counts back from now and must not be negative", name, v)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("pull: --%s %q is neither a duration (2h) nor an RFC 3339 time", name, v)
	}
	return t, nil
}

// puller writes pulled records: their audit events as JSON lines, the
// rest counted and dead-lettered.
type puller struct {
	out    *bufio.Writer
	pipe   *pipeline.Pipeline
	dl     *pipeline.DeadLetter
	stderr io.Writer
	tot    pullTotals
	s      pipeline.Scratch
}

// record splits one stored message through the pipeline's record entry
// (pipeline.Records, as the collector receiver and the Fluent Bit plugin
// do): each audit event is written as stored, each value that is not one
// is counted and dead-lettered with its reason.
func (p *puller) record(body []byte, source string) error {
	var err error
	p.pipe.Records(body, &p.s, func(r *pipeline.Result) {
		if err != nil {
			return
		}
		if r.Outcome == pipeline.Rejected && !r.Decoded {
			err = p.reject(r, source)
			return
		}
		err = p.write(r.Raw)
	})
	return err
}

// reject counts and dead-letters a message or value that is not an audit
// event: undecodable input is kept as its size, hash and a masked prefix.
func (p *puller) reject(r *pipeline.Result, source string) error {
	if r.Reason == reasonTruncated {
		p.tot.truncated++
	} else {
		p.tot.rejected++
	}
	if p.dl == nil {
		return nil
	}
	return p.dl.Write(pipeline.LetterFor(r, source, 0))
}

// rejectInput rejects a whole stored message with a reason of its own.
func (p *puller) rejectInput(reason string, cause error, raw []byte, source string) error {
	r := pipeline.RejectResult(cause, raw)
	r.Reason = reason
	return p.reject(&r, source)
}

func (p *puller) write(event []byte) error {
	if _, err := p.out.Write(event); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if err := p.out.WriteByte('\n'); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	p.tot.events++
	p.tot.bytes += int64(len(event)) + 1
	return nil
}

func (p *puller) progress() { fmt.Fprintf(p.stderr, "\r%d events", p.tot.events) }

// reasonTruncated is the dead-letter reason of messages CloudWatch cut.
const reasonTruncated = "truncated"

var errTruncated = errors.New("message cut by CloudWatch Logs (" + cloudwatchsrc.TruncatedMarker + ")")

func (p *puller) cloudWatch(ctx context.Context, cfg cloudwatchsrc.Config, region, endpoint string) error {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fmt.Errorf("pull: load AWS configuration: %w", err)
	}
	client := cloudwatchlogs.NewFromConfig(awsCfg, func(o *cloudwatchlogs.Options) {
		// The reader retries throttling and 5xx with its own backoff (2
		// minutes per call); the SDK's 3 attempts would only stack on it.
		o.Retryer = aws.NopRetryer{}
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	lookBack := cfg.LookBack
	cfg.Clock, cfg.Backoff = pullNow, pullBackoff
	r, err := cloudwatchsrc.New(client, cfg, nil)
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	deliver := func(batch []cloudwatchsrc.Message) error {
		for _, m := range batch {
			src := fmt.Sprintf("cloudwatch:%s:%s@%s#%s", cfg.LogGroup, m.Stream, m.Timestamp.UTC().Format(time.RFC3339Nano), m.EventID)
			if m.Truncated {
				if err := p.rejectInput(reasonTruncated, errTruncated, m.Body, src); err != nil {
					return err
				}
				continue
			}
			if err := p.record(m.Body, src); err != nil {
				return err
			}
		}
		p.progress()
		return nil
	}
	err = r.Read(ctx, deliver)
	// Wait for events that become visible late: read on until the
	// look-back after the end has passed, then over the whole look-back.
	settled := cfg.EndTime.Add(lookBack)
	if err == nil && lookBack > 0 && !r.Settled(cfg.EndTime) {
		fmt.Fprintf(p.stderr, "\rwaiting until %s for events that become visible late (--look-back %s)\n", settled.Format(time.RFC3339), lookBack)
	}
	for err == nil && lookBack > 0 && !r.Settled(cfg.EndTime) {
		if wait := settled.Sub(pullNow()); wait > 0 {
			if err = pullSleep(ctx, min(wait, pullPoll)); err != nil {
				break
			}
		}
		if !pullNow().Before(settled) {
			r.ForceSweep()
		}
		err = r.Read(ctx, deliver)
	}
	p.tot.late, p.tot.retries = r.Stats().Late, r.Stats().Retries
	fmt.Fprint(p.stderr, "\r")
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	return nil
}

func (p *puller) sls(ctx context.Context, endpoint, project, logstore string, start, end time.Time) error {
	switch {
	case endpoint == "":
		return errors.New("pull: --endpoint is required for sls")
	case project == "" || logstore == "":
		return errors.New("pull: --project and --logstore are required for sls")
	}
	id, secret := os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_ID"), os.Getenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
	if id == "" || secret == "" {
		return errors.New("pull: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET for sls")
	}
	client := slssdk.CreateNormalInterface(endpoint, id, secret, os.Getenv("ALIBABA_CLOUD_SECURITY_TOKEN")).(*slssdk.Client)
	if addr := os.Getenv(slsDialEnv); addr != "" {
		client.SetHTTPClient(&http.Client{Timeout: time.Minute, Transport: &http.Transport{
			Proxy: nil,
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		}})
	}
	var stats slssrc.PullStats
	rng := slssrc.Range{Project: project, Logstore: logstore, From: start, To: end, Backoff: pullSLSBackoff, Count: pullPullCount, Stats: &stats}
	err := slssrc.PullRange(ctx, client, rng, func(batch []slssrc.Message) error {
		for _, m := range batch {
			src := fmt.Sprintf("sls:%s/%s shard %d @%s", project, logstore, m.Shard, m.Time.UTC().Format(time.RFC3339))
			if m.Err != nil {
				raw, _ := json.Marshal(m.Fields)
				if err := p.rejectInput(reasonRebuildFailed, m.Err, raw, src); err != nil {
					return err
				}
				continue
			}
			if err := p.record(m.Body, src); err != nil {
				return err
			}
		}
		p.progress()
		return nil
	})
	p.tot.retries = stats.Retries
	fmt.Fprint(p.stderr, "\r")
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	return nil
}

// reasonRebuildFailed is the dead-letter reason of SLS logs that are not
// in ACK's key layout.
const reasonRebuildFailed = "rebuild_failed"
