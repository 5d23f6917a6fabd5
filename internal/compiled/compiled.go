// Package compiled caches what is compiled from catalog objects (a
// blueprint's validator, an automation's rule, an approval system's
// client), keyed by the object's pointer. Catalog objects are never
// changed once loaded and a new revision's object is a new pointer, so
// an entry never goes stale: it only goes unused, and the cache is
// emptied when it outgrows its bound.
package compiled

import "sync"

// Cache compiles each object once. It is safe for concurrent use.
type Cache[K, V any] struct {
	mu      sync.Mutex
	m       map[*K]V
	max     int
	compile func(*K) (V, error)
}

// New returns a cache holding at most max entries between clearings.
func New[K, V any](max int, compile func(*K) (V, error)) *Cache[K, V] {
	return &Cache[K, V]{m: map[*K]V{}, max: max, compile: compile}
}

// Get returns k compiled, compiling it on first use. Errors are not
// kept: the next Get tries again.
func (c *Cache[K, V]) Get(k *K) (V, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m[k]; ok {
		return v, nil
	}
	v, err := c.compile(k)
	if err != nil {
		return v, err
	}
	if len(c.m) >= c.max {
		clear(c.m) // objects of old revisions
	}
	c.m[k] = v
	return v, nil
}
