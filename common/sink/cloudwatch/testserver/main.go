// Command testserver runs the strict local CloudWatch Logs server
// (package cwtest) standalone, for examples and manual runs:
//
//	go run ./common/sink/cloudwatch/testserver -listen 127.0.0.1:4566 -throttle-rate 0.1
//
// It prints the endpoint URL and serves until interrupted. Point a client at
// it with AWS_ENDPOINT_URL_CLOUDWATCH_LOGS=<url> and any static credentials
// (or, with -access-key/-secret-key, exactly those, signatures verified).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/auditlane/auditlane/common/sink/cloudwatch/cwtest"
)

func main() {
	var (
		listen    = flag.String("listen", "127.0.0.1:4566", "listen address (loopback)")
		region    = flag.String("region", "us-east-1", "region required in the SigV4 credential scope")
		accessKey = flag.String("access-key", "", "accepted access key ID; with -secret-key, signatures are verified")
		secretKey = flag.String("secret-key", "", "secret access key for -access-key")
		errorRate = flag.Float64("error-rate", 0, "fraction of requests answered ServiceUnavailableException (500)")
		throttle  = flag.Float64("throttle-rate", 0, "fraction of requests answered ThrottlingException (400)")
		resetRate = flag.Float64("reset-rate", 0, "fraction of connections reset without an answer")
		latency   = flag.Duration("latency", 0, "latency added to every request")
		outage    = flag.Duration("outage", 0, "answer everything with 503 for this long after start")
		ops       = flag.String("fault-ops", "", "comma-separated operations faults apply to (default all)")
		seed      = flag.Uint64("seed", 1, "fault generator seed")
		groups    = flag.String("create", "", "comma-separated group:stream pairs to create at start")
		discard   = flag.Bool("discard", false, "count accepted events without keeping them")
	)
	flag.Parse()
	if err := run(*listen, *region, *accessKey, *secretKey, *ops, *groups, *discard, *outage, cwtest.Faults{
		ErrorRate: *errorRate, ThrottleRate: *throttle, ResetRate: *resetRate, Latency: *latency, Seed: *seed,
	}); err != nil {
		fmt.Fprintln(os.Stderr, "testserver:", err)
		os.Exit(1)
	}
}

func run(listen, region, accessKey, secretKey, ops, create string, discard bool, outage time.Duration, faults cwtest.Faults) error {
	for _, r := range []float64{faults.ErrorRate, faults.ThrottleRate, faults.ResetRate} {
		if r < 0 || r > 1 {
			return fmt.Errorf("rates must be between 0 and 1, got %v", r)
		}
	}
	if (accessKey == "") != (secretKey == "") {
		return fmt.Errorf("-access-key and -secret-key go together")
	}
	if ops != "" {
		faults.Operations = strings.Split(ops, ",")
	}
	opts := cwtest.Options{Addr: listen, Region: region, Faults: faults, Discard: discard}
	if accessKey != "" {
		opts.Credentials = map[string]cwtest.Credential{accessKey: {SecretAccessKey: secretKey}}
	}
	srv, err := cwtest.New(opts)
	if err != nil {
		return err
	}
	defer srv.Close()
	for _, pair := range strings.Split(create, ",") {
		if pair == "" {
			continue
		}
		group, stream, ok := strings.Cut(pair, ":")
		if !ok || group == "" || stream == "" {
			return fmt.Errorf("-create wants group:stream, got %q", pair)
		}
		srv.CreateStream(group, stream)
	}
	if outage > 0 {
		srv.Outage(outage)
	}
	fmt.Println(srv.URL)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	st := srv.Stats()
	fmt.Fprintf(os.Stderr, "testserver: %d requests, %d events stored, %d throttled, %d unavailable, %d resets\n",
		st.Requests, st.StoredEvents, st.Throttled, st.Unavailable, st.Resets)
	return nil
}
