package cwtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/aws/smithy-go"
)

const (
	keyID  = "AKIDCWTEST"
	secret = "cwtest-secret"
)

func start(t *testing.T, opts Options) (*Server, *cloudwatchlogs.Client) {
	t.Helper()
	if opts.Credentials == nil {
		opts.Credentials = map[string]Credential{keyID: {SecretAccessKey: secret}}
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv, client(srv, keyID, secret)
}

func client(srv *Server, key, sec string) *cloudwatchlogs.Client {
	return cloudwatchlogs.New(cloudwatchlogs.Options{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider(key, sec, ""),
		BaseEndpoint: aws.String(srv.URL),
		Retryer:      aws.NopRetryer{},
	})
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err == nil {
		return ""
	}
	return "non-API: " + err.Error()
}

func events(ts ...int64) []types.InputLogEvent {
	out := make([]types.InputLogEvent, len(ts))
	for i, t := range ts {
		out[i] = types.InputLogEvent{Timestamp: aws.Int64(t), Message: aws.String(fmt.Sprint("m", i))}
	}
	return out
}

func TestCreateAndDescribe(t *testing.T) {
	srv, c := start(t, Options{})
	ctx := context.Background()
	if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/g"), LogStreamName: aws.String("s")}); code(err) != "ResourceNotFoundException" {
		t.Fatalf("stream in missing group: %v", err)
	}
	in := &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/g"), LogGroupClass: types.LogGroupClassInfrequentAccess, Tags: map[string]string{"a": "b"}}
	if _, err := c.CreateLogGroup(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateLogGroup(ctx, in); code(err) != "ResourceAlreadyExistsException" {
		t.Fatalf("duplicate group: %v", err)
	}
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("bad name!")}); code(err) != "InvalidParameterException" {
		t.Fatalf("bad group name: %v", err)
	}
	if _, err := c.CreateLogGroup(ctx, &cloudwatchlogs.CreateLogGroupInput{LogGroupName: aws.String("/x"), LogGroupClass: "COLD"}); code(err) != "InvalidParameterException" {
		t.Fatalf("bad class: %v", err)
	}
	for _, s := range []string{"s-2", "s-1", "s-3"} {
		if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/g"), LogStreamName: aws.String(s)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/g"), LogStreamName: aws.String("s-1")}); code(err) != "ResourceAlreadyExistsException" {
		t.Fatalf("duplicate stream: %v", err)
	}
	if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/g"), LogStreamName: aws.String("a:b")}); code(err) != "InvalidParameterException" {
		t.Fatalf("bad stream name: %v", err)
	}
	if _, err := c.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String("/g"), RetentionInDays: aws.Int32(2)}); code(err) != "InvalidParameterException" {
		t.Fatalf("retention 2: %v", err)
	}
	if _, err := c.PutRetentionPolicy(ctx, &cloudwatchlogs.PutRetentionPolicyInput{LogGroupName: aws.String("/g"), RetentionInDays: aws.Int32(14)}); err != nil {
		t.Fatal(err)
	}
	if g, _ := srv.Group("/g"); g.RetentionDays != 14 || g.Class != "INFREQUENT_ACCESS" || g.Tags["a"] != "b" || len(g.Streams) != 3 {
		t.Fatalf("group = %+v", g)
	}
	// Paginate two at a time.
	var names []string
	var token *string
	for {
		out, err := c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/g"), Limit: aws.Int32(2), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range out.LogStreams {
			names = append(names, *s.LogStreamName)
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if strings.Join(names, ",") != "s-1,s-2,s-3" {
		t.Fatalf("streams = %v", names)
	}
	if _, err := c.DescribeLogStreams(ctx, &cloudwatchlogs.DescribeLogStreamsInput{LogGroupName: aws.String("/g"), LogStreamNamePrefix: aws.String("s"), OrderBy: types.OrderByLastEventTime}); code(err) != "InvalidParameterException" {
		t.Fatalf("prefix with LastEventTime: %v", err)
	}
}

