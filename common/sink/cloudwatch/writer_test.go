package cloudwatch

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/auditlane/auditlane/common/sink"
	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
)

const (
	testKeyID  = "AKIDAUDITLANETEST"
	testSecret = "auditlane-test-secret-key"
)

// newServer starts a strict server that verifies signatures for the test key.
func newServer(t testing.TB, opts cwtest.Options) *cwtest.Server {
	t.Helper()
	if opts.Credentials == nil {
		opts.Credentials = map[string]cwtest.Credential{testKeyID: {SecretAccessKey: testSecret}}
	}
	srv, err := cwtest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

func testAWSConfig(key, secret string) aws.Config {
	return aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider(key, secret, ""),
	}
}

// newTestWriter returns a writer pointed at srv with fast retries.
func newTestWriter(t testing.TB, srv *cwtest.Server, cfg Config, opts ...Option) *Writer {
	t.Helper()
	cfg.Endpoint = srv.URL
	if cfg.LogGroupName == "" {
		cfg.LogGroupName = "/k8s/test/audit"
	}
	if cfg.LogStreamName == "" {
		cfg.LogStreamName = "node-1"
	}
	if cfg.RetryInitialInterval == 0 {
		cfg.RetryInitialInterval = time.Millisecond
		cfg.RetryMaxInterval = 20 * time.Millisecond
	}
	if cfg.MaxRetryElapsed == 0 {
		cfg.MaxRetryElapsed = 5 * time.Second
	}
	opts = append([]Option{WithAWSConfig(testAWSConfig(testKeyID, testSecret))}, opts...)
	w, err := New(context.Background(), cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	return w
}

func rec(id string, ts time.Time, body string, fields ...sink.Field) sink.Record {
	return sink.Record{ID: id, Time: ts, Body: []byte(body), Fields: fields}
}

func write(t testing.TB, w *Writer, recs []sink.Record) ([]sink.Result, error) {
	t.Helper()
	res := make([]sink.Result, len(recs))
	err := w.Write(context.Background(), recs, res)
	return res, err
}

func TestWriteDeliversSortedAndCounts(t *testing.T) {
	srv := newServer(t, cwtest.Options{})
	srv.CreateStream("/k8s/test/audit", "node-1")
	w := newTestWriter(t, srv, Config{})
	now := time.Now()
	var recs []sink.Record
	total := 0
	for i := range 100 {
		body := fmt.Sprintf(`{"auditID":"id-%03d"}`, i)
		total += len(body)
		// Reverse order: the writer must sort.
		recs = append(recs, rec(fmt.Sprint(i), now.Add(-time.Duration(i)*time.Second), body))
	}
	res, err := write(t, w, recs)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	for i, r := range res {
		if r.Status != sink.Delivered {
			t.Fatalf("record %d: %v %s %v", i, r.Status, r.Reason, r.Err)
		}
	}
	evs := srv.Events("/k8s/test/audit", "node-1")
	if len(evs) != 100 {
		t.Fatalf("stored %d events, want 100", len(evs))
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Timestamp < evs[i-1].Timestamp {
			t.Fatalf("stored out of order at %d", i)
		}
	}
	if evs[0].Message != `{"auditID":"id-099"}` {
		t.Fatalf("first stored = %q", evs[0].Message)
	}
	st := w.Stats()
	if st.EventsSent != 100 || st.BytesSent != int64(total) || st.Batches != 1 || st.Retries != 0 || st.LatencySum <= 0 || st.LatencyMax <= 0 {
		t.Fatalf("stats = %+v", st)
	}
	if got := srv.Stats().SequenceTokens; got != 0 {
		t.Fatalf("%d requests carried a sequence token", got)
	}
}

func TestRoutingAndAutoCreate(t *testing.T) {
	srv := newServer(t, cwtest.Options{})
	kms := "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	w := newTestWriter(t, srv, Config{
		LogGroupName:    "/k8s/{cluster}/audit",
		LogStreamName:   "{provider}-{namespace}",
		Vars:            map[string]string{"cluster": "prod", "provider": "eks"},
		AutoCreateGroup: true,
		RetentionDays:   30,
		LogGroupClass:   ClassInfrequentAccess,
		KMSKeyID:        kms,
		Tags:            map[string]string{"team": "sec"},
	})
	now := time.Now()
	recs := []sink.Record{
		rec("a", now, `{"a":1}`, sink.Field{Key: "namespace", Value: "kube-system"}),
		rec("b", now, `{"b":1}`, sink.Field{Key: "namespace", Value: "default"}),
		rec("c", now, `{"c":1}`, sink.Field{Key: "namespace", Value: "kube-system"}),
		rec("d", now, `{"d":1}`), // no namespace
		rec("e", now, `{"e":1}`, sink.Field{Key: "namespace", Value: "bad:name"}),
		rec("f", now, `{"f":1}`, sink.Field{Key: "cluster", Value: "evil"}, sink.Field{Key: "namespace", Value: "default"}),
	}
	res, err := write(t, w, recs)
	var se *sink.Error
	if !errors.As(err, &se) || se.Delivered != 4 || se.Permanent != 2 {
		t.Fatalf("Write error = %v", err)
	}
	for _, i := range []int{3, 4} {
		if res[i].Status != sink.Permanent || res[i].Reason != ReasonBadName {
			t.Fatalf("record %d: %+v", i, res[i])
		}
	}
	if got := len(srv.Events("/k8s/prod/audit", "eks-kube-system")); got != 2 {
		t.Fatalf("kube-system stream has %d events", got)
	}
	if got := len(srv.Events("/k8s/prod/audit", "eks-default")); got != 2 {
		t.Fatalf("default stream has %d events (static cluster must win over record field)", got)
	}
	info, ok := srv.Group("/k8s/prod/audit")
	if !ok || info.RetentionDays != 30 || info.Class != ClassInfrequentAccess || info.KMSKeyID != kms || info.Tags["team"] != "sec" {
		t.Fatalf("group = %+v %v", info, ok)
	}
	if srv.Groups()[0] != "/k8s/prod/audit" || len(srv.Groups()) != 1 {
		t.Fatalf("groups = %v", srv.Groups())
	}
	// A second write reuses the created streams without create calls.
	calls := srv.Stats().Calls
	if _, err := write(t, w, recs[:3]); err != nil {
		t.Fatal(err)
	}
	after := srv.Stats().Calls
	if after["CreateLogStream"] != calls["CreateLogStream"] || after["CreateLogGroup"] != calls["CreateLogGroup"] {
		t.Fatalf("create calls repeated: %v -> %v", calls, after)
	}
	if w.Stats().Rejected[ReasonBadName] != 2 {
		t.Fatalf("rejected = %v", w.Stats().Rejected)
	}
}

