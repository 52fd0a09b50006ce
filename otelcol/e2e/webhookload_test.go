package e2e

import (
	"bytes"
	"compress/gzip"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditlane/auditlane/otelcol/internal/audittest"
)

const webhookLoadConfig = `receivers:
  k8saudit:
    mode: webhook
    webhook:
      endpoint: ${env:WEBHOOK}
      max_request_body_size: 67108864
    pipeline:
      max_input_size: ${env:MAX_INPUT}
exporters:
  debug:
    verbosity: basic
service:
  telemetry:
    logs:
      level: warn
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: ${env:METRICS_PORT}
  pipelines:
    logs:
      receivers: [k8saudit]
      exporters: [debug]
`

// vmHWM returns the peak resident set of process pid in MiB.
func vmHWM(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return kb >> 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

func postBody(url string, body []byte, gz bool) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if gz {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := (&http.Client{Timeout: 5 * time.Minute}).Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// postAll posts bodies at once and returns their answers.
func postAll(t *testing.T, url string, gz bool, bodies ...[]byte) []int {
	t.Helper()
	codes := make([]int, len(bodies))
	var wg sync.WaitGroup
	for i, b := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := postBody(url, b, gz)
			if err != nil {
				t.Errorf("post %d: %v", i, err)
			}
			codes[i] = c
		}()
	}
	wg.Wait()
	return codes
}

func bomb(prefix string, fill byte, n int) []byte {
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	_, _ = zw.Write([]byte(prefix))
	chunk := bytes.Repeat([]byte{fill}, 1<<20)
	for range n >> 20 {
		_, _ = zw.Write(chunk)
	}
	_ = zw.Close()
	return b.Bytes()
}

