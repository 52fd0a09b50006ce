package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	refaudit "k8s.io/apiserver/pkg/audit"
	refpolicy "k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"

	"github.com/auditlane/auditlane/common/sink"
	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
	"github.com/auditlane/auditlane/common/source/slssrc"
	"github.com/auditlane/auditlane/internal/kubetest"
)

// The cluster of the package: etcd and a real kube-apiserver (built from
// internal/kubeapiserver) whose audit log is tailed by otelcol-auditlane
// (examples/otelcol/file-cloudwatch.yaml, once without a policy and once
// per example policy) into the local CloudWatch Logs server, and whose
// audit webhook posts over mTLS to otelcol-auditlane
// (examples/otelcol/webhook-sls.yaml) in front of the local SLS server.
// It starts on first use and stops in TestMain.

func TestMain(m *testing.M) {
	code := m.Run()
	theCluster.stop()
	os.Exit(code)
}

var theCluster clusterOnce

type clusterOnce struct {
	once sync.Once
	c    *cluster
	err  error
}

// apiserverPolicy makes the apiserver write every stage of every request
// at RequestResponse: the ground truth against which auditlane's policy
// decisions are compared.
const apiserverPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
rules:
  - level: RequestResponse
`

// Identities in the token file.
const (
	adminToken = "e2e-admin-token"
	userToken  = "e2e-carol-token"
)

// fileCollectors are the file-mode collectors: CLUSTER_NAME → policy
// (relative to examples/policies; "" is no policy). Each writes log group
// /k8s/<name>/audit, stream <name>-apiserver.
var fileCollectors = []struct{ name, policy string }{
	{"all", ""},
	{"ack", "ack-default.yaml"},
	{"eks", "eks.yaml"},
	{"cost", "cost-saving.yaml"},
}

type cluster struct {
	dir       string
	bin       kubetest.Binaries
	etcd      *kubetest.Etcd
	api       *kubetest.APIServer
	cw        *cwtest.Server
	sls       *slstest.Server
	auditDir  string
	otel      string
	procs     map[string]*collectorProc
	procNames []string
	startedIn time.Duration
}

// sharedCluster returns the package's cluster, starting it on first use.
func sharedCluster(t *testing.T) *cluster {
	t.Helper()
	theCluster.once.Do(func() {
		start := time.Now()
		theCluster.c, theCluster.err = startCluster(t)
		if theCluster.c != nil {
			theCluster.c.startedIn = time.Since(start)
		}
	})
	if theCluster.err != nil {
		t.Fatal(theCluster.err)
	}
	return theCluster.c
}

func (o *clusterOnce) stop() {
	if o.c != nil {
		o.c.stop()
	}
}

func (c *cluster) stop() {
	if c.api != nil {
		c.api.Stop()
	}
	for _, p := range c.procs {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range c.procs {
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	}
	c.etcd.Stop()
	if c.cw != nil {
		c.cw.Close()
	}
	if c.sls != nil {
		_ = c.sls.Close()
	}
	_ = os.RemoveAll(c.dir)
}

// logs returns the end of every collector's output and the apiserver's.
func (c *cluster) logs() string {
	var b strings.Builder
	for _, name := range c.procNames {
		data, _ := os.ReadFile(c.procs[name].log)
		fmt.Fprintf(&b, "--- collector %s:\n%s\n", name, tail(string(data), 3000))
	}
	if c.api != nil {
		fmt.Fprintf(&b, "--- kube-apiserver:\n%s\n", c.api.Log(3000))
	}
	return b.String()
}

var buildKube kubetest.Once

// collectorProc is one running otelcol-auditlane on an example
// configuration.
type collectorProc struct {
	config string
	env    []string
	log    string
	cmd    *exec.Cmd
	done   chan struct{}
}

// startCollector starts otelcol-auditlane on examples/otelcol/<config>
// with env, as name (its output goes to collector-<name>.log, appended
// across restarts).
func (c *cluster) startCollector(config, name string, env []string) error {
	logPath := filepath.Join(c.dir, "collector-"+name+".log")
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	cfg, _ := filepath.Abs(filepath.Join(root(), "examples", "otelcol", config))
	cmd := exec.Command(c.otel, "--config", cfg, "--set=service::telemetry::metrics::level=none")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return err
	}
	p := &collectorProc{config: config, env: env, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); lf.Close(); close(p.done) }()
	if _, ok := c.procs[name]; !ok {
		c.procNames = append(c.procNames, name)
	}
	c.procs[name] = p
	return nil
}

// kill9 kills a collector with SIGKILL and starts it again on the same
// configuration, environment and storage directory.
func (c *cluster) kill9(name string) error {
	p := c.procs[name]
	_ = p.cmd.Process.Kill()
	<-p.done
	return c.startCollector(p.config, name, p.env)
}

func startCluster(t *testing.T) (_ *cluster, err error) {
	dir, err := os.MkdirTemp("", "auditlane-kube-e2e-")
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: dir, auditDir: filepath.Join(dir, "audit"), procs: map[string]*collectorProc{}}
	defer func() {
		if err != nil {
			t.Logf("cluster start failed; logs:\n%s", c.logs())
			c.stop()
		}
	}()
	if err := os.MkdirAll(c.auditDir, 0o700); err != nil {
		return nil, err
	}
	start := time.Now()
	if c.bin, err = buildKube.Get(filepath.Join(dir, "bin")); err != nil {
		return nil, err
	}
	t.Logf("built kube-apiserver and kubedriver in %s", time.Since(start).Round(time.Second))
	otel := collector(t)

	if c.cw, err = cwtest.New(cwtest.Options{}); err != nil {
		return nil, err
	}
	if c.sls, err = slstest.Start("127.0.0.1:0", slstest.Options{
		Projects: map[string][]string{"audit-prj": {"audit-ls"}},
		Keys:     map[string]string{"LTAIe2e": "e2e-sls-secret"},
	}); err != nil {
		return nil, err
	}

	// Collectors first: the apiserver's webhook backend gives up on a
	// batch after its retries, and the file receivers start at the
	// beginning of a log that does not exist yet.
	auditLog := filepath.Join(c.auditDir, "audit.log")
	c.otel = otel
	startCollector := c.startCollector
	for _, fc := range fileCollectors {
		policy := ""
		if fc.policy != "" {
			policy, _ = filepath.Abs(filepath.Join(root(), "examples", "policies", fc.policy))
		}
		env := append([]string{
			"AUDIT_LOG=" + auditLog, "STORAGE_DIR=" + filepath.Join(dir, "storage-"+fc.name), "START_AT=beginning",
			"CLUSTER_NAME=" + fc.name, "AUDIT_POLICY=" + policy, "CW_ENDPOINT=" + c.cw.URL,
		}, awsEnv...)
		if err := startCollector("file-cloudwatch.yaml", "file-"+fc.name, env); err != nil {
			return nil, err
		}
	}
	pki := filepath.Join(dir, "pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return nil, err
	}
	_, client := writePKI(t, pki)
	keyDER, err := x509.MarshalECPrivateKey(client.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(pki, "client.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: client.Certificate[0]}), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(pki, "client.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, err
	}
	hookAddr := freeAddr(t)
	if err := startCollector("webhook-sls.yaml", "webhook", []string{
		"WEBHOOK_ENDPOINT=" + hookAddr, "TLS_CERT=" + filepath.Join(pki, "tls.crt"), "TLS_KEY=" + filepath.Join(pki, "tls.key"),
		"CLIENT_CA=" + filepath.Join(pki, "ca.crt"), "STORAGE_DIR=" + filepath.Join(dir, "storage-webhook"),
		"CLUSTER_NAME=webhook", "SLS_ENDPOINT=" + c.sls.Endpoint(), "SLS_PROJECT=audit-prj", "SLS_LOGSTORE=audit-ls",
		"ALIBABA_CLOUD_ACCESS_KEY_ID=LTAIe2e", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=e2e-sls-secret",
		"HTTP_PROXY=http://" + c.sls.Addr(), "NO_PROXY=",
	}); err != nil {
		return nil, err
	}
	hookKubeconfig := filepath.Join(dir, "audit-webhook.kubeconfig")
	if err := os.WriteFile(hookKubeconfig, fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
  - name: auditlane
    cluster:
      server: https://%s/
      certificate-authority: %s
users:
  - name: kube-apiserver
    user:
      client-certificate: %s
      client-key: %s
contexts:
  - name: default
    context: {cluster: auditlane, user: kube-apiserver}
current-context: default
`, hookAddr, filepath.Join(pki, "ca.crt"), filepath.Join(pki, "client.crt"), filepath.Join(pki, "client.key")), 0o600); err != nil {
		return nil, err
	}
	if err := waitWebhook(hookAddr); err != nil {
		return nil, fmt.Errorf("webhook collector: %w\n%s", err, c.logs())
	}

	if c.etcd, err = kubetest.StartEtcd(filepath.Join(dir, "etcd")); err != nil {
		return nil, err
	}
	start = time.Now()
	c.api, err = kubetest.StartAPIServer(kubetest.Config{
		Binary: c.bin.APIServer, Dir: filepath.Join(dir, "apiserver"), EtcdURL: c.etcd.URL,
		Tokens: []kubetest.Token{
			{Token: adminToken, User: "admin", UID: "1", Groups: []string{"system:masters"}},
			{Token: userToken, User: "carol", UID: "2", Groups: []string{"developers"}},
		},
		AuditPolicy: []byte(apiserverPolicy),
		AuditArgs: []string{
			"--audit-log-path=" + auditLog, "--audit-log-format=json",
			"--audit-log-maxsize=1", "--audit-log-maxbackup=100", "--audit-log-compress=true",
			"--audit-webhook-config-file=" + hookKubeconfig, "--audit-webhook-mode=batch",
			"--audit-webhook-batch-max-wait=1s", "--audit-webhook-initial-backoff=1s",
			"--audit-webhook-version=audit.k8s.io/v1",
		},
		// Privileged pods are part of the traffic (risk tag privileged-pod).
		Args: []string{"--allow-privileged=true"},
	})
	if err != nil {
		return nil, err
	}
	t.Logf("kube-apiserver ready in %s at %s", time.Since(start).Round(100*time.Millisecond), c.api.URL)
	return c, nil
}

