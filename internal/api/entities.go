package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/didyoumean"
	"github.com/pierhq/pier/internal/identity"
	"github.com/pierhq/pier/internal/node"
	"github.com/pierhq/pier/internal/runs"
	"github.com/pierhq/pier/internal/state"
	"github.com/pierhq/pier/internal/store"
	"github.com/pierhq/pier/internal/validate"
)

// maxPage bounds one page of a listing.
const maxPage = 10000

// listEntities is Port's GET /v1/blueprints/{bp}/entities, in identifier
// order. ?limit=N&from=ID pages through it: the answer's "next" is the
// from of the following page.
func (s *Server) listEntities(w http.ResponseWriter, r *http.Request, c *caller) int {
	snap := s.opts.State.Load()
	bp := r.PathValue("bp")
	if snap.Blueprints[bp] == nil {
		return writeError(w, http.StatusNotFound, "blueprint_not_found", "no blueprint "+quote(bp))
	}
	p, code, ok := pageRequest(w, r, entityPages)
	if !ok {
		return code
	}
	proj, ok := s.projection(w, r, c, snap)
	if !ok {
		return http.StatusUnprocessableEntity
	}
	ids := snap.IDs(bp)
	start := 0
	if p.cursor != "" {
		start = sort.SearchStrings(ids, p.cursor)
		if start < len(ids) && ids[start] == p.cursor {
			start++
		}
	}
	// Only what the caller may read, paged as if nothing else were
	// there.
	keep := s.readable(r, c)
	out := make([]*state.Entity, 0, min(p.limit, len(ids)-start))
	i := start
	for ; i < len(ids) && len(out) < p.limit; i++ {
		if e := snap.Entities[bp][ids[i]]; canRead(keep, e) {
			out = append(out, e)
		}
	}
	next := ""
	if len(out) == p.limit && i < len(ids) {
		next = ids[i-1]
	}
	return writeEntities(w, out, next, proj)
}

// projection reads the caller's projection from the query string, bound
// to snap and what the caller may read; a bad one is answered.
func (s *Server) projection(w http.ResponseWriter, r *http.Request, c *caller, snap *state.Snapshot) (projection, bool) {
	p, err := projectionOf(r.URL.Query())
	if err != nil {
		field, _, _ := strings.Cut(err.Error(), " ")
		writeError(w, http.StatusUnprocessableEntity, "invalid_input", err.Error(), map[string]any{"field": field})
		return p, false
	}
	return p.bind(snap, s.readable(r, c)), true
}

// related is a relation target as the API resolves it.
type related struct {
	Identifier string `json:"identifier"`
	Title      string `json:"title,omitempty"`
	Blueprint  string `json:"blueprint"`
	Exists     bool   `json:"exists"`
}

// getEntity is Port's GET /v1/blueprints/{bp}/entities/{id}, with each
// relation resolved to its targets' titles, and the entities that relate
// to this one.
func (s *Server) getEntity(w http.ResponseWriter, r *http.Request, c *caller) int {
	snap := s.opts.State.Load()
	bp, id := r.PathValue("bp"), r.PathValue("id")
	b := snap.Blueprints[bp]
	if b == nil {
		return writeError(w, http.StatusNotFound, "blueprint_not_found", "no blueprint "+quote(bp))
	}
	e := snap.Entity(bp, id)
	if e == nil {
		return writeError(w, http.StatusNotFound, "entity_not_found", fmt.Sprintf("no %s entity %s", bp, quote(id)))
	}
	if !s.allowEntity(w, r, c, access.Read, e) {
		return http.StatusForbidden
	}
	proj, ok := s.projection(w, r, c, snap)
	if !ok {
		return http.StatusUnprocessableEntity
	}
	projected, err := proj.apply(e)
	if err != nil {
		return writeError(w, http.StatusInternalServerError, "encode_error", err.Error())
	}
	// Relations to entities the caller may not read say only what the
	// entity itself says (the identifier); entities the caller may not
	// read that point here are not listed.
	keep := s.readable(r, c)
	resolved := map[string][]related{}
	for name, v := range e.Relations {
		rel, ok := b.Relations[name]
		if !ok {
			continue
		}
		list := []related{}
		for _, t := range catalog.Identifiers(v) {
			x := related{Identifier: t, Blueprint: rel.Target}
			if te := snap.Entity(rel.Target, t); te != nil && canRead(keep, te) {
				x.Title, x.Exists = te.Title, true
			}
			list = append(list, x)
		}
		resolved[name] = list
	}
	referrers := []related{}
	for _, k := range snap.Referrers(bp, id) {
		te := snap.Entity(k.Blueprint, k.ID)
		if te == nil || !canRead(keep, te) {
			continue
		}
		referrers = append(referrers, related{Identifier: k.ID, Blueprint: k.Blueprint, Exists: true, Title: te.Title})
	}
	// Where each value comes from: git (file:line), a runtime write, or
	// pier's computation; what the portal's entity page shows.
	origin := snap.Origins(b, e)
	sources := map[string]state.Origin{}
	for k := range e.Properties {
		sources[k] = origin(k)
	}
	for k := range b.Schema.Properties {
		sources[k] = origin(k)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"entity": projected, "relatedEntities": resolved, "referencedBy": referrers, "sources": sources})
}

