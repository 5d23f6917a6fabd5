package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/state"
)

const describeUsage = `usage: pier describe entity BLUEPRINT/ID

An entity as a person reads it: its properties, its relations (both
ways), its level in each scorecard with the rules it fails, and its
recent runs; each part read through the API as the current context's
client, so what that client may not read is not shown.

Exit status: 0 printed, 1 the server refused or has no such entity, 2 a
usage error.
`

func runDescribe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("describe", describeUsage, stdout, stderr)
	r := c.remote()
	if code := c.parse(args); code >= 0 {
		return code
	}
	if len(c.args) == 0 || (c.args[0] != "entity" && c.args[0] != "entities") {
		return c.usageError("want describe entity BLUEPRINT/ID")
	}
	var bp, id string
	switch rest := c.args[1:]; {
	case len(rest) == 1 && strings.Contains(rest[0], "/"):
		bp, id, _ = strings.Cut(rest[0], "/")
	case len(rest) == 2:
		bp, id = rest[0], rest[1]
	default:
		return c.usageError("want describe entity BLUEPRINT/ID, got %s", quoteArgs(rest))
	}
	if bp == "" || id == "" {
		return c.usageError("want describe entity BLUEPRINT/ID, got %s", quoteArgs(c.args[1:]))
	}
	cl, _, err := r.connect(ctx)
	if err != nil {
		return c.fail(1, err)
	}
	path := "/v1/blueprints/" + url.PathEscape(bp) + "/entities/" + url.PathEscape(id)
	var got struct {
		Entity       map[string]any              `json:"entity"`
		Related      map[string][]map[string]any `json:"relatedEntities"`
		ReferencedBy []map[string]any            `json:"referencedBy"`
		Sources      map[string]state.Origin     `json:"sources"`
	}
	if err := cl.Do(ctx, "GET", path, nil, &got); err != nil {
		return c.fail(1, err)
	}
	w := stdout
	e := got.Entity
	fmt.Fprintf(w, "entity:     %s/%s\n", bp, str(e["identifier"]))
	if t := str(e["title"]); t != "" {
		fmt.Fprintf(w, "title:      %s\n", t)
	}
	if t := str(e["team"]); t != "" {
		fmt.Fprintf(w, "team:       %s\n", t)
	}
	fmt.Fprintf(w, "updated:    %s by %s\n", when(e["updatedAt"]), str(e["updatedBy"]))

	fmt.Fprintln(w, "properties:")
	props, _ := e["properties"].(map[string]any)
	tw := newTable(w)
	for _, k := range sortedKeys(props) {
		if props[k] != nil {
			tw.row("  "+k, str(props[k]), originText(got.Sources[k]))
		}
	}
	tw.flush()

	fmt.Fprintln(w, "relations:")
	tw = newTable(w)
	for _, name := range sortedKeys(got.Related) {
		var targets []string
		for _, t := range got.Related[name] {
			s := str(t["blueprint"]) + "/" + str(t["identifier"])
			if t["exists"] != true {
				s += " (missing or not readable)"
			}
			targets = append(targets, s)
		}
		tw.row("  "+name, "->", strings.Join(targets, ", "))
	}
	for _, ref := range got.ReferencedBy {
		tw.row("  "+str(ref["blueprint"])+"/"+str(ref["identifier"]), "<-", "")
	}
	tw.flush()

	var sc struct {
		Scorecards map[string]struct {
			Level string `json:"level"`
			Rules []struct {
				Identifier string `json:"identifier"`
				Level      string `json:"level"`
				Status     string `json:"status"`
			} `json:"rules"`
		} `json:"scorecards"`
	}
	if err := cl.Do(ctx, "GET", path+"/scorecards", nil, &sc); err != nil {
		fmt.Fprintf(w, "scorecards: %v\n", err)
	} else if len(sc.Scorecards) > 0 {
		fmt.Fprintln(w, "scorecards:")
		tw = newTable(w)
		for _, name := range sortedKeys(sc.Scorecards) {
			s := sc.Scorecards[name]
			var failing []string
			for _, rule := range s.Rules {
				if rule.Status != "SUCCESS" {
					failing = append(failing, rule.Identifier+" ("+rule.Level+")")
				}
			}
			missing := "passes every rule"
			if len(failing) > 0 {
				missing = "fails " + strings.Join(failing, ", ")
			}
			tw.row("  "+name, s.Level, missing)
		}
		tw.flush()
	}

	v := url.Values{"blueprint": {bp}, "entity": {id}, "limit": {"5"}}
	var runs struct {
		Runs []map[string]any `json:"runs"`
	}
	if err := cl.Do(ctx, "GET", "/v1/actions/runs?"+v.Encode(), nil, &runs); err != nil {
		fmt.Fprintf(w, "runs: %v\n", err)
	} else if len(runs.Runs) > 0 {
		fmt.Fprintln(w, "recent runs:")
		tw = newTable(w)
		for _, run := range runs.Runs {
			tw.row("  "+str(run["id"]), str(dig(run, "action", "identifier")), str(run["status"]), str(run["createdBy"]), when(run["createdAt"]))
		}
		tw.flush()
	}
	return 0
}

// originText is where a value comes from, as the portal says it.
func originText(o state.Origin) string {
	switch o.Kind {
	case "git":
		return "git " + o.Pos.String()
	case "runtime":
		return "runtime, by " + o.By + " at " + o.At.Local().Format(time.DateTime)
	case "computed":
		return "computed: " + o.How
	}
	return o.Kind
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
