package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/pierhq/pier/internal/client"
)

const getUsage = `usage: pier get KIND [ID] [-o table|wide|json|yaml] [filters]

KIND is one of:
  blueprints [ID]
  entities BLUEPRINT [ID]   filters: --where PROP=VALUE (also !=, >, >=, <, <=;
                            repeatable, all must hold), --query JSON (Port's query language)
  runs [ID]                 filters: --action, --status, --entity, --blueprint, --active
  scorecards [ID]
  actions [ID]              filters: --blueprint

Reads through pier's API as the current context's client (pier login), so
it lists exactly what that client may read.

Exit status: 0 printed, 1 the server refused or has no such object, 2 a
usage error.
`

// wheres collects repeated --where PROP OP VALUE rules.
type wheres []map[string]any

func (w *wheres) String() string { return "" }

func (w *wheres) Set(s string) error {
	for _, op := range []string{"!=", ">=", "<=", "=", ">", "<"} {
		if prop, val, ok := strings.Cut(s, op); ok && prop != "" {
			*w = append(*w, map[string]any{"property": strings.TrimSpace(prop), "operator": op, "value": jsonOrString(val)})
			return nil
		}
	}
	return fmt.Errorf("%q: want PROP=VALUE (or !=, >, >=, <, <=)", s)
}

func runGet(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("get", getUsage, stdout, stderr)
	r := c.remote()
	out := c.fs.String("o", "table", "output: table, wide, json or yaml")
	c.fs.StringVar(out, "output", "table", "the same as -o")
	var where wheres
	c.fs.Var(&where, "where", "entities: a rule PROP=VALUE (repeatable)")
	query := c.fs.String("query", "", "entities: a query in Port's query language, as JSON")
	action := c.fs.String("action", "", "runs: of this action")
	status := c.fs.String("status", "", "runs: in this status")
	entity := c.fs.String("entity", "", "runs: on this entity")
	blueprint := c.fs.String("blueprint", "", "runs, actions: of this blueprint")
	active := c.fs.Bool("active", false, "runs: only those not finished")
	limit := c.fs.Int("limit", 0, "print at most this many (0: all)")
	if code := c.parse(args); code >= 0 {
		return code
	}
	if !slices.Contains([]string{"table", "wide", "json", "yaml"}, *out) {
		return c.usageError("-o %q: want table, wide, json or yaml", *out)
	}
	if len(c.args) == 0 {
		return c.usageError("which kind? blueprints, entities BLUEPRINT, runs, scorecards or actions")
	}
	kind, rest := c.args[0], c.args[1:]
	var req listing
	switch kind {
	case "blueprints", "blueprint", "bp":
		req = listing{path: "/v1/blueprints", key: "blueprints", oneKey: "blueprint", cols: blueprintCols}
	case "entities", "entity":
		if len(rest) == 0 {
			return c.usageError("entities of which blueprint? pier get entities BLUEPRINT [ID]")
		}
		bp := rest[0]
		rest = rest[1:]
		req = listing{path: "/v1/blueprints/" + url.PathEscape(bp) + "/entities", key: "entities", oneKey: "entity", cursor: "from", cols: entityCols}
		if len(where) > 0 || *query != "" {
			if len(rest) > 0 {
				return c.usageError("filters apply to a listing, not to one entity")
			}
			rules := []any{map[string]any{"property": "$blueprint", "operator": "=", "value": bp}}
			for _, w := range where {
				rules = append(rules, w)
			}
			if *query != "" {
				// A rule or a nested query ({combinator, rules}), and-ed
				// with the rest.
				var user any
				if err := json.Unmarshal([]byte(*query), &user); err != nil {
					return c.usageError("--query: not JSON: %v", err)
				}
				rules = append(rules, user)
			}
			q := map[string]any{"combinator": "and", "rules": rules}
			req.search = q
		}
	case "runs", "run":
		v := url.Values{}
		for k, p := range map[string]string{"action": *action, "status": *status, "entity": *entity, "blueprint": *blueprint} {
			if p != "" {
				v.Set(k, p)
			}
		}
		if *active {
			v.Set("active", "true")
		}
		req = listing{path: "/v1/actions/runs", query: v, key: "runs", oneKey: "run", cursor: "before", cols: runCols}
	case "scorecards", "scorecard":
		req = listing{path: "/v1/scorecards", key: "scorecards", oneKey: "scorecard", cols: scorecardCols}
	case "actions", "action":
		v := url.Values{}
		if *blueprint != "" {
			v.Set("blueprint", *blueprint)
		}
		req = listing{path: "/v1/actions", query: v, key: "actions", oneKey: "action", cols: actionCols}
	default:
		return c.usageError("unknown kind %q: want blueprints, entities, runs, scorecards or actions", kind)
	}
	if len(rest) > 1 {
		return c.usageError("unexpected argument %q", rest[1])
	}
	cl, _, err := r.connect(ctx)
	if err != nil {
		return c.fail(1, err)
	}
	var items []map[string]any
	if len(rest) == 1 {
		one, err := getOne(ctx, cl, req.path+"/"+url.PathEscape(rest[0]), req.oneKey)
		if err != nil {
			return c.fail(1, err)
		}
		if *out == "json" || *out == "yaml" {
			return c.print(*out, one)
		}
		items = []map[string]any{one}
	} else {
		items, err = req.fetch(ctx, cl, *limit)
		if err != nil {
			return c.fail(1, err)
		}
		if *out == "json" || *out == "yaml" {
			return c.print(*out, items)
		}
	}
	cols := req.cols
	if *out != "wide" {
		cols = slices.DeleteFunc(slices.Clone(cols), func(x col) bool { return x.wide })
	}
	if len(items) == 0 {
		fmt.Fprintf(stderr, "no %s\n", kind)
		return 0
	}
	tw := newTable(stdout)
	heads := make([]string, len(cols))
	for i, x := range cols {
		heads[i] = x.head
	}
	tw.row(heads...)
	for _, it := range items {
		cells := make([]string, len(cols))
		for i, x := range cols {
			cells[i] = x.cell(it)
		}
		tw.row(cells...)
	}
	tw.flush()
	return 0
}