func TestBatchSplitting(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name  string
		recs  func() []sink.Record
		calls int
	}{
		{"count", func() []sink.Record {
			r := make([]sink.Record, 25_000)
			for i := range r {
				r[i] = rec(fmt.Sprint(i), now, "x")
			}
			return r
		}, 3},
		{"bytes", func() []sink.Record {
			big := strings.Repeat("y", 500_000)
			return []sink.Record{rec("1", now, big), rec("2", now, big), rec("3", now, big)}
		}, 2},
		{"exact-bytes", func() []sink.Record {
			// Two events filling MaxBatchBytes exactly go in one call.
			half := MaxBatchBytes/2 - EventOverhead
			return []sink.Record{rec("1", now, strings.Repeat("a", half)), rec("2", now, strings.Repeat("b", half))}
		}, 1},
		{"span", func() []sink.Record {
			return []sink.Record{
				rec("1", now.Add(-30*time.Hour), "old"),
				rec("2", now.Add(-7*time.Hour), "mid"),
				rec("3", now, "new"),
			}
		}, 2},
		{"max-event", func() []sink.Record {
			return []sink.Record{rec("1", now, strings.Repeat("z", MaxEventBytes-EventOverhead))}
		}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, cwtest.Options{Discard: true})
			srv.CreateStream("/k8s/test/audit", "node-1")
			w := newTestWriter(t, srv, Config{})
			recs := tc.recs()
			if _, err := write(t, w, recs); err != nil {
				t.Fatalf("Write: %v", err)
			}
			st := srv.Stats()
			if st.Calls["PutLogEvents"] != tc.calls || st.StoredEvents != len(recs) {
				t.Fatalf("calls = %d stored = %d, want %d and %d", st.Calls["PutLogEvents"], st.StoredEvents, tc.calls, len(recs))
			}
		})
	}
}

