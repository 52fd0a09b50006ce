package sls

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/buger/jsonparser"

	"github.com/auditlane/auditlane/common/sink"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
)

func TestWriteBodyLayout(t *testing.T) {
	srv := startServer(t, nil)
	w := newTestWriter(t, srv, func(c *Config) {
		c.Topic = "k8s-audit"
		c.Source = "10.0.0.1"
		c.LogTags = map[string]string{"cluster": "c-123", "region": "cn-test"}
	})
	recs := loadFixture(t, "audit2rbac-demo.log")
	results := make([]sink.Result, len(recs))
	if err := w.Write(context.Background(), recs, results); err != nil {
		t.Fatalf("Write: %v", err)
	}
	for i, r := range results {
		if r.Status != sink.Delivered {
			t.Fatalf("record %d: %v %s %v", i, r.Status, r.Reason, r.Err)
		}
	}
	logs := srv.Logs(testProject, testLogstore)
	if len(logs) != len(recs) {
		t.Fatalf("stored %d logs, want %d", len(logs), len(recs))
	}
	for i, l := range logs {
		rec := recs[i]
		if !l.Time.Equal(rec.Time) {
			t.Errorf("log %d time %v, want %v (seconds and nanoseconds)", i, l.Time, rec.Time)
		}
		if l.Topic != "k8s-audit" || l.Source != "10.0.0.1" || l.Tags["cluster"] != "c-123" || l.Tags["region"] != "cn-test" {
			t.Errorf("log %d metadata: topic %q source %q tags %v", i, l.Topic, l.Source, l.Tags)
		}
		if l.HashKey != "" {
			t.Errorf("log %d hash key %q, want load-balanced", i, l.HashKey)
		}
		// Every top-level key in order; strings unquoted, others compact JSON.
		var want []slstest.Field
		jsonparser.ObjectEach(rec.Body, func(k, v []byte, dt jsonparser.ValueType, _ int) error {
			val := string(v)
			if dt == jsonparser.String {
				val, _ = jsonparser.ParseString(v)
			}
			want = append(want, slstest.Field{Key: string(k), Value: val})
			return nil
		})
		if fmt.Sprint(l.Contents) != fmt.Sprint(want) {
			t.Fatalf("log %d contents\n got %v\nwant %v", i, l.Contents, want)
		}
	}
	first := logs[0]
	if v, _ := first.Get("verb"); v != "list" {
		t.Errorf("verb = %q, want unquoted list", v)
	}
	if v, _ := first.Get("user"); v != `{"username":"system:admin","groups":["system:masters","system:authenticated"]}` {
		t.Errorf("user = %q, want compact JSON text", v)
	}
	st := w.Stats()
	if st.EventsSent != int64(len(recs)) || st.Batches != 1 || st.BytesSent <= 0 || st.LatencyMax <= 0 || st.LatencySum < st.LatencyMax {
		t.Errorf("stats %+v", st)
	}
}

func TestWriteFieldsLayoutAndEscapes(t *testing.T) {
	srv := startServer(t, nil)
	w := newTestWriter(t, srv, nil)
	ts := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.UTC)
	recs := []sink.Record{
		{Time: ts, ID: "a", Body: []byte(`{"ignored":"x"}`), Fields: []sink.Field{
			{Key: "objectRef.resource", Value: "secrets"},
			{Key: "annotations.authorization.k8s.io/decision", Value: "allow"},
			{Key: "empty", Value: ""},
		}},
		{Time: ts, ID: "b", Body: []byte("{ \"k\\u00e9y\" : \"v\\\"al\\n\" ,\n \"n\": 12.5e3, \"b\": true, \"z\": null,\n" +
			" \"o\": { \"a\" : [ 1, \"x y\" ] } }")},
	}
	results := make([]sink.Result, len(recs))
	if err := w.Write(context.Background(), recs, results); err != nil {
		t.Fatal(err)
	}
	logs := srv.Logs(testProject, testLogstore)
	if len(logs) != 2 {
		t.Fatalf("stored %d", len(logs))
	}
	if got := fmt.Sprint(logs[0].Contents); got != "[{objectRef.resource secrets} {annotations.authorization.k8s.io/decision allow} {empty }]" {
		t.Errorf("fields layout: %s", got)
	}
	want := []slstest.Field{{Key: "kéy", Value: "v\"al\n"}, {Key: "n", Value: "12.5e3"}, {Key: "b", Value: "true"},
		{Key: "z", Value: ""}, {Key: "o", Value: `{"a":[1,"x y"]}`}}
	if fmt.Sprint(logs[1].Contents) != fmt.Sprint(want) {
		t.Errorf("body layout\n got %q\nwant %q", logs[1].Contents, want)
	}
	if !logs[1].Time.Equal(ts) {
		t.Errorf("time %v want %v", logs[1].Time, ts)
	}
}

