package metrics

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches the exposition from m's handler in the classic text
// format.
func scrape(t *testing.T, m *Metrics) []byte {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape: read: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d: %s", resp.StatusCode, body)
	}
	return body
}

func parse(t *testing.T, body []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, body)
	}
	return mfs
}

// find returns the metric of family name whose labels include labels, or
// nil.
func find(mfs map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	mf := mfs[name]
	if mf == nil {
		return nil
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

func value(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	m := find(mfs, name, labels)
	if m == nil {
		t.Fatalf("no series %s%v", name, labels)
		return 0
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	t.Fatalf("series %s%v has no value", name, labels)
	return 0
}

func checkValue(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels map[string]string, want float64) {
	t.Helper()
	if got := value(t, mfs, name, labels); got != want {
		t.Errorf("%s%v = %v, want %v", name, labels, got, want)
	}
}

func checkAbsent(t *testing.T, mfs map[string]*dto.MetricFamily, name string, labels map[string]string) {
	t.Helper()
	if m := find(mfs, name, labels); m != nil {
		t.Errorf("%s%v is present, want absent: %v", name, labels, m)
	}
}

func TestEveryMethod(t *testing.T) {
	m := New()

	m.ReconcileDone(ResultApplied, 30*time.Millisecond)
	m.ReconcileDone(ResultApplied, 2*time.Second)
	m.ReconcileDone(ResultFailed, 10*time.Millisecond)

	m.RevisionAttempted("aaa")
	m.RevisionApplied("aaa", time.Unix(1000, 500_000_000))
	m.RevisionAttempted("bbb")
	m.RevisionApplied("bbb", time.Unix(2000, 0))
	m.RevisionAttempted("ccc") // not applied: applied stays bbb

	m.SetEntities(map[string]int{"service": 3, "team": 2, "old": 7})
	m.SetEntities(map[string]int{"service": 4, "team": 2})

	m.SetValidationErrors(map[string]int{"parse": 2, "property": 5})
	m.SetValidationErrors(map[string]int{"property": 1})

	m.SetReady(true)

	m.FetchDone(100*time.Millisecond, nil)
	m.FetchDone(3*time.Second, errors.New("connection refused"))

	m.WebhookDelivery("push", WebhookAccepted)
	m.WebhookDelivery("push", WebhookDuplicate)
	m.WebhookDelivery("push", WebhookDuplicate)
	m.WebhookDelivery("other", WebhookBadSignature)

	m.PushApplied(1500 * time.Millisecond)

	h := m.InstrumentHandler("GET /api/v1/entities/{id}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/missing") {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, "ok")
	}))
	for _, p := range []string{"/api/v1/entities/a", "/api/v1/entities/b", "/api/v1/entities/missing"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}

	m.GitHubResponse(201, 4999)
	m.GitHubResponse(404, 4998)
	m.GitHubResponse(0, -1) // network error: no code, gauge unchanged
	exp := time.Unix(1_900_000_000, 0)
	m.GitHubTokenRenewed(nil, exp)
	m.GitHubTokenRenewed(errors.New("502"), exp)
	m.GitHubTokenRenewed(errors.New("502"), time.Time{}) // no token: gauge unchanged

	m.APIUnauthenticated(RefusedNoToken)
	m.APIUnauthenticated(RefusedNoToken)
	m.APIUnauthenticated(RefusedBadCredentials)
	m.APIRateLimited(LimitToken)

	mfs := parse(t, scrape(t, m))

	checkValue(t, mfs, "pier_reconcile_total", map[string]string{"result": "applied"}, 2)
	checkValue(t, mfs, "pier_reconcile_total", map[string]string{"result": "failed"}, 1)
	checkValue(t, mfs, "pier_reconcile_total", map[string]string{"result": "unchanged"}, 0)
	checkValue(t, mfs, "pier_reconcile_total", map[string]string{"result": "error"}, 0)
	if hist := find(mfs, "pier_reconcile_duration_seconds", map[string]string{"result": "applied"}).GetHistogram(); hist.GetSampleCount() != 2 || hist.GetSampleSum() != 2.03 {
		t.Errorf("reconcile duration applied: count %d sum %v, want 2 and 2.03", hist.GetSampleCount(), hist.GetSampleSum())
	} else if b := hist.GetBucket(); b[0].GetUpperBound() != 0.005 || b[len(b)-2].GetUpperBound() != 60 {
		t.Errorf("reconcile buckets run %v..%v, want 0.005..60", b[0].GetUpperBound(), b[len(b)-2].GetUpperBound())
	}

	checkValue(t, mfs, "pier_revision_applied_info", map[string]string{"revision": "bbb"}, 1)
	checkAbsent(t, mfs, "pier_revision_applied_info", map[string]string{"revision": "aaa"})
	if n := len(mfs["pier_revision_applied_info"].GetMetric()); n != 1 {
		t.Errorf("pier_revision_applied_info has %d series, want 1", n)
	}
	checkValue(t, mfs, "pier_revision_applied_timestamp_seconds", nil, 2000)
	checkValue(t, mfs, "pier_revision_attempted_info", map[string]string{"revision": "ccc"}, 1)
	if n := len(mfs["pier_revision_attempted_info"].GetMetric()); n != 1 {
		t.Errorf("pier_revision_attempted_info has %d series, want 1", n)
	}

	checkValue(t, mfs, "pier_entities", map[string]string{"blueprint": "service"}, 4)
	checkValue(t, mfs, "pier_entities", map[string]string{"blueprint": "team"}, 2)
	checkAbsent(t, mfs, "pier_entities", map[string]string{"blueprint": "old"})

	checkValue(t, mfs, "pier_validation_errors", map[string]string{"kind": "property"}, 1)
	checkValue(t, mfs, "pier_validation_errors", map[string]string{"kind": "parse"}, 0)

	checkValue(t, mfs, "pier_ready", nil, 1)

	checkValue(t, mfs, "pier_source_fetch_duration_seconds", nil, 2)
	checkValue(t, mfs, "pier_source_fetch_failures_total", nil, 1)

	checkValue(t, mfs, "pier_webhook_deliveries_total", map[string]string{"event": "push", "result": "accepted"}, 1)
	checkValue(t, mfs, "pier_webhook_deliveries_total", map[string]string{"event": "push", "result": "duplicate"}, 2)
	checkValue(t, mfs, "pier_webhook_deliveries_total", map[string]string{"event": "other", "result": "bad_signature"}, 1)

	if hist := find(mfs, "pier_push_to_applied_seconds", nil).GetHistogram(); hist.GetSampleCount() != 1 || hist.GetSampleSum() != 1.5 {
		t.Errorf("push to applied: count %d sum %v, want 1 and 1.5", hist.GetSampleCount(), hist.GetSampleSum())
	} else if b := hist.GetBucket(); b[0].GetUpperBound() != 0.01 || b[len(b)-2].GetUpperBound() != 60 {
		t.Errorf("push latency buckets run %v..%v, want 0.01..60", b[0].GetUpperBound(), b[len(b)-2].GetUpperBound())
	}

	route := "GET /api/v1/entities/{id}"
	checkValue(t, mfs, "pier_http_requests_total", map[string]string{"route": route, "code": "200"}, 2)
	checkValue(t, mfs, "pier_http_requests_total", map[string]string{"route": route, "code": "404"}, 1)
	checkValue(t, mfs, "pier_http_request_duration_seconds", map[string]string{"route": route}, 3)
	for _, mf := range []string{"pier_http_requests_total", "pier_http_request_duration_seconds"} {
		for _, s := range mfs[mf].GetMetric() {
			for _, lp := range s.GetLabel() {
				if strings.Contains(lp.GetValue(), "/entities/a") || lp.GetName() == "method" || lp.GetName() == "path" {
					t.Errorf("%s has a per-request label %s=%q", mf, lp.GetName(), lp.GetValue())
				}
			}
		}
	}

	checkValue(t, mfs, "pier_github_requests_total", map[string]string{"code": "201"}, 1)
	checkValue(t, mfs, "pier_github_requests_total", map[string]string{"code": "404"}, 1)
	checkValue(t, mfs, "pier_github_requests_total", map[string]string{"code": "error"}, 1)
	checkValue(t, mfs, "pier_github_rate_limit_remaining", nil, 4998)
	checkValue(t, mfs, "pier_github_token_renewals_total", map[string]string{"result": "ok"}, 1)
	checkValue(t, mfs, "pier_github_token_renewals_total", map[string]string{"result": "error"}, 2)
	checkValue(t, mfs, "pier_github_token_expiry_timestamp_seconds", nil, 1_900_000_000)

	checkValue(t, mfs, "pier_api_unauthenticated_total", map[string]string{"reason": RefusedNoToken}, 2)
	checkValue(t, mfs, "pier_api_unauthenticated_total", map[string]string{"reason": RefusedBadCredentials}, 1)
	checkValue(t, mfs, "pier_api_unauthenticated_total", map[string]string{"reason": RefusedBadToken}, 0)
	checkValue(t, mfs, "pier_api_rate_limited_total", map[string]string{"limit": LimitToken}, 1)
	checkValue(t, mfs, "pier_api_rate_limited_total", map[string]string{"limit": LimitClient}, 0)

	// The Go and process collectors are there.
	if mfs["go_goroutines"] == nil {
		t.Error("no go_goroutines: Go collector missing")
	}
	if mfs["process_start_time_seconds"] == nil && mfs["process_cpu_seconds_total"] == nil {
		t.Log("no process metrics (platform without procfs?)")
	}

	// Every pier family has help text.
	for name, mf := range mfs {
		if strings.HasPrefix(name, "pier_") && mf.GetHelp() == "" {
			t.Errorf("%s has no help text", name)
		}
	}
}

