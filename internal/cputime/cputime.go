// Package cputime reports a benchmark's process CPU time (user + system)
// per op as the custom metric "cpu-ns/op". On a shared, loaded machine
// wall-clock ns/op swings several-fold between runs; CPU time per op does
// not, so ratios between benchmarks of one run use it.
package cputime

import (
	"syscall"
	"testing"
	"time"
)

// Timer measures the process CPU time from Start to Report.
type Timer struct{ start time.Duration }

// Now returns the process's CPU time so far.
func Now() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Start resets the benchmark timer and starts measuring.
func Start(b *testing.B) *Timer {
	b.ResetTimer()
	return &Timer{start: Now()}
}

// Report stops the benchmark timer and reports cpu-ns/op; call it after
// the benchmark loop.
func (t *Timer) Report(b *testing.B) {
	b.StopTimer()
	if b.N > 0 {
		b.ReportMetric(float64(Now()-t.start)/float64(b.N), "cpu-ns/op")
	}
}