func TestInvalidUTF8IsReplaced(t *testing.T) {
	srv := startServer(t, nil)
	w := newTestWriter(t, srv, nil)
	recs := []sink.Record{
		{Fields: []sink.Field{{Key: "k\xff", Value: "a\xc3b"}}},
		{Body: []byte("{\"k\":\"a\xffb\"}")},
	}
	res := make([]sink.Result, 2)
	if err := w.Write(context.Background(), recs, res); err != nil {
		t.Fatal(err)
	}
	logs := srv.Logs(testProject, testLogstore)
	if got := fmt.Sprint(logs[0].Contents, logs[1].Contents); got != "[{k\uFFFD a\uFFFDb}] [{k a\uFFFDb}]" {
		t.Errorf("stored %q", got)
	}
}

func TestZeroTimeUsesClock(t *testing.T) {
	srv := startServer(t, nil)
	clk := newFakeClock()
	w := newTestWriter(t, srv, nil, WithClock(clk))
	res := make([]sink.Result, 1)
	if err := w.Write(context.Background(), []sink.Record{{Body: []byte(`{"a":"b"}`)}}, res); err != nil {
		t.Fatal(err)
	}
	if got := srv.Logs(testProject, testLogstore)[0].Time; !got.Equal(clk.Now()) {
		t.Errorf("time %v, want the clock's %v", got, clk.Now())
	}
}

