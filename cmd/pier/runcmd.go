package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/client"
	"github.com/pierhq/pier/internal/store"
)

const runUsage = `usage: pier run ACTION [--entity ID] [--input NAME=VALUE ...] [--wait]

Asks a pier server to run a self-service action (Port's
POST /v1/actions/ACTION/runs) and prints the run. A VALUE that is JSON (a
number, true, an object) is sent as that; anything else as a string.
The server and credentials are the current context's (pier login), or
--server (--url) or $PIER_URL, --client-id/--client-secret or
$PIER_API_CLIENT_ID and $PIER_API_CLIENT_SECRET (not PIER_CLIENT_ID,
which is pier serve's --client-id).

Exit status: 0 requested (with --wait: succeeded), 1 the run failed,
was declined, expired or was cancelled, 2 a bad request.

options:
`

// inputs collects repeated --input NAME=VALUE flags.
type inputs map[string]any

func (in inputs) String() string { return "" }

func (in inputs) Set(s string) error {
	name, val, ok := strings.Cut(s, "=")
	if !ok || name == "" {
		return fmt.Errorf("%q: want NAME=VALUE", s)
	}
	in[name] = jsonOrString(val)
	return nil
}

// jsonOrString is val as JSON when it is one JSON value (a number, true,
// an object), else val itself: what a person typing NAME=VALUE means.
func jsonOrString(val string) any {
	dec := json.NewDecoder(strings.NewReader(val))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err == nil && !dec.More() {
		if _, err := dec.Token(); err == io.EOF {
			return v
		}
	}
	return val
}

// runRun implements `pier run`.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("run", runUsage, stdout, stderr)
	r := c.remote()
	c.fs.StringVar(r.server, "url", "", "the same as --server")
	in := inputs{}
	entity := c.fs.String("entity", "", "the entity a DAY-2 or DELETE action runs on")
	clientID := c.fs.String("client-id", "", "API client id (default $"+client.EnvClientID+", the context's)")
	clientSecret := c.fs.String("client-secret", "", "API client secret (default $"+client.EnvClientSecret+")")
	wait := c.fs.Bool("wait", false, "wait until the run finishes, printing each change")
	timeout := c.fs.Duration("timeout", 30*time.Minute, "give up waiting after this long")
	c.fs.Var(in, "input", "an input, NAME=VALUE (repeatable)")
	if code := c.parse(args); code >= 0 {
		return code
	}
	if len(c.args) != 1 {
		return c.usageError("want one action, got %s", quoteArgs(c.args))
	}
	action := c.args[0]
	if *clientID != "" {
		// Flags win over the context: set them as the environment would.
		r.clientID, r.clientSecret = *clientID, cmp.Or(*clientSecret, os.Getenv(client.EnvClientSecret))
	}
	cl, _, err := r.connect(ctx)
	if err != nil {
		return c.fail(2, err)
	}
	body := map[string]any{"properties": map[string]any(in)}
	if *entity != "" {
		body["entity"] = *entity
	}
	var out struct {
		Run     runInfo `json:"run"`
		Message string  `json:"message"`
		Field   string  `json:"field"`
	}
	code, err := cl.DoStatus(ctx, "POST", "/v1/actions/"+url.PathEscape(action)+"/runs", body, &out)
	if err != nil {
		return c.fail(2, err)
	}
	if code != http.StatusAccepted {
		return c.fail(2, &client.Error{Status: code, Message: out.Message, Field: out.Field})
	}
	run := out.Run
	fmt.Fprintf(stdout, "run %s of %s: %s\n", run.ID, action, run.Status)
	if !*wait {
		printApproval(stdout, run)
		fmt.Fprintf(stdout, "follow it: %s/v1/actions/runs/%s\n", cl.Base, run.ID)
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	last, shown := run.Status, false
	for {
		if !shown && run.Approval != nil && run.Approval.URL != "" {
			printApproval(stdout, run)
			shown = true
		}
		if store.RunTerminal(run.Status) {
			if run.Summary != "" {
				fmt.Fprintf(stdout, "summary: %s\n", run.Summary)
			}
			if run.Status == store.RunSuccess {
				return 0
			}
			return 1
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(stderr, "pier run: run %s still %s: %v\n", run.ID, run.Status, ctx.Err())
			return 1
		case <-time.After(time.Second):
		}
		var got struct {
			Run runInfo `json:"run"`
		}
		if err := cl.Do(ctx, "GET", "/v1/actions/runs/"+run.ID, nil, &got); err != nil {
			continue // the server restarting is not the run failing
		}
		run = got.Run
		if run.Status != last {
			line := run.Status
			if len(run.Link) > 0 {
				line += " " + run.Link[0]
			}
			fmt.Fprintf(stdout, "  %s\n", line)
			last = run.Status
		}
	}
}

type runInfo struct {
	ID       string   `json:"id"`
	Status   string   `json:"status"`
	Link     []string `json:"link"`
	Summary  string   `json:"summary"`
	Approval *struct {
		URL       string    `json:"url"`
		Required  int       `json:"required"`
		ExpiresAt time.Time `json:"expiresAt"`
	} `json:"approval"`
}

func printApproval(w io.Writer, run runInfo) {
	if run.Status == store.RunWaitingForApproval && run.Approval != nil && run.Approval.URL != "" {
		fmt.Fprintf(w, "waiting for %d approval(s) by %s: %s\n", run.Approval.Required, run.Approval.ExpiresAt.Local().Format("2006-01-02 15:04"), run.Approval.URL)
	}
}
