package sls_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/auditlane/auditlane/common/sink"
	"github.com/auditlane/auditlane/common/sink/sls"
	"github.com/auditlane/auditlane/common/sink/sls/slstest"
)

// Writing two audit events to a local SLS and reading back what it stored.
func Example() {
	srv, err := slstest.Start("127.0.0.1:0", slstest.Options{
		Projects: map[string][]string{"k8s-log-c123": {"audit-c123"}},
		Keys:     map[string]string{"LTAIexample": "example-secret"},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	w, err := sls.New(context.Background(), sls.Config{
		Endpoint:        srv.Endpoint(), // e.g. "cn-hangzhou.log.aliyuncs.com" in production
		Project:         "k8s-log-c123",
		Logstore:        "audit-c123",
		Topic:           "k8s-audit",
		AccessKeyID:     "LTAIexample",
		AccessKeySecret: "example-secret",
	}, sls.WithHTTPClient(srv.Client()))
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close(context.Background())

	ts := time.Date(2023, 2, 18, 16, 7, 50, 655406000, time.UTC)
	recs := []sink.Record{
		{Time: ts, ID: "8db7597c", Body: []byte(`{"auditID":"8db7597c","verb":"list","user":{"username":"eks:k8s-metrics"}}`)},
		{Time: ts, ID: "bad", Body: []byte(`not json`)},
	}
	results := make([]sink.Result, len(recs))
	err = w.Write(context.Background(), recs, results)
	fmt.Println("error:", err != nil)
	for i, r := range results {
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%s %s %s", recs[i].ID, r.Status, r.Reason)))
	}
	for _, l := range srv.Logs("k8s-log-c123", "audit-c123") {
		fmt.Println(l.Topic, l.Time.Format(time.RFC3339Nano), l.Contents)
	}
	// Output:
	// error: true
	// 8db7597c delivered
	// bad permanent invalid_body
	// k8s-audit 2023-02-18T16:07:50.655406Z [{auditID 8db7597c} {verb list} {user {"username":"eks:k8s-metrics"}}]
}