func TestHashKey(t *testing.T) {
	recs := loadFixture(t, "audit2rbac-demo.log")
	md5hex := func(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
	cases := []struct {
		spec string
		want func(rec sink.Record) string
	}{
		{"0123456789ABCDEF0123456789abcdef", func(sink.Record) string { return "0123456789abcdef0123456789abcdef" }},
		{"cluster-a", func(sink.Record) string { return md5hex("cluster-a") }},
		{"${objectRef.namespace}", func(r sink.Record) string {
			ns, _ := jsonparser.GetString(r.Body, "objectRef", "namespace")
			return md5hex(ns)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.spec, func(t *testing.T) {
			srv := startServer(t, nil)
			w := newTestWriter(t, srv, func(c *Config) { c.HashKey = tc.spec })
			results := make([]sink.Result, len(recs))
			if err := w.Write(context.Background(), recs, results); err != nil {
				t.Fatal(err)
			}
			logs := srv.Logs(testProject, testLogstore)
			if len(logs) != len(recs) {
				t.Fatalf("stored %d", len(logs))
			}
			byID := map[string]string{}
			for _, l := range logs {
				id, _ := l.Get("auditID")
				byID[id] = l.HashKey
			}
			keys := map[string]bool{}
			for _, r := range recs {
				want := tc.want(r)
				keys[want] = true
				if byID[r.ID] != want {
					t.Fatalf("record %s routed with %q, want %q", r.ID, byID[r.ID], want)
				}
			}
			// One request per distinct hash key.
			if got := w.Stats().Batches; got != int64(len(keys)) {
				t.Errorf("batches %d, want one per hash key (%d)", got, len(keys))
			}
		})
	}
}

func TestHashKeyFromFields(t *testing.T) {
	srv := startServer(t, nil)
	w := newTestWriter(t, srv, func(c *Config) { c.HashKey = "${objectRef.namespace}" })
	recs := []sink.Record{
		{Fields: []sink.Field{{Key: "objectRef.namespace", Value: "kube-system"}}},
		{Fields: []sink.Field{{Key: "other", Value: "x"}}},
	}
	res := make([]sink.Result, 2)
	if err := w.Write(context.Background(), recs, res); err != nil {
		t.Fatal(err)
	}
	h1, h0 := md5.Sum([]byte("kube-system")), md5.Sum(nil)
	got := map[string]bool{}
	for _, l := range srv.Logs(testProject, testLogstore) {
		got[l.HashKey] = true
	}
	if !got[hex.EncodeToString(h1[:])] || !got[hex.EncodeToString(h0[:])] {
		t.Errorf("hash keys %v", got)
	}
}

// synthetic returns n small audit-like records with unique IDs.
func synthetic(n int, pad int) []sink.Record {
	recs := make([]sink.Record, n)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p := strings.Repeat("x", pad)
	for i := range recs {
		id := fmt.Sprintf("id-%07d", i)
		recs[i] = sink.Record{
			ID:   id,
			Time: base.Add(time.Duration(i) * time.Millisecond),
			Body: []byte(`{"kind":"Event","auditID":"` + id + `","verb":"get","user":{"username":"u` +
				fmt.Sprint(i%7) + `"},"objectRef":{"namespace":"ns` + fmt.Sprint(i%5) + `"},"pad":"` + p + `"}`),
		}
	}
	return recs
}

func TestBatchLimits(t *testing.T) {
	t.Run("logs per group", func(t *testing.T) {
		srv := startServer(t, nil) // the server enforces 4096 logs per LogGroup
		w := newTestWriter(t, srv, nil)
		recs := synthetic(5000, 0)
		res := make([]sink.Result, len(recs))
		if err := w.Write(context.Background(), recs, res); err != nil {
			t.Fatal(err)
		}
		if st := w.Stats(); st.Batches != 2 || st.EventsSent != 5000 {
			t.Errorf("stats %+v, want 2 batches (4096+904)", st)
		}
		if n := len(srv.Logs(testProject, testLogstore)); n != 5000 {
			t.Errorf("stored %d", n)
		}
	})
	t.Run("bytes per group", func(t *testing.T) {
		srv := startServer(t, nil)
		w := newTestWriter(t, srv, func(c *Config) { c.MaxBatchBytes = 8 * 1024 })
		recs := synthetic(100, 500) // ~600 bytes each: 13 per batch
		res := make([]sink.Result, len(recs))
		if err := w.Write(context.Background(), recs, res); err != nil {
			t.Fatal(err)
		}
		st := w.Stats()
		if st.Batches < 7 || st.EventsSent != 100 {
			t.Errorf("stats %+v, want >= 7 batches", st)
		}
		// Order within the logstore is kept.
		for i, l := range srv.Logs(testProject, testLogstore) {
			if id, _ := l.Get("auditID"); id != recs[i].ID {
				t.Fatalf("log %d is %s, want %s", i, id, recs[i].ID)
			}
		}
	})
	t.Run("server limits lower than the writer's: split and retry", func(t *testing.T) {
		srv := startServer(t, func(o *slstest.Options) { o.MaxLogs = 10; o.MaxRawBytes = 4000 })
		w := newTestWriter(t, srv, nil)
		recs := synthetic(60, 100)
		recs = append(recs, sink.Record{ID: "huge", Body: []byte(`{"pad":"` + strings.Repeat("y", 9000) + `"}`)})
		res := make([]sink.Result, len(recs))
		err := w.Write(context.Background(), recs, res)
		var se *sink.Error
		if !errors.As(err, &se) || se.Delivered != 60 || se.Permanent != 1 {
			t.Fatalf("Write error %v", err)
		}
		if r := res[60]; r.Status != sink.Permanent || r.Reason != ReasonTooLarge {
			t.Errorf("huge record: %+v", r)
		}
		if n := len(srv.Logs(testProject, testLogstore)); n != 60 {
			t.Errorf("stored %d, want 60 exactly once", n)
		}
		errs := srv.Stats().Errors
		if errs["PostBodyTooLarge"] == 0 || errs["PostBodyInvalid"] == 0 {
			t.Errorf("server errors %v, want both limits hit", errs)
		}
		if w.Stats().Rejected[ReasonTooLarge] != 1 {
			t.Errorf("rejected %v", w.Stats().Rejected)
		}
	})
}

func TestRecordRejections(t *testing.T) {
	srv := startServer(t, nil)
	w := newTestWriter(t, srv, func(c *Config) { c.MaxBatchBytes = 64 * 1024 })
	good := sink.Record{ID: "good", Body: []byte(`{"auditID":"good"}`)}
	cases := []struct {
		name   string
		rec    sink.Record
		reason string
	}{
		{"value over 1 MiB", sink.Record{Fields: []sink.Field{{Key: "v", Value: strings.Repeat("a", MaxValueBytes+1)}}}, ReasonTooLarge},
		{"log over batch limit", sink.Record{Body: []byte(`{"v":"` + strings.Repeat("a", 70*1024) + `"}`)}, ReasonTooLarge},
		{"body not JSON", sink.Record{Body: []byte(`not json`)}, ReasonInvalidBody},
		{"body is an array", sink.Record{Body: []byte(`[1,2]`)}, ReasonInvalidBody},
		{"bad escape", sink.Record{Body: []byte(`{"a":"\uZZZZ"}`)}, ReasonInvalidBody},
		{"no body no fields", sink.Record{}, ReasonEmpty},
		{"empty object", sink.Record{Body: []byte(`{}`)}, ReasonEmpty},
		{"reserved key", sink.Record{Fields: []sink.Field{{Key: "__topic__", Value: "x"}}}, ReasonInvalidKey},
		{"tag prefix key", sink.Record{Body: []byte(`{"__tag__:x":"y"}`)}, ReasonInvalidKey},
		{"empty key", sink.Record{Body: []byte(`{"":"y"}`)}, ReasonInvalidKey},
		{"long key", sink.Record{Fields: []sink.Field{{Key: strings.Repeat("k", MaxKeyBytes+1), Value: "x"}}}, ReasonInvalidKey},
		{"time before 1970", sink.Record{Time: time.Unix(-10, 0), Body: []byte(`{"a":"b"}`)}, ReasonInvalidTime},
		{"time after 2106", sink.Record{Time: time.Unix(1<<33, 0), Body: []byte(`{"a":"b"}`)}, ReasonInvalidTime},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv.Reset()
			recs := []sink.Record{good, tc.rec, good}
			res := make([]sink.Result, 3)
			err := w.Write(context.Background(), recs, res)
			var se *sink.Error
			if !errors.As(err, &se) || se.Permanent != 1 || se.Delivered != 2 {
				t.Fatalf("err = %v", err)
			}
			if res[1].Status != sink.Permanent || res[1].Reason != tc.reason || res[1].Err == nil {
				t.Fatalf("result %+v, want permanent %s", res[1], tc.reason)
			}
			if res[0].Status != sink.Delivered || res[2].Status != sink.Delivered {
				t.Fatalf("neighbours %+v %+v", res[0], res[2])
			}
			if n := len(srv.Logs(testProject, testLogstore)); n != 2 {
				t.Fatalf("stored %d, want the 2 good records", n)
			}
		})
	}
}