// waitWebhook waits until something answers HTTP on addr: the receiver
// listens (a TLS server answers plain HTTP with 400; the mTLS handshake
// itself is what the apiserver does next).
func waitWebhook(addr string) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := (&http.Client{Timeout: time.Second}).Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not listening after 60s: %v", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// driverReport is what kubedriver traffic writes.
type driverReport struct {
	Namespace    string         `json:"namespace"`
	SecretValues []string       `json:"secretValues"`
	Requests     map[string]int `json:"requests"`
	Expected     map[string]int `json:"expected"`
}

func (c *cluster) driver(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(c.bin.Driver, append(args[:1:1], append([]string{"-server", c.api.URL, "-ca", c.api.CAFile, "-token", adminToken}, args[1:]...)...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kubedriver %s: %v\n%s\n%s", args[0], err, out, stderr.String())
	}
	return out
}

// groundTruth reads every event the apiserver wrote: the current log and
// its rotated backups (lumberjack names, gzip-compressed or not), keyed by
// auditID/stage.
func groundTruth(t *testing.T, dir string) (events map[string][]byte, files int) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		events, files, err := readAuditDir(dir)
		if err == nil {
			return events, files
		}
		if attempt == 50 {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Millisecond) // a backup being compressed
	}
}

func readAuditDir(dir string) (map[string][]byte, int, error) {
	names, err := filepath.Glob(filepath.Join(dir, "audit*.log*"))
	if err != nil {
		return nil, 0, err
	}
	return readAuditFiles(dir, names)
}

