package cwtest

import (
	"sync"
	"time"
)

// Clock is a manual clock for tests that compress time: pass its Now to
// Options.Clock (or SetClock) and to the code under test, and move it with
// Advance or Sleep instead of waiting. It is safe for concurrent use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{now: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// Sleep advances the clock by d at once; it stands in for time.Sleep in
// code under test.
func (c *Clock) Sleep(d time.Duration) { c.Advance(d) }
