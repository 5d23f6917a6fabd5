package web

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/approval"
	"github.com/pierhq/pier/internal/runs"
	"github.com/pierhq/pier/internal/store"
)

// runRow is a run in a list.
type runRow struct {
	ID, URL, Action, ActionTitle, Status, Requester string
	Entity                                          *entityLink
	CreatedAt                                       time.Time
}

func (s *Server) runRow(v *visit, run store.Run) runRow {
	row := runRow{ID: run.ID, URL: "/runs/" + url.PathEscape(run.ID), Action: run.Action, ActionTitle: run.Action, Status: run.Status,
		Requester: run.Requester, CreatedAt: run.CreatedAt}
	if a := v.snap.Actions[run.Action]; a != nil {
		row.ActionTitle = titleOr(a.Title, a.Identifier)
	}
	if run.Entity != "" {
		l := entityLink{URL: entityURL(run.Blueprint, run.Entity), Title: run.Entity, Identifier: run.Entity, Blueprint: run.Blueprint}
		if e := v.snap.Entity(run.Blueprint, run.Entity); e != nil && v.canRead(e) {
			l.Title = titleOr(e.Title, e.Identifier)
		}
		row.Entity = &l
	}
	return row
}

// mayVote says why the visitor may not approve or decline run now ("":
// they may): the roles' approve permission on the run, then the
// action's approval rule, both as the API checks them.
func (s *Server) mayVote(r *http.Request, v *visit, run store.Run) string {
	if v.signed == nil {
		return "sign in to approve"
	}
	if !v.grants.Allows(access.Approve, access.Run, access.RunView(run), nil) {
		d := &access.Denied{Subject: v.grants.Subject().Who(), Action: access.Approve, Resource: access.Run, Object: run.ID}
		return d.Error()
	}
	if _, err := s.opts.Runs.CanVote(r.Context(), run, v.login()); err != nil {
		return err.Error()
	}
	return ""
}

// runsView is the runs list with its filters.
type runsView struct {
	Rows           []runRow
	Mine, Waiting  bool
	Action, Status string
	Actions        []navLink
	Statuses       []string
	Next           string
	SignedIn       bool
}

var allStatuses = []string{store.RunWaitingForApproval, store.RunApproved, store.RunDispatched, store.RunInProgress,
	store.RunSuccess, store.RunFailure, store.RunDeclined, store.RunExpired, store.RunCancelled}

func (s *Server) runsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	q := r.URL.Query()
	view := runsView{Mine: q.Get("mine") == "1", Waiting: q.Get("waiting") == "1", Action: q.Get("action"), Status: q.Get("status"),
		Statuses: allStatuses, SignedIn: v.signed != nil}
	for _, id := range sortedKeys(v.snap.Actions) {
		a := v.snap.Actions[id]
		if v.grants.Allows(access.Read, access.Action, access.ActionView(a), nil) {
			view.Actions = append(view.Actions, navLink{URL: id, Title: titleOr(a.Title, id)})
		}
	}
	f := store.RunFilter{Action: view.Action, Status: view.Status, Limit: 200, Before: q.Get("before")}
	if view.Waiting {
		f.Status = store.RunWaitingForApproval
	}
	list, err := s.opts.Runs.List(r.Context(), f)
	if errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, v, http.StatusBadRequest, "There is no run "+q.Get("before")+" to page from.")
		return
	}
	if err != nil {
		s.fail(w, r, v, http.StatusServiceUnavailable, "The runs cannot be read right now: "+err.Error())
		return
	}
	for _, run := range list {
		if !v.grants.Allows(access.Read, access.Run, access.RunView(run), nil) {
			continue
		}
		if view.Mine && !strings.EqualFold(run.Requester, v.login()) {
			continue
		}
		if view.Waiting && s.mayVote(r, v, run) != "" {
			continue
		}
		view.Rows = append(view.Rows, s.runRow(v, run))
		if len(view.Rows) == 50 {
			break
		}
	}
	if len(list) == f.Limit {
		nq := url.Values{}
		for k, vs := range q {
			nq[k] = vs
		}
		nq.Set("before", list[len(list)-1].ID)
		view.Next = "/runs?" + nq.Encode()
	}
	s.render(w, r, v, http.StatusOK, "runs", "Runs", "runs", view)
}

