package plugin

import (
	"container/list"
	"sync"
	"time"
)

// progress remembers, for chunks that were answered FLB_RETRY, which of
// their units (events) are finished — delivered, dropped or dead-lettered —
// so that a retry resends only the rest. It keeps at most max chunks,
// evicting the least recently used.
type progress struct {
	mu    sync.Mutex
	max   int
	order *list.List // of *chunkProgress, most recent at the front
	byKey map[chunkKey]*list.Element
}

type chunkKey struct {
	hash uint64
	size int
}

type chunkProgress struct {
	key chunkKey
	chunkState
}

// chunkState is what earlier attempts at a chunk achieved.
type chunkState struct {
	// done: units finished (delivered, dropped, dead-lettered);
	// seen: units counted (each is counted once, on first sight).
	done, seen bitset
	// first is when the chunk was first flushed.
	first time.Time
}

func newProgress(max int) *progress {
	return &progress{max: max, order: list.New(), byKey: make(map[chunkKey]*list.Element)}
}

// take removes and returns the progress of key (ok false when unknown).
func (p *progress) take(k chunkKey) (chunkState, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.byKey[k]
	if !ok {
		return chunkState{}, false
	}
	p.order.Remove(e)
	delete(p.byKey, k)
	return e.Value.(*chunkProgress).chunkState, true
}

// put stores the progress of key, evicting the oldest entries beyond max.
// It reports how many entries were evicted.
func (p *progress) put(k chunkKey, cs chunkState) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.byKey[k]; ok {
		e.Value.(*chunkProgress).chunkState = cs
		p.order.MoveToFront(e)
		return 0
	}
	p.byKey[k] = p.order.PushFront(&chunkProgress{key: k, chunkState: cs})
	evicted := 0
	for p.order.Len() > p.max {
		last := p.order.Back()
		p.order.Remove(last)
		delete(p.byKey, last.Value.(*chunkProgress).key)
		evicted++
	}
	return evicted
}

// oldest returns when the oldest remembered chunk was first flushed (zero
// when none is remembered).
func (p *progress) oldest() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	var t time.Time
	for e := p.order.Front(); e != nil; e = e.Next() {
		if f := e.Value.(*chunkProgress).first; t.IsZero() || f.Before(t) {
			t = f
		}
	}
	return t
}

// len returns the number of remembered chunks.
func (p *progress) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.order.Len()
}

// bitset is a growable set of small non-negative integers.
type bitset []uint64

func (b bitset) has(i int) bool {
	w := i >> 6
	return w < len(b) && b[w]&(1<<(uint(i)&63)) != 0
}

func (b *bitset) set(i int) {
	w := i >> 6
	for len(*b) <= w {
		*b = append(*b, 0)
	}
	(*b)[w] |= 1 << (uint(i) & 63)
}
