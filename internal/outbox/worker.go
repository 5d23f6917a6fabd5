package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Options tune a Worker. Zero values mean the defaults.
type Options struct {
	// Concurrency is how many deliveries are sent at once; default 4.
	Concurrency int
	// Timeout bounds one attempt; default 10s.
	Timeout time.Duration
	// PollInterval is how often the store is checked for due deliveries
	// when nothing wakes the worker; default 200ms.
	PollInterval time.Duration
	// MaxAttempts is how many attempts a delivery gets before it is dead;
	// default 10.
	MaxAttempts int
	// MinBackoff is the delay after the first failed attempt, doubled
	// after each further one up to MaxBackoff, with ±20% jitter; defaults
	// 1s and 5m.
	MinBackoff, MaxBackoff time.Duration
	// Client sends the requests; default a client that follows no
	// redirects. Timeout applies whatever the client.
	Client *http.Client
	Logger *slog.Logger
	Now    func() time.Time
	// OnResult, when set, is called after each attempt with the
	// subscription id, ResultDelivered, ResultRetry or ResultDead, and how
	// long the attempt took.
	OnResult func(subscription, result string, d time.Duration)
}

// Worker sends due deliveries from a Store.
type Worker struct {
	store Store
	subs  func() []Subscription
	opts  Options
	wake  chan struct{}

	run sync.Mutex // one Run at a time

	mu       sync.Mutex
	inflight map[string]bool // ids being sent
	// finished collects the ids whose send ended while dispatch reads the
	// store (nil otherwise): such a row may have been read as pending
	// just before the send recorded its outcome.
	finished map[string]bool
}

// NewWorker returns a worker sending the deliveries of st. subs returns
// the current subscriptions; it is called at each attempt to find the
// delivery's URL and secret.
func NewWorker(st Store, subs func() []Subscription, opts Options) *Worker {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 4
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 200 * time.Millisecond
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 10
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.MinBackoff)
	if opts.Client == nil {
		opts.Client = NewClient()
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Worker{
		store:    st,
		subs:     subs,
		opts:     opts,
		wake:     make(chan struct{}, 1),
		inflight: make(map[string]bool),
	}
}

// Notify wakes the worker to look for due deliveries now. It never blocks.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run sends due deliveries until ctx is done, then waits for the sends in
// flight to stop and returns. A send cut short by ctx is not counted as
// an attempt; the delivery stays pending for the next Run.
//
// Calls to Run on one Worker are serialized.
func (w *Worker) Run(ctx context.Context) {
	w.run.Lock()
	defer w.run.Unlock()
	var wg sync.WaitGroup
	defer wg.Wait()
	sem := make(chan struct{}, w.opts.Concurrency)
	tick := time.NewTicker(w.opts.PollInterval)
	defer tick.Stop()
	for {
		w.dispatch(ctx, sem, &wg)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-w.wake:
		}
	}
}

// dispatch starts sending due deliveries, as many as there are free
// slots.
func (w *Worker) dispatch(ctx context.Context, sem chan struct{}, wg *sync.WaitGroup) {
	if ctx.Err() != nil {
		return
	}
	w.mu.Lock()
	w.finished = make(map[string]bool)
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.finished = nil
		w.mu.Unlock()
	}()
	due, err := w.store.Due(ctx, w.opts.Now(), 4*w.opts.Concurrency+len(sem))
	if err != nil {
		if ctx.Err() == nil {
			w.opts.Logger.Error("outbox: read due deliveries", "err", err)
		}
		return
	}
	for _, d := range due {
		if !w.claim(d.ID) {
			continue
		}
		select {
		case sem <- struct{}{}:
		default: // all slots busy: a finishing send wakes us
			w.release(d.ID)
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer w.Notify()
			defer func() { <-sem }()
			defer w.release(d.ID)
			w.send(ctx, d)
		}()
	}
}

func (w *Worker) claim(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.inflight[id] || w.finished[id] {
		return false
	}
	w.inflight[id] = true
	return true
}

func (w *Worker) release(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.inflight, id)
	if w.finished != nil {
		w.finished[id] = true
	}
}

