package audittest

import (
	"context"
	"sync"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension/xextension/storage"
)

// Storage is an in-memory storage extension for tests: clients of equal
// (kind, id, name) share their data across Start/Shutdown, as file_storage
// does across restarts.
type Storage struct {
	mu   sync.Mutex
	data map[string]map[string][]byte
}

// NewStorage returns an empty Storage.
func NewStorage() *Storage { return &Storage{data: map[string]map[string][]byte{}} }

// Start implements component.Component.
func (s *Storage) Start(context.Context, component.Host) error { return nil }

// Shutdown implements component.Component.
func (s *Storage) Shutdown(context.Context) error { return nil }

// GetClient implements storage.Extension.
func (s *Storage) GetClient(_ context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	key := kind.String() + "/" + id.String() + "/" + name
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data[key] == nil {
		s.data[key] = map[string][]byte{}
	}
	return &memClient{s: s, m: s.data[key]}, nil
}

type memClient struct {
	s *Storage
	m map[string][]byte
}

func (c *memClient) Get(_ context.Context, key string) ([]byte, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	v, ok := c.m[key]
	if !ok {
		return nil, nil
	}
	return append([]byte(nil), v...), nil
}

func (c *memClient) Set(_ context.Context, key string, value []byte) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.m[key] = append([]byte(nil), value...)
	return nil
}

func (c *memClient) Delete(_ context.Context, key string) error {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	delete(c.m, key)
	return nil
}

func (c *memClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	for _, op := range ops {
		var err error
		switch op.Type {
		case storage.Get:
			op.Value, err = c.Get(ctx, op.Key)
		case storage.Set:
			err = c.Set(ctx, op.Key, op.Value)
		case storage.Delete:
			err = c.Delete(ctx, op.Key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (c *memClient) Close(context.Context) error { return nil }

// Host is a component.Host exposing extensions.
type Host map[component.ID]component.Component

// GetExtensions implements component.Host.
func (h Host) GetExtensions() map[component.ID]component.Component { return h }
