package cloudwatchsrc

import (
	"container/heap"
	"encoding/binary"
	"errors"
	"hash/fnv"
)

// seenSet remembers delivered events by a 64-bit hash of stream and
// eventId, with their timestamps, in buckets of one second so that the
// oldest can be forgotten without scanning the whole set.
//
// A hash collision would make a new event look delivered; with a million
// remembered events the chance per new event is about 5·10⁻¹⁴.
type seenSet struct {
	ids     map[uint64]int64   // key → timestamp (Unix ms)
	buckets map[int64][]uint64 // second → keys
	secs    secHeap            // the seconds of buckets, oldest on top
}

func newSeenSet() *seenSet {
	return &seenSet{ids: map[uint64]int64{}, buckets: map[int64][]uint64{}}
}

// eventKey is the remembered form of an event.
func eventKey(stream, id string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(stream))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return h.Sum64()
}

func second(ms int64) int64 {
	s := ms / 1000
	if ms < 0 && ms%1000 != 0 {
		s--
	}
	return s
}

func (s *seenSet) len() int { return len(s.ids) }

func (s *seenSet) has(k uint64) bool {
	_, ok := s.ids[k]
	return ok
}

func (s *seenSet) add(k uint64, ts int64) {
	if _, ok := s.ids[k]; ok {
		return
	}
	s.ids[k] = ts
	sec := second(ts)
	b, ok := s.buckets[sec]
	if !ok {
		heap.Push(&s.secs, sec)
	}
	s.buckets[sec] = append(b, k)
}

// dropOldest forgets the oldest second's events and returns the first
// millisecond after it (false when the set is empty).
func (s *seenSet) dropOldest() (int64, bool) {
	if len(s.secs) == 0 {
		return 0, false
	}
	sec := heap.Pop(&s.secs).(int64)
	for _, k := range s.buckets[sec] {
		delete(s.ids, k)
	}
	delete(s.buckets, sec)
	return (sec + 1) * 1000, true
}

// forgetBefore forgets the events of every whole second before cut (Unix
// ms); events of cut's own second stay.
func (s *seenSet) forgetBefore(cut int64) {
	for len(s.secs) > 0 && s.secs[0] < second(cut) {
		s.dropOldest()
	}
}

// encoding of the set in a checkpoint: a version byte, a base time (zig-zag
// varint, Unix ms), then per event the zig-zag varint of its timestamp
// minus the base and its 8-byte key (about 11 bytes an event), in no
// particular order.
const seenEncodingV1 = 1

func (s *seenSet) marshal() []byte {
	if len(s.ids) == 0 {
		return nil
	}
	out := make([]byte, 1, 1+binary.MaxVarintLen64+len(s.ids)*12)
	out[0] = seenEncodingV1
	base := int64(0)
	if len(s.secs) > 0 {
		base = s.secs[0] * 1000
	}
	out = binary.AppendVarint(out, base)
	for k, ts := range s.ids {
		out = binary.AppendVarint(out, ts-base)
		out = binary.LittleEndian.AppendUint64(out, k)
	}
	return out
}

var errSeenCorrupt = errors.New("cloudwatchsrc: checkpoint: delivered events do not decode")

func unmarshalSeen(b []byte) (*seenSet, error) {
	s := newSeenSet()
	if len(b) == 0 {
		return s, nil
	}
	if b[0] != seenEncodingV1 {
		return nil, errSeenCorrupt
	}
	base, n := binary.Varint(b[1:])
	if n <= 0 {
		return nil, errSeenCorrupt
	}
	b = b[1+n:]
	for len(b) > 0 {
		d, n := binary.Varint(b)
		if n <= 0 || len(b) < n+8 {
			return nil, errSeenCorrupt
		}
		s.add(binary.LittleEndian.Uint64(b[n:]), base+d)
		b = b[n+8:]
	}
	return s, nil
}

// secHeap is a min-heap of seconds.
type secHeap []int64

func (h secHeap) Len() int           { return len(h) }
func (h secHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h secHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *secHeap) Push(x any)        { *h = append(*h, x.(int64)) }
func (h *secHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