func TestLocalRejections(t *testing.T) {
	srv := newServer(t, cwtest.Options{})
	srv.CreateStream("/k8s/test/audit", "node-1")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	srv.SetClock(func() time.Time { return now })
	w := newTestWriter(t, srv, Config{RetentionDays: 7}, WithClock(func() time.Time { return now }))
	recs := []sink.Record{
		rec("old", now.Add(-15*24*time.Hour), "a"),
		rec("expired", now.Add(-8*24*time.Hour), "b"),
		rec("new", now.Add(3*time.Hour), "c"),
		rec("large", now, strings.Repeat("x", MaxEventBytes-EventOverhead+1)),
		rec("empty", now, ""),
	}
	res, err := write(t, w, recs)
	if err == nil {
		t.Fatal("Write succeeded")
	}
	want := []string{ReasonTooOld, ReasonExpired, ReasonTooNew, ReasonTooLarge, ReasonEmpty}
	for i, r := range res {
		if r.Status != sink.Permanent || r.Reason != want[i] || r.Err == nil || !strings.Contains(r.Err.Error(), recs[i].ID) {
			t.Fatalf("record %s: %+v", recs[i].ID, r)
		}
	}
	if c := srv.Stats().Calls["PutLogEvents"]; c != 0 {
		t.Fatalf("%d PutLogEvents calls for locally rejected records", c)
	}
	if rej := w.Stats().Rejected; rej[ReasonTooOld] != 1 || rej[ReasonExpired] != 1 || rej[ReasonTooNew] != 1 || rej[ReasonTooLarge] != 1 || rej[ReasonEmpty] != 1 {
		t.Fatalf("rejected = %v", rej)
	}
}

// TestServiceRejections points the writer's clock away from the service's
// so that the service, not the local check, rejects events.
func TestServiceRejections(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name      string
		serverNow time.Time
		retention int
		reason    string
		rejected  []int // indexes into the three records
	}{
		{"too_old", now.Add(90 * time.Minute), 0, ReasonTooOld, []int{0}},
		{"too_new", now.Add(-3 * time.Hour), 0, ReasonTooNew, []int{2}},
		{"expired", now, 1, ReasonExpired, []int{0, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, cwtest.Options{Clock: func() time.Time { return tc.serverNow }})
			srv.CreateGroup("/k8s/test/audit", tc.retention)
			srv.CreateStream("/k8s/test/audit", "node-1")
			w := newTestWriter(t, srv, Config{})
			recs := []sink.Record{
				rec("r0", now.Add(-13*24*time.Hour-23*time.Hour), "oldest"),
				rec("r1", now.Add(-13*24*time.Hour-22*time.Hour), "middle"),
				rec("r2", now.Add(90*time.Minute), "newest"),
			}
			// r0/r1 and r2 are more than 24 h apart: two batches.
			res, err := write(t, w, recs)
			if err == nil {
				t.Fatal("Write succeeded")
			}
			rejected := map[int]bool{}
			for _, i := range tc.rejected {
				rejected[i] = true
			}
			for i, r := range res {
				if rejected[i] {
					if r.Status != sink.Permanent || r.Reason != tc.reason {
						t.Fatalf("record %d: %+v", i, r)
					}
				} else if r.Status != sink.Delivered {
					t.Fatalf("record %d: %+v", i, r)
				}
			}
			if got := srv.Stats().StoredEvents; got != 3-len(tc.rejected) {
				t.Fatalf("stored %d", got)
			}
			if w.Stats().Rejected[tc.reason] != int64(len(tc.rejected)) || w.Stats().EventsSent != int64(3-len(tc.rejected)) {
				t.Fatalf("stats = %+v", w.Stats())
			}
		})
	}
}

