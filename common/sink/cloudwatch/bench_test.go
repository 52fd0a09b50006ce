package cloudwatch

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/auditlane/auditlane/common/sink"
	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
)

// benchRecords builds n records from a real audit event (testdata, see
// testdata/SOURCES.md) with distinct IDs.
func benchRecords(b *testing.B, n int) ([]sink.Record, int64) {
	body, err := os.ReadFile("testdata/create_nginx_pod_privileged.json")
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	recs := make([]sink.Record, n)
	var bytes int64
	for i := range recs {
		recs[i] = sink.Record{ID: fmt.Sprint(i), Time: now.Add(time.Duration(i%1000) * time.Millisecond), Body: body}
		bytes += int64(len(body))
	}
	return recs, bytes
}

// BenchmarkWriter measures end-to-end delivery into the local server: one
// op is a Write of 1,000 records (one PutLogEvents call).
func BenchmarkWriter(b *testing.B) {
	for _, perWrite := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("records=%d", perWrite), func(b *testing.B) {
			srv := newServer(b, cwtest.Options{Discard: true})
			srv.CreateStream("/k8s/test/audit", "node-1")
			w := newTestWriter(b, srv, Config{})
			recs, bytes := benchRecords(b, perWrite)
			res := make([]sink.Result, len(recs))
			b.SetBytes(bytes)
			b.ReportAllocs()
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			b.ResetTimer()
			for b.Loop() {
				if err := w.Write(context.Background(), recs, res); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&ms1)
			events := float64(b.N) * float64(perWrite)
			b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/events, "allocs/event")
		})
	}
}

// cannedTransport answers every PutLogEvents with an empty success without
// a network, so that allocations of the writer and the SDK are measured
// apart from the in-process server's.
type cannedTransport struct{}

func (cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/x-amz-json-1.1"}},
		Body:    io.NopCloser(strings.NewReader("{}")),
		Request: r,
	}, nil
}

// BenchmarkWriterClientOnly is BenchmarkWriter without the server: the
// client side's cost and allocations per event.
func BenchmarkWriterClientOnly(b *testing.B) {
	w, err := New(context.Background(), Config{LogGroupName: "/k8s/test/audit", LogStreamName: "node-1", Endpoint: "http://127.0.0.1:1"},
		WithAWSConfig(testAWSConfig(testKeyID, testSecret)), WithHTTPClient(&http.Client{Transport: cannedTransport{}}))
	if err != nil {
		b.Fatal(err)
	}
	recs, bytes := benchRecords(b, 1_000)
	res := make([]sink.Result, len(recs))
	b.SetBytes(bytes)
	b.ReportAllocs()
	for b.Loop() {
		if err := w.Write(context.Background(), recs, res); err != nil {
			b.Fatal(err)
		}
	}
	events := float64(b.N) * float64(len(recs))
	b.ReportMetric(events/b.Elapsed().Seconds(), "events/s")
	if st := w.Stats(); st.EventsSent != int64(events) {
		b.Fatalf("sent %d of %v", st.EventsSent, events)
	}
}

// BenchmarkPlan measures the writer's own work per record (checks, routing,
// sorting, splitting) without the SDK or the network.
func BenchmarkPlan(b *testing.B) {
	w, err := newWriter(Config{LogGroupName: "/k8s/{cluster}/audit", LogStreamName: "{ns}", Vars: map[string]string{"cluster": "c"}}.withDefaults(), nil, options{})
	if err != nil {
		b.Fatal(err)
	}
	recs, bytes := benchRecords(b, 1_000)
	for i := range recs {
		recs[i].Fields = []sink.Field{{Key: "ns", Value: fmt.Sprint("ns-", i%4)}}
	}
	b.SetBytes(bytes)
	b.ReportAllocs()
	for b.Loop() {
		routes := map[routeKey][]item{}
		for i := range recs {
			key, err := w.resolve(&recs[i])
			if err != nil {
				b.Fatal(err)
			}
			routes[key] = append(routes[key], item{idx: i, ts: recs[i].Time.UnixMilli(), size: len(recs[i].Body)})
		}
		for _, items := range routes {
			_ = w.split(items)
		}
	}
	b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "events/s")
}
