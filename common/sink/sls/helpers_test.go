package sls

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"sync"
	"testing"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/buger/jsonparser"

	"github.com/auditlane/auditlane/common/sink"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
)

const (
	testProject  = "audit-prj"
	testLogstore = "audit-ls"
	testAK       = "LTAItestkey0001"
	testSK       = "test-secret-Zq9xW2"
)

// startServer starts a local SLS with the test project, logstore and key.
func startServer(t testing.TB, mutate func(*slstest.Options)) *slstest.Server {
	t.Helper()
	opts := slstest.Options{
		Projects: map[string][]string{testProject: {testLogstore, "other-ls"}},
		Keys:     map[string]string{testAK: testSK},
	}
	if mutate != nil {
		mutate(&opts)
	}
	srv, err := slstest.Start("127.0.0.1:0", opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// testConfig is a valid configuration pointing at srv.
func testConfig(srv *slstest.Server) Config {
	return Config{
		Endpoint:        srv.Endpoint(),
		Project:         testProject,
		Logstore:        testLogstore,
		AccessKeyID:     testAK,
		AccessKeySecret: testSK,
		RetryInitial:    10 * time.Millisecond,
		RetryMax:        100 * time.Millisecond,
		RetryMaxElapsed: 2 * time.Second,
		RequestTimeout:  5 * time.Second,
	}
}

func newTestWriter(t testing.TB, srv *slstest.Server, mutate func(*Config), opts ...Option) *Writer {
	t.Helper()
	cfg := testConfig(srv)
	if mutate != nil {
		mutate(&cfg)
	}
	w, err := New(context.Background(), cfg, append([]Option{WithHTTPClient(srv.Client())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	return w
}

// loadFixture reads JSON-lines audit events as records (Time from
// stageTimestamp or timestamp, ID from auditID).
func loadFixture(t testing.TB, name string) []sink.Record {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []sink.Record
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		body := append([]byte(nil), line...)
		var ts time.Time
		for _, k := range []string{"stageTimestamp", "timestamp"} {
			if s, err := jsonparser.GetString(body, k); err == nil {
				if ts, err = time.Parse(time.RFC3339Nano, s); err == nil {
					break
				}
			}
		}
		id, _ := jsonparser.GetString(body, "auditID")
		recs = append(recs, sink.Record{Time: ts, Body: body, ID: id})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// fakeClock advances only when the writer waits, so backoff runs without
// sleeping.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.waits = append(c.waits, d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

func countStatus(results []sink.Result) map[sink.Status]int {
	m := map[sink.Status]int{}
	for _, r := range results {
		m[r.Status]++
	}
	return m
}

func decodeLogGroup(t testing.TB, raw []byte) *slssdk.LogGroup {
	t.Helper()
	var lg slssdk.LogGroup
	if err := lg.Unmarshal(raw); err != nil {
		t.Fatalf("SDK cannot decode the LogGroup: %v", err)
	}
	return &lg
}
