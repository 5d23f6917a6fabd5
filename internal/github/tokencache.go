package github

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Renewal timing of short-lived tokens. GitHub's installation tokens live
// an hour.
const (
	// renewBefore is how long before a token expires it is renewed: well
	// ahead, so that a renewal that fails has minutes of retries while
	// the token still works.
	renewBefore = 5 * time.Minute
	// stopBefore is how long before it expires a token is no longer
	// handed out: a request sent with it must reach GitHub before it
	// expires.
	stopBefore = 30 * time.Second
	// renewTimeout bounds one renewal, which every caller may be
	// waiting for.
	renewTimeout = 30 * time.Second
	// retryFirst and retryMax are the backoff between failed renewals,
	// doubling: a GitHub that refuses is not asked on every request.
	retryFirst = 5 * time.Second
	retryMax   = time.Minute
)

// tokenCache hands out a short-lived token and renews it before it
// expires. It exists instead of oauth2.ReuseTokenSource because that
// one forgets the token it has when a renewal fails, failing requests
// the token would still have served, and renews on every call while
// GitHub is down.
//
// Each token is renewed renewBefore ahead of its expiry (at half its
// lifetime for tokens shorter than twice that); one renewal runs at a
// time, and callers that still hold a usable token do not wait for it.
// A failed renewal is reported, retried with backoff on later calls, and
// the current token is used until stopBefore its expiry.
type tokenCache struct {
	fetch func(ctx context.Context) (token string, expires time.Time, err error)
	now   func() time.Time
	// renewed is told about every renewal: its error (nil when it
	// succeeded) and when the token now handed out expires (zero if
	// there is none).
	renewed func(err error, expires time.Time)

	mu       sync.Mutex
	token    string
	expires  time.Time
	renewAt  time.Time     // when to renew the token
	stopAt   time.Time     // when to stop handing it out
	renewing chan struct{} // closed when the renewal in flight ends; nil if none
	lastErr  error         // of the last renewal, nil after a success
	failures int           // renewals failed in a row
	retryAt  time.Time     // no renewal before then, after a failure
}

// Token returns a token that GitHub accepts for at least stopBefore.
func (c *tokenCache) Token(ctx context.Context) (string, error) {
	for {
		c.mu.Lock()
		now := c.now()
		usable := c.token != "" && now.Before(c.stopAt)
		switch {
		case usable && now.Before(c.renewAt):
			t := c.token
			c.mu.Unlock()
			return t, nil
		case usable && (c.renewing != nil || now.Before(c.retryAt)):
			// Renewal is due, but in flight or backing off: the
			// token still works.
			t := c.token
			c.mu.Unlock()
			return t, nil
		case c.renewing == nil && now.Before(c.retryAt):
			err := c.lastErr
			c.mu.Unlock()
			return "", fmt.Errorf("no valid token: renewing it failed %d times, next attempt in %s: %w", c.failures, c.retryAt.Sub(now).Round(time.Second), err)
		case c.renewing == nil:
			c.renewing = make(chan struct{})
			go c.renew(context.WithoutCancel(ctx), c.renewing)
		}
		wait := c.renewing
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// renew fetches a new token and wakes whoever waits for it. It runs on
// its own, so that a caller that gives up does not abort a renewal other
// callers wait for.
func (c *tokenCache) renew(ctx context.Context, done chan struct{}) {
	ctx, cancel := context.WithTimeout(ctx, renewTimeout)
	defer cancel()
	token, expires, err := c.fetch(ctx)
	c.mu.Lock()
	now := c.now()
	if err == nil && token == "" {
		err = fmt.Errorf("GitHub answered without a token")
	}
	if err == nil && !expires.After(now) {
		err = fmt.Errorf("GitHub answered with a token that expired at %s", expires.Format(time.RFC3339))
	}
	if err == nil {
		life := expires.Sub(now)
		c.token, c.expires = token, expires
		c.renewAt = expires.Add(-min(renewBefore, life/2))
		c.stopAt = expires.Add(-min(stopBefore, life/10))
		c.lastErr, c.failures, c.retryAt = nil, 0, time.Time{}
	} else {
		c.lastErr = err
		c.failures++
		c.retryAt = now.Add(min(retryFirst<<min(c.failures-1, 10), retryMax))
	}
	c.renewing = nil
	close(done)
	current := c.expires
	c.mu.Unlock()
	if c.renewed != nil {
		c.renewed(err, current)
	}
}

// refused drops token if it is the one handed out: GitHub said it is not
// valid (revoked, or the installation removed), so the next call renews
// it at once instead of sending it until it expires.
func (c *tokenCache) refused(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if token == c.token {
		c.token, c.expires, c.renewAt, c.stopAt = "", time.Time{}, time.Time{}, time.Time{}
	}
}

// expiry is when the token handed out expires; zero if there is none.
func (c *tokenCache) expiry() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.expires
}
