package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// decodeAll runs the Decoder over data and returns the events (cloned) and
// errors in order.
func decodeAll(t *testing.T, data []byte) (evs []*Event, errs []error) {
	t.Helper()
	d := NewDecoder(bytes.NewReader(data))
	for {
		ev, err := d.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		evs = append(evs, ev.Clone())
	}
}

func TestProviderRecordsDecode(t *testing.T) {
	files, _ := filepath.Glob("../provider/testdata/*/*.json")
	if len(files) < 10 {
		t.Fatalf("provider fixtures: %v", files)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		evs, errs := decodeAll(t, data)
		want := 1
		if strings.HasSuffix(f, "records-batch.json") {
			want = 2 // and one record of another category, not audit
			if len(errs) != 1 || !errors.Is(errs[0], ErrNotAudit) {
				t.Errorf("%s: errors %v, want one ErrNotAudit", f, errs)
			}
		} else if len(errs) > 0 {
			t.Errorf("%s: %v", f, errs)
		}
		if len(evs) != want {
			t.Fatalf("%s: %d events, want %d", f, len(evs), want)
		}
		prov := filepath.Base(filepath.Dir(f))
		for _, ev := range evs {
			var got struct {
				Kind        string            `json:"kind"`
				APIVersion  string            `json:"apiVersion"`
				Annotations map[string]string `json:"annotations"`
			}
			if err := json.Unmarshal(ev.Raw, &got); err != nil {
				t.Fatalf("%s: unwrapped event is not JSON: %v", f, err)
			}
			if got.Kind != "Event" || got.APIVersion != VersionV1 || got.Annotations["auditlane.io/provider"] != prov {
				t.Errorf("%s: kind %q apiVersion %q provider %q", f, got.Kind, got.APIVersion, got.Annotations["auditlane.io/provider"])
			}
			if ev.AuditID == "" || ev.Verb == "" || ev.User.Username == "" || ev.StageTimestamp == "" {
				t.Errorf("%s: fields not decoded: %+v", f, ev)
			}
			// A rewrite of the unwrapped event is valid JSON.
			var w Rewrite
			w.Reset()
			w.Drop(MemberRequestObject)
			if out := w.AppendTo(nil, ev); !json.Valid(out) {
				t.Errorf("%s: rewrite invalid: %s", f, out)
			}
		}
	}
}

func TestProviderRecordsInStreams(t *testing.T) {
	gke, err := os.ReadFile("../provider/testdata/gke/pod-exec.json")
	if err != nil {
		t.Fatal(err)
	}
	gke = bytes.TrimSpace(gke)
	ev := `{"kind":"Event","auditID":"plain","verb":"get"}`
	// gcloud logging read --format=json prints a JSON array of entries.
	input := "[" + string(gke) + "," + string(gke) + "]\n" + ev + "\n" + `{"category":"kube-audit","properties":{"log":"not json"}}` + "\n"
	evs, errs := decodeAll(t, []byte(input))
	if len(evs) != 3 || evs[2].AuditID != "plain" || evs[0].Index != 0 || evs[1].Index != 1 {
		t.Fatalf("events %d %v", len(evs), errs)
	}
	var de *DecodeError
	if len(errs) != 1 || !errors.As(errs[0], &de) || !errors.Is(errs[0], ErrProvider) || de.Line != strings.Count(input, "\n") || !strings.Contains(de.Error(), "properties.log") {
		t.Fatalf("errors %v", errs)
	}
	// Parse handles single records and refuses batches.
	var e Event
	if err := Parse(gke, &e); err != nil || e.Verb == "" {
		t.Errorf("Parse GKE: %v verb=%q", err, e.Verb)
	}
	batch, _ := os.ReadFile("../provider/testdata/aks/records-batch.json")
	if err := Parse(batch, &e); !errors.Is(err, ErrList) || !strings.Contains(err.Error(), "batch") {
		t.Errorf("Parse batch: %v", err)
	}
	// A plain Event with no kind is still an Event.
	if err := Parse([]byte(`{"verb":"get","auditID":"x"}`), &e); err != nil || e.AuditID != "x" {
		t.Errorf("plain: %v", err)
	}
}
