package api

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/runs"
	"github.com/pierhq/pier/internal/store"
)

// Runs is the action-run engine, as the API uses it.
type Runs interface {
	Request(ctx context.Context, req runs.Request) (store.Run, error)
	Get(ctx context.Context, id string) (store.Run, error)
	List(ctx context.Context, f store.RunFilter) ([]store.Run, error)
	Events(ctx context.Context, id string) ([]store.RunEvent, error)
	Logs(ctx context.Context, id string) ([]store.RunLog, error)
	Report(ctx context.Context, id string, r runs.Report) (store.Run, error)
	// Log stores a log line; a termination status and a status label
	// are applied with it, or nothing is.
	Log(ctx context.Context, id string, l store.RunLog, statusLabel, actor string) (store.Run, store.RunLog, error)
	Vote(ctx context.Context, id, user string, approve bool, reason string) (store.Run, error)
	Cancel(ctx context.Context, id, user string) (store.Run, error)
}

func (s *Server) runRoutes() {
	if s.opts.Runs == nil {
		return
	}
	s.handle("POST /v1/actions/{id}/runs", write, s.requestRun)
	s.handle("GET /v1/actions/runs", read, s.listRuns)
	s.handle("GET /v1/actions/runs/{run}", read, s.getRun)
	s.handle("PATCH /v1/actions/runs/{run}", write, s.reportRun)
	s.handle("GET /v1/actions/runs/{run}/logs", read, s.runLogs)
	s.handle("POST /v1/actions/runs/{run}/logs", write, s.addRunLog)
	s.handle("PATCH /v1/actions/runs/{run}/approval", write, s.approveRun)
	s.handle("POST /v1/actions/runs/{run}/cancel", write, s.cancelRun)
}

// runView is a run in Port's shape: link as a list, the action, entity
// and blueprint as objects, plus pier's approval, dispatch and history.
type runView struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	// Lifecycle is pier's finer status (APPROVED, DISPATCHED, EXPIRED,
	// CANCELLED besides Port's), Origin pier's finer source (api, web,
	// pull_request, automation, schedule).
	Lifecycle        string             `json:"lifecycle"`
	Origin           string             `json:"origin"`
	StatusLabel      string             `json:"statusLabel,omitempty"`
	Link             []string           `json:"link"`
	Summary          string             `json:"summary,omitempty"`
	ExternalRunID    string             `json:"externalRunId,omitempty"`
	Source           string             `json:"source"`
	Action           ref                `json:"action"`
	Blueprint        *ref               `json:"blueprint,omitempty"`
	Entity           *ref               `json:"entity,omitempty"`
	Properties       map[string]any     `json:"properties"`
	RequiredApproval bool               `json:"requiredApproval"`
	Approval         *store.RunApproval `json:"approval,omitempty"`
	Dispatch         *store.RunDispatch `json:"dispatch,omitempty"`
	CreatedBy        string             `json:"createdBy"`
	CreatedAt        time.Time          `json:"createdAt"`
	UpdatedAt        time.Time          `json:"updatedAt"`
	EndedAt          *time.Time         `json:"endedAt,omitempty"`
	Events           []store.RunEvent   `json:"events,omitempty"`
}

// logView is a run log line in Port's shape. Its id is the run's id and
// the line's place, which the store keeps (it numbers no line).
type logView struct {
	ID                string    `json:"id"`
	RunID             string    `json:"runId"`
	Message           string    `json:"message"`
	TerminationStatus string    `json:"terminationStatus,omitempty"`
	CreatedBy         string    `json:"createdBy"`
	CreatedAt         time.Time `json:"createdAt"`
}

func viewLog(runID string, l store.RunLog) logView {
	v := logView{RunID: runID, Message: l.Message, TerminationStatus: l.TerminationStatus, CreatedBy: l.Actor, CreatedAt: l.At}
	if l.N > 0 {
		v.ID = fmt.Sprintf("%s_log_%d", runID, l.N)
	}
	return v
}

// portStatus is the status Port's clients switch on: pier's approved
// and dispatched runs are in progress to them, an expired or cancelled
// request failed. The finer status stays in runView.Lifecycle.
func portStatus(s string) string {
	switch s {
	case store.RunApproved, store.RunDispatched:
		return store.RunInProgress
	case store.RunExpired, store.RunCancelled:
		return store.RunFailure
	}
	return s
}

