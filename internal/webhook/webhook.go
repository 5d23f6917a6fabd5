package webhook

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/go-github/v62/github"

	"github.com/pierhq/pier/internal/metrics"
)

// Path is where pier serves the endpoint.
const Path = "/webhooks/github"

// Defaults for Options.
const (
	// DefaultMaxBody is GitHub's own cap on webhook payloads: GitHub does
	// not send larger ones, so anything larger is not from GitHub.
	DefaultMaxBody = 25 << 20
	// DefaultHandlerTimeout leaves room within GitHub's 10 s for the
	// network and for reading the body.
	DefaultHandlerTimeout = 5 * time.Second
)

// GitHub's headers.
const (
	headerEvent     = "X-GitHub-Event"
	headerDelivery  = "X-GitHub-Delivery"
	headerSignature = "X-Hub-Signature-256"
)

// Delivery is one webhook delivery, as given to a HandlerFunc.
type Delivery struct {
	// ID is X-GitHub-Delivery, unique per delivery and kept on
	// redelivery.
	ID string
	// Event is X-GitHub-Event, such as "push" or "pull_request".
	Event string
	// Payload is the event parsed by go-github's ParseWebHook, such as a
	// *github.PushEvent; nil for an event go-github does not know.
	Payload any
	// Raw is the JSON payload as GitHub sent it (for a form-encoded
	// delivery, its payload field).
	Raw []byte
	// ReceivedAt is when the request arrived, before its body was read:
	// the start of push-to-applied latency.
	ReceivedAt time.Time
}

// HandlerFunc handles the deliveries of one event. It must return quickly
// — record or enqueue the work and return — because GitHub waits only
// 10 seconds for the answer. An error is reported to GitHub as a 500.
type HandlerFunc func(ctx context.Context, d Delivery) error

// DeliveryStore remembers delivery ids so that redeliveries are handled
// once.
type DeliveryStore interface {
	// Seen reports whether id was recorded before, and records it,
	// received at at, if it was not. It must be atomic: of two
	// concurrent calls with the same id, one returns false.
	Seen(ctx context.Context, id string, at time.Time) (bool, error)
}

// Forgetter is implemented by a DeliveryStore that can drop an id again.
// The Handler forgets the deliveries whose handler failed, so that
// redelivering them from GitHub runs the handler again.
type Forgetter interface {
	Forget(ctx context.Context, id string) error
}

// Recorder receives a count of deliveries by event and result (the
// metrics.Webhook* constants). *metrics.Metrics implements it, nil
// included.
type Recorder interface {
	WebhookDelivery(event, result string)
}

// Options configure a Handler.
type Options struct {
	// Secret is the webhook secret shared with GitHub. Without one every
	// delivery is refused, unless Insecure is set.
	Secret []byte
	// Insecure accepts unsigned deliveries when Secret is empty. It is
	// for local development only; with a Secret it changes nothing.
	Insecure bool
	// MaxBody is the largest body accepted, DefaultMaxBody if zero.
	MaxBody int64
	// HandlerTimeout bounds how long a handler may take before the
	// delivery is answered 503; DefaultHandlerTimeout if zero. The
	// handler's context is cancelled then too.
	HandlerTimeout time.Duration
	// Deliveries deduplicates deliveries; a MemoryDeliveries with its
	// defaults if nil.
	Deliveries DeliveryStore
	// Metrics, if not nil, counts deliveries.
	Metrics Recorder
	Logger  *slog.Logger
	// Now returns the current time; time.Now if nil.
	Now func() time.Time
}

// Handler is the GitHub webhook endpoint. Register event handlers with On
// before serving.
type Handler struct {
	opts  Options
	known map[string]bool // event names go-github can parse

	mu       sync.RWMutex
	handlers map[string]HandlerFunc
}