// runView is one run's page.
type runView struct {
	Run        store.Run
	Row        runRow
	Inputs     []kv
	Events     []store.RunEvent
	Logs       []store.RunLog
	Terminal   bool
	Approval   *approvalView
	Dispatched bool
	Message    string
}

type kv struct{ Key, Value string }

// approvalView is what a run waits for and who may give it.
type approvalView struct {
	System, URL, Ref string
	Required         int
	Users, Teams     []string
	Anyone           bool
	AllowRequester   bool
	RequireReason    bool
	ExpiresAt        time.Time
	Votes            []store.RunVote
	Approvers        []string
	DecidedBy        string
	Reason           string
	// CanVote is set when the visitor may approve or decline now;
	// otherwise Why says why not (when the run waits at all).
	CanVote bool
	Why     string
	Waiting bool
}

func (s *Server) runPage(w http.ResponseWriter, r *http.Request, v *visit) {
	view, code, msg := s.runView(r, v, r.PathValue("id"))
	if code != 0 {
		s.fail(w, r, v, code, msg)
		return
	}
	view.Message = r.URL.Query().Get("msg")
	s.render(w, r, v, http.StatusOK, "run", "Run "+view.Run.ID, "runs", view)
}

// runView builds a run's page, or says why it cannot (a status and a
// message).
func (s *Server) runView(r *http.Request, v *visit, id string) (*runView, int, string) {
	// The events first, then the run: a run read after its events is at
	// least as new as the last of them.
	evs, err := s.opts.Runs.Events(r.Context(), id)
	if err != nil {
		return nil, runErrorCode(err), runErrorMessage(err, id)
	}
	run, err := s.opts.Runs.Get(r.Context(), id)
	if err != nil {
		return nil, runErrorCode(err), runErrorMessage(err, id)
	}
	if !v.grants.Allows(access.Read, access.Run, access.RunView(run), nil) {
		d := &access.Denied{Subject: v.grants.Subject().Who(), Action: access.Read, Resource: access.Run, Object: run.ID}
		return nil, http.StatusForbidden, d.Error()
	}
	logs, err := s.opts.Runs.Logs(r.Context(), id)
	if err != nil {
		return nil, runErrorCode(err), runErrorMessage(err, id)
	}
	view := &runView{Run: run, Row: s.runRow(v, run), Events: evs, Logs: logs, Terminal: store.RunTerminal(run.Status),
		Dispatched: !run.Dispatch.At.IsZero()}
	for _, k := range sortedKeys(run.Inputs) {
		view.Inputs = append(view.Inputs, kv{k, showValue(run.Inputs[k])})
	}
	if ap := run.Approval; ap != nil && (ap.Required > 0 || ap.URL != "") {
		av := &approvalView{System: ap.System, URL: ap.URL, Ref: ap.Ref, Required: ap.Required, ExpiresAt: ap.ExpiresAt,
			Votes: ap.Votes, Approvers: ap.Approvers, DecidedBy: ap.DecidedBy, Reason: ap.Reason, Waiting: run.Status == store.RunWaitingForApproval}
		if a := v.snap.Actions[run.Action]; a != nil {
			if rule, _, err := approval.RuleOf(a); err == nil {
				av.Users, av.Teams, av.AllowRequester, av.RequireReason = rule.Users, rule.Teams, rule.AllowRequester, rule.RequireReason
				av.Anyone = len(rule.Users) == 0 && len(rule.Teams) == 0
			}
		}
		if av.Waiting {
			av.Why = s.mayVote(r, v, run)
			av.CanVote = av.Why == ""
		}
		view.Approval = av
	}
	return view, 0, ""
}

func runErrorCode(err error) int {
	var re *runs.Error
	if errors.As(err, &re) {
		return re.Code
	}
	if errors.Is(err, store.ErrNotFound) {
		return http.StatusNotFound
	}
	return http.StatusServiceUnavailable
}

func runErrorMessage(err error, id string) string {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Sprintf("There is no run %s.", id)
	}
	return err.Error()
}