func TestServiceRejections(t *testing.T) {
	cases := []struct {
		name    string
		srvOpt  func(*slstest.Options)
		cfg     func(*Config)
		reason  string
		errCode string
	}{
		{"wrong secret", nil, func(c *Config) { c.AccessKeySecret = "wrong-secret-value" }, ReasonAccessDenied, "SignatureNotMatch"},
		{"unknown key", nil, func(c *Config) { c.AccessKeyID = "LTAIunknown" }, ReasonAccessDenied, "Unauthorized"},
		{"sts token mismatch", func(o *slstest.Options) { o.Tokens = map[string]string{testAK: "good-token"} },
			func(c *Config) { c.SecurityToken = "bad-token-value" }, ReasonAccessDenied, "Unauthorized"},
		{"missing project", nil, func(c *Config) { c.Project = "no-such-project" }, ReasonProjectNotFound, "ProjectNotExist"},
		{"missing logstore", nil, func(c *Config) { c.Logstore = "no-such-ls" }, ReasonLogstoreNotFound, "LogStoreNotExist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.srvOpt)
			w := newTestWriter(t, srv, tc.cfg)
			recs := loadFixture(t, "audit2rbac-demo.log")[:5]
			res := make([]sink.Result, len(recs))
			err := w.Write(context.Background(), recs, res)
			if err == nil {
				t.Fatal("Write succeeded")
			}
			// Credentials, permissions and missing projects are destination
			// trouble: retried later, never a verdict on the records.
			for _, r := range res {
				if r.Status != sink.Retryable || !r.Destination || r.Reason != tc.reason {
					t.Fatalf("result %+v, want retryable destination %s", r, tc.reason)
				}
				if !strings.Contains(r.Err.Error(), tc.errCode) {
					t.Errorf("error %q does not name %s", r.Err, tc.errCode)
				}
			}
			for _, secret := range []string{testSK, "wrong-secret-value", "bad-token-value", "good-token"} {
				if strings.Contains(err.Error(), secret) || strings.Contains(res[0].Err.Error(), secret) {
					t.Fatalf("error leaks a secret: %v", err)
				}
			}
			if got := srv.Stats().Errors[tc.errCode]; got != 1 {
				t.Errorf("server answered %s %d times, want 1 (destination trouble is retried later, not in the budget)", tc.errCode, got)
			}
			if len(w.Stats().Rejected) != 0 {
				t.Errorf("rejected %v: nothing is refused for good", w.Stats().Rejected)
			}
			if n := len(srv.Logs(testProject, testLogstore)); n != 0 {
				t.Errorf("stored %d", n)
			}
		})
	}
}