// New returns a Handler. A Handler without a secret is returned too, so
// the daemon starts, but it refuses every delivery with a message saying
// why, unless opts.Insecure is set.
func New(opts Options) *Handler {
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.HandlerTimeout <= 0 {
		opts.HandlerTimeout = DefaultHandlerTimeout
	}
	if opts.Deliveries == nil {
		opts.Deliveries = NewMemoryDeliveries(0, 0)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	known := map[string]bool{}
	for _, t := range github.MessageTypes() {
		known[t] = true
	}
	switch {
	case len(opts.Secret) == 0 && opts.Insecure:
		opts.Logger.Warn("GitHub webhook secret not set: accepting unsigned deliveries (insecure mode)")
	case len(opts.Secret) == 0:
		opts.Logger.Warn("GitHub webhook secret not set: every delivery will be refused")
	}
	return &Handler{opts: opts, known: known, handlers: map[string]HandlerFunc{}}
}

// On registers fn for deliveries of event (the X-GitHub-Event name),
// replacing any handler registered before for it.
func (h *Handler) On(event string, fn HandlerFunc) {
	if !h.known[event] {
		h.opts.Logger.Warn("webhook handler for an event go-github does not parse; it gets a nil Payload", "event", event)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.handlers[event] = fn
}

func (h *Handler) handler(event string) HandlerFunc {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.handlers[event]
}

// Answer statuses.
const (
	statusOK        = "ok"
	statusAccepted  = "accepted"
	statusDuplicate = "duplicate"
	statusIgnored   = "ignored"
	statusError     = "error"
)

// answer is the JSON body of every response.
type answer struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// outcome is how a delivery is answered and counted.
type outcome struct {
	code   int
	status string // the answer's status
	result string // the metrics result, metrics.Webhook*
	msg    string
}

func refuse(code int, result, msg string) *outcome {
	return &outcome{code: code, status: statusError, result: result, msg: msg}
}

// ServeHTTP handles one delivery; see the package documentation for the
// answers.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		// Not a delivery: not counted.
		w.Header().Set("Allow", http.MethodPost)
		reply(w, http.StatusMethodNotAllowed, statusError, "GitHub webhooks are POST requests")
		return
	}
	event := r.Header.Get(headerEvent)
	id := r.Header.Get(headerDelivery)
	if len(id) > 64 { // unauthenticated until the signature is checked: keep logs small
		id = id[:64]
	}
	label := h.eventLabel(event)
	log := h.opts.Logger.With("delivery", id, "event", label)

	out := h.deliver(w, r, log)

	h.count(label, out.result)
	level := slog.LevelInfo
	switch {
	case out.code >= 500:
		level = slog.LevelError
	case out.code >= 400:
		level = slog.LevelWarn
	case out.result == metrics.WebhookIgnored:
		level = slog.LevelDebug
	}
	log.Log(r.Context(), level, "webhook delivery", "result", out.result, "code", out.code, "message", out.msg)
	reply(w, out.code, out.status, out.msg)
}

// deliver takes a delivery through its steps, each of which may end it:
// authenticate, parse, dedupe, dispatch.
func (h *Handler) deliver(w http.ResponseWriter, r *http.Request, log *slog.Logger) *outcome {
	received := h.opts.Now()
	body, out := h.authenticate(w, r)
	if out != nil {
		return out
	}
	d, fn, out := h.parse(r, body, received)
	if out != nil {
		return out
	}
	// From here on the delivery is authentic and well-formed. The context
	// keeps the request's values but not its cancellation, so that GitHub
	// hanging up cannot leave the delivery store and the handler
	// disagreeing.
	ctx := context.WithoutCancel(r.Context())
	if out := h.dedupe(ctx, d); out != nil {
		return out
	}
	return h.dispatch(ctx, fn, d, log)
}