// readAuditDir2 reads one audit log file.
func readAuditDir2(name string) (map[string][]byte, int, error) {
	return readAuditFiles(filepath.Dir(name), []string{name})
}

func readAuditFiles(dir string, names []string) (map[string][]byte, int, error) {
	events := map[string][]byte{}
	files := 0
	for _, name := range names {
		if strings.HasSuffix(name, ".gz") && slices.Contains(names, strings.TrimSuffix(name, ".gz")) {
			continue // being compressed: the plain file is complete
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, 0, err
		}
		var r io.Reader = f
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(f)
			if err != nil {
				f.Close()
				return nil, 0, fmt.Errorf("%s: %w", name, err)
			}
			r = zr
		}
		data, err := io.ReadAll(r)
		f.Close()
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", name, err)
		}
		files++
		for _, line := range bytes.Split(data, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			if line[len(line)-1] != '}' && name == filepath.Join(dir, "audit.log") {
				continue // the current file's last line, still being written
			}
			var k struct{ AuditID, Stage string }
			if err := json.Unmarshal(line, &k); err != nil || k.AuditID == "" {
				return nil, 0, fmt.Errorf("%s: not an audit event: %.200s", name, line)
			}
			key := k.AuditID + "/" + k.Stage
			if _, dup := events[key]; dup {
				return nil, 0, fmt.Errorf("%s: %s written twice by the apiserver", name, key)
			}
			events[key] = line
		}
	}
	return events, files, nil
}

