// Package httpcap is the client of an approval system declared in the
// catalog (approvalSystems), after LaunchDarkly's approvals capability:
// a creation request opens the approval in the external system, a status
// request is polled until the approval is decided, and optional
// post-apply, deletion and member-list requests complete its life.
//
// Every URL, header value and JSON body is a {{ jq }} template (package
// jqtmpl) over the data pier passes (.run, .action, .inputs, .entity,
// .trigger, .approval.id) plus .secrets.NAME, resolved through
// Options.Secrets. Answers are read by JSON pointer. Templates, pointers
// and regular expressions are compiled once, by New; the loader reports
// the same problems through Check, at their positions in the catalog.
package httpcap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/jqtmpl"
	"github.com/pierhq/pier/internal/redact"
	"github.com/robfig/cron/v3"
)

// Options configure a System.
type Options struct {
	HTTPClient *http.Client                     // default: 30 s timeout
	Secrets    func(name string) (string, bool) // resolves .secrets.NAME in templates; the daemon reads PIER_SECRET_<NAME> from the environment
}

// Decision is what a status value means.
type Decision int

const (
	Pending Decision = iota
	Approved
	Rejected
)

func (d Decision) String() string {
	switch d {
	case Approved:
		return "approved"
	case Rejected:
		return "rejected"
	}
	return "pending"
}

// Status is an approval as the external system reports it.
type Status struct {
	ID       string // the external approval id (creation's parser approvalId, else the one passed in)
	Value    string // the raw statusValue, as text
	Display  string // statusDisplay, or Value when absent
	URL      string // urlTemplate rendered
	Decision Decision
}

// ErrUnusable marks a creation answer that says the approval was made
// (a 2xx with a JSON body) but not so that pier can follow it: its
// approvalId or status is not where the parser points. Creating again
// would make a second approval.
var ErrUnusable = errors.New("the approval system created an approval pier cannot follow")

// IdempotencyKey is the header that carries the run's id on a creation
// request, so that a system that honours it makes one approval of a
// creation pier sends twice (after a crash in the middle of the first).
const IdempotencyKey = "Idempotency-Key"

// Member is one member of the external system.
type Member struct{ ID, Email string }

const (
	// DefaultTimeout bounds one request when Options.HTTPClient is nil.
	DefaultTimeout = 30 * time.Second
	// maxBody bounds a response: a status answer is small, and a
	// misbehaving server must not fill the daemon's memory.
	maxBody = 1 << 20
	// snippet is how much of a failed response an error quotes.
	snippet = 256
)

// System is one declared approval system, compiled. It is immutable and
// safe for concurrent use.
type System struct {
	def                                          *catalog.ApprovalSystem
	client                                       *http.Client
	secrets                                      func(string) (string, bool)
	create, status, postApply, deletion, members *request
	schedule                                     cron.Schedule
}

// New compiles every template, pointer and regular expression of def
// once; the error names each request and field at fault.
func New(def *catalog.ApprovalSystem, opts Options) (*System, error) {
	s, ps := compile(def)
	if len(ps) > 0 {
		errs := make([]error, len(ps))
		for i, p := range ps {
			errs[i] = errors.New(p.String())
		}
		return nil, fmt.Errorf("approval system %q: %w", def.Identifier, errors.Join(errs...))
	}
	s.client, s.secrets = opts.HTTPClient, opts.Secrets
	if s.client == nil {
		s.client = &http.Client{Timeout: DefaultTimeout}
	}
	return s, nil
}

// NextPoll returns when, after t, pending approvals are next polled: the
// system's schedule, or catalog.DefaultApprovalSchedule.
func (s *System) NextPoll(t time.Time) time.Time { return s.schedule.Next(t) }

// Create opens the approval. The returned status carries the external
// id that later calls must pass as .approval.id. An answer that says the
// approval was made but cannot be read as the parser says is an error
// matching ErrUnusable.
func (s *System) Create(ctx context.Context, data map[string]any) (Status, error) {
	return s.poll(ctx, s.create, data)
}

// DeletionNeedsID reports whether the deletion request addresses the
// approval by its external id (.approval.id): without the id it cannot
// be sent.
func (s *System) DeletionNeedsID() bool { return s.deletion != nil && s.deletion.approval }

// Status asks where the approval stands.
func (s *System) Status(ctx context.Context, data map[string]any) (Status, error) {
	return s.poll(ctx, s.status, data)
}

