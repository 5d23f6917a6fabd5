package api

import (
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pierhq/pier/internal/metrics"
)

// Limits bound how fast callers may use the API; a zero rate turns its
// limit off. An API client is known by its token; a caller without a
// valid one only by its address, so that is what its requests are
// counted against.
type Limits struct {
	// Rate (requests a second) and Burst (at once) bound each API
	// client and, for requests without a valid token, each address.
	Rate  float64
	Burst int
	// TokenRate and TokenBurst bound token exchanges per address, on top
	// of Rate: POST /v1/auth/access_token is where secrets are guessed.
	TokenRate  float64
	TokenBurst int
	// TrustedProxies are reverse proxies whose X-Forwarded-For names the
	// caller. Without any, X-Forwarded-For is ignored (anyone can send
	// it) and the peer's address is the caller's.
	TrustedProxies []netip.Prefix
}

// limiterKeys bounds the keys a limiter remembers (about 100 bytes each).
const limiterKeys = 10000

// limiter is a token bucket per key: burst requests at once, then rate a
// second.
type limiter struct {
	rate, burst float64
	keys        int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// newLimiter returns nil, which limits nothing, for a rate of 0.
func newLimiter(rate float64, burst int) *limiter {
	if rate <= 0 {
		return nil
	}
	return &limiter{rate: rate, burst: float64(max(burst, 1)), keys: limiterKeys, buckets: map[string]*bucket{}}
}

// take spends one of key's requests at now, or says how long until it
// has one.
func (l *limiter) take(key string, now time.Time) (wait time.Duration, ok bool) {
	if l == nil {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.keys {
			l.evict(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[key] = b
	}
	b.tokens = min(l.burst, b.tokens+max(0, now.Sub(b.at).Seconds())*l.rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / l.rate * float64(time.Second)), false
}

// evict forgets the keys whose bucket is full again (one coming back gets
// what it would have had anyway) and, if more keys than the table holds
// are busy at once, half of it, whichever the map visits first: memory
// stays bounded, at the price of a fresh burst for some.
func (l *limiter) evict(now time.Time) {
	refill := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.buckets {
		if now.Sub(b.at) >= refill {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) <= l.keys/2 {
			break
		}
		delete(l.buckets, k)
	}
}

// len returns how many keys l remembers.
func (l *limiter) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}

// callerAddr is what a request without a valid token is counted against:
// the peer's address or, when the peer is a trusted proxy, the nearest
// address in X-Forwarded-For that is not one. An IPv6 address counts as
// its /64, which one host usually holds whole.
func (l Limits) callerAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if l.trusted(addr) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // a proxy that writes garbage: count its peer
			}
			if addr = hop; !l.trusted(hop) {
				break
			}
		}
	}
	if addr = addr.Unmap(); addr.Is6() {
		p, _ := addr.Prefix(64)
		return p.String()
	}
	return addr.String()
}

func (l Limits) trusted(a netip.Addr) bool {
	for _, p := range l.TrustedProxies {
		if p.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

// throttle spends a request of the caller's, c's or the address's; when
// none is left it answers 429 with Retry-After and returns false.
func (s *Server) throttle(w http.ResponseWriter, r *http.Request, c *caller, now time.Time) bool {
	l, limit, key := s.addresses, metrics.LimitAddress, ""
	if c != nil {
		l, limit, key = s.clients, metrics.LimitClient, "client "+c.ID
	} else if l != nil {
		key = s.opts.Limits.callerAddr(r)
	}
	return s.spend(w, l, limit, key, now, s.opts.Limits.Rate, s.opts.Limits.Burst)
}

func (s *Server) spend(w http.ResponseWriter, l *limiter, limit, key string, now time.Time, rate float64, burst int) bool {
	wait, ok := l.take(key, now)
	if ok {
		return true
	}
	s.count(func(m Metrics) { m.APIRateLimited(limit) })
	s.sampled.log(now, "rate limited: "+limit, "API requests refused: rate limited", "limit", limit, "caller", key)
	secs := int(math.Ceil(wait.Seconds()))
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, "rate_limited",
		fmt.Sprintf("too many requests from %s: at most %s a second, %d at once; retry in %d s", key, strconv.FormatFloat(rate, 'f', -1, 64), max(burst, 1), secs),
		map[string]any{"retryAfter": secs})
	return false
}

// sampledLog logs each kind of event at most once an interval, with how
// many it held back since the last line: callers without a token choose
// how often they are refused, and must not choose how much is logged.
type sampledLog struct {
	logger *slog.Logger
	every  time.Duration

	mu   sync.Mutex
	last map[string]*sample // by kind, a closed set
}

type sample struct {
	at   time.Time
	held int
}

func (s *sampledLog) log(now time.Time, kind, msg string, args ...any) {
	s.mu.Lock()
	last := s.last[kind]
	if last != nil && now.Sub(last.at) < s.every {
		last.held++
		s.mu.Unlock()
		return
	}
	held := 0
	if last != nil {
		held = last.held
	}
	s.last[kind] = &sample{at: now}
	s.mu.Unlock()
	s.logger.Warn(msg, append(args, "suppressed", held, "every", s.every)...)
}
