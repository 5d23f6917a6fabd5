package webhook

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Defaults for NewMemoryDeliveries.
const (
	// DefaultDeliveriesMax bounds the memory a MemoryDeliveries takes
	// (about 100 bytes an id).
	DefaultDeliveriesMax = 10000
	// DefaultDeliveriesTTL matches how far back GitHub lets a delivery
	// be redelivered: three days.
	DefaultDeliveriesTTL = 72 * time.Hour
)

// MemoryDeliveries is a DeliveryStore in memory, for tests and for a
// daemon without a database. It keeps a bounded number of ids, each for ttl after
// it was recorded; beyond that the oldest are dropped, so a very late
// redelivery may be handled twice — harmless for pier's handlers, which
// only wake level-triggered work.
type MemoryDeliveries struct {
	max int
	ttl time.Duration

	mu    sync.Mutex
	ids   map[string]*list.Element // of *deliveryEntry
	order *list.List               // oldest first
}

type deliveryEntry struct {
	id string
	at time.Time
}

// NewMemoryDeliveries returns an empty store of at most maxIDs ids kept for
// ttl; zero values select DefaultDeliveriesMax and DefaultDeliveriesTTL.
func NewMemoryDeliveries(maxIDs int, ttl time.Duration) *MemoryDeliveries {
	if maxIDs <= 0 {
		maxIDs = DefaultDeliveriesMax
	}
	if ttl <= 0 {
		ttl = DefaultDeliveriesTTL
	}
	return &MemoryDeliveries{max: maxIDs, ttl: ttl, ids: map[string]*list.Element{}, order: list.New()}
}

// Seen implements DeliveryStore.
func (m *MemoryDeliveries) Seen(_ context.Context, id string, at time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(at)
	if el, ok := m.ids[id]; ok {
		if at.Sub(el.Value.(*deliveryEntry).at) < m.ttl {
			return true, nil
		}
		m.remove(el)
	}
	m.ids[id] = m.order.PushBack(&deliveryEntry{id: id, at: at})
	for m.order.Len() > m.max {
		m.remove(m.order.Front())
	}
	return false, nil
}

// Forget implements Forgetter.
func (m *MemoryDeliveries) Forget(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.ids[id]; ok {
		m.remove(el)
	}
	return nil
}

// Len returns the number of ids remembered.
func (m *MemoryDeliveries) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

// expire drops the ids older than ttl at now. Ids are recorded in arrival
// order, so the expired ones are at the front.
func (m *MemoryDeliveries) expire(now time.Time) {
	for el := m.order.Front(); el != nil; el = m.order.Front() {
		if now.Sub(el.Value.(*deliveryEntry).at) < m.ttl {
			return
		}
		m.remove(el)
	}
}

func (m *MemoryDeliveries) remove(el *list.Element) {
	delete(m.ids, el.Value.(*deliveryEntry).id)
	m.order.Remove(el)
}
