package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/access"
	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/jqtmpl"
	"github.com/pierhq/pier/internal/runs"
)

// formView is an action's form, generated from its userInputs in Port's
// shape.
type formView struct {
	Action   *catalog.Action
	URL      string
	Entity   *entityLink
	NeedsOne bool // a DAY-2 or DELETE action without its entity yet
	EntityBP string
	EntityIn field
	Fields   []field
	Problem  string
	Approval bool
	CanRun   bool
	Why      string
}

// field is one input of the form.
type field struct {
	Name, Title, Description string
	// Kind says how it is entered: text, textarea, number, checkbox,
	// select, multiselect, entity, datetime, json.
	Kind      string
	Required  bool
	Disabled  bool
	Hidden    bool
	Value     string
	Checked   bool
	Options   []option
	Blueprint string
	ListID    string
	Picks     []pickItem
	Error     string
	// Conditional is set for an input with a visible condition. Pages
	// show every input (without script nothing could reveal one); the
	// script hides those whose condition is false, and a submit leaves
	// them out whatever the browser sent.
	Conditional bool
	Min, Max    string
	Pattern     string
	MinLen      string
	MaxLen      string
	Step        string
}

type option struct {
	Value, Label string
	Selected     bool
}

// inputs are the action's inputs in their order: userInputs.order first,
// then the rest by name.
func inputs(a *catalog.Action) ([]string, map[string]catalog.Property, []string) {
	ui := a.Trigger.UserInputs
	if ui == nil {
		return nil, nil, nil
	}
	var required []string
	_ = json.Unmarshal(ui.Required, &required)
	var names []string
	for _, n := range ui.Order {
		if _, ok := ui.Properties[n]; ok && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	for _, n := range sortedKeys(ui.Properties) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names, ui.Properties, required
}

// action reads the action the path names, if the visitor may read it.
func (s *Server) action(w http.ResponseWriter, r *http.Request, v *visit) (*catalog.Action, bool) {
	a := v.snap.Actions[r.PathValue("id")]
	if a == nil {
		s.fail(w, r, v, http.StatusNotFound, fmt.Sprintf("There is no action %q.", r.PathValue("id")))
		return nil, false
	}
	if !v.grants.Allows(access.Read, access.Action, access.ActionView(a), nil) {
		s.fail(w, r, v, http.StatusForbidden, (&access.Denied{Subject: v.grants.Subject().Who(), Action: access.Read, Resource: access.Action, Object: a.Identifier}).Error())
		return nil, false
	}
	return a, true
}

func (s *Server) actionForm(w http.ResponseWriter, r *http.Request, v *visit) {
	a, ok := s.action(w, r, v)
	if !ok {
		return
	}
	view := s.form(r.Context(), v, a, r.URL.Query().Get("entity"), nil, nil)
	s.render(w, r, v, http.StatusOK, "action", titleOr(a.Title, a.Identifier), "catalog", view)
}

// form builds the form of a with the values given (nil: the defaults)
// and the problems found in them, by input.
func (s *Server) form(ctx context.Context, v *visit, a *catalog.Action, entity string, values map[string]any, problems map[string]string) formView {
	view := formView{Action: a, URL: "/actions/" + url.PathEscape(a.Identifier), EntityBP: a.Trigger.BlueprintIdentifier}
	view.Approval = a.Approval != nil || (len(a.RequiredApproval) > 0 && string(a.RequiredApproval) != "false")
	op := a.Trigger.Operation
	day2 := op != "" && op != "CREATE"
	switch {
	case v.signed == nil:
		view.Why = "Sign in to run this action."
	case !v.grants.Allows(access.Execute, access.Action, access.ActionView(a), nil):
		view.Why = (&access.Denied{Subject: v.grants.Subject().Who(), Action: access.Execute, Resource: access.Action, Object: a.Identifier}).Error()
	default:
		view.CanRun = true
	}
	if day2 {
		bp := a.Trigger.BlueprintIdentifier
		if e := v.snap.Entity(bp, entity); e != nil && v.canRead(e) {
			l := linkTo(v.snap, e)
			view.Entity = &l
			if err := runs.CheckEntity(v.snap, a, entity); err != nil && view.CanRun {
				view.Problem = err.Error()
			}
		} else {
			view.NeedsOne = true
			view.EntityIn = field{Name: "entity", Title: titleOr(v.snap.Blueprints[bp].Title, bp), Kind: "entity", Required: true, Blueprint: bp,
				ListID: "pick-entity", Picks: pickable(v, bp, "", 200), Value: entity, Error: problems["entity"]}
		}
	}
	names, props, required := inputs(a)
	for _, name := range names {
		p := props[name]
		f := field{Name: name, Title: titleOr(p.Title, name), Description: p.Description, Required: slices.Contains(required, name),
			Disabled: p.Disabled, Error: problems[name], Conditional: len(p.Visible) > 0 && string(p.Visible) != "true"}
		val, given := values[name]
		if !given && values == nil {
			val = p.Default
		}
		f.Value = showValue(val)
		switch {
		case p.Type == "boolean":
			f.Kind = "checkbox"
			b, _ := val.(bool)
			f.Checked = b
		case p.Format == "entity" && p.Type == "string":
			f.Kind, f.Blueprint, f.ListID = "entity", p.Blueprint, "pick-"+name
			f.Picks = pickable(v, p.Blueprint, "", 200)
			if m, ok := val.(map[string]any); ok {
				f.Value = showValue(m["identifier"])
			}
		case len(p.Enum) > 0:
			f.Kind = "select"
			f.Options = options(p.Enum, []any{val})
		case p.Type == "array" && p.Items != nil && len(p.Items.Enum) > 0:
			f.Kind = "multiselect"
			list, _ := val.([]any)
			f.Options = options(p.Items.Enum, list)
		case p.Type == "array" && p.Items != nil && p.Items.Format == "entity":
			f.Kind, f.Blueprint, f.ListID = "entity", p.Items.Blueprint, "pick-"+name
			f.Picks = pickable(v, p.Items.Blueprint, "", 200)
			f.Description = strings.TrimSpace(f.Description + " Several: separate identifiers with commas.")
		case p.Type == "array":
			f.Kind = "textarea"
			if list, ok := val.([]any); ok {
				parts := make([]string, len(list))
				for i, el := range list {
					parts[i] = showValue(el)
				}
				f.Value = strings.Join(parts, "\n")
			}
			f.Description = strings.TrimSpace(f.Description + " One item per line.")
		case p.Type == "object":
			f.Kind = "json"
			if val != nil {
				b, _ := json.MarshalIndent(val, "", "  ")
				f.Value = string(b)
			}
		case p.Type == "number" || p.Type == "integer":
			f.Kind = "number"
			f.Step = "any"
			if p.Type == "integer" {
				f.Step = "1"
			}
			if p.Minimum != nil {
				f.Min = p.Minimum.String()
			}
			if p.Maximum != nil {
				f.Max = p.Maximum.String()
			}
		case p.Format == "date-time":
			f.Kind = "datetime"
			if s, ok := val.(string); ok {
				if t, err := time.Parse(time.RFC3339, s); err == nil {
					f.Value = t.UTC().Format("2006-01-02T15:04")
				}
			}
		default:
			f.Kind = "text"
			if p.Format == "multi-line" || p.Format == "markdown" {
				f.Kind = "textarea"
			}
			f.Pattern = p.Pattern
			if p.MinLength != nil {
				f.MinLen = strconv.Itoa(*p.MinLength)
			}
			if p.MaxLength != nil {
				f.MaxLen = strconv.Itoa(*p.MaxLength)
			}
		}
		view.Fields = append(view.Fields, f)
	}
	return view
}

func options(enum []any, selected []any) []option {
	out := []option{}
	for _, e := range enum {
		o := option{Value: showValue(e), Label: showValue(e)}
		for _, s := range selected {
			if s != nil && showValue(s) == o.Value {
				o.Selected = true
			}
		}
		out = append(out, o)
	}
	return out
}

// values reads the form's inputs as the action's types: what a request
// body would say. Empty inputs are left out (their defaults apply),
// except booleans, which a checkbox always says. Text that is not of the
// input's type is passed on as text, for the validator to say so.
func values(r *http.Request, a *catalog.Action) map[string]any {
	names, props, _ := inputs(a)
	out := map[string]any{}
	for _, name := range names {
		p := props[name]
		raw := r.PostForm[name]
		one := strings.TrimSpace(r.PostFormValue(name))
		switch {
		case p.Type == "boolean":
			out[name] = one == "true" || one == "on"
		case p.Type == "array" && p.Items != nil && len(p.Items.Enum) > 0:
			if len(raw) > 0 {
				list := make([]any, len(raw))
				for i, x := range raw {
					list[i] = typed(*p.Items, x)
				}
				out[name] = list
			}
		case one == "":
		case p.Type == "array":
			var list []any
			if strings.HasPrefix(one, "[") && json.Unmarshal([]byte(one), &list) == nil {
				out[name] = list
				continue
			}
			sep := "\n"
			if p.Items != nil && p.Items.Format == "entity" {
				sep = ","
			}
			for _, x := range strings.Split(one, sep) {
				if x = strings.TrimSpace(x); x != "" {
					item := catalog.Property{Type: "string"}
					if p.Items != nil {
						item = *p.Items
					}
					list = append(list, typed(item, x))
				}
			}
			out[name] = list
		case p.Type == "object":
			var obj any
			if err := json.Unmarshal([]byte(one), &obj); err != nil {
				out[name] = one
			} else {
				out[name] = obj
			}
		default:
			out[name] = typed(p, one)
		}
	}
	return out
}

// typed reads text as a value of p's type.
func typed(p catalog.Property, s string) any {
	switch p.Type {
	case "number", "integer":
		var n json.Number
		if json.Unmarshal([]byte(s), &n) == nil {
			return n
		}
	case "boolean":
		return s == "true"
	case "string":
		if p.Format == "date-time" {
			if t, err := time.Parse("2006-01-02T15:04", s); err == nil {
				return t.UTC().Format(time.RFC3339)
			}
		}
	}
	return s
}

// hiddenInputs are the inputs whose `visible` condition is false for the
// given values: false, or Port's {"jqQuery": ...} over .form (the
// values), .entity and .user. A condition that cannot be evaluated
// shows the input.
func (s *Server) hiddenInputs(ctx context.Context, v *visit, a *catalog.Action, entity string, vals map[string]any) map[string]bool {
	_, props, _ := inputs(a)
	out := map[string]bool{}
	var data map[string]any
	for name, p := range props {
		raw := strings.TrimSpace(string(p.Visible))
		switch raw {
		case "", "true", "null":
			continue
		case "false":
			out[name] = true
			continue
		}
		var cond struct {
			JQ string `json:"jqQuery"`
		}
		if json.Unmarshal(p.Visible, &cond) != nil || cond.JQ == "" {
			continue
		}
		if data == nil {
			data = s.formData(v, a, entity, vals)
		}
		t, err := jqtmpl.Compile("{{ " + cond.JQ + " }}")
		if err != nil {
			continue
		}
		res, err := t.Render(ctx, data)
		if err == nil && (res == nil || res == false) {
			out[name] = true
		}
	}
	return out
}

// formData is what a visible condition reads.
func (s *Server) formData(v *visit, a *catalog.Action, entity string, vals map[string]any) map[string]any {
	form := map[string]any{}
	_, props, _ := inputs(a)
	for name, p := range props {
		if x, ok := vals[name]; ok {
			form[name] = x
		} else if vals == nil && p.Default != nil {
			form[name] = p.Default
		} else {
			form[name] = nil
		}
	}
	data := map[string]any{"form": form, "entity": nil, "user": map[string]any{}}
	if e := v.snap.Entity(a.Trigger.BlueprintIdentifier, entity); e != nil && v.canRead(e) {
		b, _ := e.MarshalJSON()
		var m any
		if json.Unmarshal(b, &m) == nil {
			data["entity"] = m
		}
	}
	if v.signed != nil {
		p := v.signed.Person
		data["user"] = map[string]any{"login": p.Login, "email": p.Email, "name": p.Name, "teams": anyList(v.grants.Subject().Teams)}
	}
	return data
}

func anyList(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// actionVisible answers which inputs the form's current values hide, for
// the script that hides them as the person fills the form.
func (s *Server) actionVisible(w http.ResponseWriter, r *http.Request, v *visit) {
	a := v.snap.Actions[r.PathValue("id")]
	w.Header().Set("Content-Type", "application/json")
	if a == nil || !v.grants.Allows(access.Read, access.Action, access.ActionView(a), nil) {
		w.Write([]byte(`{"hidden":[]}` + "\n"))
		return
	}
	r.PostForm = r.URL.Query() // values reads the form's fields
	hidden := s.hiddenInputs(r.Context(), v, a, r.URL.Query().Get("entity"), values(r, a))
	json.NewEncoder(w).Encode(map[string]any{"hidden": nonNil(sortedKeys(hidden))})
}

func nonNil(ss []string) []string {
	if ss == nil {
		return []string{}
	}
	return ss
}

// actionSubmit asks for a run: the form's values, minus the inputs their
// conditions hide, validated by the engine's validator (every problem
// shown by its input) and requested through the same pipeline as the
// API's POST /v1/actions/{id}/runs; then the run's page.
func (s *Server) actionSubmit(w http.ResponseWriter, r *http.Request, v *visit) {
	a, ok := s.action(w, r, v)
	if !ok {
		return
	}
	entity := strings.TrimSpace(r.PostFormValue("entity"))
	vals := values(r, a)
	for name := range s.hiddenInputs(r.Context(), v, a, entity, vals) {
		delete(vals, name)
	}
	problems := map[string]string{}
	_, errs := runs.CheckInputs(v.snap, a, vals)
	for _, e := range errs {
		if _, seen := problems[e.Field]; !seen {
			problems[e.Field] = e.Message
		}
	}
	if len(problems) == 0 {
		run, err := s.opts.Runs.Request(r.Context(), runs.Request{Action: a.Identifier, Entity: entity, Inputs: vals,
			Requester: v.login(), Source: "web", Grants: v.grants})
		if err == nil {
			http.Redirect(w, r, "/runs/"+url.PathEscape(run.ID), http.StatusSeeOther)
			return
		}
		field := ""
		if re, ok := err.(*runs.Error); ok {
			field = re.Field
		}
		problems[field] = err.Error()
	}
	view := s.form(r.Context(), v, a, entity, vals, problems)
	if msg, ok := problems[""]; ok {
		view.Problem = msg
	}
	if view.NeedsOne && problems["entity"] != "" {
		view.EntityIn.Error = problems["entity"]
	} else if !view.NeedsOne && problems["entity"] != "" {
		view.Problem = problems["entity"]
	}
	s.render(w, r, v, http.StatusUnprocessableEntity, "action", titleOr(a.Title, a.Identifier), "catalog", view)
}
