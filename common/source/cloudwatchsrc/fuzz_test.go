package cloudwatchsrc

import (
	"encoding/json"
	"maps"
	"testing"
)

// FuzzCheckpoint feeds stored checkpoints (JSON, as a storage extension
// returns them) to New: anything that does not decode is a clear error,
// never a panic, and the remembered events survive a round trip.
func FuzzCheckpoint(f *testing.F) {
	s := newSeenSet()
	for i := range 5 {
		s.add(eventKey("kube-apiserver-audit-0", string(rune('a'+i))), 1_700_000_000_000+int64(i*700))
	}
	ck := Checkpoint{Version: CheckpointVersion, Watermark: 1_700_000_003_000, Streams: map[string]StreamProgress{"kube-apiserver-audit-0": {Timestamp: 1_700_000_002_800}}, Delivered: s.marshal()}
	b, _ := json.Marshal(ck)
	f.Add(b)
	f.Add([]byte(`{"streams":{"kube-apiserver-audit-0":{"timestamp":1700000000000,"event_ids":["1","2"]}}}`))
	f.Add([]byte(`{"version":2,"delivered":"AQ=="}`))
	f.Add([]byte(`{"version":3}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var ck Checkpoint
		if json.Unmarshal(data, &ck) != nil {
			return
		}
		r, err := New(nopAPI{}, Config{LogGroup: group}, &ck)
		if err != nil {
			return
		}
		again, err := unmarshalSeen(r.Checkpoint().Delivered)
		if err != nil {
			t.Fatalf("a loaded checkpoint does not round-trip: %v", err)
		}
		if !maps.Equal(again.ids, r.seen.ids) {
			t.Fatal("remembered events changed in a round trip")
		}
	})
}
