package k8sauditreceiver

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
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/config/configtls"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/receiver"

	"github.com/auditlane/auditlane/otelcol/internal/audittest"
)

// pki is a CA with a server certificate for 127.0.0.1 and a client
// certificate, as the apiserver's webhook kubeconfig carries.
type pki struct {
	dir              string
	caFile, crt, key string
	clientCert       tls.Certificate
	pool             *x509.CertPool
	otherClient      tls.Certificate
}

func writePEM(t *testing.T, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func newCA(t *testing.T, cn string) (*x509.Certificate, *ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return c, key, der
}

func issue(t *testing.T, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, server bool) ([]byte, *ecdsa.PrivateKey) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return der, key
}

func tlsCert(der []byte, key *ecdsa.PrivateKey) tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func newPKI(t *testing.T) *pki {
	p := &pki{dir: t.TempDir()}
	ca, caKey, caDER := newCA(t, "kubernetes-audit-ca")
	p.caFile = filepath.Join(p.dir, "ca.crt")
	writePEM(t, p.caFile, "CERTIFICATE", caDER)
	srvDER, srvKey := issue(t, ca, caKey, "auditlane-webhook", true)
	p.crt, p.key = filepath.Join(p.dir, "tls.crt"), filepath.Join(p.dir, "tls.key")
	writePEM(t, p.crt, "CERTIFICATE", srvDER)
	kb, _ := x509.MarshalECPrivateKey(srvKey)
	writePEM(t, p.key, "EC PRIVATE KEY", kb)
	cliDER, cliKey := issue(t, ca, caKey, "kube-apiserver", false)
	p.clientCert = tlsCert(cliDER, cliKey)
	p.pool = x509.NewCertPool()
	p.pool.AddCert(ca)
	other, otherKey, _ := newCA(t, "someone-else")
	oDER, oKey := issue(t, other, otherKey, "intruder", false)
	p.otherClient = tlsCert(oDER, oKey)
	return p
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

func webhookConfig(t *testing.T, p *pki) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Mode = ModeWebhook
	cfg.Webhook.NetAddr.Endpoint = freeAddr(t)
	cfg.Webhook.RetryAfter = 3 * time.Second
	if p != nil {
		ts := configtls.NewDefaultServerConfig()
		ts.CAFile = ""
		ts.CertFile, ts.KeyFile, ts.ClientCAFile = p.crt, p.key, p.caFile
		cfg.Webhook.TLS = configoptional.Some(ts)
	}
	return cfg
}

func client(p *pki, cert tls.Certificate) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}}
}

func post(t *testing.T, c *http.Client, url, body string, gz bool) (*http.Response, string) {
	t.Helper()
	var rd io.Reader = strings.NewReader(body)
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte(body))
		_ = zw.Close()
		rd = &b
	}
	req, _ := http.NewRequest(http.MethodPost, url, rd)
	req.Header.Set("Content-Type", "application/json")
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func startWebhook(t *testing.T, cfg *Config, next consumer.Logs) receiver.Logs {
	t.Helper()
	r := startReceiver(t, cfg, next, nil)
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	return r
}

