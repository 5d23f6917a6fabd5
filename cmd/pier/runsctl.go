package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

const approveUsage = `usage: pier approve RUN [--reason TEXT]
       pier decline RUN --reason TEXT

Votes on a run waiting for approval in pier (Port's
PATCH /v1/actions/runs/RUN/approval) as the current context's client: the
API decides whether that client may approve it (not the requester, one of
the approvers) and answers 403 naming what is missing otherwise. A run
approved through a pull request is approved there, not here.

Exit status: 0 the vote was taken, 1 refused, 2 a usage error.
`

func runVote(ctx context.Context, verb string, args []string, stdout, stderr io.Writer) int {
	c := newCommand(verb, approveUsage, stdout, stderr)
	r := c.remote()
	reason := c.fs.String("reason", "", "why (required to decline)")
	if code := c.parse(args); code >= 0 {
		return code
	}
	if len(c.args) != 1 {
		return c.usageError("want one run id, got %d arguments", len(c.args))
	}
	if verb == "decline" && strings.TrimSpace(*reason) == "" {
		return c.usageError("--reason is required: the requester is told why")
	}
	cl, _, err := r.connect(ctx)
	if err != nil {
		return c.fail(1, err)
	}
	var out struct {
		Run runInfo `json:"run"`
	}
	body := map[string]any{"status": "APPROVE"}
	if verb == "decline" {
		body["status"] = "DECLINE"
	}
	if *reason != "" {
		body["description"] = *reason
	}
	if err := cl.Do(ctx, "PATCH", "/v1/actions/runs/"+url.PathEscape(c.args[0])+"/approval", body, &out); err != nil {
		return c.fail(1, err)
	}
	fmt.Fprintf(stdout, "run %s: %s\n", out.Run.ID, out.Run.Status)
	return 0
}

const runsUsage = `usage: pier runs [--watch] [filters]        list runs (as pier get runs)
       pier runs show RUN                  a run's timeline
       pier runs logs RUN [-f]             a run's log lines

--watch prints each run as it changes until interrupted; -f follows the
logs until the run ends.
`

func runRuns(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "logs":
			return runRunLogs(ctx, args[1:], stdout, stderr)
		case "show":
			return runRunShow(ctx, args[1:], stdout, stderr)
		}
	}
	c := newCommand("runs", runsUsage, stdout, stderr)
	r := c.remote()
	watch := c.fs.Bool("watch", false, "print runs as they change")
	c.fs.BoolVar(watch, "w", false, "the same as --watch")
	action := c.fs.String("action", "", "of this action")
	status := c.fs.String("status", "", "in this status")
	entity := c.fs.String("entity", "", "on this entity")
	active := c.fs.Bool("active", false, "only those not finished")
	limit := c.fs.Int("limit", 20, "the newest this many")
	interval := c.fs.Duration("interval", time.Second, "--watch: how often to ask")
	if code := c.parse(args); code >= 0 {
		return code
	}
	if len(c.args) > 0 {
		return c.usageError("unknown subcommand %q: want show or logs", c.args[0])
	}
	cl, _, err := r.connect(ctx)
	if err != nil {
		return c.fail(1, err)
	}
	v := url.Values{}
	for k, p := range map[string]string{"action": *action, "status": *status, "entity": *entity} {
		if p != "" {
			v.Set(k, p)
		}
	}
	if *active {
		v.Set("active", "true")
	}
	l := listing{path: "/v1/actions/runs", query: v, key: "runs", cursor: "before"}
	tw := newTable(stdout)
	cols := runCols[:6]
	heads := []string{}
	for _, x := range cols {
		heads = append(heads, x.head)
	}
	tw.row(heads...)
	seen := map[string]string{} // id → status printed
	for {
		items, err := l.fetch(ctx, cl, *limit)
		if err != nil && ctx.Err() == nil {
			if !*watch {
				return c.fail(1, err)
			}
			fmt.Fprintf(stderr, "pier runs: %v (retrying)\n", err)
		}
		slices.Reverse(items) // oldest first, so a watch reads downwards
		for _, it := range items {
			id, st := str(it["id"]), str(it["status"])
			if seen[id] == st {
				continue
			}
			seen[id] = st
			cells := make([]string, len(cols))
			for i, x := range cols {
				cells[i] = x.cell(it)
			}
			tw.row(cells...)
		}
		tw.flush()
		if !*watch {
			return 0
		}
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(*interval):
		}
	}
}

