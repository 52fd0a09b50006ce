package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
	"github.com/auditlane/auditlane/internal/secretshapes"
)

// leakPolicy keeps Secrets at Metadata (their bodies are stripped), drops
// reads of pods, and keeps everything else with bodies.
const leakPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  resources: [{group: "", resources: [secrets]}]
- level: None
  verbs: [get]
  resources: [{group: "", resources: [pods]}]
- level: RequestResponse
`

const leakConfig = `extensions:
  file_storage:
    directory: ${env:DIR}/storage
    create_directory: true
receivers:
  k8saudit/file:
    mode: file
    file:
      path: ${env:DIR}/audit.log
      start_at: beginning
      poll_interval: 100ms
      storage: file_storage
    pipeline:
      redact_secrets: on
      dead_letter_file: ${env:DIR}/dead-file.jsonl
  k8saudit/webhook:
    mode: webhook
    webhook:
      endpoint: ${env:WEBHOOK}
      path: /
      health_path: /healthz
    pipeline:
      redact_secrets: on
      policy_file: ${env:DIR}/policy.yaml
      dead_letter_file: ${env:DIR}/dead-webhook.jsonl
  otlp:
    protocols:
      http:
        endpoint: ${env:OTLP}
processors:
  k8saudit:
    pipeline:
      policy_file: ${env:DIR}/policy.yaml
      redact_secrets: on
      max_event_size: 1500
      dead_letter_file: ${env:DIR}/dead-processor.jsonl
exporters:
  k8saudit_cloudwatch:
    endpoint: ${env:CW_ENDPOINT}
    region: us-east-1
    log_group_name: /k8s/leaks
    log_stream_name: file
    auto_create_group: on
  k8saudit_cloudwatch/otlp:
    endpoint: ${env:CW_ENDPOINT}
    region: us-east-1
    log_group_name: /k8s/leaks
    log_stream_name: otlp
    auto_create_group: on
  k8saudit_sls:
    endpoint: ${env:SLS_ENDPOINT}
    project: audit-prj
    logstore: audit-ls
service:
  extensions: [file_storage]
  telemetry:
    metrics:
      readers:
        - pull:
            exporter:
              prometheus:
                host: 127.0.0.1
                port: ${env:METRICS_PORT}
  pipelines:
    logs/file:
      receivers: [k8saudit/file]
      exporters: [k8saudit_cloudwatch]
    logs/webhook:
      receivers: [k8saudit/webhook]
      exporters: [k8saudit_sls]
    logs/otlp:
      receivers: [otlp]
      processors: [k8saudit]
      exporters: [k8saudit_cloudwatch/otlp]