// TestWebhookMemoryUnderHostileLoad runs the collector's webhook mode
// (max_request_body_size 64 MiB, defaults otherwise) and reads its peak
// resident set (VmHWM) after: a 50 MB EventList; three at once; four
// gzip bombs at once (64 KiB that inflate to 256 MiB of blanks inside an
// EventList); four bombs of one 256 MiB string. The lists are decoded as a
// stream and every event counted in; the bombs are refused at the
// decompressed limit (413) and counted. OTELCOL_BINARY pointing at an
// older build measures that one.
func TestWebhookMemoryUnderHostileLoad(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "collector.yaml")
	if err := os.WriteFile(cfg, []byte(webhookLoadConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, metrics := freeAddr(t), port(t)
	// max_input_size bounds the one event a request gathers at a time: a
	// string bomb holds that much per request (64M by default; see the
	// receiver's README).
	maxInput := os.Getenv("MAX_INPUT")
	if maxInput == "" {
		maxInput = "8M"
	}
	p := runConfig(t, cfg, []string{"WEBHOOK=" + addr, "METRICS_PORT=" + metrics, "MAX_INPUT=" + maxInput}, "collector.log")
	url := "http://" + addr + "/"
	now := time.Now()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if c, err := postBody(url, []byte(audittest.EventList(0, 10, now)), false); err == nil && c == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("webhook not up")
		}
	}
	pid := p.cmd.Process.Pid
	idle := vmHWM(t, pid)

	const per = 70_000 // about 50 MB
	lists := make([][]byte, 3)
	for i := range lists {
		lists[i] = []byte(audittest.EventList(1000+i*per, per, now))
	}
	if c := postAll(t, url, false, lists[0]); c[0] != 200 {
		t.Fatalf("50 MB EventList answered %d", c[0])
	}
	one := vmHWM(t, pid)
	if c := postAll(t, url, false, lists...); c[0] != 200 || c[1] != 200 || c[2] != 200 {
		t.Fatalf("three 50 MB EventLists answered %v", c)
	}
	three := vmHWM(t, pid)

	blanks := bomb(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[`, ' ', 256<<20)
	codes := postAll(t, url, true, blanks, blanks, blanks, blanks)
	bombs := vmHWM(t, pid)
	str := bomb(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{"auditID":"`, 'x', 256<<20)
	codes = append(codes, postAll(t, url, true, str, str, str, str)...)
	strBombs := vmHWM(t, pid)

	m := scrapeCollector(t, "127.0.0.1:"+metrics)
	in := m[`auditlane_events_in{component="k8saudit"}`]
	t.Logf("max_input_size %s; VmHWM: idle %d MiB; after a %d MB EventList %d MiB; after three at once %d MiB; after 4 blank gzip bombs (%d KiB → 256 MiB each) %d MiB; after 4 string bombs %d MiB; bombs answered %v; events in %.0f; refused %v",
		maxInput, idle, len(lists[0])>>20, one, three, len(blanks)>>10, bombs, strBombs, codes, in, keys(m, "auditlane_requests_refused"))
	if want := float64(10 + 4*per); in != want {
		t.Errorf("events in %.0f, want %.0f", in, want)
	}
	for _, c := range codes {
		if c != http.StatusRequestEntityTooLarge {
			t.Errorf("a gzip bomb answered %d, want 413", c)
		}
	}
	if n := m[`auditlane_requests_refused{component="k8saudit",reason="too_large"}`]; n != 8 {
		t.Errorf("refused{too_large} = %.0f, want 8", n)
	}
	// Streamed, a 50 MB list costs the memory of a sub-batch; three cost
	// three. (Read whole, one cost 545 MB.)
	if one > idle+150 || three > idle+300 || bombs > idle+300 || maxInput == "8M" && strBombs > idle+300 {
		t.Errorf("peak resident set too high: idle %d, one list %d, three %d, bombs %d, string bombs %d MiB", idle, one, three, bombs, strBombs)
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
}

const webhookTLSConfig = `receivers:
  k8saudit:
    mode: webhook
    webhook:
      endpoint: ${env:WEBHOOK}
      tls:
        cert_file: ${env:DIR}/tls.crt
        key_file: ${env:DIR}/tls.key
        client_ca_file: ${env:DIR}/ca.crt
exporters:
  debug:
    verbosity: basic
service:
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: ${env:METRICS_PORT}
  pipelines:
    logs:
      receivers: [k8saudit]
      exporters: [debug]
`

// TestWebhookHealthProbeWithoutClientCert runs webhook mode with mTLS: a
// probe without a client certificate (as a kubelet httpGet probe) gets 200
// from the health path, a POST without one 401, the apiserver's POST 200;
// a plain-HTTP client's failed handshake is counted and not logged as an
// error.
func TestWebhookHealthProbeWithoutClientCert(t *testing.T) {
	dir := t.TempDir()
	ca, cliCert := writePKI(t, dir)
	cfg := filepath.Join(dir, "collector.yaml")
	if err := os.WriteFile(cfg, []byte(webhookTLSConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, metrics := freeAddr(t), port(t)
	p := runConfig(t, cfg, []string{"WEBHOOK=" + addr, "METRICS_PORT=" + metrics, "DIR=" + dir}, "collector.log")
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	probe := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	apiserver := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cliCert}, MinVersion: tls.VersionTLS12}}}
	base := "https://" + addr
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		resp, err := probe.Get(base + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			t.Fatalf("health without a client certificate: %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatalf("health: %v", err)
		}
	}
	list := audittest.EventList(0, 5, time.Now())
	resp, err := probe.Post(base+"/", "application/json", strings.NewReader(list))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST without a client certificate: %d", resp.StatusCode)
	}
	resp, err = apiserver.Post(base+"/", "application/json", strings.NewReader(list))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST with the apiserver's certificate: %d", resp.StatusCode)
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		_ = resp.Body.Close() // plain HTTP to a TLS port: a failed handshake
	}
	var m map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		m = scrapeCollector(t, "127.0.0.1:"+metrics)
		if m[`auditlane_requests_refused{component="k8saudit",reason="tls_handshake"}`] > 0 || time.Now().After(deadline) {
			break
		}
	}
	if n := m[`auditlane_requests_refused{component="k8saudit",reason="no_client_cert"}`]; n != 1 {
		t.Errorf("refused{no_client_cert} = %.0f: %v", n, keys(m, "auditlane_requests_refused"))
	}
	if n := m[`auditlane_requests_refused{component="k8saudit",reason="tls_handshake"}`]; n != 1 {
		t.Errorf("refused{tls_handshake} = %.0f: %v", n, keys(m, "auditlane_requests_refused"))
	}
	if n := m[`auditlane_events_in{component="k8saudit"}`]; n != 5 {
		t.Errorf("events in %.0f, want 5", n)
	}
	if b, _ := os.ReadFile(p.log); bytes.Contains(b, []byte("handshake")) && bytes.Contains(b, []byte("error")) {
		t.Errorf("a refused handshake logged as an error:\n%s", tail(string(b), 2000))
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
}