func runRunShow(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("runs show", runsUsage, stdout, stderr)
	r := c.remote()
	out := c.fs.String("o", "text", "output: text, json or yaml")
	if code := c.parse(args); code >= 0 {
		return code
	}
	if len(c.args) != 1 {
		return c.usageError("want one run id")
	}
	cl, _, err := r.connect(ctx)
	if err != nil {
		return c.fail(1, err)
	}
	run, err := getOne(ctx, cl, "/v1/actions/runs/"+url.PathEscape(c.args[0]), "run")
	if err != nil {
		return c.fail(1, err)
	}
	if *out != "text" {
		return c.print(*out, run)
	}
	w := stdout
	fmt.Fprintf(w, "run %s of %s", str(run["id"]), str(dig(run, "action", "identifier")))
	if e := str(dig(run, "entity", "identifier")); e != "" {
		fmt.Fprintf(w, " on %s/%s", str(dig(run, "blueprint", "identifier")), e)
	}
	fmt.Fprintf(w, ": %s\n", str(run["status"]))
	fmt.Fprintf(w, "requested by %s at %s\n", str(run["createdBy"]), when(run["createdAt"]))
	if s := str(run["summary"]); s != "" {
		fmt.Fprintf(w, "summary: %s\n", s)
	}
	for _, l := range asList(run["link"]) {
		fmt.Fprintf(w, "link: %s\n", str(l))
	}
	if ap, ok := run["approval"].(map[string]any); ok {
		fmt.Fprintf(w, "approval: %s required through %s", str(ap["required"]), str(ap["system"]))
		if u := str(ap["url"]); u != "" {
			fmt.Fprintf(w, " at %s", u)
		}
		fmt.Fprintln(w)
	}
	if evs := asList(run["events"]); len(evs) > 0 {
		fmt.Fprintln(w, "events:")
		tw := newTable(w)
		for _, e := range evs {
			tw.row("  "+when(dig(e, "at")), str(dig(e, "actor")), str(dig(e, "to")), str(dig(e, "note")))
		}
		tw.flush()
	}
	return 0
}

// when is an API time as local date and time, to the second.
func when(v any) string {
	t, err := time.Parse(time.RFC3339Nano, str(v))
	if err != nil {
		return str(v)
	}
	return t.Local().Format(time.DateTime)
}

func asList(v any) []any { l, _ := v.([]any); return l }

func runRunLogs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("runs logs", runsUsage, stdout, stderr)
	r := c.remote()
	follow := c.fs.Bool("f", false, "follow until the run ends")
	interval := c.fs.Duration("interval", time.Second, "-f: how often to ask")
	if code := c.parse(args); code >= 0 {
		return code
	}
	if len(c.args) != 1 {
		return c.usageError("want one run id")
	}
	id := url.PathEscape(c.args[0])
	cl, _, err := r.connect(ctx)
	if err != nil {
		return c.fail(1, err)
	}
	printed := 0
	for {
		var logs struct {
			RunLogs []struct {
				Message           string    `json:"message"`
				TerminationStatus string    `json:"terminationStatus"`
				CreatedAt         time.Time `json:"createdAt"`
			} `json:"runLogs"`
		}
		if err := cl.Do(ctx, "GET", "/v1/actions/runs/"+id+"/logs", nil, &logs); err != nil {
			if ctx.Err() != nil {
				return 0
			}
			return c.fail(1, err)
		}
		for _, l := range logs.RunLogs[min(printed, len(logs.RunLogs)):] {
			fmt.Fprintln(stdout, l.Message)
		}
		printed = max(printed, len(logs.RunLogs))
		if !*follow {
			return 0
		}
		var got struct {
			Run runInfo `json:"run"`
		}
		if err := cl.Do(ctx, "GET", "/v1/actions/runs/"+id, nil, &got); err == nil && store.RunTerminal(got.Run.Status) {
			// One last read: lines reported with the final status.
			if err := cl.Do(ctx, "GET", "/v1/actions/runs/"+id+"/logs", nil, &logs); err == nil {
				for _, l := range logs.RunLogs[min(printed, len(logs.RunLogs)):] {
					fmt.Fprintln(stdout, l.Message)
				}
			}
			fmt.Fprintf(stderr, "run %s: %s\n", c.args[0], got.Run.Status)
			if got.Run.Status == store.RunSuccess {
				return 0
			}
			return 1
		}
		select {
		case <-ctx.Done():
			return 0
		case <-time.After(*interval):
		}
	}
}

