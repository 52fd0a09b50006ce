package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	slssdk "github.com/aliyun/aliyun-log-go-sdk"
	"go.yaml.in/yaml/v3"

	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
	"github.com/auditlane/auditlane/otelcol/internal/audittest"
)

var awsEnv = []string{
	"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=AKIDE2E", "AWS_SECRET_ACCESS_KEY=e2e-secret", "AWS_EC2_METADATA_DISABLED=true",
	"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
}

// TestExamplesValidate checks every collector example with
// "otelcol-auditlane validate" (unknown keys fail it, naming the key) and
// that each k8saudit receiver and processor turns redact_secrets on: no
// Secret value may reach a sink with the example configurations.
func TestExamplesValidate(t *testing.T) {
	env := append([]string{"SLS_PROJECT=audit-prj", "SLS_LOGSTORE=audit-ls", "ACK_CLUSTER_ID=c1234", "CONSUMER_NAME=pod-0",
		"TLS_CERT=/dev/null", "TLS_KEY=/dev/null", "CLIENT_CA=/dev/null"}, awsEnv...)
	files, _ := filepath.Glob(filepath.Join(root(), "examples", "otelcol", "*.yaml"))
	more, _ := filepath.Glob(filepath.Join(root(), "examples", "otelcol", "gateway", "*.yaml"))
	files = append(files, more...)
	if len(files) < 7 {
		t.Fatalf("found %d example configurations", len(files))
	}
	for _, f := range files {
		cmd := exec.Command(collector(t), "validate", "--config", f)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", f, err, out)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc map[string]any
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, kind := range []string{"receivers", "processors"} {
			comps, _ := doc[kind].(map[string]any)
			for id, cv := range comps {
				c, _ := cv.(map[string]any)
				if id != "k8saudit" && !strings.HasPrefix(id, "k8saudit/") {
					continue
				}
				p, _ := c["pipeline"].(map[string]any)
				if p["redact_secrets"] != true {
					t.Errorf("%s: %s %s does not set redact_secrets", filepath.Base(f), kind, id)
				}
			}
		}
	}
}