func TestRetryBudgetWithFakeClock(t *testing.T) {
	srv := startServer(t, func(o *slstest.Options) { o.Faults = slstest.Faults{ThrottleRate: 1} })
	clk := newFakeClock()
	w := newTestWriter(t, srv, func(c *Config) {
		c.RetryInitial = time.Second
		c.RetryMax = 8 * time.Second
		c.RetryMaxElapsed = 30 * time.Second
	}, WithClock(clk))
	recs := synthetic(10, 0)
	res := make([]sink.Result, len(recs))
	err := w.Write(context.Background(), recs, res)
	if err == nil {
		t.Fatal("Write succeeded under 100% throttling")
	}
	for _, r := range res {
		if r.Status != sink.Retryable || r.Reason != ReasonThrottled || !strings.Contains(r.Err.Error(), "WriteQuotaExceed") && !strings.Contains(r.Err.Error(), "ShardWriteQuotaExceed") {
			t.Fatalf("result %+v", r)
		}
	}
	waits := clk.Waits()
	var total time.Duration
	for i, d := range waits {
		total += d
		if d > 8*time.Second*3/2 {
			t.Errorf("wait %d = %v exceeds retry_max with jitter", i, d)
		}
	}
	if total > 30*time.Second {
		t.Errorf("waited %v in total, budget 30s", total)
	}
	st := w.Stats()
	if st.Retries != int64(len(waits)) || st.Throttles != int64(len(waits))+1 || st.Throttles < 3 {
		t.Errorf("stats %+v with %d waits", st, len(waits))
	}
	if got := srv.Stats().Requests; got != st.Throttles {
		t.Errorf("server saw %d requests, writer counted %d throttles", got, st.Throttles)
	}
	// The SDK's own retry is bypassed: one request per writer attempt.
	srv.SetFaults(slstest.Faults{})
	if err := w.Write(context.Background(), recs, res); err != nil {
		t.Fatalf("after throttling stops: %v", err)
	}
}