// portSource is where Port says a run came from: a person in a user
// interface (pier's web portal, or a pull request adding a run request
// file), a program through the API, or an automation (a schedule is
// one). pier's own source stays in runView.Origin.
func portSource(s string) string {
	for port, os := range origins {
		if slices.Contains(os, s) {
			return port
		}
	}
	return "API"
}

// origins lists pier's sources by the Port source they answer as.
var origins = map[string][]string{"UI": {"web", "pull_request"}, "API": {"api"}, "AUTOMATION": {"automation", "schedule"}}

// originsOf is the pier sources a ?source= selects: a Port source, or
// one of pier's own; nil for neither.
func originsOf(src string) []string {
	if o, ok := origins[strings.ToUpper(src)]; ok {
		return o
	}
	for _, os := range origins {
		if slices.Contains(os, src) {
			return []string{src}
		}
	}
	return nil
}

// requestersOf is who ?user_email= means: the people pier knows by that
// email, and the value itself, which a run's requester may be (a client
// id, a login). Runs record who asked by login, not by email.
func (s *Server) requestersOf(r *http.Request, email string) ([]string, error) {
	who := []string{email}
	known, err := s.people(r)
	if err != nil {
		return nil, err
	}
	for _, u := range known {
		if strings.EqualFold(u.Email, email) && u.Login != "" {
			who = append(who, u.Login)
		}
	}
	return who, nil
}

type ref struct {
	Identifier string `json:"identifier"`
	Title      string `json:"title,omitempty"`
}

func (s *Server) viewRun(run store.Run, events []store.RunEvent) runView {
	v := runView{
		ID: run.ID, Status: portStatus(run.Status), Lifecycle: run.Status, Origin: run.Source,
		StatusLabel: run.StatusLabel, Link: []string{}, Summary: run.Summary,
		ExternalRunID: run.ExternalRunID, Source: portSource(run.Source), Action: ref{Identifier: run.Action},
		Properties: run.Inputs, RequiredApproval: run.Approval != nil && run.Approval.Required > 0, Approval: run.Approval,
		CreatedBy: run.Requester, CreatedAt: run.CreatedAt, UpdatedAt: run.UpdatedAt, Events: events,
	}
	if a := s.opts.State.Load().Actions[run.Action]; a != nil {
		v.Action.Title = a.Title
	}
	if run.Link != "" {
		v.Link = append(v.Link, run.Link)
	}
	if run.Blueprint != "" {
		v.Blueprint = &ref{Identifier: run.Blueprint}
	}
	if run.Entity != "" {
		v.Entity = &ref{Identifier: run.Entity}
	}
	if !run.Dispatch.StartedAt.IsZero() {
		v.Dispatch = &run.Dispatch
	}
	if !run.EndedAt.IsZero() {
		v.EndedAt = &run.EndedAt
	}
	if v.Properties == nil {
		v.Properties = map[string]any{}
	}
	return v
}

// runError answers an engine error: a refusal with its status and the
// input at fault, anything else as a 500.
func runError(w http.ResponseWriter, err error) int {
	var re *runs.Error
	if errors.As(err, &re) {
		kind := map[int]string{403: "forbidden", 404: "not_found", 409: "conflict", 422: "invalid_input", 503: "unavailable"}[re.Code]
		if kind == "" {
			kind = "run_error"
		}
		extra := map[string]any{}
		if re.Field != "" {
			extra["field"] = re.Field
		}
		if d := re.Denied; d != nil {
			extra["permission"] = map[string]string{"action": d.Action, "resource": d.Resource}
		}
		return writeError(w, re.Code, kind, re.Message, extra)
	}
	if errors.Is(err, store.ErrUnavailable) {
		return storeError(w, err)
	}
	return writeError(w, http.StatusInternalServerError, "internal", err.Error())
}

// requestRun is Port's POST /v1/actions/{id}/runs: {entity, properties}.
func (s *Server) requestRun(w http.ResponseWriter, r *http.Request, c *caller) int {
	var body struct {
		Entity     json.RawMessage `json:"entity"`
		Properties map[string]any  `json:"properties"`
	}
	if code, ok := decodeBody(w, r, &body); !ok {
		return code
	}
	entity, err := entityOf(body.Entity)
	if err != nil {
		return writeError(w, http.StatusUnprocessableEntity, "invalid_input", err.Error(), map[string]any{"field": "entity"})
	}
	run, err := s.opts.Runs.Request(r.Context(), runs.Request{
		Action: r.PathValue("id"), Entity: entity, Inputs: body.Properties, Requester: c.ID, Source: "api",
		Unmapped: c.Login == "", Grants: s.grants(r, c),
	})
	if err != nil {
		return runError(w, err)
	}
	w.Header().Set("Location", "/v1/actions/runs/"+run.ID)
	return writeJSON(w, http.StatusAccepted, map[string]any{"run": s.viewRun(run, nil)})
}