// entityHistory is GET /v1/entities/{bp}/{id}/history: every change git
// made to the entity, oldest first, with the revision and both versions.
// The history of an entity git has deleted is read by those who may read
// every entity.
func (s *Server) entityHistory(w http.ResponseWriter, r *http.Request, c *caller) int {
	bp, id := r.PathValue("bp"), r.PathValue("id")
	if e := s.opts.State.Load().Entity(bp, id); e != nil {
		if !s.allowEntity(w, r, c, access.Read, e) {
			return http.StatusForbidden
		}
	} else if !s.allow(w, r, c, access.Read, access.Entity, nil, bp+"/"+id) {
		return http.StatusForbidden
	}
	h, err := s.opts.Store.History(r.Context(), bp, id)
	if err != nil {
		return storeError(w, err)
	}
	if len(h) == 0 {
		return writeError(w, http.StatusNotFound, "entity_not_found", fmt.Sprintf("no history for %s entity %s", bp, quote(id)))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"history": h})
}

// entityBody is Port's entity request body.
type entityBody struct {
	Identifier *string                    `json:"identifier"`
	Title      *string                    `json:"title"`
	Icon       *string                    `json:"icon"`
	Team       json.RawMessage            `json:"team"`
	Properties map[string]json.RawMessage `json:"properties"`
	Relations  map[string]json.RawMessage `json:"relations"`
}

// upsertEntity is Port's POST /v1/blueprints/{bp}/entities. In pier an
// entity exists because git declares it; the API writes only its
// runtime-owned properties. With ?upsert=true the write lands on the
// existing entity (replacing its runtime values, or merging into them with
// &merge=true); without it, an existing entity is a conflict, as in Port.
func (s *Server) upsertEntity(w http.ResponseWriter, r *http.Request, c *caller) int {
	var body entityBody
	if code, ok := decodeBody(w, r, &body); !ok {
		return code
	}
	if body.Identifier == nil || *body.Identifier == "" {
		return writeError(w, http.StatusUnprocessableEntity, "missing_identifier", "the entity's identifier is required")
	}
	q := r.URL.Query()
	upsert, merge := q.Get("upsert") == "true", q.Get("merge") == "true"
	snap := s.opts.State.Load()
	bp := r.PathValue("bp")
	if !upsert && snap.Entity(bp, *body.Identifier) != nil {
		return writeError(w, http.StatusConflict, "entity_exists",
			fmt.Sprintf("%s entity %s exists; use ?upsert=true (and &merge=true) to write its runtime properties", bp, quote(*body.Identifier)))
	}
	if snap.Blueprints[bp] != nil && snap.Entity(bp, *body.Identifier) == nil {
		// Creating is not missing anything: git owns the blueprint's
		// entities, so the answer is the conflict and its fix.
		return writeError(w, http.StatusConflict, "git_owned",
			fmt.Sprintf("%s entities are declared in git, and git declares no %s; add it by pull request (for example in entities/%s/%s.yaml), then write its runtime properties here", bp, quote(*body.Identifier), bp, *body.Identifier),
			map[string]any{"field": "identifier"})
	}
	return s.writeRuntime(w, r, c, bp, *body.Identifier, &body, merge, http.StatusCreated)
}