func TestPutLogEventsRules(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	srv, c := start(t, Options{Clock: func() time.Time { return now }})
	srv.CreateGroup("/g", 0)
	srv.CreateStream("/g", "s")
	ctx := context.Background()
	ms := now.UnixMilli()
	put := func(evs []types.InputLogEvent) (*cloudwatchlogs.PutLogEventsOutput, error) {
		return c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("/g"), LogStreamName: aws.String("s"), LogEvents: evs})
	}
	hour := int64(time.Hour / time.Millisecond)
	for name, evs := range map[string][]types.InputLogEvent{
		"unsorted":   events(ms, ms-1),
		"span":       events(ms-25*hour, ms),
		"too-many":   events(make([]int64, MaxBatchEvents+1)...),
		"empty-list": {},
		"empty-msg":  {{Timestamp: aws.Int64(ms), Message: aws.String("")}},
		"too-large":  {{Timestamp: aws.Int64(ms), Message: aws.String(strings.Repeat("x", MaxEventBytes-EventOverhead+1))}},
		"batch-size": {
			{Timestamp: aws.Int64(ms), Message: aws.String(strings.Repeat("x", 600_000))},
			{Timestamp: aws.Int64(ms), Message: aws.String(strings.Repeat("y", 600_000))},
		},
	} {
		if _, err := put(evs); code(err) != "InvalidParameterException" {
			t.Errorf("%s: %v", name, code(err))
		}
	}
	if srv.Stats().StoredEvents != 0 {
		t.Fatal("a rejected request stored events")
	}
	// Exactly at the limits passes.
	if _, err := put([]types.InputLogEvent{{Timestamp: aws.Int64(ms), Message: aws.String(strings.Repeat("x", MaxEventBytes-EventOverhead))}}); err != nil {
		t.Fatalf("max event: %v", err)
	}
	if _, err := put(events(ms-24*hour, ms)); err != nil {
		t.Fatalf("24 h span: %v", err)
	}
	// Individual rejections; the 24 h span counts only the valid events.
	out, err := put(events(ms-15*24*hour, ms-1, ms, ms+3*hour))
	if err != nil {
		t.Fatal(err)
	}
	info := out.RejectedLogEventsInfo
	if info == nil || aws.ToInt32(info.TooOldLogEventEndIndex) != 1 || aws.ToInt32(info.TooNewLogEventStartIndex) != 3 || info.ExpiredLogEventEndIndex != nil {
		t.Fatalf("rejected info = %+v", info)
	}
	evs := srv.Events("/g", "s")
	if n := len(evs); n != 5 || evs[3].Message != "m1" || evs[4].Message != "m2" {
		t.Fatalf("stored %+v", evs)
	}
	// Retention: events older than it are expired.
	srv.CreateGroup("/g", 1)
	out, err = put(events(ms-2*24*hour, ms))
	if err != nil || aws.ToInt32(out.RejectedLogEventsInfo.ExpiredLogEventEndIndex) != 1 {
		t.Fatalf("expired: %v %+v", err, out)
	}
	if _, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("/g"), LogStreamName: aws.String("nope"), LogEvents: events(ms)}); code(err) != "ResourceNotFoundException" {
		t.Fatalf("missing stream: %v", err)
	}
	if _, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("/nope"), LogStreamName: aws.String("s"), LogEvents: events(ms)}); code(err) != "ResourceNotFoundException" {
		t.Fatalf("missing group: %v", err)
	}
	st := srv.Stats()
	if st.RejectedEvents["too_old"] != 1 || st.RejectedEvents["too_new"] != 1 || st.RejectedEvents["expired"] != 1 {
		t.Fatalf("rejected = %v", st.RejectedEvents)
	}
}

func TestGetLogEventsPagination(t *testing.T) {
	now := time.Now()
	srv, c := start(t, Options{})
	srv.CreateStream("/g", "s")
	ctx := context.Background()
	ms := now.UnixMilli()
	ts := make([]int64, 25)
	for i := range ts {
		ts[i] = ms - 1000 + int64(i)
	}
	if _, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("/g"), LogStreamName: aws.String("s"), LogEvents: events(ts...)}); err != nil {
		t.Fatal(err)
	}
	var got []string
	var token *string
	for range 10 {
		out, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/g"), LogStreamName: aws.String("s"), StartFromHead: aws.Bool(true), Limit: aws.Int32(10), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Events) == 0 {
			break
		}
		for _, e := range out.Events {
			got = append(got, *e.Message)
		}
		token = out.NextForwardToken
	}
	if len(got) != 25 || got[0] != "m0" || got[24] != "m24" {
		t.Fatalf("got %v", got)
	}
	// Without startFromHead the newest events come back.
	out, err := c.GetLogEvents(ctx, &cloudwatchlogs.GetLogEventsInput{LogGroupName: aws.String("/g"), LogStreamName: aws.String("s"), Limit: aws.Int32(5)})
	if err != nil || len(out.Events) != 5 || *out.Events[4].Message != "m24" {
		t.Fatalf("tail: %v %+v", err, out)
	}
}

