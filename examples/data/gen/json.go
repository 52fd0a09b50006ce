package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
)

// kv is one member of an ordered JSON object.
type kv struct {
	k string
	v any
}

// obj is a JSON object that keeps its members in insertion order, the way
// kube-apiserver writes Kubernetes objects (kind, apiVersion, metadata, spec,
// status), which encoding/json cannot do with maps.
type obj []kv

// o builds an obj from alternating keys and values; a nil value (or an empty
// string, nil slice or nil obj) omits the member, like omitempty.
func o(pairs ...any) obj {
	if len(pairs)%2 != 0 {
		panic("o: odd number of arguments")
	}
	m := make(obj, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		if omit(pairs[i+1]) {
			continue
		}
		m = append(m, kv{pairs[i].(string), pairs[i+1]})
	}
	return m
}

// null is a JSON null that o keeps (creationTimestamp: null).
type nullT struct{}

func (nullT) MarshalJSON() ([]byte, error) { return []byte("null"), nil }

var null nullT

// empty is an empty JSON object that o keeps ("metadata": {}).
var empty = obj{}

func omit(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []string:
		return x == nil
	case []any:
		return x == nil
	case obj:
		return x == nil
	case map[string]string:
		return x == nil
	}
	return false
}

// MarshalJSON writes the members in order.
func (m obj) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range m {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(e.k)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// get returns the value of key k, or nil.
func (m obj) get(k string) any {
	for _, e := range m {
		if e.k == k {
			return e.v
		}
	}
	return nil
}

// sorted returns a copy with members in key order, as a Go map would be
// written (the layout of events re-encoded by tools such as Falco).
func (m obj) sorted() obj {
	c := slices.Clone(m)
	slices.SortStableFunc(c, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	return c
}

// without returns a copy lacking key k.
func (m obj) without(k string) obj {
	c := make(obj, 0, len(m))
	for _, e := range m {
		if e.k != k {
			c = append(c, e)
		}
	}
	return c
}

// after returns a copy with the member (k, v) inserted after key at.
func (m obj) after(at, k string, v any) obj {
	c := make(obj, 0, len(m)+1)
	for _, e := range m {
		c = append(c, e)
		if e.k == at {
			c = append(c, kv{k, v})
		}
	}
	return c
}
