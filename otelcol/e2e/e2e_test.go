// Package e2e runs the ocb-built otelcol-auditlane on the configurations in
// examples/otelcol against the local CloudWatch Logs and SLS test servers.
//
// The collector binary is OTELCOL_BINARY when set (make otelcol-test sets
// it); otherwise the test builds it with ocb v0.165.0 from
// builder-config.yaml (several minutes on a cold module and build cache).
package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
	"github.com/auditlane/auditlane/otelcol/internal/audittest"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

func root() string { return filepath.Join("..", "..") }

func collector(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if b := os.Getenv("OTELCOL_BINARY"); b != "" {
			binary = b
			return
		}
		start := time.Now()
		cmd := exec.Command("go", "run", "go.opentelemetry.io/collector/cmd/builder@v0.165.0", "--config", "builder-config.yaml")
		cmd.Dir = root()
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("ocb: %v\n%s", err, out)
			return
		}
		binary, buildErr = filepath.Abs(filepath.Join(root(), "otelcol", "_build", "otelcol-auditlane"))
		t.Logf("built the collector with ocb in %s", time.Since(start).Round(time.Second))
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

type proc struct {
	cmd *exec.Cmd
	log string
}

func run(t *testing.T, config string, env []string, logName string) *proc {
	t.Helper()
	cfg, _ := filepath.Abs(filepath.Join(root(), "examples", "otelcol", config))
	return runConfig(t, cfg, env, logName)
}

// runConfig starts the collector with the configuration file cfg.
func runConfig(t *testing.T, cfg string, env []string, logName string) *proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), logName)
	lf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", cfg}
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "METRICS_PORT=") }) {
		// The collector's own metrics listen on :8888 by default; tests run
		// next to other collectors (other tests, other packages), so turn
		// them off unless a test chose a port.
		args = append(args, "--set=service::telemetry::metrics::level=none")
	}
	cmd := exec.Command(collector(t), args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, log: logPath}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		_ = lf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("collector log %s:\n%s", logName, tail(string(b), 4000))
		}
	})
	return p
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

var auditID = regexp.MustCompile(`"auditID":"([^"]+)"`)

func appendLines(t *testing.T, path string, from, n int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(audittest.Lines(from, n, time.Now())); err != nil {
		t.Fatal(err)
	}
}

