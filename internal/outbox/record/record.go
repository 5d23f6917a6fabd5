// Package record holds the outbox's stored delivery, so that the state
// store can implement outbox.Store without importing package outbox, which
// depends on the reconciler (whose tests use the store).
package record

import (
	"encoding/json"
	"errors"
	"time"
)

// States of a delivery.
const (
	Pending   = "pending"   // waiting for its first or next attempt
	Delivered = "delivered" // a receiver answered 2xx
	Dead      = "dead"      // given up after the maximum number of attempts
)

// ErrNotPending is returned when marking a delivery that is unknown or no
// longer pending.
var ErrNotPending = errors.New("delivery not found or not pending")

// Delivery is one event to send to one subscription. It holds no secret:
// the sender looks the signing secret up from the current subscriptions.
type Delivery struct {
	// ID is stable across retries and restarts; receivers see it in the
	// X-Pier-Delivery header and the body's deliveryId and de-duplicate on it.
	ID           string          `json:"id"`
	Subscription string          `json:"subscription"`
	URL          string          `json:"url"`
	Event        string          `json:"event"`
	Body         json.RawMessage `json:"body"`
	State        string          `json:"state"`
	Attempts     int             `json:"attempts"`
	NextAt       time.Time       `json:"nextAt"`
	CreatedAt    time.Time       `json:"createdAt"`
	DeliveredAt  time.Time       `json:"deliveredAt,omitzero"`
	LastStatus   int             `json:"lastStatus,omitempty"`
	LastError    string          `json:"lastError,omitempty"`
}
