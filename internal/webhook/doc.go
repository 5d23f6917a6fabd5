// Package webhook receives GitHub webhook deliveries for pier, at
// /webhooks/github.
//
// # What a delivery goes through
//
// A delivery is answered, in order:
//
//  1. 405 unless it is a POST;
//  2. 503 when no secret is configured (and Insecure is not set): an
//     endpoint that accepts unsigned deliveries lets anyone on the network
//     trigger reconciles, so a missing secret is a refusal, not a default;
//  3. 415 when the Content-Type is neither application/json nor
//     application/x-www-form-urlencoded (a payload= field), the two GitHub
//     sends;
//  4. 413 when the body is over MaxBody (GitHub caps payloads at 25 MiB);
//  5. 401 when X-Hub-Signature-256 is missing or is not the HMAC-SHA256 of
//     the raw body, as sent, under the secret (compared in constant time);
//  6. 400 when X-GitHub-Event or X-GitHub-Delivery is missing;
//  7. 200 "pong" for ping;
//  8. 200 "ignored" when no handler is registered for the event;
//  9. 400 when the payload does not parse;
//  10. 200 "duplicate delivery" when the delivery id was seen before (500
//     when the DeliveryStore fails);
//  11. 202 when the handler ran and succeeded, 500 when it failed, 503
//     when it did not return within HandlerTimeout.
//
// Nothing is triggered before step 11, and nothing reaches a handler
// unauthenticated.
//
// # Handlers must be quick
//
// GitHub waits 10 seconds for an answer and never retries by itself. A
// handler therefore only records or enqueues work (for a push, it wakes
// the reconcile loop) and returns; the work happens elsewhere. Handlers
// run synchronously so that their error can be reported to GitHub (and
// seen in the repository's "Recent deliveries"), but under a deadline:
// after HandlerTimeout the delivery is answered 503 and the handler is
// left to finish on its own.
//
// # Deduplication and redelivery
//
// GitHub keeps X-GitHub-Delivery when a delivery is redelivered, by hand
// or through the API. A DeliveryStore remembers the ids of deliveries
// handled, so a redelivery of one that succeeded is answered "duplicate"
// and does nothing. When the handler fails, the id is forgotten again
// (if the store implements Forgetter), so that redelivering it — the
// usual fix after an outage — is not mistaken for a duplicate.
package webhook
