package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
)

func streamEvent(i int) string {
	return fmt.Sprintf(`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"id-%d","stage":"ResponseComplete","verb":"get","requestURI":"/api/v1/namespaces/default/pods/p-%d","user":{"username":"alice","groups":["system:authenticated"]}}`, i, i)
}

func streamList(n int) string {
	var b strings.Builder
	b.WriteString(`{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{},"items":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(streamEvent(i))
	}
	b.WriteString("]}")
	return b.String()
}

// results decodes input with a read buffer of size bytes (0: the default)
// and maxSize, and lists the auditIDs, "!" + the cause for errors.
func results(t *testing.T, input string, size, maxSize int) []string {
	t.Helper()
	d := NewDecoder(strings.NewReader(input))
	if size > 0 {
		d = newDecoderSize(strings.NewReader(input), size)
	}
	d.MaxSize = maxSize
	var got []string
	for len(got) < 100_000 {
		ev, err := d.Next()
		if err == io.EOF {
			return got
		}
		var de *DecodeError
		if err != nil {
			if !errors.As(err, &de) {
				t.Fatalf("non-decode error %v", err)
			}
			got = append(got, "!"+de.Err.Error())
			continue
		}
		if !bytes.Equal(ev.Raw, []byte(input[ev.Offset:ev.Offset+int64(len(ev.Raw))])) {
			t.Fatalf("event %s: Raw is not the input at offset %d", ev.AuditID, ev.Offset)
		}
		if want := 1 + strings.Count(input[:ev.Offset], "\n"); ev.Line != want {
			t.Fatalf("event %s on line %d, want %d", ev.AuditID, ev.Line, want)
		}
		got = append(got, ev.AuditID)
	}
	t.Fatal("no end")
	return nil
}

func ids(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("id-%d", i))
	}
	return out
}

// TestStreamedLists checks lists that do not fit the read buffer: they are
// decoded item by item, with each item's offset, index and line, bad items
// cost themselves, and a broken list costs what follows the break.
func TestStreamedLists(t *testing.T) {
	ev := streamEvent
	list := streamList(300) // about 75 KB on one line: longer than the buffer
	pretty := func(s string) string {
		var out bytes.Buffer
		_ = json.Indent(&out, []byte(s), "", "  ")
		return out.String()
	}
	next := "\n" + ev(1000) + "\n"
	cut := list[:len(list)/2]
	whole := 0 // items complete before the cut
	for strings.Contains(cut, ev(whole)+",") {
		whole++
	}
	end := func(s string) string { return list[:len(list)-2] + s } // replaces the final "]}"
	cases := []struct {
		name  string
		input string
		want  []string
	}{
		{"eventlist", list + next, append(ids(0, 300), "id-1000")},
		{"eventlist no newline", list, ids(0, 300)},
		{"pretty eventlist", pretty(list) + next, append(ids(0, 300), "id-1000")},
		{"array", "[" + ev(0) + "," + ev(1) + "]" + next, []string{"id-0", "id-1", "id-1000"}},
		{"kind after items", `{"items":[` + ev(0) + `],"kind":"EventList"}` + next, []string{"id-0", "id-1000"}},
		{"bad item", strings.Replace(list, ev(5), `{"kind":3}`, 1), append(append(ids(0, 5), "!wrong type"), ids(6, 300)...)},
		{"scalar items", `[1,` + ev(0) + `,"x",null]` + next, []string{"!event is not a JSON object", "id-0", "!event is not a JSON object", "!event is not a JSON object", "id-1000"}},
		{"nested list", "[" + ev(0) + `,{"kind":"EventList","items":[]}]` + next, []string{"id-0", "!unsupported kind", "id-1000"}},
		{"truncated at the end", cut, append(ids(0, whole), "!invalid JSON")},
		{"truncated, then a line", cut + next, append(ids(0, whole), "!invalid JSON", "id-1000")},
		{"garbage between items", strings.Replace(list, ","+ev(7), " x "+ev(7), 1) + next, append(ids(0, 7), "!invalid JSON", "id-1000")},
		{"trailing comma", end(",]}") + next, append(ids(0, 300), "!invalid JSON", "id-1000")},
		{"bad members after the items", end(`],"kind":"Pod"}`) + next, append(ids(0, 300), "!unsupported kind", "id-1000")},
		{"empty", `{"kind":"EventList","items":[]}` + next, []string{"id-1000"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := results(t, tc.input, 4096, 0)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("got %v\nwant %v", short(got), short(tc.want))
			}
		})
	}
	// An item over MaxSize is refused alone; a list is not bounded by it.
	big := "[" + ev(0) + `,{"auditID":"big","verb":"get","requestObject":"` + strings.Repeat("x", 5000) + `"},` + ev(1) + "]"
	if got := results(t, big, 1024, 2048); fmt.Sprint(got) != "[id-0 !too large id-1]" {
		t.Fatalf("too-large item: %v", got)
	}
}

func short(s []string) string {
	if len(s) > 12 {
		return fmt.Sprint(s[:6], "…", s[len(s)-6:])
	}
	return fmt.Sprint(s)
}

// TestStreamedListMemory decodes a 30 MB EventList with a 64 KiB MaxSize:
// every event comes out, and the Decoder allocates a small fraction of
// the list.
func TestStreamedListMemory(t *testing.T) {
	list := []byte(streamList(110_000))
	d := NewDecoder(bytes.NewReader(list))
	d.MaxSize = 64 << 10
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	n := 0
	for {
		_, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	runtime.ReadMemStats(&after)
	if n != 110_000 {
		t.Fatalf("%d events", n)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d MB list: %d events, %d KB allocated", len(list)>>20, n, alloc>>10)
	// Gathering the list whole would allocate more than the list (the
	// buffer grows by doubling); what is allocated here is each event's
	// strings.
	if alloc > uint64(len(list))/2 {
		t.Fatalf("%d bytes allocated decoding a %d byte list", alloc, len(list))
	}
	if c := max(cap(d.acc), cap(d.list.item)); c > 64<<10 {
		t.Fatalf("the Decoder holds a %d byte buffer", c)
	}
}

// BenchmarkEventList decodes one 2,000-event EventList (about 600 KB, one
// line) whole with Records and streamed with the Decoder, side by side.
func BenchmarkEventList(b *testing.B) {
	list := []byte(streamList(2000))
	b.Run("records", func(b *testing.B) {
		b.SetBytes(int64(len(list)))
		var ev Event
		for b.Loop() {
			Records(list, &ev, func(*Event, error) bool { return true })
		}
	})
	b.Run("decoder-streamed", func(b *testing.B) {
		b.SetBytes(int64(len(list)))
		r := bytes.NewReader(list)
		for b.Loop() {
			r.Reset(list)
			d := NewDecoder(r)
			for {
				if _, err := d.Next(); err != nil {
					break
				}
			}
		}
	})
}
