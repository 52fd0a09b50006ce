package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/auditlane/auditlane/common/audit"
)

func TestSettingsSet(t *testing.T) {
	s := DefaultSettings()
	for k, v := range map[string]string{"cluster_name": "prod", "max_event_size": "256k", "redact_secrets": "on",
		"risk_tags": "off", "risk_rules_disable": "exec-into-pod, node-csr", "layout": "SLS", "max_input_size": "1M"} {
		if err := s.Set(k, v); err != nil {
			t.Fatalf("%s=%s: %v", k, v, err)
		}
	}
	if s.Enrich.ClusterName != "prod" || s.Shape.MaxEventSize != 256<<10 || !s.Shape.RedactSecrets || s.Enrich.RiskTags ||
		len(s.Enrich.RiskRulesDisable) != 2 || s.Shape.Layout != "sls" || s.MaxInputSize != 1<<20 {
		t.Errorf("settings %+v", s)
	}
	for k, v := range map[string]string{"redact_secrets": "maybe", "max_event_size": "lots", "no_such_key": "1"} {
		if err := s.Set(k, v); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%s: error %v should name the key", k, v, err)
		}
	}
	s = DefaultSettings()
	if err := s.Set("provider", "azure-ish"); err == nil || !strings.HasPrefix(err.Error(), "provider: ") {
		t.Errorf("bad provider: %v", err)
	}
	s.Enrich.Provider = "azure-ish"
	if _, _, err := s.Build(); err == nil || !strings.HasPrefix(err.Error(), "provider: ") {
		t.Errorf("bad provider from code: %v", err)
	}
	if err := s.Set("polcy_file", "p.yaml"); err == nil || err.Error() != "polcy_file: unknown key (did you mean policy_file?)" {
		t.Errorf("misspelt key: %v", err)
	}
	s = DefaultSettings()
	s.PolicyFile = "/nonexistent/policy.yaml"
	if _, _, err := s.Build(); err == nil || !strings.Contains(err.Error(), "policy_file") {
		t.Errorf("missing policy: %v", err)
	}
}

func TestOutcomesAndCounters(t *testing.T) {
	dir := t.TempDir()
	pol := filepath.Join(dir, "p.yaml")
	os.WriteFile(pol, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  verbs: [watch]\n- level: Metadata\n"), 0o644)
	s := DefaultSettings()
	s.PolicyFile = pol
	s.Enrich.ClusterName = "c1"
	s.Shape.MaxEventSize = 2048
	p, dead, err := s.Build()
	if err != nil || dead != nil {
		t.Fatal(err, dead)
	}
	var sc Scratch
	ev := `{"kind":"Event","level":"RequestResponse","auditID":"1","stage":"ResponseComplete","verb":"get","user":{"username":"alice"},"requestURI":"/api","stageTimestamp":"2024-01-01T00:00:00.5Z","requestObject":{"big":"` + strings.Repeat("x", 5000) + `"}}`
	r := p.ProcessRaw([]byte(ev), &sc)
	if r.Outcome != Kept || r.Decision.Rule != 1 || len(r.Out) > 2048 || strings.Contains(string(r.Out), "xxxx") {
		t.Fatalf("kept: %+v %s", r.Decision, r.Out)
	}
	if !strings.Contains(string(r.Out), `"auditlane.io/cluster-name":"c1"`) || r.Time.IsZero() {
		t.Errorf("not enriched or no time: %s", r.Out)
	}
	if r := p.ProcessRaw([]byte(`{"verb":"watch","stage":"ResponseComplete","level":"Metadata"}`), &sc); r.Outcome != Dropped || r.Decision.Rule != 0 {
		t.Errorf("watch: %+v", r)
	}
	if r := p.ProcessRaw([]byte(`{"verb":`), &sc); r.Outcome != Rejected || r.Reason != "invalid_json" || !errors.Is(r.Err, audit.ErrSyntax) {
		t.Errorf("bad json: %+v", r)
	}
	c := p.Counters()
	if c.EventsIn != 3 || c.Kept != 1 || c.Dropped != 1 || c.Rejected != 1 || c.DroppedByRule[0] != 1 || c.KeptByRule[1] != 1 ||
		c.RejectedByReason["invalid_json"] != 1 || c.BytesOut != int64(len(r.Out)) && c.BytesOut == 0 {
		t.Errorf("counters %+v", c)
	}
}

func TestReasons(t *testing.T) {
	for input, want := range map[string]string{`{"kind":0}`: "wrong_type", `[1]`: "not_object", `{"kind":"Pod"}`: "unsupported_kind",
		`{"apiVersion":"v9"}`: "unsupported_api_version", "{\"a\":\"\xff\"}": "invalid_utf8", `{`: "invalid_json"} {
		var ev audit.Event
		audit.Records([]byte(input), &ev, func(_ *audit.Event, err error) bool {
			if got := Reason(err); got != want {
				t.Errorf("%q: %s, want %s", input, got, want)
			}
			return true
		})
	}
	var ev audit.Event
	if got := Reason(audit.Parse([]byte(`{"kind":"EventList","items":[]}`), &ev)); got != "list" {
		t.Errorf("Parse of an EventList: %s, want list", got)
	}
}

func TestDeadLetter(t *testing.T) {
	dir := t.TempDir()
	secret := `{"kind":"Event","verb":"create","objectRef":{"resource":"secrets"},"requestObject":{"kind":"Secret","data":{"password":"c2VjcmV0LW1hcmtlcg=="},"stringData":{"token":"MARKER-1"}`
	for _, raw := range []bool{false, true} {
		path := filepath.Join(dir, fmt.Sprintf("dl-%v.jsonl", raw))
		d, err := OpenDeadLetterWith(path, DeadLetterOptions{Raw: raw})
		if err != nil {
			t.Fatal(err)
		}
		d.Write(Letter{Reason: "invalid_json", Err: errors.New("boom"), Line: 3, Source: "a.log", Raw: []byte(secret)})
		d.Write(Letter{Reason: "invalid_utf8", Raw: []byte{0xff, 'a'}})
		d.Write(Letter{Reason: "too_large", Event: []byte(`{"kind":"Event","auditID":"x"}`)})
		d.Close()
		data, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) != 3 || !strings.Contains(lines[0], `"line":3`) || !strings.Contains(lines[2], `"event":{"kind":"Event","auditID":"x"}}`) {
			t.Fatalf("dead letter:\n%s", data)
		}
		for _, l := range lines {
			var v map[string]any
			if err := json.Unmarshal([]byte(l), &v); err != nil {
				t.Fatalf("letter %s is not JSON: %v", l, err)
			}
		}
		if raw {
			if !strings.Contains(lines[0], "MARKER-1") || !strings.Contains(lines[1], `"raw_base64":"/2E="`) {
				t.Errorf("raw copies asked for:\n%s", data)
			}
			continue
		}
		if strings.Contains(string(data), "MARKER-1") || strings.Contains(string(data), "c2VjcmV0LW1hcmtlcg") {
			t.Errorf("a value of undecodable input reached the dead letter:\n%s", data)
		}
		sum := sha256.Sum256([]byte(secret))
		if !strings.Contains(lines[0], `"size":`+strconv.Itoa(len(secret))) || !strings.Contains(lines[0], hex.EncodeToString(sum[:])) ||
			!strings.Contains(lines[0], `\"password\":\"***\"`) {
			t.Errorf("masked letter: %s", lines[0])
		}
	}
}