// TestCloudWatchModeEKSToSLS reads an EKS-style log group (3 audit streams,
// 50,000 events, plus a non-audit stream) with the cloudwatch receiver mode
// and ships the events to SLS: every event arrives exactly once.
func TestCloudWatchModeEKSToSLS(t *testing.T) {
	cw, err := cwtest.New(cwtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cw.Close()
	sls, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects: map[string][]string{"audit-prj": {"audit-ls"}}, Keys: map[string]string{"LTAIe2e": "e2e-sls-secret"},
		StoreKeys: []string{"auditID"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sls.Close()
	const total = 50_000
	base := time.Now().Add(-2 * time.Hour)
	for s := range 3 {
		var evs []cwtest.Event
		for i := s; i < total; i += 3 {
			ts := base.Add(time.Duration(i/5) * time.Millisecond)
			evs = append(evs, cwtest.Event{Timestamp: ts.UnixMilli(), Message: audittest.Event(i, ts)})
		}
		cw.AddEvents("/aws/eks/e2e/cluster", fmt.Sprintf("kube-apiserver-audit-%x", s), evs...)
	}
	cw.AddEvents("/aws/eks/e2e/cluster", "authenticator-0", cwtest.Event{Timestamp: base.UnixMilli(), Message: "not audit"})
	dir := t.TempDir()
	env := append([]string{
		"EKS_CLUSTER=e2e", "CW_ENDPOINT=" + cw.URL, "START_AT=beginning", "POLL_INTERVAL=200ms", "STORAGE_DIR=" + filepath.Join(dir, "storage"),
		"SLS_ENDPOINT=" + sls.Endpoint(), "SLS_PROJECT=audit-prj", "SLS_LOGSTORE=audit-ls",
		"ALIBABA_CLOUD_ACCESS_KEY_ID=LTAIe2e", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=e2e-sls-secret",
		"HTTP_PROXY=http://" + sls.Addr(), "NO_PROXY=",
	}, awsEnv...)
	p := run(t, "eks-cloudwatch-sls.yaml", env, "collector.log")
	counts := map[string]int{}
	for deadline := time.Now().Add(150 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		counts = map[string]int{}
		for _, l := range sls.Logs("audit-prj", "audit-ls") {
			if id, ok := l.Get("auditID"); ok {
				counts[id]++
			}
		}
		if len(counts) >= total {
			break
		}
	}
	time.Sleep(time.Second) // more polls: nothing may come twice
	counts = map[string]int{}
	stored := 0
	for _, l := range sls.Logs("audit-prj", "audit-ls") {
		if id, ok := l.Get("auditID"); ok {
			counts[id]++
			stored++
		}
	}
	for i := range total {
		if c := counts[audittest.ID(i)]; c != 1 {
			t.Fatalf("event %d stored %d times, want once (%d distinct of %d stored)", i, c, len(counts), stored)
		}
	}
	if stored != total {
		t.Fatalf("%d logs stored for %d events", stored, total)
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
}

// TestSLSModeTwoReplicasKill9 has two collectors share an ACK logstore with
// 4 shards through one consumer group, kills one with SIGKILL mid-run,
// checks that the other takes its shards over, then restarts the killed one
// with its volume: every event is delivered; duplicates (pulls the killed
// replica passed on but had not committed) are counted, reported and
// bounded.
func TestSLSModeTwoReplicasKill9(t *testing.T) {
	sls, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects: map[string][]string{"ack-prj": {"audit-c1234"}}, Keys: map[string]string{"LTAIe2e": "e2e-sls-secret"}, Shards: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sls.Close()
	cw, err := cwtest.New(cwtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cw.Close()
	dir := t.TempDir()
	env := func(name string) []string {
		return append([]string{
			"SLS_ENDPOINT=" + sls.Endpoint(), "SLS_PROJECT=ack-prj", "ACK_CLUSTER_ID=c1234", "CONSUMER_NAME=" + name,
			"START_AT=beginning", "HEARTBEAT_INTERVAL=1s", "STORAGE_DIR=" + filepath.Join(dir, name),
			"ALIBABA_CLOUD_ACCESS_KEY_ID=LTAIe2e", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=e2e-sls-secret",
			"HTTP_PROXY=http://" + sls.Addr(), "NO_PROXY=", "CW_ENDPOINT=" + cw.URL,
		}, awsEnv...)
	}
	a := run(t, "ack-sls-cloudwatch.yaml", append(env("replica-a"), "METRICS_PORT="+port(t)), "replica-a.log")
	b := run(t, "ack-sls-cloudwatch.yaml", append(env("replica-b"), "METRICS_PORT="+port(t)), "replica-b.log")
	const group = "/k8s/ack/c1234/audit"
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		as := sls.Assignment("ack-prj", "audit-c1234", "auditlane")
		if len(as["replica-a"]) == 2 && len(as["replica-b"]) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("shards not shared: %v", as)
		}
	}
	const rounds, per = 60, 50 // 60 rounds × 4 shards × 50 events
	n := 0
	for round := range rounds {
		now := time.Now()
		for shard := range 4 {
			if err := sls.AddLogGroup("ack-prj", "audit-c1234", shard, now, ackGroup(n, per, now)); err != nil {
				t.Fatal(err)
			}
			n += per
		}
		if round == rounds/2 {
			_ = a.cmd.Process.Kill() // kill -9
			_ = a.cmd.Wait()
			// The survivor takes the dead replica's shards over once its
			// heartbeats stop.
			for deadline := time.Now().Add(60 * time.Second); len(sls.Assignment("ack-prj", "audit-c1234", "auditlane")["replica-b"]) != 4; time.Sleep(100 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("no takeover: %v", sls.Assignment("ack-prj", "audit-c1234", "auditlane"))
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The killed replica comes back with its volume, as a StatefulSet pod
	// would: what its persistent sending queue had accepted (and its
	// receiver had therefore committed in SLS) is sent now. Without the
	// restart those events would wait on its disk; without the persistent
	// queue the kill would lose them.
	a = run(t, "ack-sls-cloudwatch.yaml", append(env("replica-a"), "METRICS_PORT="+port(t)), "replica-a-restarted.log")
	counts := map[string]int{}
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		counts = map[string]int{}
		for _, s := range []string{"replica-a", "replica-b"} {
			for _, ev := range cw.Events(group, s) {
				if m := auditID.FindStringSubmatch(ev.Message); m != nil {
					counts[m[1]]++
				}
			}
		}
		if len(counts) >= n {
			break
		}
	}
	missing, dups := 0, 0
	for i := range n {
		switch c := counts[audittest.ID(i)]; {
		case c == 0:
			missing++
		case c > 1:
			dups += c - 1
		}
	}
	t.Logf("sls mode: %d events, %d distinct delivered, %d duplicates after kill -9 and restart of one of two replicas", n, len(counts), dups)
	if missing > 0 {
		t.Fatalf("%d events missing", missing)
	}
	// A replica commits each shard's pull right after the exporter's queue
	// accepted it, so duplicates are at most the killed replica's last
	// uncommitted pull on each of its 2 shards. A pull holds every log
	// group added since the previous one, several rounds when the replica
	// lags on a loaded machine (seen: 0–900); the bound allows 20 rounds
	// per shard, well below the 3,000 events it had read before the kill.
	if bound := 2 * 20 * per; dups > bound {
		t.Fatalf("%d duplicates, more than %d (the killed replica's uncommitted pulls)", dups, bound)
	}
	// After the restart the group rebalances: every shard owned again.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		as := sls.Assignment("ack-prj", "audit-c1234", "auditlane")
		if len(as["replica-a"])+len(as["replica-b"]) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("shards after the restart: %v", as)
		}
	}
	for _, p := range []*proc{a, b} {
		_ = p.cmd.Process.Signal(os.Interrupt)
		_ = p.cmd.Wait()
	}
}

// ackGroup builds events first..first+n-1 as one LogGroup in ACK's layout:
// top-level fields as keys, nested values as JSON strings.
func ackGroup(first, n int, at time.Time) *slssdk.LogGroup {
	lg := &slssdk.LogGroup{}
	for i := first; i < first+n; i++ {
		tm := uint32(at.Unix())
		l := &slssdk.Log{Time: &tm}
		add := func(k, v string) { l.Contents = append(l.Contents, &slssdk.LogContent{Key: &k, Value: &v}) }
		ts := at.UTC().Format("2006-01-02T15:04:05.000000Z")
		add("kind", "Event")
		add("apiVersion", "audit.k8s.io/v1")
		add("level", "Metadata")
		add("auditID", audittest.ID(i))
		add("stage", "ResponseComplete")
		add("requestURI", "/api/v1/namespaces/default/pods")
		add("verb", "list")
		add("user", `{"username":"alice@example.com","groups":["system:authenticated"]}`)
		add("sourceIPs", `["10.0.0.1"]`)
		add("objectRef", `{"resource":"pods","namespace":"default","apiVersion":"v1"}`)
		add("responseStatus", `{"metadata":{},"code":200}`)
		add("requestReceivedTimestamp", ts)
		add("stageTimestamp", ts)
		lg.Logs = append(lg.Logs, l)
	}
	return lg
}

func port(t *testing.T) string {
	_, p, _ := strings.Cut(freeAddr(t), ":")
	return p
}

// TestCloudWatchModeLateVisibility30k is the acceptance run through
// the collector: 30,000 events from 3 apiservers, written in batches that
// reach CloudWatch out of order, each visible 0–3 s after it was stored
// (real time), read by the cloudwatch receiver mode and shipped to SLS;
// the collector is stopped and started again on its storage in the
// middle. Every event arrives; duplicates are counted and reported.
func TestCloudWatchModeLateVisibility30k(t *testing.T) {
	const total = 30_000
	cw, err := cwtest.New(cwtest.Options{Visibility: cwtest.Visibility{MaxDelay: 3 * time.Second, Seed: 30}})
	if err != nil {
		t.Fatal(err)
	}
	defer cw.Close()
	sls, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects: map[string][]string{"audit-prj": {"audit-ls"}}, Keys: map[string]string{"LTAIe2e": "e2e-sls-secret"},
		StoreKeys: []string{"auditID"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sls.Close()
	const group = "/aws/eks/late/cluster"
	cw.CreateGroup(group, 0)
	prod := cwtest.NewProducer(cw, nil, cwtest.ProducerConfig{Group: group, Events: total, Rate: 3000, Seed: 30, Message: audittest.Event})
	dir := t.TempDir()
	env := append([]string{
		"EKS_CLUSTER=late", "CW_ENDPOINT=" + cw.URL, "START_AT=beginning", "POLL_INTERVAL=300ms", "LOOK_BACK=10s",
		"STORAGE_DIR=" + filepath.Join(dir, "storage"),
		"SLS_ENDPOINT=" + sls.Endpoint(), "SLS_PROJECT=audit-prj", "SLS_LOGSTORE=audit-ls",
		"ALIBABA_CLOUD_ACCESS_KEY_ID=LTAIe2e", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=e2e-sls-secret",
		"HTTP_PROXY=http://" + sls.Addr(), "NO_PROXY=",
	}, awsEnv...)
	p := run(t, "eks-cloudwatch-sls.yaml", env, "collector.log")
	restarted := false
	for tick := time.NewTicker(100 * time.Millisecond); !prod.Done(); <-tick.C {
		prod.Advance(100 * time.Millisecond)
		if !restarted && prod.Produced() >= total/2 {
			restarted = true
			_ = p.cmd.Process.Signal(os.Interrupt)
			_ = p.cmd.Wait()
			p = run(t, "eks-cloudwatch-sls.yaml", env, "collector-restarted.log")
		}
	}
	counts := map[string]int{}
	count := func() {
		counts = map[string]int{}
		for _, l := range sls.Logs("audit-prj", "audit-ls") {
			if id, ok := l.Get("auditID"); ok {
				counts[id]++
			}
		}
	}
	for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		if count(); len(counts) >= total {
			break
		}
	}
	time.Sleep(2 * time.Second) // more polls: nothing may come twice now
	count()
	lost, dups := 0, 0
	for i := range total {
		switch c := counts[audittest.ID(i)]; {
		case c == 0:
			lost++
		case c > 1:
			dups += c - 1
		}
	}
	t.Logf("cloudwatch mode, late visibility: %d events, %d delivered, %d lost, %d duplicates, %d events hidden from reads while not yet visible",
		total, len(counts), lost, dups, cw.Stats().Hidden)
	if lost > 0 {
		t.Fatalf("%d events lost", lost)
	}
	// A stop commits what was passed on, so duplicates are at most the
	// pages in flight at the stop.
	if dups > 1000 {
		t.Fatalf("%d duplicates", dups)
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
}
