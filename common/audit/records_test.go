package audit

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestRecords checks that every record shape ends as its events, in order,
// with positions, and that Parse refuses the list shapes.
func TestRecords(t *testing.T) {
	ev1 := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","verb":"get","requestURI":"/api/v1/secrets"}`
	ev2 := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a2","stage":"ResponseComplete","verb":"list","requestURI":"/api/v1/pods"}`
	aks, err := os.ReadFile("../provider/testdata/aks/records-batch.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, in string
		want     []string // auditIDs, or "!reason" for an error
		listErr  bool     // Parse must refuse it with ErrList
	}{
		{"event", ev1, []string{"a1"}, false},
		{"event with space", "  \n" + ev1 + "\r\n", []string{"a1"}, false},
		{"eventlist", `{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[` + ev1 + `,` + ev2 + `]}`, []string{"a1", "a2"}, true},
		{"pretty eventlist", "{\n  \"kind\": \"EventList\",\n  \"items\": [\n    " + ev1 + ",\n    " + ev2 + "\n  ]\n}", []string{"a1", "a2"}, true},
		{"empty eventlist", `{"kind":"EventList","items":[]}`, nil, true},
		{"array", `[` + ev1 + `,` + ev2 + `]`, []string{"a1", "a2"}, true},
		{"bad item", `{"kind":"EventList","items":[` + ev1 + `,{"kind":3},` + ev2 + `]}`, []string{"a1", "!wrong type", "a2"}, true},
		{"nested list", `[` + ev1 + `,{"kind":"EventList","items":[]}]`, []string{"a1", "!unsupported kind"}, true},
		{"truncated list", `{"kind":"EventList","items":[` + ev1 + `,{"kind":"Ev`, []string{"!invalid JSON"}, false},
		{"not an object", `42`, []string{"!event is not a JSON object"}, false},
		{"empty", "  ", []string{"!invalid JSON"}, false},
		{"aks batch", string(aks), nil, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			var ev Event
			var got []string
			n := 0
			Records([]byte(c.in), &ev, func(e *Event, err error) bool {
				if err != nil {
					var de *DecodeError
					if !errors.As(err, &de) {
						t.Fatalf("error %v is not a *DecodeError", err)
					}
					got = append(got, "!"+de.Err.Error())
					if len(e.Raw) == 0 && c.name != "empty" {
						t.Errorf("no bytes for the rejected unit")
					}
				} else {
					got = append(got, e.AuditID)
					if !strings.Contains(c.in, string(e.Raw)) && !strings.HasPrefix(c.name, "aks") {
						t.Errorf("Raw %q is not a part of the record", e.Raw)
					}
				}
				if strings.Contains(c.in, "items") || strings.HasPrefix(c.in, "[") {
					if c.name != "truncated list" && e.Index != n {
						t.Errorf("unit %d has Index %d", n, e.Index)
					}
				}
				n++
				return true
			})
			// The Decoder splits each top-level value of a stream the same way.
			var viaDecoder []string
			if err := ForEach([]byte(c.in), func(e *Event, err error) bool {
				var de *DecodeError
				if errors.As(err, &de) {
					viaDecoder = append(viaDecoder, "!"+de.Err.Error())
				} else {
					viaDecoder = append(viaDecoder, e.AuditID)
				}
				return true
			}); err != nil {
				t.Fatal(err)
			}
			if c.name == "aks batch" {
				if len(got) < 2 {
					t.Fatalf("aks batch gave %v", got)
				}
			} else if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("got %v, want %v", got, c.want)
			}
			if c.name == "truncated list" {
				// The Decoder streams lists that do not fit one line: the
				// items before the cut are decoded.
				got = append([]string{"a1"}, got...)
			}
			if c.name != "empty" && fmt.Sprint(got) != fmt.Sprint(viaDecoder) {
				t.Fatalf("Records gave %v, the Decoder %v", got, viaDecoder)
			}
			err := Parse([]byte(c.in), &ev)
			if c.listErr != errors.Is(err, ErrList) {
				t.Fatalf("Parse: %v (want ErrList: %v)", err, c.listErr)
			}
		})
	}
}

// TestRecordsStop checks that fn returning false stops the split.
func TestRecordsStop(t *testing.T) {
	var ev Event
	n := 0
	Records([]byte(`[{"auditID":"1"},{"auditID":"2"},{"auditID":"3"}]`), &ev, func(*Event, error) bool { n++; return n < 2 })
	if n != 2 {
		t.Fatalf("fn called %d times, want 2", n)
	}
}

// TestRecordsAllocs: one event per record costs what Parse costs.
func TestRecordsAllocs(t *testing.T) {
	data := []byte(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"a1","stage":"ResponseComplete","verb":"get","requestURI":"/x","user":{"username":"u","groups":["g"]}}`)
	list := []byte(`{"kind":"EventList","items":[` + string(data) + `,` + string(data) + `]}`)
	var ev Event
	fn := func(*Event, error) bool { return true }
	Records(data, &ev, fn)
	Records(list, &ev, fn)
	if a := testing.AllocsPerRun(100, func() { Records(data, &ev, fn) }); a > 1 {
		t.Errorf("Records of one event allocates %v times, want <= 1", a)
	}
	if a := testing.AllocsPerRun(100, func() { Records(list, &ev, fn) }); a > 3 {
		t.Errorf("Records of a two-event list allocates %v times, want <= 3 (one per event, one for the list)", a)
	}
}