func TestDeadLetterRotation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dl.jsonl")
	d, err := OpenDeadLetterWith(path, DeadLetterOptions{MaxSize: 1000, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 50; i++ {
		if err := d.Write(Letter{Reason: "too_large", Event: []byte(fmt.Sprintf(`{"auditID":"%03d"}`, i))}); err != nil {
			t.Fatal(err)
		}
	}
	d.Close()
	var total int
	for _, p := range []string{path, path + ".1", path + ".2"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if st.Size() > 1000 {
			t.Errorf("%s has %d bytes, over the limit", p, st.Size())
		}
		data, _ := os.ReadFile(p)
		total += strings.Count(string(data), "\n")
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Errorf("more than dead_letter_max_files old files kept")
	}
	last, _ := os.ReadFile(path)
	if !strings.Contains(string(last), `"auditID":"049"`) || total >= 50 || total < 20 {
		t.Errorf("rotation kept %d letters; newest file:\n%s", total, last)
	}
}

func TestMaskPrefix(t *testing.T) {
	for in, want := range map[string]string{
		`{"data":{"k":"v"},"n":12,"ok":true,"x":null}`:                                                      `{"data":{"k":"***"},"n":12,"ok":true,"x":null}`,
		`{"kind":"Event","auditID": "a-1","verb":"get","requestURI":"/x?token=t","objectRef":{"kind":"x"}}`: `{"kind":"Event","auditID": "a-1","verb":"get","requestURI":"***","objectRef":{"kind":"x"}}`,
		`["kind","verb"]`:            `["***","***"]`,
		`{"token":"abc`:              `{"token":"***`,
		`password=hunter2 user=root`: `*=* *=*`,
		`["a","b"]`:                  `["***","***"]`,
		"{\"k\xff\":\"v\"}":          "{\"k\uFFFD\":\"***\"}",
		`{"esc\"aped":"va\"lue"}`:    `{"esc\"aped":"***"}`,
	} {
		if got := MaskPrefix([]byte(in), 100); got != want {
			t.Errorf("MaskPrefix(%q) = %q, want %q", in, got, want)
		}
	}
	if got := MaskPrefix([]byte(`{"a":"`+strings.Repeat("x", 500)+`"}`), 10); got != `{"a":"***…` {
		t.Errorf("cut: %q", got)
	}
}
