package enrich

import (
	"syscall"
	"testing"
	"time"
)

// cpuTimer reports the process CPU time (user+system) per op as the custom
// metric "cpu-ns/op". On a shared, overloaded machine wall-clock ns/op
// swings several-fold between runs; CPU time does not, so comparisons
// between benchmarks of one run use it.
type cpuTimer struct{ start time.Duration }

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) *cpuTimer {
	b.ResetTimer()
	return &cpuTimer{start: cpuNow()}
}

func (c *cpuTimer) report(b *testing.B) {
	b.StopTimer()
	b.ReportMetric(float64(cpuNow()-c.start)/float64(b.N), "cpu-ns/op")
}
