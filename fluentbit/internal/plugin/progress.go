package plugin

import (
	"container/list"
	"sync"
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
	key  chunkKey
	done bitset
}

func newProgress(max int) *progress {
	return &progress{max: max, order: list.New(), byKey: make(map[chunkKey]*list.Element)}
}

// take removes and returns the progress of key (nil when unknown).
func (p *progress) take(k chunkKey) bitset {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.byKey[k]
	if !ok {
		return nil
	}
	p.order.Remove(e)
	delete(p.byKey, k)
	return e.Value.(*chunkProgress).done
}

// put stores the progress of key, evicting the oldest entries beyond max.
// It reports how many entries were evicted.
func (p *progress) put(k chunkKey, done bitset) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e, ok := p.byKey[k]; ok {
		e.Value.(*chunkProgress).done = done
		p.order.MoveToFront(e)
		return 0
	}
	p.byKey[k] = p.order.PushFront(&chunkProgress{key: k, done: done})
	evicted := 0
	for p.order.Len() > p.max {
		last := p.order.Back()
		p.order.Remove(last)
		delete(p.byKey, last.Value.(*chunkProgress).key)
		evicted++
	}
	return evicted
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