func TestServerErrorsNotRetriedBySDK(t *testing.T) {
	srv := startServer(t, func(o *slstest.Options) { o.Faults = slstest.Faults{ErrorRate: 1} })
	clk := newFakeClock()
	w := newTestWriter(t, srv, func(c *Config) {
		c.RetryInitial = time.Second
		c.RetryMax = 2 * time.Second
		c.RetryMaxElapsed = 5 * time.Second
	}, WithClock(clk))
	res := make([]sink.Result, 1)
	w.Write(context.Background(), synthetic(1, 0), res)
	if res[0].Status != sink.Retryable || res[0].Reason != ReasonServerError {
		t.Fatalf("result %+v", res[0])
	}
	if got, want := srv.Stats().Requests, int64(len(clk.Waits())+1); got != want {
		t.Errorf("server saw %d requests for %d writer attempts: the SDK retried on its own", got, want)
	}
}

func TestOutageRecovery(t *testing.T) {
	for _, reset := range []bool{false, true} {
		t.Run(fmt.Sprintf("reset=%v", reset), func(t *testing.T) {
			srv := startServer(t, func(o *slstest.Options) { o.Faults.OutageReset = reset })
			w := newTestWriter(t, srv, func(c *Config) { c.RetryMaxElapsed = 10 * time.Second })
			srv.Outage(400 * time.Millisecond)
			recs := synthetic(50, 0)
			res := make([]sink.Result, len(recs))
			if err := w.Write(context.Background(), recs, res); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if w.Stats().Retries == 0 {
				t.Error("no retries recorded across the outage")
			}
			if n := len(srv.Logs(testProject, testLogstore)); n != 50 {
				t.Errorf("stored %d", n)
			}
		})
	}
}

func TestContextEndsMidWrite(t *testing.T) {
	srv := startServer(t, func(o *slstest.Options) { o.Faults.Latency = 3 * time.Second })
	w := newTestWriter(t, srv, func(c *Config) { c.MaxBatchLogs = 10 })
	recs := synthetic(30, 0)
	res := make([]sink.Result, len(recs))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := w.Write(ctx, recs, res)
	var se *sink.Error
	if !errors.As(err, &se) || se.Delivered != 0 {
		t.Fatalf("err %v", err)
	}
	m := countStatus(res)
	// The first batch was in flight (Retryable); the rest never sent (Pending).
	if m[sink.Retryable] != 10 || m[sink.Pending] != 20 {
		t.Errorf("statuses %v", m)
	}
	if !errors.Is(res[29].Err, context.DeadlineExceeded) {
		t.Errorf("pending err %v", res[29].Err)
	}
}

func TestCloseHandsBackInFlight(t *testing.T) {
	srv := startServer(t, func(o *slstest.Options) { o.Faults.Latency = 5 * time.Second })
	w := newTestWriter(t, srv, nil)
	recs := synthetic(20, 0)
	res := make([]sink.Result, len(recs))
	done := make(chan error, 1)
	go func() { done <- w.Write(context.Background(), recs, res) }()
	for srv.Stats().Requests == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := w.Close(ctx); err == nil {
		t.Error("Close reported success while a write was cut short")
	}
	if err := <-done; err == nil {
		t.Fatal("cancelled Write reported success")
	}
	for _, r := range res {
		if r.Status != sink.Retryable {
			t.Fatalf("in-flight record %+v, want Retryable (handed back)", r)
		}
	}
	// Writes after Close are refused, never dropped silently.
	res2 := make([]sink.Result, 2)
	if err := w.Write(context.Background(), recs[:2], res2); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close: %v", err)
	}
	if res2[0].Status != sink.Pending || res2[0].Reason != ReasonClosed {
		t.Errorf("after close %+v", res2[0])
	}
}

func TestCloseWaitsForWrites(t *testing.T) {
	srv := startServer(t, func(o *slstest.Options) { o.Faults.Latency = 200 * time.Millisecond })
	w := newTestWriter(t, srv, nil)
	recs := synthetic(5, 0)
	res := make([]sink.Result, len(recs))
	done := make(chan error, 1)
	go func() { done <- w.Write(context.Background(), recs, res) }()
	for srv.Stats().Requests == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Write: %v", err)
	}
	if n := len(srv.Logs(testProject, testLogstore)); n != 5 {
		t.Errorf("stored %d", n)
	}
}

