package plugin

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/auditlane/auditlane/common/pipeline/promexport"
)

// Go plugins cannot add to Fluent Bit's own metrics, so the plugin serves
// its counters itself when metrics_listen is set: one HTTP server per
// address, shared by the [OUTPUT] instances that name it, each exporting
// its counters with its own component label.

type metricsServer struct {
	addr  string
	reg   *prometheus.Registry
	srv   *http.Server
	users int
}

var (
	metricsMu      sync.Mutex
	metricsServers = map[string]*metricsServer{}
)

// serveMetrics registers c at addr, starting the server on first use.
func serveMetrics(addr string, c *promexport.Collector) (stop func(), err error) {
	metricsMu.Lock()
	defer metricsMu.Unlock()
	ms := metricsServers[addr]
	if ms == nil {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("metrics_listen: %w", err)
		}
		reg := prometheus.NewRegistry()
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
		ms = &metricsServer{addr: addr, reg: reg, srv: srv}
		go func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				NewLogger(os.Stderr, LevelError, "auditlane").Errorf("metrics_listen %s: %v", addr, err)
			}
		}()
		metricsServers[addr] = ms
	}
	if err := ms.reg.Register(c); err != nil {
		if ms.users == 0 {
			ms.srv.Close()
			delete(metricsServers, addr)
		}
		return nil, fmt.Errorf("metrics_listen %s: %w", addr, err)
	}
	ms.users++
	return func() {
		metricsMu.Lock()
		defer metricsMu.Unlock()
		ms.reg.Unregister(c)
		ms.users--
		if ms.users == 0 {
			ms.srv.Close()
			delete(metricsServers, addr)
		}
	}, nil
}