// patchEntity is Port's PATCH /v1/blueprints/{bp}/entities/{id}: the
// given runtime properties are merged into the entity's.
func (s *Server) patchEntity(w http.ResponseWriter, r *http.Request, c *caller) int {
	var body entityBody
	if code, ok := decodeBody(w, r, &body); !ok {
		return code
	}
	id := r.PathValue("id")
	if body.Identifier != nil && *body.Identifier != id {
		return writeError(w, http.StatusUnprocessableEntity, "identifier_mismatch",
			fmt.Sprintf("the body's identifier %s differs from the path's %s; identifiers are declared in git", quote(*body.Identifier), quote(id)))
	}
	return s.writeRuntime(w, r, c, r.PathValue("bp"), id, &body, true, http.StatusOK)
}

// deleteEntity is Port's DELETE /v1/blueprints/{bp}/entities/{id}. git
// declares every entity, so the answer is where, and how to delete it
// there — rather than a 405 that says nothing of what to do.
func (s *Server) deleteEntity(w http.ResponseWriter, r *http.Request, c *caller) int {
	snap := s.opts.State.Load()
	bp, id := r.PathValue("bp"), r.PathValue("id")
	if snap.Blueprints[bp] == nil {
		return writeError(w, http.StatusNotFound, "blueprint_not_found", "no blueprint "+quote(bp))
	}
	e := snap.Entity(bp, id)
	if e == nil {
		return writeError(w, http.StatusNotFound, "entity_not_found", fmt.Sprintf("no %s entity %s", bp, quote(id)))
	}
	if !s.allowEntity(w, r, c, access.Write, e) {
		return http.StatusForbidden
	}
	owner := snap.Source(catalog.Key{Kind: catalog.KindEntityObj, Blueprint: bp, ID: id})
	return writeError(w, http.StatusConflict, "git_owned",
		fmt.Sprintf("%s/%s is declared in git at %s; delete it there by pull request (the API writes runtime properties only)", bp, id, owner),
		map[string]any{"file": owner.File, "line": owner.Line})
}

