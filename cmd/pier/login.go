package main

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/pierhq/pier/internal/client"
)

const loginUsage = `usage: pier login [--server URL] [--context NAME] --client-id ID [--client-secret-stdin]

Checks an API client's credentials against a pier server (Port's
POST /v1/auth/access_token), saves them as a context of the config file
($PIER_CLI_CONFIG, else ~/.config/pier/config, written readable by you
only) and makes it the current context. The secret is read from
$PIER_API_CLIENT_SECRET or, with --client-secret-stdin, from the first
line of standard input; it is never taken from the command line.
`

func runLogin(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := newCommand("login", loginUsage, stdout, stderr)
	server := c.fs.String("server", "", "pier's URL (default $"+client.EnvURL+", else "+client.DefaultServer+")")
	name := c.fs.String("context", "", "the context's name (default the server's host:port)")
	id := c.fs.String("client-id", os.Getenv(client.EnvClientID), "the API client id (default $"+client.EnvClientID+")")
	fromStdin := c.fs.Bool("client-secret-stdin", false, "read the secret from standard input")
	if code := c.parse(args); code >= 0 {
		return code
	}
	if len(c.args) > 0 {
		return c.usageError("unexpected argument %q", c.args[0])
	}
	if *id == "" {
		return c.usageError("--client-id is required (the browser sign-in is not available to the CLI yet)")
	}
	secret := os.Getenv(client.EnvClientSecret)
	if *fromStdin {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return c.fail(2, fmt.Errorf("read the secret from standard input: %v", err))
		}
		secret = strings.TrimRight(line, "\r\n")
	}
	if secret == "" {
		return c.usageError("no secret: set $%s or pass --client-secret-stdin", client.EnvClientSecret)
	}
	base := cmp.Or(*server, os.Getenv(client.EnvURL), client.DefaultServer)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c.usageError("--server %q: want an http or https URL", base)
	}
	cl := client.New(base)
	if err := cl.Login(ctx, *id, secret); err != nil {
		return c.fail(1, err)
	}
	var me struct {
		User struct {
			Login string `json:"login"`
		} `json:"user"`
	}
	who := *id
	if err := cl.Do(ctx, "GET", "/v1/me", nil, &me); err == nil && me.User.Login != "" && me.User.Login != *id {
		who = me.User.Login + " (client " + *id + ")"
	}
	path := client.ConfigPath(os.Getenv)
	cfg, err := client.LoadConfig(path)
	if err != nil {
		return c.fail(1, err)
	}
	ctxName := cmp.Or(*name, u.Host)
	cfg.Set(client.Context{Name: ctxName, Server: cl.Base, ClientID: *id, ClientSecret: secret, Token: cl.Token, TokenExpires: cl.Expires})
	cfg.CurrentContext = ctxName
	if err := cfg.Save(path); err != nil {
		return c.fail(1, err)
	}
	fmt.Fprintf(stdout, "logged in to %s as %s (context %s, saved in %s)\n", cl.Base, who, ctxName, path)
	return 0
}

const contextUsage = `usage: pier context [list | use NAME | current]

Lists the config file's contexts (the current one marked *), or makes
NAME the current one.
`

func runContext(args []string, stdout, stderr io.Writer) int {
	c := newCommand("context", contextUsage, stdout, stderr)
	if code := c.parse(args); code >= 0 {
		return code
	}
	path := client.ConfigPath(os.Getenv)
	cfg, err := client.LoadConfig(path)
	if err != nil {
		return c.fail(1, err)
	}
	verb := "list"
	if len(c.args) > 0 {
		verb = c.args[0]
	}
	switch {
	case verb == "list" && len(c.args) <= 1:
		tw := newTable(stdout)
		tw.row("CURRENT", "NAME", "SERVER", "CLIENT")
		for _, x := range cfg.Contexts {
			cur := ""
			if x.Name == cfg.CurrentContext {
				cur = "*"
			}
			tw.row(cur, x.Name, x.Server, x.ClientID)
		}
		tw.flush()
		return 0
	case verb == "current" && len(c.args) == 1:
		if cfg.CurrentContext == "" {
			return c.fail(1, fmt.Errorf("no current context (pier login sets one)"))
		}
		fmt.Fprintln(stdout, cfg.CurrentContext)
		return 0
	case verb == "use" && len(c.args) == 2:
		if _, ok := cfg.Find(c.args[1]); !ok {
			return c.fail(1, fmt.Errorf("no context %q in %s", c.args[1], path))
		}
		cfg.CurrentContext = c.args[1]
		if err := cfg.Save(path); err != nil {
			return c.fail(1, err)
		}
		fmt.Fprintf(stdout, "current context: %s\n", c.args[1])
		return 0
	}
	return c.usageError("want list, current or use NAME; got %s", strings.Join(c.args, " "))
}