func TestAuthentication(t *testing.T) {
	srv, _ := start(t, Options{})
	srv.CreateStream("/g", "s")
	ctx := context.Background()
	in := &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/g"), LogStreamName: aws.String("t")}
	if _, err := client(srv, "AKIDOTHER", secret).CreateLogStream(ctx, in); code(err) != "UnrecognizedClientException" {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := client(srv, keyID, "wrong").CreateLogStream(ctx, in); code(err) != "InvalidSignatureException" {
		t.Fatalf("wrong secret: %v", err)
	}
	wrongRegion := cloudwatchlogs.New(cloudwatchlogs.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL), Retryer: aws.NopRetryer{},
		Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, "")})
	if _, err := wrongRegion.CreateLogStream(ctx, in); code(err) != "InvalidSignatureException" {
		t.Fatalf("wrong region: %v", err)
	}
	// Raw requests: no signature, wrong content type, unknown target.
	for _, tc := range []struct {
		name, target, ctype, authz, want string
		status                           int
	}{
		{"unsigned", "Logs_20140328.CreateLogStream", "application/x-amz-json-1.1", "", "MissingAuthenticationTokenException", 400},
		{"malformed", "Logs_20140328.CreateLogStream", "application/x-amz-json-1.1", "AWS4-HMAC-SHA256 nonsense", "IncompleteSignatureException", 400},
		{"content-type", "Logs_20140328.CreateLogStream", "application/json", "", "SerializationException", 400},
		{"target", "Kinesis_20131202.PutRecord", "application/x-amz-json-1.1", "", "UnknownOperationException", 400},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/", strings.NewReader(`{}`))
		req.Header.Set("X-Amz-Target", tc.target)
		req.Header.Set("Content-Type", tc.ctype)
		if tc.authz != "" {
			req.Header.Set("Authorization", tc.authz)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Type != tc.want || resp.StatusCode != tc.status || e.Message == "" {
			t.Errorf("%s: %d %s", tc.name, resp.StatusCode, body)
		}
	}
	if st := srv.Stats(); st.Calls["CreateLogStream"] != 0 {
		t.Fatalf("unauthenticated call applied: %v", st.Calls)
	}
}

func TestFaults(t *testing.T) {
	srv, c := start(t, Options{Faults: Faults{ThrottleRate: 1, Operations: []string{"PutLogEvents"}}})
	srv.CreateStream("/g", "s")
	ctx := context.Background()
	put := func() error {
		_, err := c.PutLogEvents(ctx, &cloudwatchlogs.PutLogEventsInput{LogGroupName: aws.String("/g"), LogStreamName: aws.String("s"), LogEvents: events(time.Now().UnixMilli())})
		return err
	}
	if err := put(); code(err) != "ThrottlingException" {
		t.Fatalf("throttle: %v", err)
	}
	// Faults limited to PutLogEvents leave other operations alone.
	if _, err := c.CreateLogStream(ctx, &cloudwatchlogs.CreateLogStreamInput{LogGroupName: aws.String("/g"), LogStreamName: aws.String("t")}); err != nil {
		t.Fatalf("create during PutLogEvents faults: %v", err)
	}
	srv.SetFaults(Faults{ErrorRate: 1})
	var re interface{ HTTPStatusCode() int }
	if err := put(); code(err) != "ServiceUnavailableException" || !errors.As(err, &re) || re.HTTPStatusCode() != 500 {
		t.Fatalf("error: %v", err)
	}
	srv.SetFaults(Faults{ResetRate: 1})
	if err := put(); err == nil || strings.HasPrefix(code(err), "Service") {
		t.Fatalf("reset: %v", err)
	}
	srv.SetFaults(Faults{})
	srv.Outage(time.Hour)
	if err := put(); code(err) != "ServiceUnavailableException" || !errors.As(err, &re) || re.HTTPStatusCode() != 503 {
		t.Fatalf("outage: %v", err)
	}
	srv.Outage(0)
	if err := put(); err != nil {
		t.Fatalf("after faults: %v", err)
	}
	st := srv.Stats()
	if st.Throttled != 1 || st.Unavailable != 2 || st.Resets != 1 || st.StoredEvents != 1 {
		t.Fatalf("stats = %+v", st)
	}
}