`

// TestSecretsAndListsThroughTheCollector runs the ocb-built collector with
// the k8saudit receiver in file and webhook modes and the k8saudit
// processor behind an OTLP receiver, all three fed every shape a Secret or
// a token takes (internal/secretshapes) — the webhook and the processor as
// one EventList — and checks that:
//   - an EventList given to the processor as one OTLP log body is split
//     into its events (each with its time and audit ID), decided one by
//     one (the pod read the policy drops is not shipped);
//   - no secret marker reaches CloudWatch Logs, SLS, a dead letter or the
//     collector's log;
//   - /metrics answers with the same metric names as the Fluent Bit
//     plugin's, one series per component (receiver, processor, exporter).
func TestSecretsAndListsThroughTheCollector(t *testing.T) {
	cw, err := cwtest.New(cwtest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cw.Close()
	sl, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects: map[string][]string{"audit-prj": {"audit-ls"}},
		Keys:     map[string]string{"LTAIe2e": "e2e-sls-secret"},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	dir := t.TempDir()
	shapes := secretshapes.Shapes(time.Now().Add(-time.Minute))
	var lines, items []string
	for _, s := range shapes {
		lines = append(lines, s.Event)
		items = append(items, s.Event)
	}
	// A pod read the policy drops, and one it keeps.
	podGet := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"9f0e0000-0000-4000-8000-00000000pget","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/shop/pods/web","verb":"get","user":{"username":"alice"},"objectRef":{"resource":"pods","namespace":"shop","name":"web","apiVersion":"v1"},"responseStatus":{"code":200},"requestReceivedTimestamp":"` +
		time.Now().UTC().Format(time.RFC3339Nano) + `","stageTimestamp":"` + time.Now().UTC().Format(time.RFC3339Nano) + `"}`
	items = append(items, podGet)
	elist := `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + strings.Join(items, ",") + `]}`
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(leakPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	// The file holds the shapes as lines and once more as one EventList
	// line: the receiver splits it like any record.
	if err := os.WriteFile(filepath.Join(dir, "audit.log"), []byte(strings.Join(lines, "\n")+"\n"+elist+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "collector.yaml")
	if err := os.WriteFile(cfg, []byte(leakConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	webhook, otlp, metrics := freeAddr(t), freeAddr(t), port(t)
	env := []string{"DIR=" + dir, "WEBHOOK=" + webhook, "OTLP=" + otlp, "METRICS_PORT=" + metrics,
		"CW_ENDPOINT=" + cw.URL, "SLS_ENDPOINT=" + sl.Endpoint(), "HTTP_PROXY=http://" + sl.Addr(), "NO_PROXY=",
		"AWS_ACCESS_KEY_ID=AKIDE2E", "AWS_SECRET_ACCESS_KEY=e2e-secret", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"ALIBABA_CLOUD_ACCESS_KEY_ID=LTAIe2e", "ALIBABA_CLOUD_ACCESS_KEY_SECRET=e2e-sls-secret"}
	p := runConfig(t, cfg, env, "collector.log")

	waitHTTP(t, "http://"+webhook+"/healthz", 60*time.Second)
	post(t, "http://"+webhook+"/", "application/json", elist)
	// The EventList as one OTLP/JSON log body.
	otlpBody, _ := json.Marshal(map[string]any{"resourceLogs": []any{map[string]any{"scopeLogs": []any{map[string]any{
		"logRecords": []any{map[string]any{"body": map[string]any{"stringValue": elist}}}}}}}})
	post(t, "http://"+otlp+"/v1/logs", "application/json", string(otlpBody))

	// Everything the policy keeps arrives: through the file (no policy)
	// every shape twice and the pod read, through the webhook and the
	// processor every shape once (the policy drops the pod read).
	want := len(shapes)
	wantFile := 2*len(shapes) + 1
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if len(cw.Events("/k8s/leaks", "file")) >= wantFile && len(cw.Events("/k8s/leaks", "otlp")) >= want && len(sl.Logs("audit-prj", "audit-ls")) >= want {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	otlpEvents := cw.Events("/k8s/leaks", "otlp")
	if len(cw.Events("/k8s/leaks", "file")) != wantFile || len(otlpEvents) != want || len(sl.Logs("audit-prj", "audit-ls")) != want {
		t.Fatalf("stored file=%d otlp=%d webhook=%d, want %d each", len(cw.Events("/k8s/leaks", "file")), len(otlpEvents),
			len(sl.Logs("audit-prj", "audit-ls")), want)
	}
	// The processor split the list: one event per record, with its own
	// audit ID and time.
	ids := map[string]bool{}
	for _, e := range otlpEvents {
		var ev struct {
			AuditID string `json:"auditID"`
			Kind    string `json:"kind"`
		}
		if err := json.Unmarshal([]byte(e.Message), &ev); err != nil || ev.Kind != "Event" || ev.AuditID == "" {
			t.Fatalf("processor output is not one event: %.300s", e.Message)
		}
		if strings.HasSuffix(ev.AuditID, "pget") {
			t.Errorf("the pod read the policy drops was shipped")
		}
		ids[ev.AuditID] = true
		if time.Since(time.UnixMilli(e.Timestamp)) > time.Hour {
			t.Errorf("event %s has timestamp %d", ev.AuditID, e.Timestamp)
		}
	}
	if len(ids) != want {
		t.Errorf("%d distinct audit IDs from the processor, want %d", len(ids), want)
	}

	// No marker anywhere.
	var stored strings.Builder
	for _, stream := range []string{"file", "otlp"} {
		for _, e := range cw.Events("/k8s/leaks", stream) {
			stored.WriteString(e.Message + "\n")
		}
	}
	for _, l := range sl.Logs("audit-prj", "audit-ls") {
		b, _ := json.Marshal(l)
		stored.Write(b)
	}
	check := func(where, text string) {
		if i := strings.Index(text, secretshapes.MarkerPrefix); i >= 0 {
			t.Errorf("a secret marker reached %s: …%s…", where, text[max(0, i-200):min(len(text), i+60)])
		}
	}
	check("the sinks", stored.String())
	for _, dl := range []string{"dead-file.jsonl", "dead-webhook.jsonl", "dead-processor.jsonl"} {
		b, _ := os.ReadFile(filepath.Join(dir, dl))
		check(dl, string(b))
	}

	// /metrics: one series per component, no error.
	m := scrapeCollector(t, "127.0.0.1:"+metrics)
	for _, c := range []string{"k8saudit/file", "k8saudit/webhook", "k8saudit"} {
		if v := m[`auditlane_events_in{component="`+c+`"}`]; v == 0 {
			t.Errorf("no auditlane_events_in for %s: %v", c, keys(m, "auditlane_events_in"))
		}
	}
	if v := m[`auditlane_events_dropped{component="k8saudit",rule="0"}`] + m[`auditlane_events_dropped{component="k8saudit",rule="1"}`]; v == 0 {
		t.Errorf("processor drops not counted by rule: %v", keys(m, "auditlane_events_dropped"))
	}
	for c, n := range map[string]int{"k8saudit_cloudwatch": wantFile, "k8saudit_cloudwatch/otlp": want, "k8saudit_sls": want} {
		if v := m[`auditlane_events_delivered{component="`+c+`"}`]; v != float64(n) {
			t.Errorf("exporter %s delivered %v, want %d: %v", c, v, n, keys(m, "auditlane_events_delivered"))
		}
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	_ = p.cmd.Wait()
	logs, _ := os.ReadFile(p.log)
	check("the collector log", string(logs))
}

func waitHTTP(t *testing.T, url string, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready: %v", url, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func post(t *testing.T, url, ctype, body string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("HTTP %d: %s", resp.StatusCode, b)
		}
		if attempt > 50 {
			t.Fatalf("POST %s: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// scrapeCollector reads the collector's /metrics, which must answer 200.
func scrapeCollector(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	var last string
	for i := 0; i < 50; i++ {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = fmt.Sprintf("HTTP %d: %.2000s", resp.StatusCode, b)
			if resp.StatusCode == http.StatusOK {
				return promSamples(string(b))
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("/metrics: %s", last)
	return nil
}

// promSamples parses the text exposition into "name{labels}" -> value,
// keeping only the component and rule/reason labels (the collector adds
// scope and service labels of its own).
func promSamples(text string) map[string]float64 {
	m := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || l[0] == '#' || !strings.HasPrefix(l, "auditlane_") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			continue
		}
		name, labels, _ := strings.Cut(l[:i], "{")
		labels = strings.TrimSuffix(labels, "}")
		var keep []string
		for _, kv := range strings.Split(labels, ",") {
			k, _, _ := strings.Cut(kv, "=")
			switch k {
			case "component", "rule", "reason":
				keep = append(keep, kv)
			}
		}
		key := name
		if len(keep) > 0 {
			key += "{" + strings.Join(keep, ",") + "}"
		}
		m[key] += v
	}
	return m
}

func keys(m map[string]float64, prefix string) []string {
	var out []string
	for k, v := range m {
		if strings.HasPrefix(k, prefix) {
			out = append(out, fmt.Sprintf("%s=%v", k, v))
		}
	}
	return out
}
