package outbox

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/pierhq/pier/internal/outbox/record"
)

// Delivery is one event to send to one subscription; see record.Delivery.
type Delivery = record.Delivery

// Delivery states.
const (
	Pending   = record.Pending
	Delivered = record.Delivered
	Dead      = record.Dead
)

// Results reported to Options.OnResult.
const (
	ResultDelivered = "delivered"
	ResultRetry     = "retry"
	ResultDead      = "dead"
)

// Store is the durable outbox. The sqlite state store implements it.
type Store interface {
	// Enqueue stores deliveries as pending, all or none. A delivery whose
	// id is already stored is skipped.
	Enqueue(ctx context.Context, ds []Delivery) error
	// Due returns up to limit pending deliveries whose NextAt is not after
	// now, earliest first.
	Due(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	// MarkDelivered records a successful attempt.
	MarkDelivered(ctx context.Context, id string, at time.Time, status int) error
	// MarkFailed records a failed attempt (status 0: no response) and when
	// to try again.
	MarkFailed(ctx context.Context, id string, at time.Time, status int, errMsg string, next time.Time) error
	// MarkDead records a failed last attempt.
	MarkDead(ctx context.Context, id string, at time.Time, status int, errMsg string) error
	// Deliveries lists deliveries newest first, at most limit, enqueued
	// before the one with id before ("": from the newest; an id no
	// delivery has is an error wrapping store.ErrNotFound).
	Deliveries(ctx context.Context, limit int, before string) ([]Delivery, error)
}

// Subscription is an outbound webhook.
type Subscription struct {
	ID     string
	URL    string
	Secret string // signs requests; empty: requests are not signed
	// Events lists the event types to send (ENTITY_CREATED, ...); empty
	// means all.
	Events []string
	// Blueprints lists the blueprints whose entities' events to send;
	// empty means all.
	Blueprints []string
	// Handle, when set, takes the delivery in-process instead of an HTTP
	// request: automations react to events this way, with the outbox's
	// durability, retries and bookkeeping. An error is a failed attempt.
	Handle func(ctx context.Context, d Delivery) error
	// Addressed subscriptions match no event: they only take deliveries
	// made for them by id (an action's notification target, the
	// automations' notifications).
	Addressed bool
}

// Matches reports whether the subscription wants an event of type
// eventType on an entity of blueprint.
func (s Subscription) Matches(eventType, blueprint string) bool {
	return !s.Addressed && (len(s.Events) == 0 || slices.Contains(s.Events, eventType)) &&
		(len(s.Blueprints) == 0 || slices.Contains(s.Blueprints, blueprint))
}

// Payload is the JSON body of a delivery, shaped like Port's webhook
// events.
type Payload struct {
	EventType  string          `json:"eventType"`
	Blueprint  BlueprintRef    `json:"blueprint"`
	Entity     json.RawMessage `json:"entity"`             // after the change; before it for a deletion
	Property   string          `json:"property,omitempty"` // the timer that expired
	Diff       Diff            `json:"diff"`
	Revision   string          `json:"revision"`
	DeliveryID string          `json:"deliveryId"`
	Timestamp  time.Time       `json:"timestamp"` // when the revision was applied
}

// BlueprintRef names a blueprint in a Payload.
type BlueprintRef struct {
	Identifier string `json:"identifier"`
}

// Diff is an entity before and after a change; null on the side where it
// did not exist.
type Diff struct {
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
}