// authenticate returns the body of a delivery signed with the secret. It
// refuses every delivery when there is no secret (unless Insecure), a
// content type GitHub does not send before reading the body, and bodies
// over MaxBody without reading past the limit.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) ([]byte, *outcome) {
	if len(h.opts.Secret) == 0 && !h.opts.Insecure {
		return nil, refuse(http.StatusServiceUnavailable, metrics.WebhookBadSignature,
			"pier has no webhook secret configured and refuses unsigned deliveries; set the same secret in pier and in the GitHub webhook")
	}
	if _, ok := payloadType(r.Header.Get("Content-Type")); !ok {
		return nil, refuse(http.StatusUnsupportedMediaType, metrics.WebhookError,
			fmt.Sprintf("Content-Type %q: GitHub sends application/json or application/x-www-form-urlencoded; set one of them as the webhook's content type", r.Header.Get("Content-Type")))
	}
	body, err := h.readBody(w, r)
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, refuse(http.StatusRequestEntityTooLarge, metrics.WebhookTooLarge,
				fmt.Sprintf("payload larger than %d bytes", h.opts.MaxBody))
		}
		return nil, refuse(http.StatusBadRequest, metrics.WebhookError, "could not read the body")
	}
	if len(h.opts.Secret) > 0 && !validSignature(r.Header.Get(headerSignature), body, h.opts.Secret) {
		return nil, refuse(http.StatusUnauthorized, metrics.WebhookBadSignature,
			"missing or invalid "+headerSignature+"; check that pier and the GitHub webhook share the same secret")
	}
	return body, nil
}

// parse turns an authenticated body into a Delivery for its handler. It
// answers pings, and ignores events nobody handles before parsing them.
func (h *Handler) parse(r *http.Request, body []byte, received time.Time) (Delivery, HandlerFunc, *outcome) {
	d := Delivery{ID: r.Header.Get(headerDelivery), Event: r.Header.Get(headerEvent), ReceivedAt: received}
	switch {
	case d.Event == "":
		return d, nil, refuse(http.StatusBadRequest, metrics.WebhookError, "missing "+headerEvent+" header")
	case d.ID == "":
		return d, nil, refuse(http.StatusBadRequest, metrics.WebhookError, "missing "+headerDelivery+" header")
	case d.Event == "ping":
		return d, nil, &outcome{code: http.StatusOK, status: statusOK, result: metrics.WebhookAccepted, msg: "pong"}
	}
	fn := h.handler(d.Event)
	if fn == nil {
		return d, nil, &outcome{code: http.StatusOK, status: statusIgnored, result: metrics.WebhookIgnored,
			msg: fmt.Sprintf("pier does not handle %q events", d.Event)}
	}
	raw, err := jsonPayload(r.Header.Get("Content-Type"), body)
	if err != nil {
		return d, nil, refuse(http.StatusBadRequest, metrics.WebhookError, err.Error())
	}
	d.Raw = raw
	if h.known[d.Event] {
		if d.Payload, err = github.ParseWebHook(d.Event, raw); err != nil {
			return d, nil, refuse(http.StatusBadRequest, metrics.WebhookError,
				fmt.Sprintf("cannot parse %s payload: %v", d.Event, err))
		}
	}
	return d, fn, nil
}

// dedupe records the delivery id, and ends a delivery seen before.
func (h *Handler) dedupe(ctx context.Context, d Delivery) *outcome {
	seen, err := h.opts.Deliveries.Seen(ctx, d.ID, d.ReceivedAt)
	switch {
	case err != nil:
		return refuse(http.StatusInternalServerError, metrics.WebhookError,
			fmt.Sprintf("could not record the delivery: %v", err))
	case seen:
		return &outcome{code: http.StatusOK, status: statusDuplicate, result: metrics.WebhookDuplicate, msg: "duplicate delivery"}
	}
	return nil
}

// dispatch runs the event's handler and answers with its result.
func (h *Handler) dispatch(ctx context.Context, fn HandlerFunc, d Delivery, log *slog.Logger) *outcome {
	switch err := h.run(ctx, fn, d, log); {
	case errors.Is(err, errTimeout):
		return refuse(http.StatusServiceUnavailable, metrics.WebhookError,
			fmt.Sprintf("handler did not finish within %s", h.opts.HandlerTimeout))
	case err != nil:
		return refuse(http.StatusInternalServerError, metrics.WebhookError, err.Error())
	}
	return &outcome{code: http.StatusAccepted, status: statusAccepted, result: metrics.WebhookAccepted,
		msg: fmt.Sprintf("%s delivery %s accepted", d.Event, d.ID)}
}

var errTimeout = errors.New("handler timed out")