func TestNotFoundWithoutAutoCreate(t *testing.T) {
	srv := newServer(t, cwtest.Options{})
	w := newTestWriter(t, srv, Config{})
	res, err := write(t, w, []sink.Record{rec("1", time.Now(), "a")})
	// A missing group is the destination's trouble, not the event's: the
	// record is retried later (once the group exists), never dead-lettered.
	if err == nil || res[0].Status != sink.Retryable || !res[0].Destination || res[0].Reason != ReasonNotFound {
		t.Fatalf("result = %+v, err = %v", res[0], err)
	}
	if !strings.Contains(res[0].Err.Error(), "put log events to /k8s/test/audit/node-1") {
		t.Fatalf("error lacks context: %v", res[0].Err)
	}
	if st := w.Stats(); st.Retries != 0 || srv.Stats().Calls["PutLogEvents"] != 1 {
		t.Fatalf("destination error was retried inside the budget: %+v", st)
	}
	srv.CreateStream("/k8s/test/audit", "node-1")
	if _, err := write(t, w, []sink.Record{rec("1", time.Now(), "a")}); err != nil {
		t.Fatalf("once the group exists: %v", err)
	}
}

func TestDeletedStreamIsRecreated(t *testing.T) {
	srv := newServer(t, cwtest.Options{})
	w := newTestWriter(t, srv, Config{AutoCreateGroup: true})
	if _, err := write(t, w, []sink.Record{rec("1", time.Now(), "a")}); err != nil {
		t.Fatal(err)
	}
	srv.DeleteGroup("/k8s/test/audit")
	if _, err := write(t, w, []sink.Record{rec("2", time.Now(), "b")}); err != nil {
		t.Fatalf("write after deletion: %v", err)
	}
	if evs := srv.Events("/k8s/test/audit", "node-1"); len(evs) != 1 || evs[0].Message != "b" {
		t.Fatalf("events = %+v", evs)
	}
}

func TestAuthFailures(t *testing.T) {
	srv := newServer(t, cwtest.Options{})
	srv.CreateStream("/k8s/test/audit", "node-1")
	for _, tc := range []struct{ name, key, secret string }{
		{"unknown-key", "AKIDUNKNOWN", testSecret},
		{"wrong-secret", testKeyID, "not-the-secret-value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := New(context.Background(), Config{
				LogGroupName: "/k8s/test/audit", LogStreamName: "node-1", Endpoint: srv.URL,
			}, WithAWSConfig(testAWSConfig(tc.key, tc.secret)))
			if err != nil {
				t.Fatal(err)
			}
			res, err := write(t, w, []sink.Record{rec("1", time.Now(), "a")})
			// Bad credentials are retried later (key rotation, IAM
			// propagation), never a verdict on the event.
			if err == nil || res[0].Status != sink.Retryable || !res[0].Destination || res[0].Reason != ReasonAuthFailure {
				t.Fatalf("result = %+v", res[0])
			}
			if strings.Contains(err.Error(), tc.secret) || strings.Contains(res[0].Err.Error(), tc.secret) {
				t.Fatalf("error leaks the secret: %v", err)
			}
			if w.Stats().Retries != 0 {
				t.Fatal("auth failure was retried")
			}
		})
	}
	if srv.Stats().StoredEvents != 0 {
		t.Fatal("unauthenticated events stored")
	}
}