// writeRuntime checks a write against the blueprint and ownership rules,
// stores it, and publishes it. Fields that git owns may be sent only with
// the value git has (scripts often send whole entities); a different
// value is a 409 naming the file that owns it.
func (s *Server) writeRuntime(w http.ResponseWriter, r *http.Request, c *caller, bp, id string, body *entityBody, merge bool, okCode int) int {
	only, err := boolParam(r, "validation_only")
	if err != nil {
		return writeError(w, http.StatusUnprocessableEntity, "invalid_input", err.Error(), map[string]any{"field": "validation_only"})
	}
	if merge && len(body.Properties) == 0 {
		return emptyWrite(w, "nothing to write: the body sets no properties (pier writes an entity's runtime properties; the rest is declared in git)")
	}
	snap := s.opts.State.Load()
	b := snap.Blueprints[bp]
	if b == nil {
		return writeError(w, http.StatusNotFound, "blueprint_not_found", "no blueprint "+quote(bp))
	}
	e := snap.Entity(bp, id)
	if e == nil {
		return writeError(w, http.StatusNotFound, "entity_not_found",
			fmt.Sprintf("no %s entity %s: entities are declared in git, add it by pull request", bp, quote(id)))
	}
	if !s.allowEntity(w, r, c, access.Write, e) {
		return http.StatusForbidden
	}
	key := catalog.Key{Kind: catalog.KindEntityObj, Blueprint: bp, ID: id}
	entityPos := snap.Source(key)
	origin := snap.Origins(b, e)
	// conflict names where the field is declared: a property's own line
	// when the loader recorded it, else the entity's.
	conflict := func(field string) int {
		owner := entityPos
		if name, ok := strings.CutPrefix(field, "properties."); ok {
			if o := origin(name); o.Kind == "git" {
				owner = o.Pos
			}
		}
		return writeError(w, http.StatusConflict, "git_owned",
			fmt.Sprintf("%s of %s/%s is declared in git at %s; change it by pull request", field, bp, id, owner),
			map[string]any{"field": field, "file": owner.File, "line": owner.Line})
	}
	// unset is the 409 for a git-owned field the file does not set: it
	// is added there, not here.
	unset := func(field string) int {
		return writeError(w, http.StatusConflict, "git_owned",
			fmt.Sprintf("%s of %s/%s is owned by git, and %s does not set it; add it there by pull request (the API writes runtime properties only)", field, bp, id, entityPos),
			map[string]any{"field": field, "file": entityPos.File, "line": entityPos.Line})
	}
	g := e.Git
	if body.Title != nil && *body.Title != g.Title {
		return conflict("title")
	}
	if body.Icon != nil && *body.Icon != g.Icon {
		return conflict("icon")
	}
	if len(body.Team) > 0 && !sameTeam(body.Team, g.Team) {
		for _, t := range teamsOf(body.Team) {
			if snap.Entity(identity.TeamBlueprint, t) == nil {
				return writeError(w, http.StatusUnprocessableEntity, "unknown_team",
					fmt.Sprintf("team %s does not exist (teams are entities of blueprint %s)", quote(t), identity.TeamBlueprint), map[string]any{"field": "team"})
			}
		}
		if len(g.Team) == 0 {
			return unset("team")
		}
		return conflict("team")
	}
	for _, name := range slices.Sorted(maps.Keys(body.Relations)) {
		if _, ok := b.Relations[name]; !ok {
			field := "relations." + name
			return writeError(w, http.StatusUnprocessableEntity, "unknown_relation",
				fmt.Sprintf("%s: blueprint %s has no relation %s%s (its relations: %s)", field, bp, quote(name),
					didyoumean.Hint(name, slices.Sorted(maps.Keys(b.Relations))), relationList(b)), map[string]any{"field": field})
		}
		if !sameJSON(body.Relations[name], mustJSON(g.Relations[name])) {
			if _, set := g.Relations[name]; !set {
				return unset("relations." + name)
			}
			return conflict("relations." + name)
		}
	}
	v, err := s.validator(b)
	if err != nil {
		return writeError(w, http.StatusInternalServerError, "blueprint_error", err.Error())
	}
	updates := map[string]any{}
	var problems catalog.Diagnostics
	for _, name := range slices.Sorted(maps.Keys(body.Properties)) {
		raw := body.Properties[name]
		field := "properties." + name
		switch v.Owner(name) {
		case validate.Git:
			if gv, ok := g.Properties[name]; ok && sameJSON(raw, mustJSON(gv)) {
				continue
			}
			return conflict(field)
		case validate.Computed:
			return writeError(w, http.StatusConflict, "computed", fmt.Sprintf("%s of %s/%s is computed by pier", field, bp, id), map[string]any{"field": field})
		}
		n, err := node.Decode(raw, catalog.Pos{File: "request body"})
		if err != nil {
			return writeError(w, http.StatusBadRequest, "invalid_json", fmt.Sprintf("%s: %v", field, err))
		}
		if ds := v.CheckProperty(name, n, ""); len(ds) > 0 {
			problems = append(problems, ds...)
			continue
		}
		updates[name] = n.Any()
	}
	if len(problems) > 0 {
		return writeError(w, http.StatusUnprocessableEntity, "invalid_property", problems[0].Path+": "+problems[0].Message,
			map[string]any{"field": problems[0].Path, "errors": problems})
	}
	runtime := map[string]any{}
	if merge {
		maps.Copy(runtime, e.Runtime)
	}
	for name, val := range updates {
		if val == nil {
			delete(runtime, name)
		} else {
			runtime[name] = val
		}
	}
	now := s.opts.Now().UTC()
	actor := c.ID
	runID := r.URL.Query().Get("run_id")
	if runID != "" && !s.linkableRun(w, r, c, runID) {
		return http.StatusUnprocessableEntity
	}
	if only {
		// Port's ?validation_only=true: every check above, no write.
		// The answer is the entity as the write would leave it.
		preview := state.Entity{Identifier: e.Identifier, Title: e.Title, Icon: e.Icon, Blueprint: e.Blueprint, Team: e.Team,
			Relations: e.Relations, CreatedAt: e.CreatedAt, CreatedBy: e.CreatedBy, UpdatedAt: now, UpdatedBy: actor}
		preview.Properties = maps.Clone(g.Properties)
		if preview.Properties == nil {
			preview.Properties = map[string]any{}
		}
		for name, val := range e.Properties {
			if _, runtimeOwned := e.Runtime[name]; !runtimeOwned {
				preview.Properties[name] = val // computed values as they are now
			}
		}
		maps.Copy(preview.Properties, runtime)
		return writeJSON(w, http.StatusOK, map[string]any{"entity": &preview, "validationOnly": true})
	}
	err = s.opts.Store.SetRuntime(r.Context(), store.Runtime{Blueprint: bp, Identifier: id, Properties: runtime, UpdatedAt: now, UpdatedBy: actor})
	switch {
	case errors.Is(err, store.ErrNotFound): // a reconcile deleted it meanwhile
		return writeError(w, http.StatusNotFound, "entity_not_found", fmt.Sprintf("no %s entity %s: a reconcile deleted it meanwhile", bp, quote(id)))
	case err != nil:
		return storeError(w, err)
	}
	updated := s.opts.State.SetRuntime(bp, id, runtime, now, actor)
	if updated == nil { // a reconcile deleted it in the meantime
		return writeError(w, http.StatusNotFound, "entity_not_found", fmt.Sprintf("no %s entity %s", bp, quote(id)))
	}
	if runID != "" {
		// Port's run_id: the write is shown on the run, as a line of its
		// log. The run was checked above; one that ended since keeps
		// the write, and says why the line is missing in pier's log.
		msg := fmt.Sprintf("wrote %s/%s: %s", bp, id, strings.Join(slices.Sorted(maps.Keys(updates)), ", "))
		if _, _, err := s.opts.Runs.Log(r.Context(), runID, store.RunLog{Message: msg}, "", actor); err != nil {
			s.opts.Logger.Warn("api: link an entity write to its run", "run", runID, "entity", bp+"/"+id, "err", err)
		}
	}
	return writeJSON(w, okCode, map[string]any{"entity": updated})
}