// run calls fn under HandlerTimeout. A handler that fails has its
// delivery forgotten, so it can be redelivered. One that times out is left
// running with a cancelled context; if it then fails, its delivery is
// forgotten too.
func (h *Handler) run(ctx context.Context, fn HandlerFunc, d Delivery, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, h.opts.HandlerTimeout)
	done := make(chan error, 1)
	go func() { done <- call(ctx, fn, d) }()

	finish := func(err error) error {
		timedOut := errors.Is(ctx.Err(), context.DeadlineExceeded)
		cancel()
		if err == nil {
			return nil
		}
		h.forget(context.WithoutCancel(ctx), d.ID, log)
		if timedOut {
			// A handler that gave up because of the deadline timed out.
			return fmt.Errorf("%w: %w", errTimeout, err)
		}
		return err
	}
	select {
	case err := <-done:
		return finish(err)
	case <-ctx.Done():
		select {
		case err := <-done: // finished just in time
			return finish(err)
		default:
		}
		go func() {
			// The delivery is answered already; only the log can tell.
			err := finish(<-done)
			log.Warn("webhook handler finished after its delivery was answered as timed out", "err", err)
		}()
		return errTimeout
	}
}

// call runs fn, turning a panic into an error: fn runs on its own
// goroutine, where net/http's recovery does not reach.
func call(ctx context.Context, fn HandlerFunc, d Delivery) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%s handler panicked: %v", d.Event, p)
		}
	}()
	if err := fn(ctx, d); err != nil {
		return fmt.Errorf("%s handler: %w", d.Event, err)
	}
	return nil
}

func (h *Handler) forget(ctx context.Context, id string, log *slog.Logger) {
	f, ok := h.opts.Deliveries.(Forgetter)
	if !ok {
		return
	}
	if err := f.Forget(ctx, id); err != nil {
		log.Error("webhook: forget failed delivery; a redelivery will be taken for a duplicate", "err", err)
	}
}

// readBody reads the body up to MaxBody. A body declared too large is
// refused before reading a byte of it.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > h.opts.MaxBody {
		return nil, &http.MaxBytesError{Limit: h.opts.MaxBody}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.opts.MaxBody))
	if err != nil {
		return nil, fmt.Errorf("read webhook body: %w", err)
	}
	return body, nil
}

// validSignature reports whether header is "sha256=" followed by the hex
// HMAC-SHA256 of body under secret, which is how GitHub signs. The
// comparison takes constant time, so it leaks nothing of the expected
// value.
func validSignature(header string, body, secret []byte) bool {
	hexMAC, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexMAC)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// Content types of deliveries: GitHub sends one of these two, as the
// webhook is configured.
const (
	typeJSON = "application/json"
	typeForm = "application/x-www-form-urlencoded"
)

// payloadType returns the media type of a delivery's Content-Type, and
// whether it is one GitHub sends.
func payloadType(contentType string) (string, bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	return mt, err == nil && (mt == typeJSON || mt == typeForm)
}

// jsonPayload returns the JSON payload of a body: the body itself, or its
// payload field when the webhook is configured to send form-encoded
// deliveries.
func jsonPayload(contentType string, body []byte) ([]byte, error) {
	if mt, _ := payloadType(contentType); mt != typeForm {
		return body, nil
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("cannot parse form-encoded delivery: %w", err)
	}
	p := form.Get("payload")
	if p == "" {
		return nil, errors.New("form-encoded delivery without a payload field")
	}
	return []byte(p), nil
}

// eventLabel bounds the event label of the metrics: the header is set by
// whoever sends the request, authenticated or not, so only event names
// GitHub defines, or that have a handler, are kept.
func (h *Handler) eventLabel(event string) string {
	switch {
	case event == "":
		return "none"
	case h.known[event] || h.handler(event) != nil:
		return event
	}
	return "other"
}

// count records a delivery's result in the metrics, if any.
func (h *Handler) count(event, result string) {
	if h.opts.Metrics != nil {
		h.opts.Metrics.WebhookDelivery(event, result)
	}
}

func reply(w http.ResponseWriter, code int, status, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	// The status line is sent; an encoding error can only be a broken
	// connection, which nothing can be told about.
	_ = json.NewEncoder(w).Encode(answer{Status: status, Message: msg})
}
