package slstest

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	consumer "github.com/aliyun/aliyun-log-go-sdk/consumer"
	"github.com/go-kit/kit/log"

	"github.com/auditlane/auditlane/common/source/slssrc"
)

func startShards(t *testing.T, shards int) (*Server, *slssdk.Client) {
	t.Helper()
	s, err := Start("127.0.0.1:0", Options{
		Projects: map[string][]string{"prj": {"audit-c1"}},
		Keys:     map[string]string{ak: sk},
		Shards:   shards,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := slssdk.CreateNormalInterface(s.Endpoint(), ak, sk, "").(*slssdk.Client)
	c.SetHTTPClient(s.Client())
	return s, c
}

func putSeq(t *testing.T, c *slssdk.Client, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		str := func(s string) *string { return &s }
		tm := uint32(time.Now().Unix())
		lg := &slssdk.LogGroup{Logs: []*slssdk.Log{{Time: &tm, Contents: []*slssdk.LogContent{{Key: str("seq"), Value: str(strconv.Itoa(i))}}}}}
		if err := c.PutLogs("prj", "audit-c1", lg); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
}

func seqs(gl *slssdk.LogGroupList) []int {
	var out []int
	for _, g := range gl.LogGroups {
		for _, l := range g.Logs {
			for _, kv := range l.Contents {
				if kv.GetKey() == "seq" {
					n, _ := strconv.Atoi(kv.GetValue())
					out = append(out, n)
				}
			}
		}
	}
	return out
}

func TestShardsCursorsPullLogs(t *testing.T) {
	s, c := startShards(t, 4)
	putSeq(t, c, 0, 20)
	shards, err := c.ListShards("prj", "audit-c1")
	if err != nil || len(shards) != 4 || shards[0].InclusiveBeginKey != strings.Repeat("0", 32) || shards[3].ExclusiveBeginKey != strings.Repeat("f", 32) {
		t.Fatalf("shards %+v %v", shards, err)
	}
	got := map[int]bool{}
	for _, sh := range shards {
		begin, err := c.GetCursor("prj", "audit-c1", sh.ShardID, "begin")
		if err != nil {
			t.Fatal(err)
		}
		end, err := c.GetCursor("prj", "audit-c1", sh.ShardID, "end")
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := CursorOffset(sh.ShardID, end); !ok || n != 5 {
			t.Fatalf("shard %d end cursor at %d %v, want 5 (round-robin)", sh.ShardID, n, ok)
		}
		cur := begin
		for pulls := 0; cur != end; pulls++ {
			gl, next, err := c.PullLogs("prj", "audit-c1", sh.ShardID, cur, "", 2)
			if err != nil {
				t.Fatal(err)
			}
			if len(gl.LogGroups) == 0 || len(gl.LogGroups) > 2 || pulls > 5 {
				t.Fatalf("pull %d returned %d groups", pulls, len(gl.LogGroups))
			}
			for _, n := range seqs(gl) {
				got[n] = true
			}
			cur = next
		}
		gl, next, err := c.PullLogs("prj", "audit-c1", sh.ShardID, end, "", 10)
		if err != nil || len(gl.LogGroups) != 0 || next != end {
			t.Fatalf("pull at end: %d groups, next %q, %v", len(gl.LogGroups), next, err)
		}
		// end_cursor bounds a pull.
		mid := encodeCursor(sh.ShardID, 2)
		gl, next, err = c.PullLogs("prj", "audit-c1", sh.ShardID, begin, mid, 100)
		if err != nil || len(gl.LogGroups) != 2 || next != mid {
			t.Fatalf("pull to end_cursor: %d groups, next %q, %v", len(gl.LogGroups), next, err)
		}
	}
	if len(got) != 20 {
		t.Fatalf("pulled %d distinct logs, want 20", len(got))
	}
	// Strictness.
	if _, _, err := c.PullLogs("prj", "audit-c1", 0, encodeCursor(1, 0), "", 10); err == nil || !strings.Contains(err.Error(), "InvalidCursor") {
		t.Errorf("cursor of another shard: %v", err)
	}
	if _, _, err := c.PullLogs("prj", "audit-c1", 0, "bm90IGEgY3Vyc29y", "", 10); err == nil || !strings.Contains(err.Error(), "InvalidCursor") {
		t.Errorf("garbage cursor: %v", err)
	}
	if _, _, err := c.PullLogs("prj", "audit-c1", 0, encodeCursor(0, 0), "", 1001); err == nil || !strings.Contains(err.Error(), "ParameterInvalid") {
		t.Errorf("count 1001: %v", err)
	}
	if _, err := c.GetCursor("prj", "audit-c1", 9, "begin"); err == nil || !strings.Contains(err.Error(), "ShardNotExist") {
		t.Errorf("shard 9: %v", err)
	}
	bad := slssdk.CreateNormalInterface(s.Endpoint(), ak, "wrong", "").(*slssdk.Client)
	bad.SetHTTPClient(s.Client())
	if _, err := bad.GetCursor("prj", "audit-c1", 0, "begin"); err == nil || !strings.Contains(err.Error(), "SignatureNotMatch") {
		t.Errorf("wrong secret: %v", err)
	}
}

func TestGetCursorByTime(t *testing.T) {
	s, c := startShards(t, 1)
	base := time.Unix(1_700_000_000, 0)
	for i := range 5 {
		str := func(s string) *string { return &s }
		tm := uint32(base.Unix())
		lg := &slssdk.LogGroup{Logs: []*slssdk.Log{{Time: &tm, Contents: []*slssdk.LogContent{{Key: str("seq"), Value: str(strconv.Itoa(i))}}}}}
		if err := s.AddLogGroup("prj", "audit-c1", 0, base.Add(time.Duration(i)*time.Minute), lg); err != nil {
			t.Fatal(err)
		}
	}
	from, err := c.GetCursor("prj", "audit-c1", 0, strconv.FormatInt(base.Add(90*time.Second).Unix(), 10))
	if err != nil {
		t.Fatal(err)
	}
	to, err := c.GetCursor("prj", "audit-c1", 0, strconv.FormatInt(base.Add(4*time.Minute).Unix(), 10))
	if err != nil {
		t.Fatal(err)
	}
	gl, _, err := c.PullLogs("prj", "audit-c1", 0, from, to, 100)
	if err != nil || fmt.Sprint(seqs(gl)) != "[2 3]" {
		t.Fatalf("time range pulled %v, %v; want [2 3]", seqs(gl), err)
	}
	if tm, err := c.GetCursorTime("prj", "audit-c1", 0, from); err != nil || tm.Unix() != base.Add(2*time.Minute).Unix() {
		t.Fatalf("cursor time %v %v", tm, err)
	}
}

func TestConsumerGroupAPIs(t *testing.T) {
	_, c := startShards(t, 2)
	cg := slssdk.ConsumerGroup{ConsumerGroupName: "auditlane", Timeout: 10}
	if err := c.CreateConsumerGroup("prj", "audit-c1", cg); err != nil {
		t.Fatal(err)
	}
	err := c.CreateConsumerGroup("prj", "audit-c1", cg)
	if se, ok := err.(*slssdk.Error); !ok || se.Code != "ConsumerGroupAlreadyExist" {
		t.Fatalf("duplicate: %#v", err)
	}
	if err := c.CreateConsumerGroup("prj", "audit-c1", slssdk.ConsumerGroup{ConsumerGroupName: "x", Timeout: 10}); err == nil {
		t.Fatal("one-letter group name accepted")
	}
	list, err := c.ListConsumerGroup("prj", "audit-c1")
	if err != nil || len(list) != 1 || *list[0] != cg {
		t.Fatalf("list %v %v", list, err)
	}
	held, err := c.HeartBeat("prj", "audit-c1", "auditlane", "a", nil)
	if err != nil || fmt.Sprint(held) != "[0 1]" {
		t.Fatalf("a alone: %v %v", held, err)
	}
	held, _ = c.HeartBeat("prj", "audit-c1", "auditlane", "b", nil)
	if len(held) != 0 {
		t.Fatalf("b got %v while a still reports both shards", held)
	}
	held, _ = c.HeartBeat("prj", "audit-c1", "auditlane", "a", []int{0, 1})
	if fmt.Sprint(held) != "[0]" {
		t.Fatalf("a after b joined: %v", held)
	}
	if held, _ = c.HeartBeat("prj", "audit-c1", "auditlane", "b", nil); len(held) != 0 {
		t.Fatalf("b got %v before a released shard 1", held)
	}
	c.HeartBeat("prj", "audit-c1", "auditlane", "a", []int{0})
	if held, _ = c.HeartBeat("prj", "audit-c1", "auditlane", "b", nil); fmt.Sprint(held) != "[1]" {
		t.Fatalf("b after release: %v", held)
	}
	cur, _ := c.GetCursor("prj", "audit-c1", 1, "end")
	err = c.UpdateCheckpoint("prj", "audit-c1", "auditlane", "a", 1, cur, false)
	if se, ok := err.(*slssdk.Error); !ok || se.Code != "ConsumerNotMatch" {
		t.Fatalf("checkpoint by non-owner: %#v", err)
	}
	if err := c.UpdateCheckpoint("prj", "audit-c1", "auditlane", "b", 1, cur, false); err != nil {
		t.Fatal(err)
	}
	if err := c.UpdateCheckpoint("prj", "audit-c1", "auditlane", "b", 1, "garbage", true); err == nil {
		t.Fatal("garbage checkpoint accepted")
	}
	cps, err := c.GetCheckpoint("prj", "audit-c1", "auditlane")
	if err != nil || len(cps) != 1 || cps[0].ShardID != 1 || cps[0].CheckPoint != cur || cps[0].Consumer != "b" {
		t.Fatalf("checkpoints %+v %v", cps, err)
	}
	if err := c.UpdateConsumerGroup("prj", "audit-c1", slssdk.ConsumerGroup{ConsumerGroupName: "auditlane", Timeout: 20, InOrder: true}); err != nil {
		t.Fatal(err)
	}
	if list, _ := c.ListConsumerGroup("prj", "audit-c1"); list[0].Timeout != 20 || !list[0].InOrder {
		t.Fatalf("after update %+v", list[0])
	}
	if _, err := c.HeartBeat("prj", "audit-c1", "nope", "a", nil); err == nil || !strings.Contains(err.Error(), "ConsumerGroupNotExist") {
		t.Fatalf("heartbeat to missing group: %v", err)
	}
	if err := c.DeleteConsumerGroup("prj", "audit-c1", "auditlane"); err != nil {
		t.Fatal(err)
	}
	if list, _ := c.ListConsumerGroup("prj", "audit-c1"); len(list) != 0 {
		t.Fatalf("after delete %v", list)
	}
}

// severable fails every request while cut, as if the consumer's host had
// been cut off: answered 401 by a "gateway" so the SDK does not retry.
type severable struct {
	base http.RoundTripper
	cut  atomic.Bool
	// inFlight is read-held by every request on its way through, so sever
	// returns only once the requests that passed before the cut have been
	// answered.
	inFlight sync.RWMutex
}

// sever cuts the network: once it returns, no request of this transport
// reaches the server any more.
func (s *severable) sever() {
	s.inFlight.Lock()
	s.cut.Store(true)
	s.inFlight.Unlock()
}

func (s *severable) RoundTrip(r *http.Request) (*http.Response, error) {
	s.inFlight.RLock()
	defer s.inFlight.RUnlock()
	if s.cut.Load() {
		if r.Body != nil {
			r.Body.Close()
		}
		body := `{"errorCode":"Unauthorized","errorMessage":"severed by test"}`
		return &http.Response{StatusCode: 401, Status: "401 Unauthorized", Header: http.Header{"X-Log-Requestid": {"cut"}},
			Body: io.NopCloser(strings.NewReader(body)), ContentLength: int64(len(body)), Request: r}, nil
	}
	return s.base.RoundTrip(r)
}

func TestConsumerLibraryTakeover(t *testing.T) {
	s, c := startShards(t, 4)
	putSeq(t, c, 0, 40)

	var mu sync.Mutex
	seen := map[int]string{} // seq → consumer that processed it last
	newWorker := func(name string, tr http.RoundTripper) *consumer.ConsumerWorker {
		cfg := consumer.LogHubConfig{
			Endpoint: s.Endpoint(), AccessKeyID: ak, AccessKeySecret: sk,
			Project: "prj", Logstore: "audit-c1", ConsumerGroupName: "auditlane", ConsumerName: name,
			CursorPosition: consumer.BEGIN_CURSOR, HeartbeatIntervalInSecond: 1, HeartbeatTimeoutInSecond: 2,
			DataFetchIntervalInMs: 50, AutoCommitDisabled: true, Logger: log.NewNopLogger(),
			HTTPClient: &http.Client{Transport: tr},
		}
		w := consumer.InitConsumerWorkerWithCheckpointTracker(cfg, func(shard int, gl *slssdk.LogGroupList, ck consumer.CheckPointTracker) (string, error) {
			mu.Lock()
			for _, n := range seqs(gl) {
				seen[n] = name
			}
			mu.Unlock()
			return "", ck.SaveCheckPoint(true)
		})
		// The SDK v0.1.124 sets up its HTTP client lazily from several shard
		// workers at once, a data race the race detector reports; prime it
		// as the production reader does.
		if !slssrc.PrimeWorker(w) {
			t.Fatal("the SDK's client layout changed: revisit slssrc.primeClient")
		}
		return w
	}
	aNet := &severable{base: s.Client().Transport}
	a := newWorker("a", aNet)
	b := newWorker("b", s.Client().Transport)
	a.Start()
	b.Start()
	defer func() {
		aNet.cut.Store(false)
		a.StopAndWait()
		b.StopAndWait()
	}()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				mu.Lock()
				t.Fatalf("timed out waiting for %s; assignment %v; %d seen", what, s.Assignment("prj", "audit-c1", "auditlane"), len(seen))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	count := func(from, to int) int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for i := from; i < to; i++ {
			if _, ok := seen[i]; ok {
				n++
			}
		}
		return n
	}
	waitFor("2+2 split", func() bool {
		as := s.Assignment("prj", "audit-c1", "auditlane")
		return len(as["a"]) == 2 && len(as["b"]) == 2
	})
	waitFor("first 40 logs", func() bool { return count(0, 40) == 40 })

	aShards := s.Assignment("prj", "audit-c1", "auditlane")["a"]
	// a stops heartbeating (and everything else); a request it sent just
	// before the cut is answered before the next logs are written.
	aNet.sever()
	putSeq(t, c, 40, 80)
	waitFor("b to take over all shards", func() bool {
		as := s.Assignment("prj", "audit-c1", "auditlane")
		return len(as["b"]) == 4 && len(as["a"]) == 0
	})
	waitFor("logs written after the cut", func() bool { return count(40, 80) == 40 })
	mu.Lock()
	for i := 40; i < 80; i++ {
		if seen[i] != "b" {
			t.Errorf("log %d written after a was cut off was processed by %s", i, seen[i])
		}
	}
	mu.Unlock()
	// b committed every shard to its end, including a's former shards.
	waitFor("checkpoints at the end of every shard", func() bool {
		cps := s.Checkpoints("prj", "audit-c1", "auditlane")
		for sh := range 4 {
			if n, ok := CursorOffset(sh, cps[sh]); !ok || n != 20 {
				return false
			}
		}
		return true
	})
	if len(aShards) != 2 {
		t.Fatalf("a held %v before the cut", aShards)
	}
}

// TestReadFaults: throttled reads are answered ReadQuotaExceed or
// ShardReadQuotaExceed (403), faults can be limited to operations, and
// FailNext scripts exact answers or resets for one operation.
func TestReadFaults(t *testing.T) {
	s, c := startShards(t, 1)
	putSeq(t, c, 0, 3)
	s.SetFaults(Faults{ThrottleRate: 1, Operations: []string{"PullLogs"}})
	cur, err := c.GetCursor("prj", "audit-c1", 0, "begin")
	if err != nil {
		t.Fatalf("GetCursor is not limited: %v", err)
	}
	seen := map[string]bool{}
	for range 20 {
		_, _, err := c.PullLogs("prj", "audit-c1", 0, cur, "", 10)
		var se *slssdk.Error
		if !errors.As(err, &se) || se.HTTPCode != 403 {
			t.Fatalf("throttled pull: %v", err)
		}
		seen[se.Code] = true
	}
	if !seen["ReadQuotaExceed"] || !seen["ShardReadQuotaExceed"] {
		t.Fatalf("read throttle codes %v", seen)
	}
	s.SetFaults(Faults{})
	cg := slssdk.ConsumerGroup{ConsumerGroupName: "auditlane", Timeout: 60}
	s.FailNext("CreateConsumerGroup", 1, Answer{Reset: true})
	s.FailNext("CreateConsumerGroup", 1, Answer{Status: 403, Code: "ReadQuotaExceed", Message: "Read QPS Exceed"})
	if err := c.CreateConsumerGroup("prj", "audit-c1", cg); err == nil {
		t.Fatal("reset create answered")
	}
	var se *slssdk.Error
	if err := c.CreateConsumerGroup("prj", "audit-c1", cg); !errors.As(err, &se) || se.Code != "ReadQuotaExceed" {
		t.Fatalf("scripted create: %v", err)
	}
	if err := c.CreateConsumerGroup("prj", "audit-c1", cg); err != nil {
		t.Fatalf("create after the script: %v", err)
	}
	if st := s.Stats(); st.Resets != 1 || st.Errors["ReadQuotaExceed"]+st.Errors["ShardReadQuotaExceed"] != 21 {
		t.Fatalf("stats %+v", st)
	}
}