// linkableRun answers unless run_id names a run the caller may write to
// and that is running: Port's run_id links an entity write to it, and a
// run that does not exist is a mistake to say, not to ignore.
func (s *Server) linkableRun(w http.ResponseWriter, r *http.Request, c *caller, runID string) bool {
	if s.opts.Runs == nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_input", "run_id: this pier runs no actions", map[string]any{"field": "run_id"})
		return false
	}
	run, err := s.opts.Runs.Get(r.Context(), runID)
	var re *runs.Error
	switch {
	case errors.As(err, &re) && re.Code == http.StatusNotFound:
		writeError(w, http.StatusUnprocessableEntity, "invalid_input", fmt.Sprintf("run_id: no run %s", quote(runID)), map[string]any{"field": "run_id"})
		return false
	case err != nil:
		runError(w, err)
		return false
	}
	if err := runs.Reportable(run); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "invalid_input", "run_id: "+err.Error(), map[string]any{"field": "run_id"})
		return false
	}
	return s.allowRun(w, r, c, access.Write, run)
}

// boolParam reads a true/false query parameter; absent is false.
func boolParam(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%s %q: want true or false", name, v)
	}
	return b, nil
}

// relationList names a blueprint's relations for an error message.
func relationList(b *catalog.Blueprint) string {
	if len(b.Relations) == 0 {
		return "none"
	}
	return strings.Join(slices.Sorted(maps.Keys(b.Relations)), ", ")
}

// teamsOf reads a body's team: one name or a list.
func teamsOf(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var list []string
	json.Unmarshal(raw, &list)
	return list
}

func sameJSON(a, b json.RawMessage) bool {
	na, err1 := node.Decode(a, catalog.Pos{})
	nb, err2 := node.Decode(b, catalog.Pos{})
	return err1 == nil && err2 == nil && string(na.JSON()) == string(nb.JSON())
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// sameTeam compares a body's team, which Port accepts as one name or a
// list, with the entity's.
func sameTeam(raw json.RawMessage, team []string) bool {
	return slices.Equal(teamsOf(raw), team)
}

func quote(s string) string { return strconv.Quote(s) }