// PostApply tells the external system the approved run was started; a
// no-op when the system declares no postApplyRequest.
func (s *System) PostApply(ctx context.Context, data map[string]any) error {
	if s.postApply == nil {
		return nil
	}
	_, err := s.do(ctx, s.postApply, data)
	return err
}

// Delete withdraws the approval (the run was rejected or cancelled); a
// no-op when the system declares no deletionRequest.
func (s *System) Delete(ctx context.Context, data map[string]any) error {
	if s.deletion == nil {
		return nil
	}
	_, err := s.do(ctx, s.deletion, data)
	return err
}

// Members lists the external system's members.
func (s *System) Members(ctx context.Context, data map[string]any) ([]Member, error) {
	r := s.members
	if r == nil {
		return nil, fmt.Errorf("approval system %q declares no memberListRequest", s.def.Identifier)
	}
	x, err := s.do(ctx, r, data)
	if err != nil {
		return nil, err
	}
	body := x.body
	fail := func(format string, args ...any) ([]Member, error) {
		return nil, s.errorf(r, "parser "+format, args...)
	}
	v, err := r.parser.members.get(body)
	if err != nil {
		return fail("memberArrayPath: %v", err)
	}
	items, ok := v.([]any)
	if !ok {
		return fail("memberArrayPath: the value at %q is %s, not an array", r.parser.members.src, kindOf(v))
	}
	out := make([]Member, len(items))
	for i, it := range items {
		if out[i].Email, err = r.parser.email.text(it); err != nil {
			return fail("member %d: memberItems.email: %v", i, err)
		}
		if out[i].ID, err = r.parser.memberID.text(it); err != nil {
			return fail("member %d: memberItems.memberId: %v", i, err)
		}
	}
	return out, nil
}

// poll sends a creation or status request and reads the status from its
// answer. A parser without matchers borrows the status request's, so
// that a creation answer that already says "approved" is understood.
func (s *System) poll(ctx context.Context, r *request, data map[string]any) (Status, error) {
	x, err := s.do(ctx, r, data)
	if err != nil {
		return Status{}, err
	}
	body := x.body
	st := Status{ID: approvalID(data)}
	p := r.parser
	if p == nil {
		return st, nil
	}
	// The answer is read, but not as the parser says: on a creation the
	// approval exists nonetheless.
	unreadable := func(field string, err error) (Status, error) {
		if r == s.create {
			return Status{}, s.errorf(r, "%w: parser %s: %s (the answer: %q)", ErrUnusable, field, x.red.String(err.Error()), head(x.red.String(string(x.raw))))
		}
		return Status{}, s.errorf(r, "parser %s: %s", field, x.red.String(err.Error()))
	}
	if p.approvalID.set() {
		if st.ID, err = p.approvalID.text(body); err != nil {
			return unreadable("approvalId", err)
		}
		if st.ID == "" {
			return unreadable("approvalId", fmt.Errorf("the value at %q is empty", p.approvalID.src))
		}
	}
	if p.statusValue.set() {
		if st.Value, err = p.statusValue.text(body); err != nil {
			return unreadable("statusValue", err)
		}
		st.Display = st.Value
		if p.statusDisplay.set() {
			if st.Display, err = p.statusDisplay.text(body); err != nil {
				return unreadable("statusDisplay", err)
			}
		}
		// Shown on the run: never what was sent in secret.
		st.Value, st.Display = x.red.String(st.Value), x.red.String(st.Display)
		approve, reject := p.approve, p.reject
		if approve == nil && reject == nil && s.status.parser != nil {
			approve, reject = s.status.parser.approve, s.status.parser.reject
		}
		switch {
		case reject != nil && reject.MatchString(st.Value):
			st.Decision = Rejected
		case approve != nil && approve.MatchString(st.Value):
			st.Decision = Approved
		}
	}
	if p.url != nil {
		x.in["approval"] = withID(x.in["approval"], st.ID)
		x.in["response"] = body
		v, err := p.url.Render(ctx, x.in)
		if err != nil {
			return Status{}, s.errorf(r, "parser urlTemplate: %s", x.red.String(err.Error()))
		}
		st.URL = x.red.String(jqtmpl.Text(v))
	}
	st.ID = x.red.String(st.ID)
	return st, nil
}

// approvalID is the id passed in as .approval.id, as text.
func approvalID(data map[string]any) string {
	if a, ok := data["approval"].(map[string]any); ok {
		return jqtmpl.Text(a["id"])
	}
	return ""
}

