package httpcap

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/robfig/cron/v3"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/jqtmpl"
)

// Problem is one defect of a declaration: Path leads from the approval
// system to the field at fault (list indexes as decimal elements), so
// that the loader can report it at that field's position.
type Problem struct {
	Path    []string
	Message string
}

func (p Problem) String() string {
	var b strings.Builder
	for _, el := range p.Path {
		if _, err := strconv.Atoi(el); err == nil {
			b.WriteString("[" + el + "]")
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(el)
	}
	return b.String() + ": " + p.Message
}

// Check reports every defect New would refuse: templates that do not
// compile, secrets referred to other than as .secrets.NAME, malformed
// JSON pointers and regular expressions, parsers missing what their
// request needs, and a bad schedule.
func Check(def *catalog.ApprovalSystem) []Problem {
	_, ps := compile(def)
	return ps
}

// request is one compiled request.
type request struct {
	name     string // creationRequest, …: errors name it
	method   string
	url      *jqtmpl.Template
	headers  []header
	body     *jqtmpl.Template // nil: no body
	bodyText bool             // the body is a string that must render to JSON text
	parser   *parser
	// secrets are the names this request's templates read, so that only
	// those are resolved, and resolved before anything is sent.
	secrets []string
	// approval reports whether a template reads .approval (the id).
	approval bool
}

type header struct {
	name  string
	value *jqtmpl.Template
}

type parser struct {
	approvalID, statusValue, statusDisplay pointer
	approve, reject                        *regexp.Regexp
	url                                    *jqtmpl.Template
	members, email, memberID               pointer
}

// compiler collects the problems of one declaration.
type compiler struct {
	problems []Problem
}

func (c *compiler) fail(path []string, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

var methods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

func compile(def *catalog.ApprovalSystem) (*System, []Problem) {
	c := &compiler{}
	s := &System{def: def}
	spec := cmp.Or(def.Schedule, catalog.DefaultApprovalSchedule)
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		c.fail([]string{"schedule"}, "%q is not a cron schedule: %v", def.Schedule, err)
	}
	s.schedule = sched
	s.create = c.request("creationRequest", &def.CreationRequest)
	s.status = c.request("statusRequest", &def.StatusRequest)
	s.postApply = c.request("postApplyRequest", def.PostApplyRequest)
	s.deletion = c.request("deletionRequest", def.DeletionRequest)
	s.members = c.request("memberListRequest", def.MemberListRequest)

	if p := def.StatusRequest.Parser; p == nil {
		c.fail([]string{"statusRequest"}, "needs a parser with statusValue and approvalMatcher")
	} else {
		for _, f := range []struct{ name, v string }{{"statusValue", p.StatusValue}, {"approvalMatcher", p.ApprovalMatcher}} {
			if f.v == "" {
				c.fail([]string{"statusRequest", "parser"}, "missing required field %q", f.name)
			}
		}
	}
	if r := def.MemberListRequest; r != nil {
		if p := r.Parser; p == nil {
			c.fail([]string{"memberListRequest"}, "needs a parser with memberArrayPath and memberItems")
		} else if p.MemberArrayPath == "" || p.MemberItems == nil {
			c.fail([]string{"memberListRequest", "parser"}, "needs memberArrayPath and memberItems")
		}
	}
	// The external id exists only if creation's answer names it: a
	// later request that reads .approval.id would otherwise send an
	// empty id and poll nothing, forever.
	if p := def.CreationRequest.Parser; p == nil || p.ApprovalID == "" {
		for _, r := range []*request{s.status, s.postApply, s.deletion} {
			if r != nil && r.approval {
				c.fail([]string{"creationRequest", "parser", "approvalId"}, "required: %s reads .approval.id, so approvalId must point at the external id in the creation response", r.name)
				break
			}
		}
	}
	return s, c.problems
}

// request compiles one declared request; it returns nil when r is nil.
func (c *compiler) request(name string, r *catalog.ApprovalRequest) *request {
	if r == nil {
		return nil
	}
	out := &request{name: name, method: r.Endpoint.Method}
	at := func(p ...string) []string { return append([]string{name}, p...) }
	if !methods[r.Endpoint.Method] {
		c.fail(at("endpoint", "method"), "must be one of GET, POST, PUT, PATCH, DELETE; got %q", r.Endpoint.Method)
	}
	if r.Endpoint.URL == "" {
		c.fail(at("endpoint", "url"), "missing required field \"url\"")
	}
	out.url = c.template(out, at("endpoint", "url"), r.Endpoint.URL, false)
	for i, h := range r.Endpoint.Headers {
		out.headers = append(out.headers, header{name: h.Name, value: c.template(out, at("endpoint", "headers", strconv.Itoa(i), "value"), h.Value, true)})
	}
	switch b := r.JSONBody.(type) {
	case nil:
	case string:
		out.body, out.bodyText = c.template(out, at("jsonBody"), b, true), true
	default:
		// Compile each string alone first, to report a broken one at its
		// own position; then the whole value, once, for rendering.
		n := len(c.problems)
		c.walk(out, at("jsonBody"), b)
		if len(c.problems) == n {
			t, err := jqtmpl.Compile(b)
			if err != nil {
				c.fail(at("jsonBody"), "%v", err)
			}
			out.body = t
		}
	}
	if p := r.Parser; p != nil {
		out.parser = c.parser(out, at("parser"), p)
	}
	sort.Strings(out.secrets)
	return out
}

// walk checks the strings of a JSON body value.
func (c *compiler) walk(r *request, path []string, v any) {
	switch x := v.(type) {
	case string:
		c.template(r, path, x, true)
	case map[string]any:
		for k, el := range x {
			c.walk(r, append(path[:len(path):len(path)], k), el)
		}
	case []any:
		for i, el := range x {
			c.walk(r, append(path[:len(path):len(path)], strconv.Itoa(i)), el)
		}
	}
}

var (
	// secretRef finds every .secrets access; group 1 or 2 is the name
	// when it is a plain one. Anything else (.secrets[.x], .secrets
	// alone) could read a secret that was never resolved, which would
	// render as empty: it is refused.
	secretRef   = regexp.MustCompile(`\.secrets\b(?:\.([A-Za-z_][A-Za-z0-9_]*)|\["([^"\\]+)"\])?`)
	approvalRef = regexp.MustCompile(`\.approval\b`)
)

// template compiles one string template and notes the secrets it reads
// and whether it reads .approval. The scan is textual, over strings
// that hold a template: good enough for what authors write, and strict
// where it matters (an unnamed secret access is an error). Secrets may
// flow only into what is sent and never shown (secrets true: headers and
// bodies): a URL is written in logs and errors, and the approval's URL is
// published on the run for anyone who may read runs.
func (c *compiler) template(r *request, path []string, src string, secrets bool) *jqtmpl.Template {
	t, err := jqtmpl.Compile(src)
	if err != nil {
		c.fail(path, "%v", err)
		return nil
	}
	if !jqtmpl.Has(src) {
		return t
	}
	for _, m := range secretRef.FindAllStringSubmatch(src, -1) {
		name := m[1] + m[2]
		if !secrets {
			c.fail(path, "a secret may only be sent in a header or the jsonBody, never in a URL, which is logged and shown on the run: move .secrets.%s into a header (an Authorization header, say)", cmp.Or(name, "…"))
			continue
		}
		if name == "" {
			c.fail(path, "refer to a secret as .secrets.NAME, so that it can be resolved before the request is sent")
			continue
		}
		if !slices.Contains(r.secrets, name) {
			r.secrets = append(r.secrets, name)
		}
	}
	r.approval = r.approval || approvalRef.MatchString(src)
	return t
}

func (c *compiler) parser(r *request, path []string, p *catalog.ApprovalParser) *parser {
	at := func(f ...string) []string { return append(path[:len(path):len(path)], f...) }
	ptr := func(src string, f ...string) pointer {
		if src == "" {
			return pointer{}
		}
		ptr, err := parsePointer(src)
		if err != nil {
			c.fail(at(f...), "%v", err)
		}
		return ptr
	}
	re := func(src, f string) *regexp.Regexp {
		if src == "" {
			return nil
		}
		x, err := regexp.Compile(src)
		if err != nil {
			c.fail(at(f), "not a regular expression: %v", err)
		}
		return x
	}
	out := &parser{
		approvalID:    ptr(p.ApprovalID, "approvalId"),
		statusValue:   ptr(p.StatusValue, "statusValue"),
		statusDisplay: ptr(p.StatusDisplay, "statusDisplay"),
		approve:       re(p.ApprovalMatcher, "approvalMatcher"),
		reject:        re(p.RejectionMatcher, "rejectionMatcher"),
		members:       ptr(p.MemberArrayPath, "memberArrayPath"),
	}
	if p.URLTemplate != "" {
		out.url = c.template(r, at("urlTemplate"), p.URLTemplate, false)
	}
	if mi := p.MemberItems; mi != nil {
		out.email = ptr(mi.Email, "memberItems", "email")
		out.memberID = ptr(mi.MemberID, "memberItems", "memberId")
		if mi.Email == "" || mi.MemberID == "" {
			c.fail(at("memberItems"), "needs both email and memberId")
		}
	}
	return out
}