func TestRetriesThrottlesAndResets(t *testing.T) {
	srv := newServer(t, cwtest.Options{Discard: true, Faults: cwtest.Faults{
		ThrottleRate: 0.3, ErrorRate: 0.2, ResetRate: 0.1, Seed: 7,
	}})
	srv.CreateStream("/k8s/test/audit", "node-1")
	w := newTestWriter(t, srv, Config{MaxBatchEvents: 10, Concurrency: 2})
	recs := make([]sink.Record, 500)
	for i := range recs {
		recs[i] = rec(fmt.Sprint(i), time.Now(), fmt.Sprintf("event-%d", i))
	}
	if _, err := write(t, w, recs); err != nil {
		t.Fatalf("Write: %v", err)
	}
	ss, ws := srv.Stats(), w.Stats()
	if ss.StoredEvents != 500 || ws.EventsSent != 500 || ws.Batches != 50 {
		t.Fatalf("server %+v writer %+v", ss, ws)
	}
	faults := ss.Throttled + ss.Unavailable + ss.Resets
	if ss.Throttled == 0 || ss.Resets == 0 || ss.Unavailable == 0 {
		t.Fatalf("faults not injected: %+v", ss)
	}
	if ws.Throttles != int64(ss.Throttled) || ws.Retries != int64(faults) {
		t.Fatalf("writer counted %d throttles %d retries; server injected %d throttles %d faults", ws.Throttles, ws.Retries, ss.Throttled, faults)
	}
}

func TestRetryBudgetExhausted(t *testing.T) {
	srv := newServer(t, cwtest.Options{})
	srv.CreateStream("/k8s/test/audit", "node-1")
	srv.Outage(time.Hour)
	w := newTestWriter(t, srv, Config{MaxRetryElapsed: 100 * time.Millisecond})
	res, err := write(t, w, []sink.Record{rec("1", time.Now(), "a"), rec("2", time.Now(), "b")})
	var se *sink.Error
	if !errors.As(err, &se) || se.Retryable != 2 {
		t.Fatalf("err = %v", err)
	}
	if res[0].Reason != ReasonUnavailable || !strings.Contains(res[0].Err.Error(), "retry budget") {
		t.Fatalf("result = %+v", res[0])
	}
	if w.Stats().Retries == 0 {
		t.Fatal("no retries counted")
	}
	srv.Outage(0)
	if _, err := write(t, w, []sink.Record{rec("1", time.Now(), "a")}); err != nil {
		t.Fatalf("after outage: %v", err)
	}
}

func TestCanceledContextLeavesPending(t *testing.T) {
	srv := newServer(t, cwtest.Options{})
	srv.CreateStream("/k8s/test/audit", "node-1")
	w := newTestWriter(t, srv, Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := make([]sink.Result, 1)
	err := w.Write(ctx, []sink.Record{rec("1", time.Now(), "a")}, res)
	if err == nil || res[0].Status != sink.Pending || !errors.Is(res[0].Err, context.Canceled) {
		t.Fatalf("result = %+v", res[0])
	}
	if srv.Stats().StoredEvents != 0 {
		t.Fatal("stored after cancel")
	}
}

func TestWriteArgumentsAndClose(t *testing.T) {
	srv := newServer(t, cwtest.Options{})
	w := newTestWriter(t, srv, Config{})
	if err := w.Write(context.Background(), make([]sink.Record, 2), make([]sink.Result, 1)); err == nil {
		t.Fatal("length mismatch accepted")
	}
	if err := w.Write(context.Background(), nil, nil); err != nil {
		t.Fatalf("empty write: %v", err)
	}
	w.Close(context.Background())
	res := make([]sink.Result, 1)
	if err := w.Write(context.Background(), []sink.Record{rec("1", time.Now(), "a")}, res); !errors.Is(err, ErrClosed) || res[0].Status != sink.Retryable {
		t.Fatalf("write after close: %v %+v", err, res[0])
	}
}

func TestInvalidUTF8IsSentReplaced(t *testing.T) {
	srv := newServer(t, cwtest.Options{})
	srv.CreateStream("/k8s/test/audit", "node-1")
	w := newTestWriter(t, srv, Config{})
	if _, err := write(t, w, []sink.Record{rec("1", time.Now(), "a\xffb")}); err != nil {
		t.Fatal(err)
	}
	if evs := srv.Events("/k8s/test/audit", "node-1"); len(evs) != 1 || evs[0].Message != "a\uFFFDb" {
		t.Fatalf("events = %+v", evs)
	}
	if got := w.Stats().BytesSent; got != 5 {
		t.Fatalf("bytes sent = %d, want 5 (UTF-8 of the replaced message)", got)
	}
}

func TestConcurrentCreators(t *testing.T) {
	srv := newServer(t, cwtest.Options{})
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		w := newTestWriter(t, srv, Config{AutoCreateGroup: true, RetentionDays: 7})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = write(t, w, []sink.Record{rec(fmt.Sprint(i), time.Now(), fmt.Sprint("writer-", i))})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("writer %d: %v", i, err)
		}
	}
	if n := len(srv.Events("/k8s/test/audit", "node-1")); n != 4 {
		t.Fatalf("stored %d", n)
	}
	if info, _ := srv.Group("/k8s/test/audit"); info.RetentionDays != 7 {
		t.Fatalf("retention = %d", info.RetentionDays)
	}
}