func withID(approval any, id string) map[string]any {
	a, _ := approval.(map[string]any)
	a = maps.Clone(a)
	if a == nil {
		a = map[string]any{}
	}
	a["id"] = id
	return a
}

// exchange is one request sent and answered.
type exchange struct {
	raw  []byte         // the answer as sent
	body any            // the decoded answer; nil when the request has no parser
	in   map[string]any // the template input, secrets included
	red  redact.Secrets // the secrets' values, for error messages
}

// do renders and sends one request and reads its answer.
func (s *System) do(ctx context.Context, r *request, data map[string]any) (*exchange, error) {
	in, red, err := s.input(r, data)
	if err != nil {
		return nil, err
	}
	render := func(t *jqtmpl.Template) (any, error) { return t.Render(ctx, in) }
	// fail keeps the context's error for errors.Is and redacts the rest.
	fail := func(what string, err error) (*exchange, error) {
		if ctx.Err() != nil {
			return nil, s.errorf(r, "%s: %w", what, ctx.Err())
		}
		return nil, s.errorf(r, "%s: %s", what, red.String(err.Error()))
	}
	v, err := render(r.url)
	if err != nil {
		return fail("endpoint url", err)
	}
	u, err := url.Parse(jqtmpl.Text(v))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, s.errorf(r, "endpoint url does not render to an absolute http(s) URL")
	}
	where := r.method + " " + red.String((&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String())
	var body io.Reader
	if r.body != nil {
		v, err := render(r.body)
		if err != nil {
			return fail("jsonBody", err)
		}
		var b []byte
		if r.bodyText {
			b = []byte(jqtmpl.Text(v))
			if !json.Valid(b) {
				return nil, s.errorf(r, "jsonBody does not render to valid JSON")
			}
		} else if b, err = json.Marshal(v); err != nil {
			return nil, s.errorf(r, "jsonBody: %v", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, s.errorf(r, "%s: %v", where, red.String(err.Error()))
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if r == s.create {
		if run, ok := data["run"].(map[string]any); ok && jqtmpl.Text(run["id"]) != "" {
			req.Header.Set(IdempotencyKey, jqtmpl.Text(run["id"]))
		}
	}
	// Declared headers replace the defaults of the same name.
	for _, h := range r.headers {
		req.Header.Del(h.name)
	}
	for _, h := range r.headers {
		v, err := render(h.value)
		if err != nil {
			return fail("header "+h.name, err)
		}
		req.Header.Add(h.name, jqtmpl.Text(v))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// A *url.Error quotes the full URL, query and all: keep only
		// the cause, and the context's error for errors.Is.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fail(where, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return fail(where+": read response", err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, s.errorf(r, "%s: %s: %q", where, resp.Status, head(red.String(string(b))))
	}
	if len(b) > maxBody {
		return nil, s.errorf(r, "%s: response exceeds %d bytes", where, maxBody)
	}
	x := &exchange{raw: b, in: in, red: red}
	if r.parser == nil {
		return x, nil
	}
	if err := catalog.Decode(b, &x.body); err != nil {
		return nil, s.errorf(r, "%s: response is not JSON: %v (%q)", where, err, head(red.String(string(b))))
	}
	return x, nil
}

// head is the start of a response for an error message, cut after
// redaction so that no part of a secret survives the cut.
func head(s string) string {
	if len(s) > snippet {
		s = s[:snippet]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return strings.TrimSpace(s)
}

func (s *System) errorf(r *request, format string, args ...any) error {
	return fmt.Errorf("approval system %q: %s: %w", s.def.Identifier, r.name, fmt.Errorf(format, args...))
}

// input is the template input of one request: data with .secrets holding
// exactly the secrets the request's templates name. A secret that cannot
// be resolved is an error, never an empty string in a header.
func (s *System) input(r *request, data map[string]any) (map[string]any, redact.Secrets, error) {
	in := maps.Clone(data)
	if in == nil {
		in = map[string]any{}
	}
	secrets := make(map[string]any, len(r.secrets))
	var red redact.Secrets
	for _, name := range r.secrets {
		var v string
		ok := s.secrets != nil
		if ok {
			v, ok = s.secrets(name)
		}
		if !ok {
			return nil, nil, s.errorf(r, "secret %q is not set", name)
		}
		secrets[name] = v
		red = red.Add(v)
	}
	in["secrets"] = secrets
	return in, red, nil
}