// TestFreshExposition checks what a scrape shows before anything happened:
// results pre-created at 0, no rate-limit gauge pretending to be
// exhausted, not ready.
func TestFreshExposition(t *testing.T) {
	mfs := parse(t, scrape(t, New()))
	for _, res := range []string{ResultApplied, ResultUnchanged, ResultFailed, ResultError} {
		checkValue(t, mfs, "pier_reconcile_total", map[string]string{"result": res}, 0)
	}
	checkValue(t, mfs, "pier_ready", nil, 0)
	checkValue(t, mfs, "pier_source_fetch_failures_total", nil, 0)
	checkValue(t, mfs, "pier_api_unauthenticated_total", map[string]string{"reason": RefusedBadCredentials}, 0)
	checkValue(t, mfs, "pier_api_rate_limited_total", map[string]string{"limit": LimitToken}, 0)
	checkAbsent(t, mfs, "pier_github_rate_limit_remaining", nil)
}

func TestOpenMetrics(t *testing.T) {
	m := New()
	m.ReconcileDone(ResultApplied, time.Second)
	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/openmetrics-text") {
		t.Errorf("Content-Type = %q, want OpenMetrics", ct)
	}
	if !bytes.HasSuffix(body, []byte("# EOF\n")) {
		t.Errorf("OpenMetrics body does not end with # EOF")
	}
	if !bytes.Contains(body, []byte(`pier_reconcile_total{result="applied"} 1`)) {
		t.Errorf("OpenMetrics body lacks the reconcile counter:\n%s", body)
	}
}