// print writes v as indented JSON or YAML.
func (c *command) print(format string, v any) int {
	if err := printAs(c.stdout, format, v); err != nil {
		return c.fail(1, err)
	}
	return 0
}

func printAs(w io.Writer, format string, v any) error {
	if format == "yaml" {
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(v); err != nil {
			return err
		}
		return enc.Close()
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// listing is one kind's API listing: its path, the key its items are
// under, how it pages, and its table.
type listing struct {
	path   string
	query  url.Values
	key    string
	oneKey string
	cursor string         // the query parameter that continues from "next"; "" does not page
	search map[string]any // entities: POST /v1/entities/search instead
	cols   []col
}

func (l listing) fetch(ctx context.Context, cl *client.Client, limit int) ([]map[string]any, error) {
	var all []map[string]any
	if l.search != nil {
		var page map[string]json.RawMessage
		if err := cl.Do(ctx, "POST", "/v1/entities/search", l.search, &page); err != nil {
			return nil, err
		}
		if err := json.Unmarshal(page[l.key], &all); err != nil {
			return nil, err
		}
		return clip(all, limit), nil
	}
	q := url.Values{}
	for k, v := range l.query {
		q[k] = v
	}
	for {
		path := l.path
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		var page struct {
			Next string `json:"next"`
		}
		var raw map[string]json.RawMessage
		if err := cl.Do(ctx, "GET", path, nil, &raw); err != nil {
			return nil, err
		}
		var items []map[string]any
		if err := json.Unmarshal(raw[l.key], &items); err != nil {
			return nil, fmt.Errorf("GET %s: %s: %w", path, l.key, err)
		}
		all = append(all, items...)
		if n, ok := raw["next"]; ok {
			json.Unmarshal(n, &page.Next)
		}
		if page.Next == "" || l.cursor == "" || (limit > 0 && len(all) >= limit) {
			return clip(all, limit), nil
		}
		q.Set(l.cursor, page.Next)
	}
}

func clip[T any](s []T, n int) []T {
	if n > 0 && len(s) > n {
		return s[:n]
	}
	return s
}

func getOne(ctx context.Context, cl *client.Client, path, key string) (map[string]any, error) {
	var raw map[string]json.RawMessage
	if err := cl.Do(ctx, "GET", path, nil, &raw); err != nil {
		return nil, err
	}
	var one map[string]any
	if err := json.Unmarshal(raw[key], &one); err != nil {
		return nil, fmt.Errorf("GET %s: %s: %w", path, key, err)
	}
	return one, nil
}

// col is a table column; wide ones only with -o wide.
type col struct {
	head string
	cell func(map[string]any) string
	wide bool
}

func field(path ...string) func(map[string]any) string {
	return func(m map[string]any) string { return str(dig(m, path...)) }
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// str renders a cell: scalars as written, lists joined, objects as JSON.
func str(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = str(e)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return fmt.Sprint(v)
}

func count(path ...string) func(map[string]any) string {
	return func(m map[string]any) string {
		switch x := dig(m, path...).(type) {
		case map[string]any:
			return fmt.Sprint(len(x))
		case []any:
			return fmt.Sprint(len(x))
		}
		return "0"
	}
}

// age is how long ago the RFC 3339 time at path was, kubectl-style.
func age(path ...string) func(map[string]any) string {
	return func(m map[string]any) string {
		t, err := time.Parse(time.RFC3339Nano, str(dig(m, path...)))
		if err != nil {
			return ""
		}
		return shortDuration(time.Since(t))
	}
}

func shortDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func keys(path ...string) func(map[string]any) string {
	return func(m map[string]any) string {
		obj, _ := dig(m, path...).(map[string]any)
		ks := make([]string, 0, len(obj))
		for k := range obj {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return strings.Join(ks, ",")
	}
}

// properties renders an entity's properties as k=v, sorted.
func properties(m map[string]any) string {
	obj, _ := m["properties"].(map[string]any)
	ks := make([]string, 0, len(obj))
	for k := range obj {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	parts := make([]string, 0, len(ks))
	for _, k := range ks {
		if obj[k] != nil {
			parts = append(parts, k+"="+str(obj[k]))
		}
	}
	return strings.Join(parts, " ")
}

var (
	blueprintCols = []col{
		{head: "IDENTIFIER", cell: field("identifier")},
		{head: "TITLE", cell: field("title")},
		{head: "PROPERTIES", cell: count("schema", "properties")},
		{head: "RELATIONS", cell: count("relations")},
		{head: "RELATION-NAMES", cell: keys("relations"), wide: true},
	}
	entityCols = []col{
		{head: "IDENTIFIER", cell: field("identifier")},
		{head: "TITLE", cell: field("title")},
		{head: "TEAM", cell: field("team")},
		{head: "UPDATED", cell: age("updatedAt")},
		{head: "PROPERTIES", cell: properties, wide: true},
	}
	runCols = []col{
		{head: "ID", cell: field("id")},
		{head: "ACTION", cell: field("action", "identifier")},
		{head: "ENTITY", cell: field("entity", "identifier")},
		{head: "STATUS", cell: field("status")},
		{head: "BY", cell: field("createdBy")},
		{head: "AGE", cell: age("createdAt")},
		{head: "LINK", cell: field("link"), wide: true},
		{head: "SUMMARY", cell: field("summary"), wide: true},
	}
	scorecardCols = []col{
		{head: "IDENTIFIER", cell: field("identifier")},
		{head: "TITLE", cell: field("title")},
		{head: "RULES", cell: count("rules")},
		{head: "LEVELS", cell: func(m map[string]any) string {
			var names []string
			for _, r := range asList(m["rules"]) {
				if l := str(dig(r, "level")); l != "" && !slices.Contains(names, l) {
					names = append(names, l)
				}
			}
			return strings.Join(names, ",")
		}, wide: true},
	}
	actionCols = []col{
		{head: "IDENTIFIER", cell: field("identifier")},
		{head: "TITLE", cell: field("title")},
		{head: "BLUEPRINT", cell: field("trigger", "blueprintIdentifier")},
		{head: "OPERATION", cell: field("trigger", "operation")},
		{head: "INVOCATION", cell: field("invocationMethod", "type"), wide: true},
	}
)

// table is a kubectl-style table: columns padded, no borders.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer) *table { return &table{tw: tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)} }

func (t *table) row(cells ...string) {
	for i, c := range cells {
		cells[i] = strings.NewReplacer("\t", " ", "\n", " ").Replace(c)
	}
	fmt.Fprintln(t.tw, strings.Join(cells, "\t"))
}

func (t *table) flush() { t.tw.Flush() }
