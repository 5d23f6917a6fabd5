package outbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pierhq/pier/reconciler"
)

// SinkOptions tune a Sink.
type SinkOptions struct {
	// Notify is called after deliveries are enqueued, typically
	// Worker.Notify, so that they are sent without waiting for a poll.
	Notify func()
	// Now stamps deliveries' CreatedAt; time.Now when nil.
	Now func() time.Time
}

// Sink is a reconciler.Sink that enqueues a delivery per event and
// matching subscription.
type Sink struct {
	store Store
	subs  func() []Subscription
	opts  SinkOptions
}

var _ reconciler.Sink = (*Sink)(nil)

// NewSink returns a Sink writing to st. subs returns the current
// subscriptions; it is called on every Emit.
func NewSink(st Store, subs func() []Subscription, opts SinkOptions) *Sink {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Sink{store: st, subs: subs, opts: opts}
}

// Deliveries builds the deliveries of events for the current
// subscriptions: one per event and matching subscription. The reconciler
// writes them in the transaction that applies the revision; ids are
// derived from the events, so building them again gives the same ones.
func (s *Sink) Deliveries(events []reconciler.Event) ([]Delivery, error) {
	return s.DeliveriesTo(s.subs(), events)
}

// DeliveriesTo is Deliveries for the given subscriptions: those of the
// revision being applied, rather than of the state being served.
func (s *Sink) DeliveriesTo(subs []Subscription, events []reconciler.Event) ([]Delivery, error) {
	if len(subs) == 0 || len(events) == 0 {
		return nil, nil
	}
	now := s.opts.Now().UTC()
	var ds []Delivery
	for _, e := range events {
		for _, sub := range subs {
			if !sub.Matches(e.Type, e.Blueprint) {
				continue
			}
			d, err := newDelivery(e, sub, now)
			if err != nil {
				return nil, err
			}
			ds = append(ds, d)
		}
	}
	return ds, nil
}

// Emit enqueues the deliveries of a committed revision's events for the
// current subscriptions and wakes the worker: the sink for a reconciler
// that does not write deliveries with the revision. One that does
// (reconciler.Options.Outbox, as the daemon) must not also emit here: the
// current subscriptions are those of the state still served, which may
// include ones the revision removed.
func (s *Sink) Emit(ctx context.Context, events []reconciler.Event) error {
	ds, err := s.Deliveries(events)
	if err != nil {
		return err
	}
	if len(ds) == 0 {
		return nil
	}
	if err := s.store.Enqueue(ctx, ds); err != nil {
		return fmt.Errorf("outbox: enqueue %d deliveries of revision %s: %w", len(ds), events[0].Revision, err)
	}
	if s.opts.Notify != nil {
		s.opts.Notify()
	}
	return nil
}

func newDelivery(e reconciler.Event, sub Subscription, now time.Time) (Delivery, error) {
	id := DeliveryID(e, sub.ID)
	entity := e.After
	if e.Type == reconciler.EntityDeleted || len(entity) == 0 {
		entity = e.Before
	}
	body, err := json.Marshal(Payload{
		EventType:  e.Type,
		Blueprint:  BlueprintRef{Identifier: e.Blueprint},
		Entity:     entity,
		Property:   e.Property,
		Diff:       Diff{Before: e.Before, After: e.After},
		Revision:   e.Revision,
		DeliveryID: id,
		Timestamp:  e.At.UTC(),
	})
	if err != nil {
		return Delivery{}, fmt.Errorf("outbox: encode %s of %s/%s: %w", e.Type, e.Blueprint, e.Identifier, err)
	}
	return Delivery{
		ID:           id,
		Subscription: sub.ID,
		URL:          sub.URL,
		Event:        e.Type,
		Body:         body,
		State:        Pending,
		NextAt:       now,
		CreatedAt:    now,
	}, nil
}

// DeliveryID returns the id of the delivery of e to the subscription
// subscriptionID: 32 hex digits, the same however often it is computed.
func DeliveryID(e reconciler.Event, subscriptionID string) string {
	h := sha256.New()
	fields := []string{e.Revision, e.At.UTC().Format(time.RFC3339Nano), e.Type, e.Blueprint, e.Identifier, subscriptionID}
	if e.Property != "" { // timers: one entity may have several expire at once
		fields = append(fields, e.Property)
	}
	for _, f := range fields {
		// Length-prefixed, so that no two field lists hash alike.
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}