// send makes one attempt and records its outcome.
func (w *Worker) send(ctx context.Context, d Delivery) {
	start := w.opts.Now()
	status, err := w.post(ctx, d)
	if err != nil && ctx.Err() != nil {
		return // stopping: not an attempt; the delivery stays pending
	}
	elapsed := w.opts.Now().Sub(start)
	log := w.opts.Logger.With("delivery", d.ID, "subscription", d.Subscription, "event", d.Event)

	// Record the outcome even while stopping: a 2xx not recorded would be
	// sent again.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	result := ResultDelivered
	attempts := d.Attempts + 1
	switch {
	case err == nil:
		err = w.store.MarkDelivered(mctx, d.ID, start, status)
	case attempts >= w.opts.MaxAttempts:
		result = ResultDead
		log.Warn("outbox: delivery failed for the last time", "attempts", attempts, "status", status, "err", err)
		err = w.store.MarkDead(mctx, d.ID, start, status, err.Error())
	default:
		result = ResultRetry
		next := start.Add(w.backoff(attempts))
		log.Info("outbox: delivery failed; will retry", "attempts", attempts, "status", status, "err", err, "next", next)
		err = w.store.MarkFailed(mctx, d.ID, start, status, err.Error(), next)
	}
	if err != nil {
		log.Error("outbox: record delivery attempt", "result", result, "err", err)
		return
	}
	if w.opts.OnResult != nil {
		w.opts.OnResult(d.Subscription, result, elapsed)
	}
}

// post sends d once. It returns the response status (0 without a
// response) and an error unless the status is 2xx.
func (w *Worker) post(ctx context.Context, d Delivery) (int, error) {
	sub, ok := w.subscription(d.Subscription)
	if !ok {
		// Not dead at once: the subscriptions may not be loaded yet.
		return 0, fmt.Errorf("subscription %q not found", d.Subscription)
	}
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	if sub.Handle != nil {
		if err := sub.Handle(ctx, d); err != nil {
			return 0, err
		}
		return http.StatusOK, nil
	}
	return Post(ctx, w.opts.Client, sub.URL, sub.Secret, w.opts.Now(), d)
}

// NewClient returns the HTTP client deliveries go through: it does not
// follow redirects, so a subscriber's 3xx is an answer, not a way to have
// pier post (and sign) elsewhere. The worker's context bounds each post.
func NewClient() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Post sends a delivery's body to target as the outbox does: JSON, with the
// delivery's id and event in headers, signed when secret is set. An
// answer other than 2xx is an error naming the URL (redacted) and the
// head of the answer; the status is returned either way (0 when there
// was none). The client should not follow redirects.
func Post(ctx context.Context, client *http.Client, target, secret string, now time.Time, d Delivery) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(d.Body))
	if err != nil {
		return 0, fmt.Errorf("build request: %w", err)
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "pier-outbox")
	req.Header.Set(HeaderDelivery, d.ID)
	req.Header.Set(HeaderEvent, d.Event)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	if secret != "" {
		req.Header.Set(HeaderSignature, Sign(secret, ts, d.Body))
	}
	resp, err := client.Do(req)
	if err != nil {
		// The *url.Error would repeat the URL, which may hold a token.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return 0, fmt.Errorf("post to %s: %w", redact(target), err)
	}
	defer resp.Body.Close()
	// Read a little of the answer for the error message, and drain the
	// rest (bounded) so the connection can be reused.
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := fmt.Sprintf("%s answered %s", redact(target), resp.Status)
		if s := bytes.TrimSpace(head); len(s) > 0 {
			msg += ": " + string(s)
		}
		return resp.StatusCode, errors.New(msg)
	}
	return resp.StatusCode, nil
}

func (w *Worker) subscription(id string) (Subscription, bool) {
	for _, s := range w.subs() {
		if s.ID == id {
			return s, true
		}
	}
	return Subscription{}, false
}

// backoff returns the delay after the attempts-th failed attempt.
func (w *Worker) backoff(attempts int) time.Duration {
	d := w.opts.MaxBackoff
	if attempts-1 < 32 {
		if b := w.opts.MinBackoff << (attempts - 1); b > 0 && b < d {
			d = b
		}
	}
	// ±20% jitter, so that deliveries that failed together spread out.
	j := int64(d) / 5
	if j > 0 {
		d += time.Duration(rand.Int64N(2*j+1) - j)
	}
	return d
}

// redact returns rawURL without credentials, query or fragment, for
// messages that the API serves.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "the subscription URL"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}