const statusUsage = `usage: pier status [-o text|json|yaml]

What the server is serving: the applied and the last attempted revision,
the reconcile conditions, and each error of a refused revision at its
file:line:col (GET /v1/status).

Exit status: 0 Ready, 1 not ready or refused, 2 a usage error.
`

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("status", statusUsage, stdout, stderr)
	r := c.remote()
	out := c.fs.String("o", "text", "output: text, json or yaml")
	if code := c.parse(args); code >= 0 {
		return code
	}
	if len(c.args) > 0 {
		return c.usageError("unexpected argument %q", c.args[0])
	}
	if !slices.Contains([]string{"text", "json", "yaml"}, *out) {
		return c.usageError("-o %q: want text, json or yaml", *out)
	}
	cl, t, err := r.connect(ctx)
	if err != nil {
		return c.fail(1, err)
	}
	var raw map[string]any
	if err := cl.Do(ctx, "GET", "/v1/status", nil, &raw); err != nil {
		return c.fail(1, err)
	}
	var st struct {
		Status struct {
			Conditions []struct {
				Type, Status, Reason, Message string
				LastTransitionTime            time.Time
			} `json:"conditions"`
			LastAttemptedRevision string              `json:"lastAttemptedRevision"`
			LastAppliedRevision   string              `json:"lastAppliedRevision"`
			LastAttemptedAt       time.Time           `json:"lastAttemptedAt"`
			LastAppliedAt         time.Time           `json:"lastAppliedAt"`
			Errors                catalog.Diagnostics `json:"errors"`
		} `json:"status"`
		Serving struct {
			Revision                                  string
			Blueprints, Entities, Actions, Scorecards int
		} `json:"serving"`
	}
	b, _ := json.Marshal(raw)
	if err := json.Unmarshal(b, &st); err != nil {
		return c.fail(1, fmt.Errorf("GET /v1/status: %w", err))
	}
	ready := false
	for _, cond := range st.Status.Conditions {
		if cond.Type == "Ready" && cond.Status == "True" {
			ready = true
		}
	}
	if *out != "text" {
		if code := c.print(*out, raw); code != 0 {
			return code
		}
	} else {
		w := stdout
		fmt.Fprintf(w, "server:    %s\n", t.Server)
		fmt.Fprintf(w, "applied:   %s", orNone(st.Status.LastAppliedRevision))
		if !st.Status.LastAppliedAt.IsZero() {
			fmt.Fprintf(w, " at %s", st.Status.LastAppliedAt.Local().Format(time.DateTime))
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "attempted: %s", orNone(st.Status.LastAttemptedRevision))
		if !st.Status.LastAttemptedAt.IsZero() {
			fmt.Fprintf(w, " at %s", st.Status.LastAttemptedAt.Local().Format(time.DateTime))
		}
		fmt.Fprintln(w)
		fmt.Fprintf(w, "serving:   %d blueprints, %d entities, %d actions, %d scorecards\n",
			st.Serving.Blueprints, st.Serving.Entities, st.Serving.Actions, st.Serving.Scorecards)
		fmt.Fprintln(w, "conditions:")
		tw := newTable(w)
		for _, cond := range st.Status.Conditions {
			tw.row("  "+cond.Type, cond.Status, cond.Reason, cond.Message)
		}
		tw.flush()
		if len(st.Status.Errors) > 0 {
			fmt.Fprintf(w, "errors of %s:\n", st.Status.LastAttemptedRevision)
			for _, d := range st.Status.Errors {
				fmt.Fprintf(w, "  %s\n", d.String())
			}
		}
	}
	if !ready {
		return 1
	}
	return 0
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