// sinkCopies maps auditID/stage to every copy a sink holds.
type sinkCopies map[string][][]byte

func keyOf(ev []byte) (string, error) {
	var k struct{ AuditID, Stage string }
	if err := json.Unmarshal(ev, &k); err != nil {
		return "", err
	}
	return k.AuditID + "/" + k.Stage, nil
}

func (c *cluster) cloudWatch(t *testing.T, name string) sinkCopies {
	t.Helper()
	d := sinkCopies{}
	for _, e := range c.cw.Events("/k8s/"+name+"/audit", name+"-apiserver") {
		k, err := keyOf([]byte(e.Message))
		if err != nil {
			t.Fatalf("CloudWatch %s: not an event: %v: %.200s", name, err, e.Message)
		}
		d[k] = append(d[k], []byte(e.Message))
	}
	return d
}

func (c *cluster) slsEvents(t *testing.T) sinkCopies {
	t.Helper()
	return c.slsFrom(t, c.sls, "audit-prj", "audit-ls")
}

// slsFrom rebuilds the events an SLS logstore holds (either layout).
func (c *cluster) slsFrom(t *testing.T, srv *slstest.Server, project, logstore string) sinkCopies {
	t.Helper()
	d := sinkCopies{}
	for _, l := range srv.Logs(project, logstore) {
		fields := make([]sink.Field, len(l.Contents))
		for i, f := range l.Contents {
			fields[i] = sink.Field{Key: f.Key, Value: f.Value}
		}
		ev, err := slssrc.Rebuild(nil, fields)
		if err != nil {
			t.Fatalf("SLS log is no event: %v", err)
		}
		k, err := keyOf(ev)
		if err != nil {
			t.Fatalf("SLS: %v: %.200s", err, ev)
		}
		d[k] = append(d[k], ev)
	}
	return d
}

// reference is k8s.io/apiserver's view of one example policy.
type reference struct {
	name string
	eval refaudit.PolicyRuleEvaluator
}

var legacyAPIVersion = regexp.MustCompile(`(?m)^apiVersion:\s*audit\.k8s\.io/v1(alpha|beta)1\b`)

