// Command testserver runs the local SLS imitation from package slstest for
// examples and manual runs:
//
//	go run ./common/sink/sls/testserver -listen 127.0.0.1:7070 \
//	    -project audit-prj=audit-ls -key LTAIexample=example-secret \
//	    -throttle-rate 0.1 -error-rate 0.05
//
// Clients must reach "<project>.<domain>" at the listen address, for
// example with the sls package's WithHTTPClient option, or a hosts entry
// mapping "<project>.sls.test" to 127.0.0.1 and the endpoint
// "http://sls.test:7070". On SIGINT or SIGTERM it prints its counters and
// exits.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/auditlane/auditlane/common/sink/sls/slstest"
)

// pairs collects repeated "a=b" flags.
type pairs map[string]string

func (p pairs) String() string { return fmt.Sprint(map[string]string(p)) }

func (p pairs) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want name=value, got %q", v)
	}
	p[k] = val
	return nil
}

func main() {
	projects, keys, tokens := pairs{}, pairs{}, pairs{}
	listen := flag.String("listen", "127.0.0.1:7070", "address to listen on")
	domain := flag.String("domain", slstest.DefaultDomain, "endpoint host; requests must use <project>.<domain>")
	flag.Var(projects, "project", "project=logstore[,logstore...] (repeatable)")
	flag.Var(keys, "key", "AccessKeyId=AccessKeySecret accepted by the server (repeatable)")
	flag.Var(tokens, "token", "AccessKeyId=SecurityToken required for that key (repeatable)")
	errRate := flag.Float64("error-rate", 0, "share of requests answered 500/503")
	throttleRate := flag.Float64("throttle-rate", 0, "share of requests answered 403 WriteQuotaExceed/ShardWriteQuotaExceed")
	resetRate := flag.Float64("reset-rate", 0, "share of connections reset")
	latency := flag.Duration("latency", 0, "latency added to every answer")
	outage := flag.Duration("outage", 0, "fail every request for this long after start")
	outageReset := flag.Bool("outage-reset", false, "reset connections during the outage instead of answering 503")
	seed := flag.Uint64("seed", 0, "seed for fault draws")
	flag.Parse()

	if len(projects) == 0 {
		projects["audit-prj"] = "audit-ls"
	}
	if len(keys) == 0 {
		log.Fatal("testserver: at least one -key AccessKeyId=AccessKeySecret is required")
	}
	opts := slstest.Options{
		Domain:   *domain,
		Projects: map[string][]string{},
		Keys:     keys,
		Tokens:   tokens,
		Faults: slstest.Faults{
			ErrorRate: *errRate, ThrottleRate: *throttleRate, ResetRate: *resetRate,
			Latency: *latency, OutageReset: *outageReset, Seed: *seed,
		},
	}
	for p, ls := range projects {
		opts.Projects[p] = strings.Split(ls, ",")
	}
	srv, err := slstest.Start(*listen, opts)
	if err != nil {
		log.Fatal(err)
	}
	if *outage > 0 {
		srv.Outage(*outage)
	}
	_, port, _ := strings.Cut(srv.Addr(), ":")
	log.Printf("testserver: SLS on %s; endpoint http://%s:%s (resolve <project>.%s to 127.0.0.1); projects %v",
		srv.Addr(), *domain, port, *domain, opts.Projects)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			st := srv.Stats()
			log.Printf("testserver: %d requests, %d accepted, %d logs stored", st.Requests, st.Accepted, st.LogsStored)
		case <-sig:
			srv.Close()
			st := srv.Stats()
			log.Printf("testserver: %d requests, %d accepted, %d logs stored, %d resets, errors %v",
				st.Requests, st.Accepted, st.LogsStored, st.Resets, st.Errors)
			return
		}
	}
}