func TestWebhookMTLS(t *testing.T) {
	p := newPKI(t)
	cfg := webhookConfig(t, p)
	sink := newIDSink()
	startWebhook(t, cfg, sink)
	url := "https://" + cfg.Webhook.NetAddr.Endpoint + "/"
	c := client(p, p.clientCert)
	now := time.Now()
	for b := 0; b < 4; b++ {
		resp, body := post(t, c, url, audittest.EventList(b*25, 25, now), b%2 == 1)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("batch %d: %d %s", b, resp.StatusCode, body)
		}
	}
	sink.check(t, seq(0, 100))

	// The health path answers over the same mTLS listener, with or
	// without a client certificate (a kubelet httpGet probe has none).
	for _, hc := range []*http.Client{c, client(p, tls.Certificate{})} {
		resp, err := hc.Get("https://" + cfg.Webhook.NetAddr.Endpoint + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("health: %d", resp.StatusCode)
		}
	}

	// A client certificate from another CA fails the handshake; without
	// one, the event path answers 401.
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(audittest.EventList(500, 1, now)))
	intruder := client(p, tls.Certificate{})
	intruder.Transport.(*http.Transport).TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		return &p.otherClient, nil // sent although the server names another CA
	}
	if resp, err := intruder.Do(req); err == nil {
		_ = resp.Body.Close()
		t.Fatalf("request with a certificate of another CA answered %d", resp.StatusCode)
	}
	if resp, body := post(t, client(p, tls.Certificate{}), url, audittest.EventList(500, 1, now), false); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("request without a client certificate answered %d %s", resp.StatusCode, body)
	}
	sink.check(t, seq(0, 100))
}

// refusing fails every call with err.
type refusing struct{ err error }

func (r refusing) Capabilities() consumer.Capabilities          { return consumer.Capabilities{} }
func (r refusing) ConsumeLogs(context.Context, plog.Logs) error { return r.err }

func TestWebhookBackpressure(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		want       int
		retryAfter string
	}{
		{"busy", errors.New("queue is full"), http.StatusServiceUnavailable, "3"},
		{"memory", errors.New("data refused due to high memory usage"), http.StatusTooManyRequests, "3"},
		{"429", consumererror.NewOTLPHTTPError(errors.New("slow down"), http.StatusTooManyRequests), http.StatusTooManyRequests, "3"},
		{"permanent", consumererror.NewPermanent(errors.New("bad data")), http.StatusBadRequest, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := webhookConfig(t, nil)
			startWebhook(t, cfg, refusing{tc.err})
			resp, body := post(t, http.DefaultClient, "http://"+cfg.Webhook.NetAddr.Endpoint+"/", audittest.EventList(0, 3, time.Now()), false)
			if resp.StatusCode != tc.want || resp.Header.Get("Retry-After") != tc.retryAfter {
				t.Fatalf("answer %d Retry-After %q (%s), want %d %q", resp.StatusCode, resp.Header.Get("Retry-After"), body, tc.want, tc.retryAfter)
			}
		})
	}
}

func TestWebhookBadInput(t *testing.T) {
	cfg := webhookConfig(t, nil)
	sink := new(consumertest.LogsSink)
	startWebhook(t, cfg, sink)
	base := "http://" + cfg.Webhook.NetAddr.Endpoint
	if resp, _ := post(t, http.DefaultClient, base+"/", "definitely not json", false); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("garbage answered %d, want 400", resp.StatusCode)
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET answered %d, want 405", resp.StatusCode)
	}
	// One bad line among good events: the good ones are delivered.
	body := audittest.Lines(0, 2, time.Now()) + "{\"kind\":0}\n" + audittest.Lines(2, 1, time.Now())
	if resp, b := post(t, http.DefaultClient, base+"/", body, false); resp.StatusCode != http.StatusOK {
		t.Fatalf("mixed body answered %d %s", resp.StatusCode, b)
	}
	if n := sink.LogRecordCount(); n != 3 {
		t.Fatalf("delivered %d records, want 3", n)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.Mode = "tail" }, "mode"},
		{func(c *Config) { c.File.Path = "" }, "file::path"},
		{func(c *Config) { c.File.StartAt = "middle" }, "file::start_at"},
		{func(c *Config) { c.Pipeline = map[string]any{"nope": 1} }, "pipeline::nope"},
		{func(c *Config) { c.Mode = ModeWebhook; c.Webhook.Path = "x" }, "webhook::path"},
	} {
		cfg := createDefaultConfig().(*Config)
		cfg.File.Path = "/var/log/audit.log"
		tc.mod(cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err = %v, want one naming %s", err, tc.want)
		}
	}
}
