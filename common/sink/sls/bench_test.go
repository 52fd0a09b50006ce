package sls

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/auditlane/auditlane/common/sink"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
)

// benchRecords cycles the audit2rbac fixture to n records.
func benchRecords(b *testing.B, n int) ([]sink.Record, int64) {
	fx := loadFixture(b, "audit2rbac-demo.log")
	recs := make([]sink.Record, n)
	var total int64
	for i := range recs {
		recs[i] = fx[i%len(fx)]
		total += int64(len(recs[i].Body))
	}
	return recs, total / int64(n)
}

// BenchmarkWriter measures end-to-end delivery into the local server
// (encode, LZ4, sign, HTTP, server-side decode and checks). One op is one
// event; allocations include the in-process server's.
func BenchmarkWriter(b *testing.B) {
	srv := startServer(b, nil)
	w := newTestWriter(b, srv, nil)
	const per = 1000
	recs, avg := benchRecords(b, per)
	res := make([]sink.Result, per)
	b.SetBytes(avg)
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += per {
		n := min(per, b.N-sent)
		if err := w.Write(context.Background(), recs[:n], res[:n]); err != nil {
			b.Fatal(err)
		}
		if sent%(50*per) == 0 {
			srv.Reset() // keep the server's memory flat
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkEncode measures the writer's own per-event work: layout from
// the JSON body and protobuf encoding into the reused batch buffer.
func BenchmarkEncode(b *testing.B) {
	recs, avg := benchRecords(b, 1000)
	enc := encoder{now: nil}
	buf := make([]byte, 0, 4<<20)
	b.SetBytes(avg)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%1000 == 0 {
			buf = buf[:0]
		}
		var err error
		if buf, err = enc.appendLog(buf, &recs[i%1000]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkWriterClientOnly runs the strict server in a child process so
// that the allocation counts are the writer's own (encoding, LZ4, signing,
// HTTP), per event.
func BenchmarkWriterClientOnly(b *testing.B) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperServerEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("helper server: %v", err)
	}
	addr := strings.TrimSpace(line)
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
	}}
	w, err := New(context.Background(), Config{
		Endpoint: "http://" + slstest.DefaultDomain, Project: testProject, Logstore: testLogstore,
		AccessKeyID: testAK, AccessKeySecret: testSK,
	}, WithHTTPClient(client))
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close(context.Background())
	const per = 1000
	recs, avg := benchRecords(b, per)
	res := make([]sink.Result, per)
	b.SetBytes(avg)
	b.ReportAllocs()
	b.ResetTimer()
	for sent := 0; sent < b.N; sent += per {
		n := min(per, b.N-sent)
		if err := w.Write(context.Background(), recs[:n], res[:n]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