func loadReference(t *testing.T, file string) reference {
	t.Helper()
	ref := reference{name: file}
	if file == "" {
		return ref
	}
	doc, err := os.ReadFile(filepath.Join(root(), "examples", "policies", file))
	if err != nil {
		t.Fatal(err)
	}
	// The apiserver reads only audit.k8s.io/v1 policies now; the rule
	// schema of v1beta1 is the same, so the reference reads the example's
	// legacy document as v1 (auditlane itself reads it as written).
	pol, err := refpolicy.LoadPolicyFromBytes(legacyAPIVersion.ReplaceAll(doc, []byte("apiVersion: audit.k8s.io/v1")))
	if err != nil {
		t.Fatalf("%s: reference loader: %v", file, err)
	}
	ref.eval = refpolicy.NewPolicyRuleEvaluator(pol)
	return ref
}

// gtEvent is the part of a ground-truth event the reference needs.
type gtEvent struct {
	AuditID    string `json:"auditID"`
	Stage      string `json:"stage"`
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string   `json:"username"`
		Groups   []string `json:"groups"`
	} `json:"user"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		APIGroup    string `json:"apiGroup"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
}

func (e *gtEvent) attributes() authorizer.AttributesRecord {
	path, _, _ := strings.Cut(e.RequestURI, "?")
	a := authorizer.AttributesRecord{
		User: &user.DefaultInfo{Name: e.User.Username, Groups: e.User.Groups},
		Verb: e.Verb, Path: path, ResourceRequest: e.ObjectRef != nil,
	}
	if o := e.ObjectRef; o != nil {
		a.Namespace, a.Name, a.Resource, a.Subresource, a.APIGroup = o.Namespace, o.Name, o.Resource, o.Subresource, o.APIGroup
	}
	return a
}

// want is what a sink must hold for one ground-truth event under a
// reference: nothing (dropped) or the event at a level.
func (r reference) want(gt []byte) (keep bool, level auditinternal.Level, omitManaged bool, err error) {
	if r.eval == nil {
		return true, auditinternal.LevelRequestResponse, false, nil
	}
	var e gtEvent
	if err := json.Unmarshal(gt, &e); err != nil {
		return false, "", false, err
	}
	rc := r.eval.EvaluatePolicyRule(e.attributes())
	if rc.Level == auditinternal.LevelNone || slices.Contains(rc.OmitStages, auditinternal.Stage(e.Stage)) {
		return false, rc.Level, false, nil
	}
	return true, rc.Level, rc.OmitManagedFields, nil
}

// sensitive reports whether redaction may change the event's bodies.
func sensitive(gt map[string]any) bool {
	ref, _ := gt["objectRef"].(map[string]any)
	res, _ := ref["resource"].(string)
	sub, _ := ref["subresource"].(string)
	group, _ := ref["apiGroup"].(string)
	return (group == "" && res == "secrets") || (res == "serviceaccounts" && sub == "token") || res == "tokenreviews"
}

// stripManaged removes metadata.managedFields from an object and from the
// items of a list, as the apiserver does for omitManagedFields.
func stripManaged(v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "managedFields")
	}
	if items, ok := m["items"].([]any); ok {
		for _, it := range items {
			stripManaged(it)
		}
	}
}

func hasManaged(v any) bool {
	m, ok := v.(map[string]any)
	if !ok {
		return false
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		if _, ok := md["managedFields"]; ok {
			return true
		}
	}
	if items, ok := m["items"].([]any); ok {
		for _, it := range items {
			if hasManaged(it) {
				return true
			}
		}
	}
	return false
}

