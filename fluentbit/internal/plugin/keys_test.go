package plugin

import (
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/config"
)

// sampleValues are valid, non-default values for keys whose type alone
// does not give one, with the keys they need beside them.
var sampleValues = map[string]struct {
	v    string
	with map[string]string
}{
	"region":                 {"eu-west-1", nil},
	"role_arn":               {"arn:aws:iam::123456789012:role/audit", nil},
	"external_id":            {"ext-1", map[string]string{"role_arn": "arn:aws:iam::123456789012:role/audit"}},
	"kms_key_id":             {"arn:aws:kms:us-east-1:123456789012:key/abc", map[string]string{"auto_create_group": "on"}},
	"log_group_tags":         {"team=a", map[string]string{"auto_create_group": "on"}},
	"log_group_class":        {"INFREQUENT_ACCESS", map[string]string{"auto_create_group": "on"}},
	"endpoint":               {"https://logs.example.com", nil},
	"sts_endpoint":           {"https://sts.example.com", nil},
	"log_retention_days":     {"30", nil},
	"risk_rules_disable":     {"exec-into-pod", nil},
	"metrics_listen":         {"127.0.0.1:0", nil},
	"file_path":              {"/tmp/out2.jsonl", map[string]string{"destination": "file", "file_path": "/tmp/out1.jsonl"}},
	"retry_initial_interval": {"500ms", nil},
	"layout":                 {"attributes", nil},
	"project":                {"other-proj", nil},
	"logstore":               {"other-store", nil},
	"hash_key":               {"${verb}", nil},
	"max_batch_bytes":        {"1048576", nil},
}

// notDistinct are keys whose only valid value is their default.
var notDistinct = map[string]string{
	"max_batch_bytes/cloudwatch": "the service allows exactly 1,048,576 bytes (MaxEventBytes..MaxBatchBytes)",
}

// TestEveryKeyReachesTheConfig sets each key the plugin registers, one at
// a time, to a valid value other than its default, and checks that the
// loaded configuration changes: a documented key the loader ignored
// (max_input_size once was) fails here.
func TestEveryKeyReachesTheConfig(t *testing.T) {
	bases := map[string]map[string]string{
		"cloudwatch": {"destination": "cloudwatch", "log_group_name": "/k8s/audit"},
		"sls":        {"destination": "sls", "endpoint": "cn-hangzhou.log.aliyuncs.com", "project": "proj-a", "logstore": "audit"},
		"stdout":     {"destination": "stdout"},
	}
	load := func(m map[string]string) (Config, error) { return Load(getter(m)) }
	checked := map[string]bool{}
	for dest, base := range bases {
		if _, err := load(base); err != nil {
			t.Fatalf("%s base: %v", dest, err)
		}
		for _, s := range Sections() {
			if (s.Name == "cloudwatch" && dest != "cloudwatch") || (s.Name == "sls" && dest != "sls") {
				continue
			}
			for _, k := range s.Keys {
				if k.Name == "destination" || notDistinct[k.Name+"/"+dest] != "" || (k.Name == "file_path" && dest != "stdout") {
					continue
				}
				v, with := sample(k)
				m := map[string]string{}
				for a, b := range base {
					m[a] = b
				}
				for a, b := range with {
					m[a] = b
				}
				before, err := load(m)
				if err != nil {
					t.Fatalf("%s %s: the keys it needs: %v", dest, k.Name, err)
				}
				m[k.Name] = v
				got, err := load(m)
				if err != nil {
					t.Errorf("%s: %s=%s: %v", dest, k.Name, v, err)
					continue
				}
				if reflect.DeepEqual(got, before) {
					t.Errorf("%s: %s=%s changed nothing in the loaded configuration", dest, k.Name, v)
				}
				checked[k.Name] = true
			}
		}
	}
	for _, k := range Keys() {
		if !checked[k] && k != "destination" {
			t.Errorf("key %s was not checked", k)
		}
	}
}

func sample(k config.Key) (string, map[string]string) {
	if s, ok := sampleValues[k.Name]; ok {
		return s.v, s.with
	}
	switch k.Type {
	case config.TypeBool:
		if v, _ := config.ParseBool(k.Default); v {
			return "off", nil
		}
		return "on", nil
	case config.TypeInt:
		return "7", nil
	case config.TypeSize:
		return "3k", nil
	case config.TypeDuration:
		return "7s", nil
	case config.TypeEnum:
		for _, e := range k.Enum {
			if !strings.EqualFold(e, k.Default) {
				return e, nil
			}
		}
	case config.TypeMap:
		return "k=v", nil
	case config.TypeList:
		return "a,b", nil
	}
	return "value-" + k.Name, nil
}

// TestMaxInputSizeApplied: a record over max_input_size is rejected as
// too_large (and dead-lettered as its size, hash and masked prefix), the
// others pass.
func TestMaxInputSizeApplied(t *testing.T) {
	lines := sampleLines(t, 20)
	longest := 0
	for _, l := range lines {
		longest = max(longest, len(l))
	}
	limit := longest + 1
	big := []byte(strings.TrimSuffix(string(lines[0]), "}") + `,"requestObject":{"x":"` + strings.Repeat("y", limit) + `"}}`)
	ms := &memSink{}
	dl := filepath.Join(t.TempDir(), "dl.jsonl")
	in := newInstance(t, ms, map[string]string{"max_input_size": strconv.Itoa(limit), "dead_letter_file": dl})
	defer in.Close(time.Second)
	if st := in.Flush(logChunk(append(lines, big)), "kube.audit"); st != StatusOK {
		t.Fatalf("flush = %v", st)
	}
	c := in.Stats().Pipeline
	if c.RejectedByReason["too_large"] != 1 || len(ms.delivered) != 20 {
		t.Fatalf("rejected %v, delivered %d", c.RejectedByReason, len(ms.delivered))
	}
	b, _ := os.ReadFile(dl)
	if !strings.Contains(string(b), `"reason":"too_large"`) || strings.Contains(string(b), "yyyy") {
		t.Fatalf("dead letter: %s", b)
	}
}
