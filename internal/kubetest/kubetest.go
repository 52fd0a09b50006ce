// Package kubetest runs a real kube-apiserver on a local etcd for
// auditlane's end-to-end tests.
//
// kube-apiserver and kubedriver (client-go traffic and server-side dry-run
// of manifests) are built from the nested module internal/kubeapiserver,
// which requires k8s.io/kubernetes and keeps it, client-go and their
// dependencies out of auditlane's go.mod. The first build takes about five
// minutes on two cores; Go's build cache makes later builds a link step.
// etcd is Debian's etcd-server (the etcd command on PATH, or ETCD_BIN),
// started on free loopback ports with a temporary data directory.
//
// Everything binds 127.0.0.1 and stops with Stop.
package kubetest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ModuleDir returns the directory of the nested kube-apiserver module.
func ModuleDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "kubeapiserver")
}

// Binaries are the built commands.
type Binaries struct {
	APIServer string // kube-apiserver
	Driver    string // kubedriver
}

// Build builds kube-apiserver and kubedriver into dir (without the race
// detector, whatever the test's flags: go test does not pass them on).
func Build(dir string) (Binaries, error) {
	b := Binaries{APIServer: filepath.Join(dir, "kube-apiserver"), Driver: filepath.Join(dir, "kubedriver")}
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./kube-apiserver", "./kubedriver")
	cmd.Dir = ModuleDir()
	// The same settings as `go vet` in that module (make vet), so the two
	// share Go's build cache.
	if out, err := cmd.CombinedOutput(); err != nil {
		return b, fmt.Errorf("build kube-apiserver and kubedriver in %s: %v\n%s", cmd.Dir, err, out)
	}
	return b, nil
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// proc is a started process with its output in a file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

func start(name, logPath string, bin string, args ...string) (*proc, error) {
	lf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	if p == nil || p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Tail returns the last n bytes of the process's output.
func (p *proc) Tail(n int) string {
	b, _ := os.ReadFile(p.log)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Etcd is a running etcd.
type Etcd struct {
	URL string
	p   *proc
}

// StartEtcd starts etcd with its data in dir and waits until it is
// healthy.
func StartEtcd(dir string) (*Etcd, error) {
	bin := os.Getenv("ETCD_BIN")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("etcd"); err != nil {
			return nil, errors.New("etcd is not installed (Debian: apt-get install etcd-server; .ci/run does it) and ETCD_BIN is not set")
		}
	}
	cport, err := FreePort()
	if err != nil {
		return nil, err
	}
	pport, err := FreePort()
	if err != nil {
		return nil, err
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", cport)
	peer := fmt.Sprintf("http://127.0.0.1:%d", pport)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p, err := start("etcd", filepath.Join(dir, "etcd.log"), bin,
		"--name=e2e", "--data-dir="+filepath.Join(dir, "data"),
		"--listen-client-urls="+client, "--advertise-client-urls="+client,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
		"--initial-cluster=e2e="+peer, "--initial-cluster-state=new",
		"--unsafe-no-fsync", "--quota-backend-bytes=1073741824", "--log-level=warn")
	if err != nil {
		return nil, err
	}
	e := &Etcd{URL: client, p: p}
	if err := waitHTTP(client+"/health", nil, p, 30*time.Second); err != nil {
		e.Stop()
		return nil, fmt.Errorf("etcd: %w\n%s", err, p.Tail(2000))
	}
	return e, nil
}

// Stop stops etcd.
func (e *Etcd) Stop() {
	if e != nil {
		e.p.stop(10 * time.Second)
	}
}

// Token is one line of --token-auth-file.
type Token struct {
	Token, User, UID string
	Groups           []string
}

// Config configures StartAPIServer.
type Config struct {
	Binary  string
	Dir     string // certificates, keys, token file, the server's own log
	EtcdURL string
	// EtcdPrefix separates apiservers sharing one etcd (default /registry).
	EtcdPrefix string
	Tokens     []Token
	// AuditPolicy is the audit.k8s.io/v1 Policy (--audit-policy-file).
	AuditPolicy []byte
	// AuditArgs are the --audit-log-* and --audit-webhook-* flags.
	AuditArgs []string
	// Args are further flags.
	Args []string
}

// APIServer is a running kube-apiserver.
type APIServer struct {
	URL    string // https://127.0.0.1:port
	CAFile string // the self-signed serving certificate
	p      *proc
}

// StartAPIServer starts kube-apiserver and waits until /readyz answers
// 200 to the first token's user.
func StartAPIServer(c Config) (*APIServer, error) {
	if err := os.MkdirAll(c.Dir, 0o700); err != nil {
		return nil, err
	}
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	var tokens bytes.Buffer
	for _, t := range c.Tokens {
		fmt.Fprintf(&tokens, "%s,%s,%s,%q\n", t.Token, t.User, t.UID, strings.Join(t.Groups, ","))
	}
	write := func(name string, data []byte) (string, error) {
		p := filepath.Join(c.Dir, name)
		return p, os.WriteFile(p, data, 0o600)
	}
	tokenFile, err := write("tokens.csv", tokens.Bytes())
	if err != nil {
		return nil, err
	}
	policyFile, err := write("audit-policy.yaml", c.AuditPolicy)
	if err != nil {
		return nil, err
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	keyDER, _ := x509.MarshalECPrivateKey(key)
	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	saKey, err := write("sa.key", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	if err != nil {
		return nil, err
	}
	saPub, err := write("sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	if err != nil {
		return nil, err
	}
	certDir := filepath.Join(c.Dir, "certs")
	prefix := c.EtcdPrefix
	if prefix == "" {
		prefix = "/registry"
	}
	args := []string{
		"--etcd-servers=" + c.EtcdURL, "--etcd-prefix=" + prefix,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", port),
		// The default reconciler refuses a loopback advertise address; no
		// Pod needs the kubernetes Service here.
		"--endpoint-reconciler-type=none",
		"--cert-dir=" + certDir,
		"--token-auth-file=" + tokenFile, "--anonymous-auth=true",
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + saPub, "--service-account-signing-key-file=" + saKey,
		"--service-cluster-ip-range=10.96.0.0/24",
		"--audit-policy-file=" + policyFile,
		"--v=1",
	}
	args = append(args, c.AuditArgs...)
	args = append(args, c.Args...)
	p, err := start("kube-apiserver", filepath.Join(c.Dir, "kube-apiserver.log"), c.Binary, args...)
	if err != nil {
		return nil, err
	}
	a := &APIServer{URL: fmt.Sprintf("https://127.0.0.1:%d", port), CAFile: filepath.Join(certDir, "apiserver.crt"), p: p}
	var admin string
	if len(c.Tokens) > 0 {
		admin = c.Tokens[0].Token
	}
	// The serving certificate appears in cert-dir at start-up; until then
	// nothing answers either, so skipping verification while waiting costs
	// nothing. Clients use CAFile.
	insecure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // readiness poll only
	hdr := http.Header{"Authorization": {"Bearer " + admin}}
	if err := waitHTTPClient(insecure, a.URL+"/readyz", hdr, p, 120*time.Second); err != nil {
		a.Stop()
		return nil, fmt.Errorf("kube-apiserver: %w\n%s", err, p.Tail(6000))
	}
	return a, nil
}

// Client returns an HTTP client that trusts the apiserver's certificate.
func (a *APIServer) Client() (*http.Client, error) {
	pemData, err := os.ReadFile(a.CAFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return nil, fmt.Errorf("%s: no certificate", a.CAFile)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}, nil
}

// Exited reports whether the apiserver process has ended.
func (a *APIServer) Exited() bool { return a.p.exited() }

// Log returns the end of the apiserver's own output.
func (a *APIServer) Log(n int) string { return a.p.Tail(n) }

// Stop stops the apiserver gracefully (SIGTERM: it drains requests and
// flushes its audit backends), killing it after 60 s.
func (a *APIServer) Stop() {
	if a != nil {
		a.p.stop(60 * time.Second)
	}
}

func waitHTTP(url string, hdr http.Header, p *proc, limit time.Duration) error {
	return waitHTTPClient(&http.Client{Timeout: 5 * time.Second}, url, hdr, p, limit)
}

func waitHTTPClient(c *http.Client, url string, hdr http.Header, p *proc, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	var last string
	for {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for k, v := range hdr {
			req.Header[k] = v
		}
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		if p.exited() {
			return fmt.Errorf("exited: %v", p.err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %s", url, limit, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Once builds the binaries once per process (several tests, one build).
type Once struct {
	once sync.Once
	bin  Binaries
	err  error
}

// Get builds into dir on the first call and returns the result of that
// build on every call.
func (o *Once) Get(dir string) (Binaries, error) {
	o.once.Do(func() { o.bin, o.err = Build(dir) })
	return o.bin, o.err
}
