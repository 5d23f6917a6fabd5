package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/store"
)

const runUsage = `usage: pier run ACTION [--entity ID] [--input NAME=VALUE ...] [--wait]

Asks a pier server to run a self-service action (Port's
POST /v1/actions/ACTION/runs) and prints the run. A VALUE that is JSON (a
number, true, an object) is sent as that; anything else as a string.
Credentials come from --client-id/--client-secret or PIER_CLIENT_ID and
PIER_CLIENT_SECRET; the server from --url or PIER_URL.

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
	dec := json.NewDecoder(strings.NewReader(val))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err == nil && !dec.More() {
		if _, err := dec.Token(); err == io.EOF {
			in[name] = v
			return nil
		}
	}
	in[name] = val
	return nil
}

// runRun implements `pier run`.
func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	in := inputs{}
	url := fs.String("url", cmp.Or(os.Getenv("PIER_URL"), "http://127.0.0.1:8080"), "pier's URL")
	entity := fs.String("entity", "", "the entity a DAY-2 or DELETE action runs on")
	clientID := fs.String("client-id", os.Getenv("PIER_CLIENT_ID"), "API client id")
	clientSecret := fs.String("client-secret", "", "API client secret (default $PIER_CLIENT_SECRET)")
	wait := fs.Bool("wait", false, "wait until the run finishes, printing each change")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up waiting after this long")
	fs.Var(in, "input", "an input, NAME=VALUE (repeatable)")
	fs.Usage = func() { fmt.Fprint(stderr, runUsage); fs.PrintDefaults() }
	// The action comes first, the options after it.
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(stdout, runUsage)
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fs.Usage()
		return 2
	}
	action := args[0]
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "pier run: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *clientSecret == "" {
		*clientSecret = os.Getenv("PIER_CLIENT_SECRET")
	}
	c := &apiClient{base: strings.TrimSuffix(*url, "/"), http: &http.Client{Timeout: 30 * time.Second}}
	if *clientID != "" {
		if err := c.login(ctx, *clientID, *clientSecret); err != nil {
			fmt.Fprintf(stderr, "pier run: %v\n", err)
			return 2
		}
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
	code, err := c.do(ctx, "POST", "/v1/actions/"+action+"/runs", body, &out)
	if err != nil {
		fmt.Fprintf(stderr, "pier run: %v\n", err)
		return 2
	}
	if code != http.StatusAccepted {
		where := ""
		if out.Field != "" {
			where = " (" + out.Field + ")"
		}
		fmt.Fprintf(stderr, "pier run: %s%s: %s\n", http.StatusText(code), where, out.Message)
		return 2
	}
	run := out.Run
	fmt.Fprintf(stdout, "run %s of %s: %s\n", run.ID, action, run.Status)
	if !*wait {
		printApproval(stdout, run)
		fmt.Fprintf(stdout, "follow it: %s/v1/actions/runs/%s\n", c.base, run.ID)
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
		if code, err := c.do(ctx, "GET", "/v1/actions/runs/"+run.ID, nil, &got); err != nil || code != 200 {
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

// apiClient is the little of pier's API the CLI uses.
type apiClient struct {
	base  string
	http  *http.Client
	token string
}

func (c *apiClient) login(ctx context.Context, id, secret string) error {
	var out struct {
		AccessToken string `json:"accessToken"`
		Message     string `json:"message"`
	}
	code, err := c.do(ctx, "POST", "/v1/auth/access_token", map[string]string{"clientId": id, "clientSecret": secret}, &out)
	if err != nil {
		return err
	}
	if code != 200 {
		return fmt.Errorf("log in as %s: %s", id, out.Message)
	}
	c.token = out.AccessToken
	return nil
}

func (c *apiClient) do(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // the URL is said once, here
		}
		return 0, fmt.Errorf("%s %s: %w", method, c.base+path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<20)).Decode(out); err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s answered %s that is not pier's JSON: %w", method, path, resp.Status, err)
	}
	return resp.StatusCode, nil
}