func gzipFile(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write(data)
	_ = zw.Close()
	if err := os.WriteFile(path+".gz", b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(path)
}

// TestFileModeRotationKillRestart writes an audit log that rotates
// (lumberjack style, gzip backups) while otelcol-auditlane tails it into
// CloudWatch Logs, kills the collector with SIGKILL mid-run, restarts it,
// and checks that every event arrived; duplicates are counted and reported.
func TestFileModeRotationKillRestart(t *testing.T) {
	srv, err := cwtest.New(cwtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	env := []string{
		"AUDIT_LOG=" + logPath, "STORAGE_DIR=" + filepath.Join(dir, "storage"), "START_AT=beginning",
		"CW_ENDPOINT=" + srv.URL, "AWS_REGION=us-east-1", "CLUSTER_NAME=e2e",
		"AWS_ACCESS_KEY_ID=AKIDE2E", "AWS_SECRET_ACCESS_KEY=e2e-secret", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
	}
	const total, perRotation = 6000, 1000
	appendLines(t, logPath, 0, 200)
	p := run(t, "file-cloudwatch.yaml", env, "collector-1.log")
	written := 200
	stamp := 0
	for written < total {
		appendLines(t, logPath, written, 100)
		written += 100
		if written%perRotation == 0 {
			stamp++
			backup := filepath.Join(dir, fmt.Sprintf("audit-2025-01-01T00-00-%02d.000.log", stamp))
			if err := os.Rename(logPath, backup); err != nil {
				t.Fatal(err)
			}
			if stamp%2 == 0 {
				gzipFile(t, backup)
			}
		}
		if written == total/2 {
			// kill -9 in the middle of the run, keep writing, restart.
			time.Sleep(300 * time.Millisecond)
			_ = p.cmd.Process.Kill()
			_ = p.cmd.Wait()
			appendLines(t, logPath, written, 300)
			written += 300
			p = run(t, "file-cloudwatch.yaml", env, "collector-2.log")
		}
		time.Sleep(20 * time.Millisecond)
	}
	counts := waitCW(t, srv, "/k8s/e2e/audit", "e2e-apiserver", total, 90*time.Second)
	missing, dups := 0, 0
	for i := 0; i < total; i++ {
		switch c := counts[audittest.ID(i)]; {
		case c == 0:
			missing++
		case c > 1:
			dups += c - 1
		}
	}
	t.Logf("file mode: %d events written, %d distinct delivered, %d duplicates (at-least-once across kill -9)", total, len(counts), dups)
	if missing > 0 || len(counts) != total {
		t.Fatalf("%d events missing, %d distinct delivered, want %d", missing, len(counts), total)
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
}

func waitCW(t *testing.T, srv *cwtest.Server, group, stream string, want int, limit time.Duration) map[string]int {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		counts := map[string]int{}
		for _, ev := range srv.Events(group, stream) {
			if m := auditID.FindStringSubmatch(ev.Message); m != nil {
				counts[m[1]]++
			}
		}
		if len(counts) >= want || time.Now().After(deadline) {
			return counts
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestWebhookModeMTLS posts EventList batches over mTLS, as kube-apiserver's
// webhook backend does, to otelcol-auditlane running webhook-sls.yaml and
// checks that every event is stored in SLS exactly once.
func TestWebhookModeMTLS(t *testing.T) {
	srv, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects: map[string][]string{"audit-prj": {"audit-ls"}},
		Keys:     map[string]string{"LTAIe2e": "e2e-sls-secret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	dir := t.TempDir()
	ca, cliCert := writePKI(t, dir)
	addr := freeAddr(t)
	env := []string{
		"WEBHOOK_ENDPOINT=" + addr, "TLS_CERT=" + filepath.Join(dir, "tls.crt"), "TLS_KEY=" + filepath.Join(dir, "tls.key"),
		"CLIENT_CA=" + filepath.Join(dir, "ca.crt"), "STORAGE_DIR=" + filepath.Join(dir, "storage"),
		"SLS_ENDPOINT=" + srv.Endpoint(), "SLS_PROJECT=audit-prj", "SLS_LOGSTORE=audit-ls",
		"ALIBABA_CLOUD_ACCESS_KEY_ID=LTAIe2e", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=e2e-sls-secret",
		// The SDK addresses <project>.sls.test: route it to the test
		// server as an HTTP proxy (loopback traffic bypasses proxies).
		"HTTP_PROXY=http://" + srv.Addr(), "NO_PROXY=",
	}
	run(t, "webhook-sls.yaml", env, "collector.log")
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cliCert}, MinVersion: tls.VersionTLS12}}}
	base := "https://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Get(base + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("webhook not healthy: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	const batches, per = 20, 100
	now := time.Now()
	for b := 0; b < batches; b++ {
		for attempt := 0; ; attempt++ {
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/", strings.NewReader(audittest.EventList(b*per, per, now)))
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if attempt > 50 {
				t.Fatalf("batch %d not accepted: %v", b, err)
			}
			time.Sleep(200 * time.Millisecond) // the apiserver retries too
		}
	}
	counts := map[string]int{}
	deadline = time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		counts = map[string]int{}
		for _, l := range srv.Logs("audit-prj", "audit-ls") {
			if id, ok := l.Get("auditID"); ok {
				counts[id]++
			}
		}
		if len(counts) >= batches*per {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for i := 0; i < batches*per; i++ {
		if c := counts[audittest.ID(i)]; c != 1 {
			t.Fatalf("event %d stored %d times, want once (%d distinct stored)", i, c, len(counts))
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// writePKI writes ca.crt, tls.crt and tls.key (server, 127.0.0.1) to dir
// and returns the CA and a client certificate it signed.
func writePKI(t *testing.T, dir string) (*x509.Certificate, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "audit-webhook-ca"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(cn string, server bool) ([]byte, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		if server {
			tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.crt", "CERTIFICATE", caDER)
	sDER, sKey := leaf("auditlane-webhook", true)
	write("tls.crt", "CERTIFICATE", sDER)
	kb, _ := x509.MarshalECPrivateKey(sKey)
	write("tls.key", "EC PRIVATE KEY", kb)
	cDER, cKey := leaf("kube-apiserver", false)
	return ca, tls.Certificate{Certificate: [][]byte{cDER}, PrivateKey: cKey}
}