// compare checks one delivered copy against the ground truth under a
// decision; it returns a description of the first difference.
func compare(gtRaw, gotRaw []byte, level auditinternal.Level, omitManaged bool) string {
	var gt, got map[string]any
	if err := json.Unmarshal(gtRaw, &gt); err != nil {
		return "ground truth: " + err.Error()
	}
	if err := json.Unmarshal(gotRaw, &got); err != nil {
		return "delivered: " + err.Error()
	}
	if got["level"] != string(level) {
		return fmt.Sprintf("level %v, reference %s", got["level"], level)
	}
	for _, f := range []string{"stage", "verb", "requestURI", "stageTimestamp", "requestReceivedTimestamp"} {
		if fmt.Sprint(got[f]) != fmt.Sprint(gt[f]) {
			return fmt.Sprintf("%s %v, apiserver wrote %v", f, got[f], gt[f])
		}
	}
	for _, body := range []struct {
		key string
		min auditinternal.Level
	}{{"requestObject", auditinternal.LevelRequest}, {"responseObject", auditinternal.LevelRequestResponse}} {
		gv, inGT := gt[body.key]
		v, in := got[body.key]
		wantIn := inGT && !level.Less(body.min)
		if in != wantIn {
			return fmt.Sprintf("%s present %v, want %v (level %s)", body.key, in, wantIn, level)
		}
		if !in {
			continue
		}
		if omitManaged {
			if hasManaged(v) {
				return body.key + " keeps managedFields under omitManagedFields"
			}
			stripManaged(gv)
		}
		if sensitive(gt) {
			continue // redaction rewrites values; checked by the leak check
		}
		if !jsonEqual(gv, v) {
			a, _ := json.Marshal(gv)
			b, _ := json.Marshal(v)
			return fmt.Sprintf("%s differs:\n apiserver %.400s\n delivered %.400s", body.key, a, b)
		}
	}
	return ""
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// sinkCheck is the outcome for one sink.
type sinkCheck struct {
	name                              string
	want, delivered, dups, missing    int
	unexpected, mismatched, decisions int
	firstProblem                      string
}

func checkSink(ref reference, truth map[string][]byte, got sinkCopies) sinkCheck {
	s := sinkCheck{}
	for key, gt := range truth {
		keep, level, omit, err := ref.want(gt)
		if err != nil {
			s.mismatched++
			s.firstProblem = err.Error()
			continue
		}
		s.decisions++
		copies := got[key]
		if !keep {
			if len(copies) > 0 {
				s.unexpected++
				if s.firstProblem == "" {
					s.firstProblem = fmt.Sprintf("%s delivered, reference drops it (level %s): %.300s", key, level, gt)
				}
			}
			continue
		}
		s.want++
		if len(copies) == 0 {
			s.missing++
			if s.firstProblem == "" {
				s.firstProblem = fmt.Sprintf("%s missing: %.300s", key, gt)
			}
			continue
		}
		s.delivered++
		s.dups += len(copies) - 1
		for _, cp := range copies {
			if diff := compare(gt, cp, level, omit); diff != "" {
				s.mismatched++
				if s.firstProblem == "" {
					s.firstProblem = fmt.Sprintf("%s: %s", key, diff)
				}
				break
			}
		}
	}
	return s
}

// TestKubeAPIServerAuditEndToEnd drives real traffic into a real
// kube-apiserver and checks what reached the sinks against what the
// apiserver wrote to its audit log:
//
//   - every event arrives at CloudWatch Logs through the file receiver
//     (across lumberjack rotation with gzip backups) and at SLS through the
//     webhook receiver (mTLS): none missing, duplicates counted;
//   - under each example policy the delivered level, stages, bodies and
//     managedFields are what k8s.io/apiserver's evaluator decides for the
//     same event, and nothing the evaluator drops arrives;
//   - the risk tags the traffic provokes are on the events;
//   - no Secret value or token appears in any sink.
func TestKubeAPIServerAuditEndToEnd(t *testing.T) {
	c := sharedCluster(t)
	t.Logf("cluster started in %s", c.startedIn.Round(time.Second))
	start := time.Now()
	reportPath := filepath.Join(t.TempDir(), "report.json")
	c.driver(t, "traffic", "-user-token", userToken, "-namespace", "audit-e2e", "-out", reportPath)
	var rep driverReport
	data, err := os.ReadFile(reportPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("traffic: %d requests in %s; outcomes %v", sumMap(rep.Requests), time.Since(start).Round(100*time.Millisecond), rep.Expected)
	for what, code := range map[string]int{"forbidden list secrets": 403, "anonymous list secrets": 403, "unauthenticated list pods": 401,
		"anonymous version": 200, "impersonated list pods": 200, "forbidden impersonation": 403} {
		if rep.Expected[what] != code {
			t.Errorf("%s answered %d, want %d", what, rep.Expected[what], code)
		}
	}
	if rep.Expected["exec"] == 200 || rep.Expected["attach"] == 200 {
		t.Errorf("exec/attach succeeded without a kubelet: %v", rep.Expected)
	}

	// The same traffic again in another namespace, and meanwhile kill -9
	// the unfiltered file collector and the webhook collector and start
	// them again on their storage: the file receiver resumes at its
	// checkpoint, the apiserver retries the batches the webhook had not
	// answered. Nothing may be lost; duplicates are bounded by one file
	// batch (max_batch 1000) and the apiserver batches in flight (400
	// events each).
	report2 := filepath.Join(t.TempDir(), "report2.json")
	drv := exec.Command(c.bin.Driver, "traffic", "-server", c.api.URL, "-ca", c.api.CAFile, "-token", adminToken,
		"-user-token", userToken, "-namespace", "audit-e2e-2", "-out", report2)
	var drvErr bytes.Buffer
	drv.Stderr = &drvErr
	if err := drv.Start(); err != nil {
		t.Fatal(err)
	}
	drvDone := make(chan error, 1)
	go func() { drvDone <- drv.Wait() }()
	time.Sleep(800 * time.Millisecond)
	killedMidTraffic := true
	select {
	case <-drvDone:
		killedMidTraffic = false
		drvDone <- nil
	default:
	}
	for _, name := range []string{"file-all", "webhook"} {
		if err := c.kill9(name); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-drvDone; err != nil {
		t.Fatalf("kubedriver traffic (second run): %v\n%s", err, drvErr.String())
	}
	if !killedMidTraffic {
		t.Log("the second traffic run ended before the kill: the kill tested restart only")
	}
	var rep2 driverReport
	if data, err := os.ReadFile(report2); err != nil {
		t.Fatal(err)
	} else if err := json.Unmarshal(data, &rep2); err != nil {
		t.Fatal(err)
	}
	rep.SecretValues = append(rep.SecretValues, rep2.SecretValues...)
	t.Logf("second traffic run: %d requests; kill -9 and restart of collectors file-all and webhook %s", sumMap(rep2.Requests),
		map[bool]string{true: "while it ran", false: "after it ended"}[killedMidTraffic])

	// The ground truth: what the apiserver wrote until now, once the log
	// has rotated at least twice (the traffic is sized for that).
	time.Sleep(2 * time.Second) // the webhook's batch wait and the last rotation's compression
	truth, files := groundTruth(t, c.auditDir)
	gz, _ := filepath.Glob(filepath.Join(c.auditDir, "*.gz"))
	t.Logf("ground truth: %d events in %d files (%d gzip backups)", len(truth), files, len(gz))
	if files < 3 || len(gz) < 1 {
		t.Errorf("the audit log rotated into %d files (%d compressed); the test needs rotation with gzip backups", files, len(gz))
	}

	refs := map[string]reference{}
	for _, fc := range fileCollectors {
		refs[fc.name] = loadReference(t, fc.policy)
	}
	type sinkSpec struct {
		label string
		ref   reference
		fetch func() sinkCopies
	}
	var sinks []sinkSpec
	for _, fc := range fileCollectors {
		sinks = append(sinks, sinkSpec{"cloudwatch/file/" + fc.name, refs[fc.name], func() sinkCopies { return c.cloudWatch(t, fc.name) }})
	}
	sinks = append(sinks, sinkSpec{"sls/webhook", reference{}, func() sinkCopies { return c.slsEvents(t) }})

	results := make([]sinkCheck, len(sinks))
	got := make([]sinkCopies, len(sinks))
	deadline := time.Now().Add(3 * time.Minute)
	for i, s := range sinks {
		for {
			got[i] = s.fetch()
			results[i] = checkSink(s.ref, truth, got[i])
			results[i].name = s.label
			if results[i].missing == 0 || time.Now().After(deadline) {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	time.Sleep(2 * time.Second) // more polls and flushes: nothing may arrive twice
	for i, s := range sinks {
		got[i] = s.fetch()
		results[i] = checkSink(s.ref, truth, got[i])
		results[i].name = s.label
	}
	for _, r := range results {
		t.Logf("%-22s events the reference keeps %5d, delivered %5d, missing %d, duplicates %d, delivered though dropped %d, differing %d (decisions compared %d)",
			r.name, r.want, r.delivered, r.missing, r.dups, r.unexpected, r.mismatched, r.decisions)
		if r.missing > 0 || r.unexpected > 0 || r.mismatched > 0 {
			t.Errorf("%s: %s", r.name, r.firstProblem)
		}
		// Only the killed collectors may repeat events (at-least-once).
		switch bound := 0; r.name {
		case "cloudwatch/file/all", "sls/webhook":
			bound = 1000
			if r.dups > bound {
				t.Errorf("%s: %d duplicates after one kill -9, more than %d", r.name, r.dups, bound)
			}
		default:
			if r.dups > 0 {
				t.Errorf("%s: %d duplicates without any fault", r.name, r.dups)
			}
		}
		if r.want == 0 || r.delivered == 0 {
			t.Errorf("%s: nothing to compare", r.name)
		}
	}

	// Risk tags, on the copy without a policy (every event).
	tags := map[string]int{}
	for _, copies := range got[0] {
		for _, tag := range riskTags(copies[0]) {
			tags[tag]++
		}
	}
	t.Logf("risk tags on the unfiltered stream: %v", tags)
	for _, tag := range []string{"exec-into-pod", "attach-to-pod", "privileged-pod", "host-network-pod", "cluster-admin-binding",
		"secret-read-non-system", "anonymous-allowed", "forbidden-human", "secret-access-denied", "serviceaccount-token-request",
		"configmap-with-credentials"} {
		if tags[tag] == 0 {
			t.Errorf("risk tag %s missing on the unfiltered stream", tag)
		}
	}

	// Secret values: they are in the apiserver's own log (RequestResponse)
	// and must be nowhere in the sinks.
	inTruth := 0
	for _, v := range rep.SecretValues {
		for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
			for _, ev := range truth {
				if bytes.Contains(ev, []byte(form)) {
					inTruth++
					break
				}
			}
		}
	}
	if inTruth == 0 {
		t.Fatal("no Secret value is in the apiserver's log: the leak check would prove nothing")
	}
	leaks := 0
	for i, d := range got {
		for key, copies := range d {
			for _, cp := range copies {
				for _, v := range rep.SecretValues {
					for _, form := range []string{v, base64.StdEncoding.EncodeToString([]byte(v))} {
						if bytes.Contains(cp, []byte(form)) {
							leaks++
							if leaks <= 5 {
								t.Errorf("%s: a Secret value reached the sink in %s: %.300s", sinks[i].label, key, cp)
							}
						}
					}
				}
			}
		}
	}
	t.Logf("secret values: %d sent or received, %d forms in the apiserver's log, %d in the sinks", len(rep.SecretValues), inTruth, leaks)
	if t.Failed() {
		t.Log(c.logs())
	}
}

var riskTagsAnn = regexp.MustCompile(`"auditlane\.io/risk-tags":"([^"]*)"`)

func riskTags(ev []byte) []string {
	m := riskTagsAnn.FindSubmatch(ev)
	if m == nil {
		return nil
	}
	return strings.Split(string(m[1]), ",")
}

func sumMap(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