// runVote is the approve / decline form: the engine's Vote, under the
// roles' approve permission, as PATCH /v1/actions/runs/{id}/approval.
func (s *Server) runVote(w http.ResponseWriter, r *http.Request, v *visit) {
	id := r.PathValue("id")
	run, err := s.opts.Runs.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, v, runErrorCode(err), runErrorMessage(err, id))
		return
	}
	if !v.grants.Allows(access.Approve, access.Run, access.RunView(run), nil) {
		d := &access.Denied{Subject: v.grants.Subject().Who(), Action: access.Approve, Resource: access.Run, Object: run.ID}
		s.fail(w, r, v, http.StatusForbidden, d.Error())
		return
	}
	var approve bool
	switch r.PostFormValue("decision") {
	case "approve":
		approve = true
	case "decline":
	default:
		s.fail(w, r, v, http.StatusBadRequest, "Choose approve or decline.")
		return
	}
	if _, err := s.opts.Runs.Vote(r.Context(), id, v.login(), approve, strings.TrimSpace(r.PostFormValue("reason"))); err != nil {
		http.Redirect(w, r, "/runs/"+url.PathEscape(id)+"?msg="+url.QueryEscape(err.Error()), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/runs/"+url.PathEscape(id), http.StatusSeeOther)
}

// runLive streams a run's news as server-sent events while the page is
// open: "status" when it moves (with the status, its label and the
// timeline's newest events), "log" for each new log line. The stream
// ends when the run is finished and everything is sent. It looks for
// news every LivePoll (the engine keeps no subscriptions: runs change in
// other replicas too).
func (s *Server) runLive(w http.ResponseWriter, r *http.Request, v *visit) {
	id := r.PathValue("id")
	run, err := s.opts.Runs.Get(r.Context(), id)
	if err != nil {
		http.Error(w, runErrorMessage(err, id), runErrorCode(err))
		return
	}
	if !v.grants.Allows(access.Read, access.Run, access.RunView(run), nil) {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The page rendered the logs and events it had; the client says how
	// many (Last-Event-ID on a reconnect, ?logs= and ?events= at first).
	sentLogs := atoi(cmp.Or(r.URL.Query().Get("logs"), "0"))
	sentEvents := atoi(cmp.Or(r.URL.Query().Get("events"), "0"))
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		if l, e, ok := strings.Cut(last, "."); ok {
			sentLogs, sentEvents = atoi(l), atoi(e)
		}
	}
	status := r.URL.Query().Get("status")
	tick := time.NewTicker(s.opts.LivePoll)
	defer tick.Stop()
	for {
		evs, err1 := s.opts.Runs.Events(r.Context(), id)
		run, err2 := s.opts.Runs.Get(r.Context(), id)
		logs, err3 := s.opts.Runs.Logs(r.Context(), id)
		if err := cmp.Or(err1, err2, err3); err != nil {
			if r.Context().Err() != nil {
				return
			}
			s.opts.Logger.Warn("web: live run", "id", id, "err", err)
		} else {
			for ; sentLogs < len(logs); sentLogs++ {
				l := logs[sentLogs]
				send(w, "log", fmt.Sprintf("%d.%d", sentLogs+1, sentEvents), map[string]any{"at": fmtTime(l.At), "message": l.Message})
			}
			if run.Status != status || sentEvents < len(evs) {
				var news []map[string]string
				for ; sentEvents < len(evs); sentEvents++ {
					e := evs[sentEvents]
					news = append(news, map[string]string{"at": fmtTime(e.At), "actor": e.Actor, "from": e.From, "to": e.To, "note": e.Note})
				}
				status = run.Status
				send(w, "status", fmt.Sprintf("%d.%d", sentLogs, sentEvents), map[string]any{"status": run.Status, "label": run.StatusLabel,
					"summary": run.Summary, "link": safeLink(run.Link), "events": news, "terminal": store.RunTerminal(run.Status)})
			}
			fl.Flush()
			if store.RunTerminal(run.Status) && sentLogs == len(logs) {
				return
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

// send writes one server-sent event.
func send(w http.ResponseWriter, event, id string, data any) {
	b, _ := json.Marshal(data)
	fmt.Fprintf(w, "event: %s\nid: %s\ndata: %s\n\n", event, id, b)
}

// safeLink is a link a page may show: http(s) only, so that a workflow
// cannot report a javascript: URL.
func safeLink(u string) string {
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") {
		return u
	}
	return ""
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
		if n > 1<<30 {
			return 0
		}
	}
	return n
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
