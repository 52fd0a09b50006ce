package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/auditlane/auditlane/common/sink"
)

func TestWriteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.jsonl")
	w, err := Open(path, true)
	if err != nil {
		t.Fatal(err)
	}
	recs := []sink.Record{
		{Body: []byte(`{"a":1}`), ID: "1"},
		{Body: nil, ID: "2"},
		{Body: []byte("{\"b\":\n2}"), ID: "3"},
		{Body: []byte(`{"c":3}`), ID: "4"},
	}
	res := make([]sink.Result, len(recs))
	err = w.Write(context.Background(), recs, res)
	var se *sink.Error
	if !errors.As(err, &se) || se.Delivered != 2 || se.Permanent != 2 {
		t.Fatalf("err = %v, want 2 delivered 2 permanent", err)
	}
	want := []sink.Status{sink.Delivered, sink.Permanent, sink.Permanent, sink.Delivered}
	for i, r := range res {
		if r.Status != want[i] {
			t.Errorf("record %d: %v, want %v", i, r.Status, want[i])
		}
	}
	if res[1].Reason != ReasonEmpty || res[2].Reason != ReasonNewline {
		t.Errorf("reasons %q %q", res[1].Reason, res[2].Reason)
	}
	if err := w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if string(got) != "{\"a\":1}\n{\"c\":3}\n" {
		t.Fatalf("file = %q", got)
	}
	st := w.Stats()
	if st.EventsSent != 2 || st.BytesSent != 14 || st.Rejected[ReasonEmpty] != 1 {
		t.Errorf("stats = %+v", st)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	// After Close: retryable, never silently lost.
	res = res[:1]
	if err := w.Write(context.Background(), recs[:1], res); err == nil || res[0].Status != sink.Retryable {
		t.Fatalf("write after close: %v %v", err, res[0])
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteFailureRetryable(t *testing.T) {
	w := New(failWriter{}, "fail")
	recs := []sink.Record{{Body: []byte("x")}, {Body: []byte("y")}}
	res := make([]sink.Result, 2)
	err := w.Write(context.Background(), recs, res)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("err = %v", err)
	}
	for _, r := range res {
		if r.Status != sink.Retryable || r.Reason != ReasonIO {
			t.Fatalf("result %+v", r)
		}
	}
}

func TestWriteCanceledAndMismatch(t *testing.T) {
	var sb strings.Builder
	w := New(&sb, "buf")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := make([]sink.Result, 1)
	if err := w.Write(ctx, []sink.Record{{Body: []byte("x")}}, res); err == nil || res[0].Status != sink.Pending {
		t.Fatalf("canceled: %v %+v", err, res[0])
	}
	if err := w.Write(context.Background(), []sink.Record{{Body: []byte("x")}}, nil); err == nil {
		t.Fatal("mismatched results accepted")
	}
	if sb.Len() != 0 {
		t.Fatalf("wrote %q", sb.String())
	}
}

func BenchmarkWrite(b *testing.B) {
	w, err := Open(filepath.Join(b.TempDir(), "out"), false)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close(context.Background())
	body := []byte(strings.Repeat("x", 1000))
	recs := make([]sink.Record, 100)
	for i := range recs {
		recs[i].Body = body
	}
	res := make([]sink.Result, len(recs))
	b.ReportAllocs()
	b.SetBytes(int64(len(body) * len(recs)))
	for b.Loop() {
		if err := w.Write(context.Background(), recs, res); err != nil {
			b.Fatal(err)
		}
	}
}