func TestMemoryBoundQueuesWrites(t *testing.T) {
	srv := startServer(t, func(o *slstest.Options) { o.Faults.Latency = 300 * time.Millisecond })
	// One slot: a second concurrent Write waits, and gives up with its ctx.
	w := newTestWriter(t, srv, func(c *Config) { c.MaxBatchBytes = 1 << 20; c.MaxBufferBytes = 1 << 20 })
	res1 := make([]sink.Result, 1)
	done := make(chan error, 1)
	go func() { done <- w.Write(context.Background(), synthetic(1, 0), res1) }()
	for srv.Stats().Requests == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	res2 := make([]sink.Result, 3)
	if err := w.Write(ctx, synthetic(3, 0), res2); err == nil {
		t.Fatal("second Write got past the memory bound")
	}
	for _, r := range res2 {
		if r.Status != sink.Pending || !errors.Is(r.Err, context.DeadlineExceeded) {
			t.Fatalf("waiting write result %+v", r)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := srv.Stats().Requests; got != 1 {
		t.Errorf("server saw %d requests", got)
	}
}

func TestWriteArgumentErrors(t *testing.T) {
	srv := startServer(t, nil)
	w := newTestWriter(t, srv, nil)
	if err := w.Write(context.Background(), synthetic(2, 0), make([]sink.Result, 1)); err == nil {
		t.Error("mismatched results accepted")
	}
	if err := w.Write(context.Background(), nil, nil); err != nil {
		t.Errorf("empty write: %v", err)
	}
}

func TestEncodingDecodesWithSDK(t *testing.T) {
	// The raw LogGroup the writer builds round-trips through the SDK's
	// generated protobuf code (the server decodes it the same way); here
	// the bytes are checked directly, including varint boundaries.
	enc := encoder{now: time.Now}
	big := strings.Repeat("v", 200) // two-byte varint lengths
	rec := sink.Record{Time: time.Unix(1700000000, 987654321), Fields: []sink.Field{{Key: "k", Value: big}, {Key: "é", Value: ""}}}
	raw, err := enc.appendLog(nil, &rec)
	if err != nil {
		t.Fatal(err)
	}
	raw = append(raw, groupTrailer("topic", "src", map[string]string{"b": "2", "a": "1"})...)
	lg := decodeLogGroup(t, raw)
	if len(lg.Logs) != 1 || lg.GetTopic() != "topic" || lg.GetSource() != "src" || len(lg.LogTags) != 2 || lg.LogTags[0].GetKey() != "a" {
		t.Fatalf("decoded %v", lg)
	}
	l := lg.Logs[0]
	if l.GetTime() != 1700000000 || l.GetTimeNs() != 987654321 || len(l.Contents) != 2 ||
		l.Contents[0].GetValue() != big || l.Contents[1].GetKey() != "é" {
		t.Fatalf("decoded log %v", l)
	}
	b, _ := json.Marshal(lg)
	if !bytes.Contains(b, []byte(`"Time":1700000000`)) {
		t.Errorf("json %s", b)
	}
}

func TestHTTPSByDefault(t *testing.T) {
	srv := startServer(t, func(o *slstest.Options) { o.TLS = true })
	// No scheme: the writer uses https, as against the real service.
	w := newTestWriter(t, srv, func(c *Config) { c.Endpoint = "sls.test" })
	res := make([]sink.Result, 3)
	if err := w.Write(context.Background(), synthetic(3, 0), res); err != nil {
		t.Fatal(err)
	}
	if n := len(srv.Logs(testProject, testLogstore)); n != 3 {
		t.Errorf("stored %d", n)
	}
	// Plain http against the TLS server is answered 400 without an SLS
	// error code: a configuration error of the destination, which keeps the
	// records waiting (never dropped on an unknown answer).
	w2 := newTestWriter(t, srv, func(c *Config) { c.Endpoint = "http://sls.test" })
	w2.Write(context.Background(), synthetic(1, 0), res[:1])
	if res[0].Status != sink.Retryable || !res[0].Destination || res[0].Reason != ReasonRejected {
		t.Errorf("http to https server: %+v", res[0])
	}
}
