package api

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pierhq/pier/internal/metrics"
)

// lockedBuffer is a log destination shared by the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// counter reads one series of a counter vector from m's registry.
func counter(t *testing.T, m *metrics.Metrics, name, label, value string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, s := range mf.GetMetric() {
			for _, lp := range s.GetLabel() {
				if lp.GetName() == label && lp.GetValue() == value {
					return s.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no series %s{%s=%q}", name, label, value)
	return 0
}

// TestRefusalsBeforeAuthentication: 2,000 anonymous PATCHes (and bad
// tokens, and wrong secrets) make no audit row: they are counted by
// reason and logged a line per reason per interval, with how many lines
// were held back. A known client's refused write is still audited.
func TestRefusalsBeforeAuthentication(t *testing.T) {
	m := metrics.New()
	logs := &lockedBuffer{}
	f := newFixture(t, false, func(_ *fixture, o *Options) {
		o.Metrics = m
		o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	const path = "/v1/blueprints/service/entities/payments-api"
	patch := `{"properties": {"health_status": "Healthy"}}`
	for range 2000 {
		if code, _ := f.send(t, "PATCH", path, "", strings.NewReader(patch)); code != http.StatusUnauthorized {
			t.Fatalf("anonymous PATCH: %d", code)
		}
	}
	for range 10 {
		if code, _ := f.send(t, "PATCH", path, "forged.token", strings.NewReader(patch)); code != http.StatusUnauthorized {
			t.Fatalf("PATCH with a forged token: %d", code)
		}
		if code, _ := f.do(t, "POST", "/v1/auth/access_token", "", map[string]string{"clientId": "ci", "clientSecret": "guess"}); code != http.StatusUnauthorized {
			t.Fatalf("wrong secret: %d", code)
		}
	}
	tok := f.login(t)
	if code, out := f.do(t, "GET", "/v1/audit-log", tok, nil); code != http.StatusOK || len(out["entries"].([]any)) != 0 {
		t.Fatalf("audit log after refusals before authentication: %d %v", code, out)
	}
	for reason, want := range map[string]float64{metrics.RefusedNoToken: 2000, metrics.RefusedBadToken: 10, metrics.RefusedBadCredentials: 10} {
		if got := counter(t, m, "pier_api_unauthenticated_total", "reason", reason); got != want {
			t.Errorf("pier_api_unauthenticated_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
	lines := strings.Count(logs.String(), "refused before authentication")
	if lines < 3 || lines > 6 { // one per reason, and one more each if the run crossed an interval
		t.Errorf("%d log lines for 2020 refusals:\n%s", lines, logs.String())
	}

	// A known client's refusal is its own: audited.
	if code, _ := f.send(t, "PATCH", "/v1/blueprints/service/entities/ghost", tok, strings.NewReader(patch)); code != http.StatusNotFound {
		t.Fatalf("write to a missing entity: %d", code)
	}
	_, out := f.do(t, "GET", "/v1/audit-log", tok, nil)
	entries := out["entries"].([]any)
	if len(entries) != 1 || entries[0].(map[string]any)["actor"] != "ci" || entries[0].(map[string]any)["status"] != 404.0 {
		t.Fatalf("audit log: %v", entries)
	}
}

// clock is a time the test moves.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestRateLimits: callers without a token are limited per address, API
// clients each on their own, token exchanges more strictly; a limited
// request is a 429 with Retry-After and a JSON body, and waiting that
// long is enough.
func TestRateLimits(t *testing.T) {
	limits := Limits{Rate: 1, Burst: 3, TokenRate: 0.1, TokenBurst: 2}
	setup := func(t *testing.T) (*fixture, *clock, *metrics.Metrics) {
		c := &clock{now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
		m := metrics.New()
		f := newFixture(t, true, func(_ *fixture, o *Options) {
			o.Limits, o.Now, o.Metrics = limits, c.Now, m
			o.Auth.Clients = append(o.Auth.Clients, Client{ID: "other", Secret: "0ther"})
		})
		return f, c, m
	}
	limited := func(t *testing.T, f *fixture, method, path, token, body, retry string) {
		t.Helper()
		resp, _ := f.raw(t, method, path, token, strings.NewReader(body))
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != retry || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("%s %s: %d Retry-After %q, want 429 Retry-After %s in JSON", method, path, resp.StatusCode, resp.Header.Get("Retry-After"), retry)
		}
	}

	t.Run("per address", func(t *testing.T) {
		f, c, m := setup(t)
		for range 3 {
			if code, _ := f.do(t, "GET", "/v1/blueprints", "", nil); code != http.StatusOK {
				t.Fatalf("read within the burst: %d", code)
			}
		}
		code, out := f.do(t, "GET", "/v1/blueprints", "", nil)
		if msg, _ := out["message"].(string); code != http.StatusTooManyRequests || out["error"] != "rate_limited" || out["retryAfter"] != 1.0 ||
			!strings.Contains(msg, "too many requests from 127.0.0.1: at most 1 a second, 3 at once; retry in 1 s") {
			t.Fatalf("over the burst: %d %v", code, out)
		}
		limited(t, f, "PATCH", "/v1/blueprints/service/entities/payments-api", "", `{"properties": {"health_status": "Healthy"}}`, "1") // anonymous writes too
		c.advance(time.Second)
		if code, _ := f.do(t, "GET", "/v1/blueprints", "", nil); code != http.StatusOK {
			t.Fatalf("after Retry-After: %d", code)
		}
		if got := counter(t, m, "pier_api_rate_limited_total", "limit", metrics.LimitAddress); got != 2 {
			t.Errorf("pier_api_rate_limited_total{limit=address} = %v, want 2", got)
		}
	})

	t.Run("per client", func(t *testing.T) {
		f, _, m := setup(t)
		tok := f.login(t) // the address's first request
		_, out := f.do(t, "POST", "/v1/auth/access_token", "", map[string]string{"clientId": "other", "clientSecret": "0ther"})
		other := out["accessToken"].(string)
		for range 3 { // each client has its burst, whatever the address spent
			if code, _ := f.do(t, "GET", "/v1/blueprints", tok, nil); code != http.StatusOK {
				t.Fatalf("client read within its burst: %d", code)
			}
		}
		limited(t, f, "GET", "/v1/blueprints", tok, "", "1")
		if code, _ := f.do(t, "GET", "/v1/blueprints", other, nil); code != http.StatusOK {
			t.Fatalf("another client: %d", code)
		}
		if code, _ := f.do(t, "GET", "/v1/blueprints", "", nil); code != http.StatusOK {
			t.Fatalf("the address, without a token: %d", code)
		}
		if got := counter(t, m, "pier_api_rate_limited_total", "limit", metrics.LimitClient); got != 1 {
			t.Errorf("pier_api_rate_limited_total{limit=client} = %v, want 1", got)
		}
	})

	t.Run("token exchanges", func(t *testing.T) {
		f, c, m := setup(t)
		creds := map[string]string{"clientId": "ci", "clientSecret": "wrong"}
		for range 2 {
			if code, _ := f.do(t, "POST", "/v1/auth/access_token", "", creds); code != http.StatusUnauthorized {
				t.Fatalf("a guess within the burst: %d", code)
			}
		}
		limited(t, f, "POST", "/v1/auth/access_token", "", `{"clientId": "ci", "clientSecret": "s3cret"}`, "10")
		c.advance(10 * time.Second)
		f.login(t)
		if got := counter(t, m, "pier_api_rate_limited_total", "limit", metrics.LimitToken); got != 1 {
			t.Errorf("pier_api_rate_limited_total{limit=token} = %v, want 1", got)
		}
	})
}

// TestCallerAddr: X-Forwarded-For names the caller only behind a trusted
// proxy, and then the nearest hop that is not one; IPv6 callers count as
// their /64.
func TestCallerAddr(t *testing.T) {
	proxies := Limits{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for _, tt := range []struct {
		name   string
		limits Limits
		remote string
		xff    []string
		want   string
	}{
		{"the peer", Limits{}, "192.0.2.7:4711", nil, "192.0.2.7"},
		{"no trusted proxy: XFF ignored", Limits{}, "192.0.2.7:4711", []string{"198.51.100.1"}, "192.0.2.7"},
		{"an untrusted peer: XFF ignored", proxies, "192.0.2.7:4711", []string{"198.51.100.1"}, "192.0.2.7"},
		{"behind a proxy", proxies, "10.1.1.1:4711", []string{"198.51.100.1"}, "198.51.100.1"},
		{"behind two proxies, a forged hop first", proxies, "10.1.1.1:4711", []string{"203.0.113.9, 198.51.100.1", "10.2.2.2"}, "198.51.100.1"},
		{"a proxy without XFF", proxies, "10.1.1.1:4711", nil, "10.1.1.1"},
		{"garbage from a proxy", proxies, "10.1.1.1:4711", []string{"not-an-address"}, "10.1.1.1"},
		{"IPv6", Limits{}, "[2001:db8:1:2:3:4:5:6]:4711", nil, "2001:db8:1:2::/64"},
		{"IPv4 in IPv6", Limits{}, "[::ffff:192.0.2.7]:4711", nil, "192.0.2.7"},
	} {
		r := httptest.NewRequest("GET", "/v1/blueprints", nil)
		r.RemoteAddr = tt.remote
		for _, v := range tt.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := tt.limits.callerAddr(r); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestLimiterMemoryIsBounded: however many addresses call, the limiter
// keeps at most its table's size; idle keys go first.
func TestLimiterMemoryIsBounded(t *testing.T) {
	l := newLimiter(1, 2)
	l.keys = 100
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for i := range 10000 {
		l.take(fmt.Sprint("addr-", i), t0.Add(time.Duration(i)*time.Millisecond))
		if n := l.len(); n > l.keys {
			t.Fatalf("%d keys after %d callers, want at most %d", n, i+1, l.keys)
		}
	}
	// Idle keys (full buckets) are forgotten before busy ones.
	l = newLimiter(1, 1)
	l.keys = 2
	l.take("idle", t0)
	l.take("busy", t0.Add(900*time.Millisecond))
	l.take("new", t0.Add(time.Second)) // idle is full again: it goes, busy stays
	if _, ok := l.take("busy", t0.Add(time.Second)); ok {
		t.Error("a busy key was forgotten while an idle one could go")
	}
}
