package e2e

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
	"github.com/auditlane/auditlane/internal/kubetest"
)

// TestKubeAPIServerFluentBit runs the Fluent Bit examples with a real
// Fluent Bit (FLUENT_BIT_BIN; CI has none, so there it skips) and
// auditlane.so against a second real kube-apiserver on the package's etcd
// (its own key prefix): examples/fluentbit/tail-cloudwatch.conf tails its
// audit log (lumberjack rotation, gzip backups) into CloudWatch Logs and
// examples/fluentbit/webhook-both.conf is its audit webhook
// (examples/fluentbit/webhook-kubeconfig.yaml) into CloudWatch Logs and
// SLS. The example files are used as shipped; only host paths, the
// webhook port, the destinations' endpoints and the policy file are
// pointed at the test's. Every event the apiserver wrote must arrive in
// each of the three outputs as the evaluator decides under the example's
// policy, with no Secret value.
func TestKubeAPIServerFluentBit(t *testing.T) {
	fb := os.Getenv("FLUENT_BIT_BIN")
	if fb == "" {
		t.Skip("FLUENT_BIT_BIN is not set: the Fluent Bit half of the apiserver end-to-end test needs a Fluent Bit 5.1.1+ with Go plugin support")
	}
	c := sharedCluster(t)
	dir := t.TempDir()
	so := filepath.Join(dir, "auditlane.so")
	build := exec.Command("go", "build", "-buildmode=c-shared", "-o", so, "./fluentbit")
	build.Dir = root()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build auditlane.so: %v\n%s", err, out)
	}
	cw, err := cwtest.New(cwtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cw.Close()
	const clusterID = "cfb0123456789"
	sls, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects: map[string][]string{"k8s-log-" + clusterID: {"audit-" + clusterID}},
		Keys:     map[string]string{"LTAIe2e": "e2e-sls-secret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sls.Close()

	auditDir := filepath.Join(dir, "audit")
	if err := os.MkdirAll(auditDir, 0o700); err != nil {
		t.Fatal(err)
	}
	auditLog := filepath.Join(auditDir, "audit.log")
	hookPort, err := kubetest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	plugins := filepath.Join(dir, "plugins.conf")
	if err := os.WriteFile(plugins, fmt.Appendf(nil, "[PLUGINS]\n    Path %s\n", so), 0o600); err != nil {
		t.Fatal(err)
	}
	policy := func(name string) string {
		p, _ := filepath.Abs(filepath.Join(root(), "examples", "policies", name))
		return p
	}
	// example reads an example configuration and points it at the test.
	example := func(name, state, policyFile string) string {
		data, err := os.ReadFile(filepath.Join(root(), "examples", "fluentbit", name))
		if err != nil {
			t.Fatal(err)
		}
		conf := string(data)
		for _, r := range [][2]string{
			{"/var/log/kubernetes/kubernetes.audit", auditLog},
			{"/var/fluent-bit/state", state},
			{"/etc/auditlane/policy.yaml", policyFile},
			{"${REGION_ID}-intranet.log.aliyuncs.com", sls.Endpoint()},
		} {
			conf = strings.ReplaceAll(conf, r[0], r[1])
		}
		conf = regexp.MustCompile(`(?m)^(\s*Plugins_File\s+)plugins\.conf$`).ReplaceAllString(conf, "${1}"+plugins)
		conf = regexp.MustCompile(`(?m)^(\s*Port\s+)9880$`).ReplaceAllString(conf, fmt.Sprintf("${1}%d", hookPort))
		for _, gone := range []string{" plugins.conf\n", "/var/", "/etc/", " 9880\n", "${REGION_ID}"} {
			if strings.Contains(conf, gone) {
				t.Fatalf("%s: %q is left after pointing the example at the test: update the test", name, gone)
			}
		}
		// The CloudWatch outputs write to the local server.
		conf = strings.ReplaceAll(conf, "destination        cloudwatch\n", "destination        cloudwatch\n    endpoint           "+cw.URL+"\n")
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	env := append(os.Environ(), "CLUSTER_NAME=fb", "CLUSTER_ID="+clusterID, "AWS_REGION=us-east-1", "REGION_ID=unused",
		"AWS_ACCESS_KEY_ID=AKIDE2E", "AWS_SECRET_ACCESS_KEY=e2e-secret", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"ALIBABA_CLOUD_ACCESS_KEY_ID=LTAIe2e", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=e2e-sls-secret",
		"HTTP_PROXY=http://"+sls.Addr(), "NO_PROXY=")
	runFB := func(conf, name string) func() {
		logPath := filepath.Join(dir, name+".log")
		lf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(fb, "-c", conf)
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = lf, lf
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); lf.Close(); close(done) }()
		stop := func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
		}
		t.Cleanup(func() {
			stop()
			if t.Failed() {
				b, _ := os.ReadFile(logPath)
				t.Logf("%s:\n%s", name, tail(string(b), 4000))
			}
		})
		return stop
	}
	tailState, hookState := filepath.Join(dir, "state-tail"), filepath.Join(dir, "state-webhook")
	for _, d := range []string{tailState, hookState} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	runFB(example("tail-cloudwatch.conf", tailState, policy("eks.yaml")), "fluent-bit-tail")
	runFB(example("webhook-both.conf", hookState, policy("ack-default.yaml")), "fluent-bit-webhook")

	kc, err := os.ReadFile(filepath.Join(root(), "examples", "fluentbit", "webhook-kubeconfig.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	kc = bytes.ReplaceAll(kc, []byte("http://127.0.0.1:9880/"), fmt.Appendf(nil, "http://127.0.0.1:%d/", hookPort))
	hookConfig := filepath.Join(dir, "webhook-kubeconfig.yaml")
	if err := os.WriteFile(hookConfig, kc, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := waitWebhook(fmt.Sprintf("127.0.0.1:%d", hookPort)); err != nil {
		t.Fatal(err)
	}
	apiStart := time.Now()
	api, err := kubetest.StartAPIServer(kubetest.Config{
		Binary: c.bin.APIServer, Dir: filepath.Join(dir, "apiserver"), EtcdURL: c.etcd.URL, EtcdPrefix: "/registry-fluent-bit",
		Tokens: []kubetest.Token{
			{Token: adminToken, User: "admin", UID: "1", Groups: []string{"system:masters"}},
			{Token: userToken, User: "carol", UID: "2", Groups: []string{"developers"}},
		},
		AuditPolicy: []byte(apiserverPolicy),
		AuditArgs: []string{
			"--audit-log-path=" + auditLog, "--audit-log-format=json",
			"--audit-log-maxsize=1", "--audit-log-maxbackup=100", "--audit-log-compress=true",
			"--audit-webhook-config-file=" + hookConfig, "--audit-webhook-mode=batch",
			"--audit-webhook-batch-max-size=400", "--audit-webhook-batch-max-wait=1s", "--audit-webhook-initial-backoff=1s",
			"--audit-webhook-version=audit.k8s.io/v1",
		},
		Args: []string{"--allow-privileged=true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer api.Stop()

	// Fluent Bit's tail follows one path: a file the apiserver rotates away
	// before tail's next Refresh_Interval (5 s in the example) scan is never
	// read (lumberjack's backups have other names, and are gzipped at
	// once). The traffic is paced so that each 1 MB file lives longer than
	// that; unpaced, whole files are lost (see the closing note of issue 14).
	report := filepath.Join(dir, "report.json")
	drv := exec.Command(c.bin.Driver, "traffic", "-server", api.URL, "-ca", api.CAFile, "-token", adminToken,
		"-user-token", userToken, "-namespace", "audit-fluent-bit", "-out", report, "-pace", "60ms")
	if out, err := drv.CombinedOutput(); err != nil {
		t.Fatalf("kubedriver traffic: %v\n%s", err, out)
	}
	var rep driverReport
	if data, err := os.ReadFile(report); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	truth, files := groundTruth(t, auditDir)
	t.Logf("ground truth: %d events in %d files", len(truth), files)

	host, _ := os.Hostname()
	fetchCW := func(group, stream string) func() sinkCopies {
		return func() sinkCopies {
			d := sinkCopies{}
			for _, e := range cw.Events(group, stream) {
				if k, err := keyOf([]byte(e.Message)); err == nil {
					d[k] = append(d[k], []byte(e.Message))
				}
			}
			return d
		}
	}
	fetchSLS := func() sinkCopies { return c.slsFrom(t, sls, "k8s-log-"+clusterID, "audit-"+clusterID) }
	sinks := []struct {
		label string
		ref   reference
		fetch func() sinkCopies
	}{
		{"fluent-bit/tail/cloudwatch", loadReference(t, "eks.yaml"), fetchCW("/aws/k8s/fb/audit", host)},
		{"fluent-bit/webhook/cloudwatch", loadReference(t, "ack-default.yaml"), fetchCW("/aws/k8s/fb/audit", "webhook-"+host)},
		{"fluent-bit/webhook/sls", loadReference(t, "ack-default.yaml"), fetchSLS},
	}
	defer func() {
		if t.Failed() {
			for _, d := range []string{tailState, hookState} {
				dl, _ := filepath.Glob(filepath.Join(d, "*dead-letter*"))
				for _, f := range dl {
					b, _ := os.ReadFile(f)
					t.Logf("dead letter %s (%d lines):\n%s", f, bytes.Count(b, []byte("\n")), tail(string(b), 3000))
				}
			}
		}
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for _, s := range sinks {
		var r sinkCheck
		var got sinkCopies
		lost, files := 0, []string(nil)
		// Done when nothing but unopened files is missing and nothing
		// more arrived for longer than Fluent Bit's flush and refresh.
		last, since := -1, time.Now()
		for {
			got = s.fetch()
			r = checkSink(s.ref, truth, got)
			if s.label == "fluent-bit/tail/cloudwatch" {
				lost, files = unopenedFiles(t, auditDir, apiStart, s.ref, got)
			}
			if r.delivered != last {
				last, since = r.delivered, time.Now()
			}
			if r.missing == 0 || r.missing == lost && time.Since(since) > 2*tailRefresh || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Second)
		}
		t.Logf("%-30s events the reference keeps %5d, delivered %5d, missing %d, duplicates %d, delivered though dropped %d, differing %d (decisions compared %d)",
			s.label, r.want, r.delivered, r.missing, r.dups, r.unexpected, r.mismatched, r.decisions)
		missing := r.missing
		if s.label == "fluent-bit/tail/cloudwatch" {
			if lost > 0 {
				t.Logf("KNOWN LIMITATION: Fluent Bit's tail never opened %v (each rotated away within %s of its creation, before "+
					"tail's Refresh_Interval scan found it): %d events lost before auditlane.so could see them", files, tailRefresh, lost)
			}
			missing -= lost
		}
		if missing > 0 || r.unexpected > 0 || r.mismatched > 0 || r.dups > 0 || r.want == 0 {
			t.Errorf("%s: %s\nmissing by audit file (kept by the policy/missing): %s", s.label, r.firstProblem, missingByFile(t, auditDir, s.ref, got))
		}
		for key, copies := range got {
			for _, cp := range copies {
				for _, v := range rep.SecretValues {
					if bytes.Contains(cp, []byte(v)) || bytes.Contains(cp, []byte(base64.StdEncoding.EncodeToString([]byte(v)))) {
						t.Errorf("%s: a Secret value reached the sink in %s", s.label, key)
					}
				}
			}
		}
	}
}

// missingByFile tells, per audit log file in the order the apiserver wrote
// them, how many events the reference keeps and how many of those a sink
// lacks.
func missingByFile(t *testing.T, dir string, ref reference, got sinkCopies) string {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "audit*"))
	var b strings.Builder
	for _, n := range names {
		one, _, err := readAuditDir2(n)
		if err != nil {
			fmt.Fprintf(&b, "%s: %v; ", filepath.Base(n), err)
			continue
		}
		keep, miss := 0, 0
		var some []string
		for k, ev := range one {
			if ok, _, _, _ := ref.want(ev); ok {
				keep++
				if len(got[k]) == 0 {
					miss++
					if len(some) < 3 {
						some = append(some, fmt.Sprintf("%.250s", ev))
					}
				}
			}
		}
		fmt.Fprintf(&b, "%s %d/%d; ", filepath.Base(n), keep, miss)
		if miss > 0 && miss < keep {
			fmt.Fprintf(&b, "(%s) ", strings.Join(some, " | "))
		}
	}
	return b.String()
}

// tailRefresh is the example's Refresh_Interval plus a second.
const tailRefresh = 6 * time.Second

// unopenedFiles finds the rotated audit files of which a sink holds no
// event although the reference keeps some, and which lived less than
// tailRefresh (from the previous rotation, or the apiserver's start, to
// their own rotation, both in lumberjack's backup names): files Fluent
// Bit's tail never opened. It returns the events they held and their
// names.
func unopenedFiles(t *testing.T, dir string, apiStart time.Time, ref reference, got sinkCopies) (int, []string) {
	t.Helper()
	names, _ := filepath.Glob(filepath.Join(dir, "audit-*.log*"))
	slices.Sort(names)
	lost, prev := 0, apiStart
	var files []string
	for _, n := range names {
		stamp := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(filepath.Base(n), "audit-"), ".gz"), ".log")
		rotated, err := time.Parse("2006-01-02T15-04-05.000", stamp)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		life := rotated.Sub(prev)
		prev = rotated
		one, _, err := readAuditDir2(n)
		if err != nil {
			t.Fatal(err)
		}
		keep, seen := 0, 0
		for k, ev := range one {
			if ok, _, _, _ := ref.want(ev); ok {
				keep++
				if len(got[k]) > 0 {
					seen++
				}
			}
		}
		if keep > 0 && seen == 0 && life < tailRefresh {
			lost += keep
			files = append(files, fmt.Sprintf("%s (%s)", filepath.Base(n), life.Round(10*time.Millisecond)))
		}
	}
	return lost, files
}