// TestNil checks that a nil *Metrics records nothing and does not crash,
// so components can be built without metrics.
func TestNil(t *testing.T) {
	var m *Metrics
	m.ReconcileDone(ResultApplied, time.Second)
	m.RevisionApplied("a", time.Now())
	m.RevisionAttempted("a")
	m.SetEntities(map[string]int{"a": 1})
	m.SetValidationErrors(map[string]int{"parse": 1})
	m.SetReady(true)
	m.FetchDone(time.Second, nil)
	m.WebhookDelivery("push", WebhookAccepted)
	m.PushApplied(time.Second)
	m.GitHubResponse(200, 1)
	m.APIUnauthenticated(RefusedNoToken)
	m.APIRateLimited(LimitAddress)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	if got := m.InstrumentHandler("r", h); got == nil {
		t.Error("InstrumentHandler on nil returned nil")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("nil Handler answered %d, want 404", rec.Code)
	}
}

// TestPromtoolLint runs promtool check metrics, Prometheus's own linter
// (naming, units, help text, counter suffixes), on a full exposition.
func TestPromtoolLint(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (apt-get install prometheus); skipping the exposition lint")
	}
	m := New()
	m.ReconcileDone(ResultApplied, time.Second)
	m.RevisionApplied("abc", time.Now())
	m.RevisionAttempted("abc")
	m.SetEntities(map[string]int{"service": 1})
	m.SetValidationErrors(map[string]int{"parse": 1})
	m.SetReady(true)
	m.FetchDone(time.Second, errors.New("x"))
	m.WebhookDelivery("push", WebhookAccepted)
	m.PushApplied(time.Second)
	m.InstrumentHandler("GET /", http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	m.GitHubResponse(200, 10)
	body := scrape(t, m)

	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(body)
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestConcurrent exercises the recorder from many goroutines; run with
// -race.
func TestConcurrent(t *testing.T) {
	m := New()
	done := make(chan struct{})
	for i := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for j := range 100 {
				rev := string(rune('a' + (i+j)%5))
				m.RevisionApplied(rev, time.Now())
				m.RevisionAttempted(rev)
				m.SetEntities(map[string]int{rev: j})
				m.SetValidationErrors(map[string]int{rev: j})
				m.ReconcileDone(ResultApplied, time.Millisecond)
			}
		}()
	}
	for range 8 {
		<-done
	}
	mfs := parse(t, scrape(t, m))
	checkValue(t, mfs, "pier_reconcile_total", map[string]string{"result": "applied"}, 800)
	if n := len(mfs["pier_revision_applied_info"].GetMetric()); n != 1 {
		t.Errorf("pier_revision_applied_info has %d series, want 1", n)
	}
	if n := len(mfs["pier_entities"].GetMetric()); n != 1 {
		t.Errorf("pier_entities has %d series, want 1", n)
	}
}

func TestScorecardLevels(t *testing.T) {
	m := New()
	m.SetScorecardLevels(map[string]map[string]int{"readiness": {"Gold": 5, "Basic": 1}, "security": {"Silver": 2}})
	m.SetScorecardLevels(map[string]map[string]int{"readiness": {"Gold": 4, "Basic": 2}})
	mfs := parse(t, scrape(t, m))
	checkValue(t, mfs, "pier_scorecard_entities", map[string]string{"scorecard": "readiness", "level": "Gold"}, 4)
	checkValue(t, mfs, "pier_scorecard_entities", map[string]string{"scorecard": "readiness", "level": "Basic"}, 2)
	checkAbsent(t, mfs, "pier_scorecard_entities", map[string]string{"scorecard": "security", "level": "Silver"})
}