func TestEndpointFromEnvironment(t *testing.T) {
	srv := newServer(t, cwtest.Options{})
	srv.CreateStream("/k8s/test/audit", "node-1")
	isolateAWSEnv(t)
	t.Setenv("AWS_ACCESS_KEY_ID", testKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecret)
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", srv.URL)
	w, err := New(context.Background(), Config{LogGroupName: "/k8s/test/audit", LogStreamName: "node-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := write(t, w, []sink.Record{rec("1", time.Now(), "via-env")}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if evs := srv.Events("/k8s/test/audit", "node-1"); len(evs) != 1 || evs[0].Message != "via-env" {
		t.Fatalf("events = %+v", evs)
	}
}

// isolateAWSEnv keeps the default chain from reading the host's profile or
// reaching IMDS.
func isolateAWSEnv(t *testing.T) {
	dir := t.TempDir()
	for _, k := range []string{"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", dir+"/config")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", dir+"/credentials")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// stsServer is a strict local STS AssumeRole endpoint (query protocol).
func stsServer(t *testing.T, roleARN, externalID string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		authz := r.Header.Get("Authorization")
		if !strings.HasPrefix(authz, "AWS4-HMAC-SHA256 Credential="+testKeyID+"/") || !strings.Contains(authz, "/us-east-1/sts/aws4_request") {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>bad signature scope</Message></Error></ErrorResponse>`)
			return
		}
		if err := r.ParseForm(); err != nil || r.Method != http.MethodPost ||
			r.Form.Get("Action") != "AssumeRole" || r.Form.Get("Version") != "2011-06-15" ||
			r.Form.Get("RoleArn") != roleARN || r.Form.Get("ExternalId") != externalID || r.Form.Get("RoleSessionName") == "" {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to assume role</Message></Error></ErrorResponse>`)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
<Credentials><AccessKeyId>ASIAASSUMED</AccessKeyId><SecretAccessKey>assumed-secret</SecretAccessKey><SessionToken>assumed-token</SessionToken><Expiration>%s</Expiration></Credentials>
<AssumedRoleUser><Arn>%s/auditlane</Arn><AssumedRoleId>AROA:auditlane</AssumedRoleId></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>r1</RequestId></ResponseMetadata></AssumeRoleResponse>`,
			time.Now().Add(time.Hour).UTC().Format(time.RFC3339), roleARN)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAssumeRoleWithExternalID(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/audit-writer"
	srv := newServer(t, cwtest.Options{Credentials: map[string]cwtest.Credential{
		"ASIAASSUMED": {SecretAccessKey: "assumed-secret", SessionToken: "assumed-token"},
	}})
	srv.CreateStream("/k8s/test/audit", "node-1")
	sts := stsServer(t, role, "ext-123")
	for _, tc := range []struct {
		externalID string
		ok         bool
	}{{"ext-123", true}, {"ext-wrong", false}} {
		w, err := New(context.Background(), Config{
			LogGroupName: "/k8s/test/audit", LogStreamName: "node-1", Endpoint: srv.URL,
			RoleARN: role, ExternalID: tc.externalID, STSEndpoint: sts.URL,
		}, WithAWSConfig(testAWSConfig(testKeyID, testSecret)))
		if err != nil {
			t.Fatal(err)
		}
		res, err := write(t, w, []sink.Record{rec("1", time.Now(), "assumed")})
		if tc.ok && err != nil {
			t.Fatalf("external id %s: %v", tc.externalID, err)
		}
		if !tc.ok && (err == nil || res[0].Status != sink.Retryable || !res[0].Destination || res[0].Reason != ReasonAccessDenied) {
			t.Fatalf("external id %s: %+v", tc.externalID, res[0])
		}
	}
	if evs := srv.Events("/k8s/test/audit", "node-1"); len(evs) != 1 {
		t.Fatalf("events = %+v", evs)
	}
}

// httpErr is an SDK error for an HTTP status, with an optional API error
// decoded from the body.
func httpErr(status int, api error) error {
	var inner error = errors.New("empty body")
	if api != nil {
		inner = api
	}
	return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: inner}
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err    error
		class  class
		reason string
	}{
		{&smithy.GenericAPIError{Code: "ThrottlingException"}, classThrottled, ReasonThrottled},
		{&smithy.GenericAPIError{Code: "ServiceUnavailableException"}, classRetryable, ReasonUnavailable},
		{&smithy.GenericAPIError{Code: "AccessDeniedException"}, classDestination, ReasonAccessDenied},
		{&smithy.GenericAPIError{Code: "InvalidParameterException"}, classPermanent, ReasonInvalidParameter},
		{&smithy.GenericAPIError{Code: "UnrecognizedClientException"}, classDestination, ReasonAuthFailure},
		{&smithy.GenericAPIError{Code: "InvalidSignatureException"}, classDestination, ReasonAuthFailure},
		{&smithy.GenericAPIError{Code: "ExpiredTokenException"}, classDestination, ReasonExpiredToken},
		{&smithy.GenericAPIError{Code: "ServiceUnavailable"}, classRetryable, ReasonUnavailable},
		{&smithy.GenericAPIError{Code: "InternalServerError"}, classRetryable, ReasonUnavailable},
		{&smithy.GenericAPIError{Code: "TooManyRequestsException"}, classThrottled, ReasonThrottled},
		{&smithy.GenericAPIError{Code: "ResourceNotFoundException"}, classNotFound, ReasonNotFound},
		{&smithy.GenericAPIError{Code: "SomethingNew", Fault: smithy.FaultClient}, classPermanent, ReasonClientError},
		{&smithy.GenericAPIError{Code: "SomethingNew", Fault: smithy.FaultServer}, classRetryable, ReasonUnavailable},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), classRetryable, ReasonCanceled},
		{errors.New("connection reset by peer"), classRetryable, ReasonNetwork},
		// By HTTP status when the body names no code (a 503 with an empty
		// body from a load balancer) or a code this list does not know.
		{httpErr(503, nil), classRetryable, ReasonUnavailable},
		{httpErr(500, &smithy.GenericAPIError{Code: "SomethingNew"}), classRetryable, ReasonUnavailable},
		{httpErr(429, nil), classThrottled, ReasonThrottled},
		{httpErr(429, &smithy.GenericAPIError{Code: "SomethingNew", Fault: smithy.FaultClient}), classThrottled, ReasonThrottled},
		{httpErr(403, nil), classDestination, ReasonAccessDenied},
		{httpErr(401, &smithy.GenericAPIError{Code: "SomethingNew", Fault: smithy.FaultClient}), classDestination, ReasonAuthFailure},
		{httpErr(400, &smithy.GenericAPIError{Code: "SomethingNew", Fault: smithy.FaultClient}), classPermanent, ReasonClientError},
	} {
		c, r := classify(tc.err)
		if c != tc.class || r != tc.reason {
			t.Errorf("classify(%v) = %v %s, want %v %s", tc.err, c, r, tc.class, tc.reason)
		}
	}
}
