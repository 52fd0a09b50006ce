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
	"strings"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"

	"github.com/auditlane/auditlane/common/pipeline"
	"github.com/auditlane/auditlane/common/source/cloudwatchsrc"
	"github.com/auditlane/auditlane/common/source/slssrc"
)

// slsDialEnv names the environment variable that sends every SLS request
// to one host:port whatever host name it names (tests, tunnels): the
// endpoint's "<project>.<endpoint>" host names need no DNS then.
const slsDialEnv = "AUDITLANE_SLS_DIAL_ADDR"

const pullUsage = `Usage:
  auditlane pull --from cloudwatch --group /aws/eks/CLUSTER/cluster [--stream-prefix kube-apiserver-audit]
                 [--region R] [--endpoint URL] --since 2h|RFC3339 [--until ...] [--out FILE] [--dead-letter FILE]
  auditlane pull --from sls --endpoint ENDPOINT --project P --logstore audit-CLUSTERID
                 --since 2h|RFC3339 [--until ...] [--out FILE] [--dead-letter FILE]

Writes the audit events as JSON lines (to --out, else standard output), for
"auditlane policy test". CloudWatch messages cut by CloudWatch ([Truncated...])
are not written: they are counted and kept in --dead-letter with their stream
and timestamp. SLS logs are rebuilt from ACK's key layout; SLS selects by
receive time. Credentials: the default AWS chain; ALIBABA_CLOUD_ACCESS_KEY_ID,
ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN for SLS
(` + slsDialEnv + `=host:port sends every SLS request to that address).
`

type pullTotals struct {
	events, truncated, rejected int
	bytes                       int64
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
	since := fs.String("since", "", "start: a duration before now (2h) or an RFC 3339 time")
	until := fs.String("until", "", "end: a duration before now or an RFC 3339 time (default now)")
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
	now := time.Now()
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
		return fmt.Errorf("pull: --until %s is before --since %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
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
	bw := bufio.NewWriterSize(out, 256<<10)
	var dl *pipeline.DeadLetter
	if *dlPath != "" {
		if dl, err = pipeline.OpenDeadLetter(*dlPath); err != nil {
			return fmt.Errorf("pull: %w", err)
		}
		defer dl.Close()
	}
	ctx := context.Background()
	var tot pullTotals
	switch *from {
	case "cloudwatch":
		err = pullCloudWatch(ctx, cloudwatchsrc.Config{LogGroup: *group, StreamPrefix: *prefix, StartTime: start, EndTime: end, PageLimit: int32(*pageLimit)},
			*region, *endpoint, bw, dl, &tot, stderr)
	case "sls":
		err = pullSLS(ctx, *endpoint, *project, *logstore, start, end, bw, dl, &tot, stderr)
	case "":
		return errors.New("pull: --from is required (cloudwatch or sls)")
	default:
		return fmt.Errorf("pull: --from %q is not cloudwatch or sls", *from)
	}
	if ferr := bw.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("pull: write output: %w", ferr)
	}
	fmt.Fprintf(stderr, "pulled %d events (%s) from %s, %s to %s; %d truncated, %d unreadable",
		tot.events, humanBytes(tot.bytes), *from, start.Format(time.RFC3339), end.Format(time.RFC3339), tot.truncated, tot.rejected)
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
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("pull: --%s %q is neither a duration (2h) nor an RFC 3339 time", name, v)
	}
	return t, nil
}

func pullCloudWatch(ctx context.Context, cfg cloudwatchsrc.Config, region, endpoint string, out *bufio.Writer, dl *pipeline.DeadLetter, tot *pullTotals, stderr io.Writer) error {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return fmt.Errorf("pull: load AWS configuration: %w", err)
	}
	client := cloudwatchlogs.NewFromConfig(awsCfg, func(o *cloudwatchlogs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
	r, err := cloudwatchsrc.New(client, cfg, nil)
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	err = r.Read(ctx, func(batch []cloudwatchsrc.Message) error {
		for _, m := range batch {
			if m.Truncated {
				tot.truncated++
				if dl != nil {
					src := fmt.Sprintf("cloudwatch:%s:%s@%s#%s", cfg.LogGroup, m.Stream, m.Timestamp.UTC().Format(time.RFC3339Nano), m.EventID)
					if err := dl.Write(pipeline.Letter{Reason: "truncated", Err: errors.New("message cut by CloudWatch Logs ([Truncated...])"), Source: src, Raw: m.Body}); err != nil {
						return err
					}
				}
				continue
			}
			if err := writeLine(out, m.Body, tot); err != nil {
				return err
			}
		}
		fmt.Fprintf(stderr, "\r%d events", tot.events)
		return nil
	})
	fmt.Fprint(stderr, "\r")
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	return nil
}

func writeLine(out *bufio.Writer, body []byte, tot *pullTotals) error {
	body = []byte(strings.TrimRight(string(body), "\r\n"))
	if _, err := out.Write(body); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	if err := out.WriteByte('\n'); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	tot.events++
	tot.bytes += int64(len(body)) + 1
	return nil
}

func pullSLS(ctx context.Context, endpoint, project, logstore string, start, end time.Time, out *bufio.Writer, dl *pipeline.DeadLetter, tot *pullTotals, stderr io.Writer) error {
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
	err := slssrc.PullRange(ctx, client, project, logstore, start, end, func(batch []slssrc.Message) error {
		for _, m := range batch {
			if m.Err != nil {
				tot.rejected++
				if dl != nil {
					raw, _ := json.Marshal(m.Fields)
					src := fmt.Sprintf("sls:%s/%s shard %d @%s", project, logstore, m.Shard, m.Time.UTC().Format(time.RFC3339))
					if err := dl.Write(pipeline.Letter{Reason: "rebuild_failed", Err: m.Err, Source: src, Raw: raw}); err != nil {
						return err
					}
				}
				continue
			}
			if err := writeLine(out, m.Body, tot); err != nil {
				return err
			}
		}
		fmt.Fprintf(stderr, "\r%d events", tot.events)
		return nil
	})
	fmt.Fprint(stderr, "\r")
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	return nil
}
