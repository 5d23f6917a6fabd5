// Package outbox sends pier's entity change events to outbound webhooks
// through a durable outbox.
//
// Why an outbox: the reconciler commits a revision first and emits its
// events afterwards. Posting to receivers from Emit would lose events
// whenever a receiver is down or pier restarts between the commit and the
// send. Instead Sink.Emit only writes one Delivery per (event, matching
// subscription) to the store, in one transaction, and a Worker sends them
// in the background, retrying with exponential backoff until a receiver
// answers 2xx or the attempts run out (the delivery is then dead, and
// listed as such by Store.Deliveries). Pending deliveries survive a
// restart: a new Worker on the same store picks them up.
//
// Delivery is at least once: a receiver that answered 2xx may still see
// the delivery again if pier stops before recording the answer. Every
// delivery carries an id that never changes across retries and restarts
// (the X-Pier-Delivery header and the body's deliveryId), so a receiver
// that de-duplicates on it processes each event exactly once.
//
// # Delivery ids
//
// The id is the first 128 bits, in hex, of the SHA-256 of the revision, the
// time it was applied, the event type, the entity's blueprint and
// identifier, and the subscription id. It is deterministic, so emitting the
// same events twice enqueues them once; the apply time keeps a revision
// that is applied again later (a revert to the same content) from
// colliding with its earlier deliveries.
//
// # Requests
//
// Each attempt is a POST of the stored JSON body (see Payload) with the
// headers
//
//	Content-Type:     application/json
//	X-Pier-Delivery:  the delivery id
//	X-Pier-Event:     ENTITY_CREATED, ENTITY_UPDATED or ENTITY_DELETED
//	X-Pier-Timestamp: the time of this attempt, in seconds since the epoch
//	X-Pier-Signature: v1,<base64 HMAC-SHA256>, when the subscription has a secret
//
// The signature follows Port's webhook scheme
// (https://docs.port.io/actions-and-automations/setup-backend/webhook/signature-verification/):
// HMAC-SHA256, keyed with the subscription's secret, over the timestamp, a
// dot and the raw body (timestamp + "." + body), encoded in standard
// Base64 and prefixed with the version "v1,". Receivers recompute it from
// the raw body, compare in constant time, and should reject timestamps
// more than a few minutes old to refuse replays; Verify does all three.
// Secrets are not stored in the outbox: the Worker looks the current one
// up by subscription id at each attempt, so a rotated secret applies to
// retries too, and Store.Deliveries, which the API serves, cannot leak it.
//
// Redirects are not followed (a 3xx is a failed attempt), and sends carry
// no ordering guarantee: up to Options.Concurrency deliveries are in
// flight at once. A delivery is never sent twice concurrently by one
// Worker; run one Worker per store.
package outbox