// entityOf reads Port's entity field: an identifier, or an object with
// one.
func entityOf(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var id string
	if json.Unmarshal(raw, &id) == nil {
		return id, nil
	}
	var obj struct {
		Identifier string `json:"identifier"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Identifier == "" {
		return "", errors.New("entity: want an identifier or {\"identifier\": ...}")
	}
	return obj.Identifier, nil
}

// listRuns is GET /v1/actions/runs, newest first: ?limit (default 100,
// at most 1000), ?before=<id> to page; "next" is the before of the
// following page.
func (s *Server) listRuns(w http.ResponseWriter, r *http.Request, c *caller) int {
	p, code, ok := pageRequest(w, r, idPages)
	if !ok {
		return code
	}
	q := r.URL.Query()
	f := store.RunFilter{
		Action: cmp.Or(q.Get("action"), q.Get("action_identifier")), Status: q.Get("status"),
		Blueprint: q.Get("blueprint"), Entity: cmp.Or(q.Get("entity"), q.Get("entity_identifier")),
		ExternalRunID: q.Get("external_run_id"), Before: p.cursor, Limit: p.limit,
	}
	switch a := q.Get("active"); a {
	case "", "false":
	case "true":
		f.Active = true
	default:
		return writeError(w, http.StatusUnprocessableEntity, "invalid_input", fmt.Sprintf("active %q: want true or false", a), map[string]any{"field": "active"})
	}
	if src := q.Get("source"); src != "" {
		if f.Sources = originsOf(src); f.Sources == nil {
			return writeError(w, http.StatusUnprocessableEntity, "invalid_input",
				fmt.Sprintf("source %q: want UI, API or AUTOMATION (or pier's api, web, pull_request, automation, schedule)", src), map[string]any{"field": "source"})
		}
	}
	if email := q.Get("user_email"); email != "" {
		who, err := s.requestersOf(r, email)
		if err != nil {
			return writeError(w, http.StatusInternalServerError, "internal", err.Error())
		}
		f.Requesters = who
	}
	list, err := s.opts.Runs.List(r.Context(), f)
	if err != nil {
		return p.failed(w, err)
	}
	var keep func(store.Run) bool
	if g := s.grants(r, c); !g.All(access.Read, access.Run) {
		keep = func(run store.Run) bool { return g.Allows(access.Read, access.Run, access.RunView(run), nil) }
	}
	return writeKept(w, "runs", list, keep, func(run store.Run) runView { return s.viewRun(run, nil) }, p, func(run store.Run) string { return run.ID })
}

// readRun returns the run the path names, if the caller may do action
// on it; otherwise it has answered.
func (s *Server) readRun(w http.ResponseWriter, r *http.Request, c *caller, action string) (store.Run, bool) {
	run, err := s.opts.Runs.Get(r.Context(), r.PathValue("run"))
	if err != nil {
		runError(w, err)
		return store.Run{}, false
	}
	if !s.allowRun(w, r, c, action, run) {
		return store.Run{}, false
	}
	return run, true
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request, c *caller) int {
	if _, ok := s.readRun(w, r, c, access.Read); !ok {
		return http.StatusForbidden
	}
	// The events first: a run and its event are written together, so a
	// run read after its events is at least as new as the last of them
	// (read the other way round, an event could describe a change the
	// run does not show yet).
	evs, err := s.opts.Runs.Events(r.Context(), r.PathValue("run"))
	if err != nil {
		return runError(w, err)
	}
	run, err := s.opts.Runs.Get(r.Context(), r.PathValue("run"))
	if err != nil {
		return runError(w, err)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"run": s.viewRun(run, evs)})
}

// reportRun is Port's PATCH /v1/actions/runs/{id}: what the workflow
// reports. link may be a string or a list (the first is kept).
func (s *Server) reportRun(w http.ResponseWriter, r *http.Request, c *caller) int {
	var body struct {
		Status        string          `json:"status"`
		StatusLabel   string          `json:"statusLabel"`
		Link          json.RawMessage `json:"link"`
		Summary       string          `json:"summary"`
		ExternalRunID string          `json:"externalRunId"`
	}
	if code, ok := decodeBody(w, r, &body); !ok {
		return code
	}
	link, err := linkOf(body.Link)
	if err != nil {
		return writeError(w, http.StatusUnprocessableEntity, "invalid_input", err.Error(), map[string]any{"field": "link"})
	}
	if body.Status == "" && body.StatusLabel == "" && link == "" && body.Summary == "" && body.ExternalRunID == "" {
		return emptyWrite(w, "nothing to report: send status, statusLabel, link, summary or externalRunId")
	}
	if _, ok := s.readRun(w, r, c, access.Write); !ok {
		return http.StatusForbidden
	}
	run, err := s.opts.Runs.Report(r.Context(), r.PathValue("run"), runs.Report{
		Status: strings.ToUpper(body.Status), StatusLabel: body.StatusLabel, Link: link, Summary: body.Summary,
		ExternalRunID: body.ExternalRunID, Actor: c.ID,
	})
	if err != nil {
		return runError(w, err)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"run": s.viewRun(run, nil)})
}

func linkOf(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return "", errors.New("link: want a URL or a list of URLs")
	}
	if len(many) == 0 {
		return "", nil
	}
	return many[0], nil
}

func (s *Server) runLogs(w http.ResponseWriter, r *http.Request, c *caller) int {
	if _, ok := s.readRun(w, r, c, access.Read); !ok {
		return http.StatusForbidden
	}
	ls, err := s.opts.Runs.Logs(r.Context(), r.PathValue("run"))
	if err != nil {
		return runError(w, err)
	}
	views := make([]logView, len(ls))
	for i, l := range ls {
		l.N = i + 1
		views[i] = viewLog(r.PathValue("run"), l)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"runLogs": views})
}

// addRunLog is Port's POST /v1/actions/runs/{id}/logs: {message,
// terminationStatus, statusLabel}.
func (s *Server) addRunLog(w http.ResponseWriter, r *http.Request, c *caller) int {
	var body struct {
		Message           string `json:"message"`
		TerminationStatus string `json:"terminationStatus"`
		StatusLabel       string `json:"statusLabel"`
	}
	if code, ok := decodeBody(w, r, &body); !ok {
		return code
	}
	if body.Message == "" {
		return writeError(w, http.StatusUnprocessableEntity, "invalid_input", "message is required", map[string]any{"field": "message"})
	}
	if _, ok := s.readRun(w, r, c, access.Write); !ok {
		return http.StatusForbidden
	}
	run, line, err := s.opts.Runs.Log(r.Context(), r.PathValue("run"),
		store.RunLog{Message: body.Message, TerminationStatus: strings.ToUpper(body.TerminationStatus)}, body.StatusLabel, c.ID)
	if err != nil {
		return runError(w, err)
	}
	// Port answers the line; pier adds the run it left, which a
	// termination status may have ended.
	return writeJSON(w, http.StatusCreated, map[string]any{"runLog": viewLog(run.ID, line), "run": s.viewRun(run, nil)})
}

// approveRun is Port's PATCH /v1/actions/runs/{id}/approval: {status:
// APPROVE|DECLINE, description}, by the authenticated approver.
func (s *Server) approveRun(w http.ResponseWriter, r *http.Request, c *caller) int {
	var body struct {
		Status      string `json:"status"`
		Description string `json:"description"`
	}
	if code, ok := decodeBody(w, r, &body); !ok {
		return code
	}
	var approve bool
	switch strings.ToUpper(body.Status) {
	case "APPROVE", "APPROVED":
		approve = true
	case "DECLINE", "DECLINED":
	default:
		return writeError(w, http.StatusUnprocessableEntity, "invalid_input", `status: want "APPROVE" or "DECLINE"`, map[string]any{"field": "status"})
	}
	if _, ok := s.readRun(w, r, c, access.Approve); !ok {
		return http.StatusForbidden
	}
	run, err := s.opts.Runs.Vote(r.Context(), r.PathValue("run"), c.ID, approve, body.Description)
	if err != nil {
		return runError(w, err)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"run": s.viewRun(run, nil)})
}

func (s *Server) cancelRun(w http.ResponseWriter, r *http.Request, c *caller) int {
	if _, ok := s.readRun(w, r, c, access.Read); !ok {
		return http.StatusForbidden
	}
	run, err := s.opts.Runs.Cancel(r.Context(), r.PathValue("run"), c.ID)
	if err != nil {
		return runError(w, err)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"run": s.viewRun(run, nil)})
}
