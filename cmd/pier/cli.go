package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/pierhq/pier/internal/client"
)

// command is how every client subcommand parses its line, so that they
// all keep one convention: --help prints the usage and options on
// stdout and exits 0; a usage error is one line on stderr naming the
// problem and pointing at --help, exit 2. Flags may come before or after
// the positional arguments, as with kubectl.
type command struct {
	name   string // "get", "runs logs"
	usage  string
	fs     *flag.FlagSet
	stdout io.Writer
	stderr io.Writer
	args   []string // the positional arguments, after parse
}

func newCommand(name, usage string, stdout, stderr io.Writer) *command {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &command{name: name, usage: usage, fs: fs, stdout: stdout, stderr: stderr}
}

// parse returns the exit code to stop with, or -1 to go on.
func (c *command) parse(args []string) int {
	for {
		err := c.fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			c.help()
			return 0
		}
		if err != nil {
			return c.usageError("%v", err)
		}
		rest := c.fs.Args()
		if len(rest) == 0 {
			return -1
		}
		if rest[0] == "--" {
			c.args = append(c.args, rest[1:]...)
			return -1
		}
		c.args = append(c.args, rest[0])
		args = rest[1:]
	}
}

func (c *command) help() {
	fmt.Fprint(c.stdout, c.usage)
	n := 0
	c.fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(c.stdout, "\noptions:")
		c.fs.SetOutput(c.stdout)
		c.fs.PrintDefaults()
		c.fs.SetOutput(io.Discard)
	}
}

// usageError prints one line and the pointer to --help; it returns 2.
func (c *command) usageError(format string, a ...any) int {
	fmt.Fprintf(c.stderr, "pier %s: %s\nrun 'pier %s --help' for usage\n", c.name, fmt.Sprintf(format, a...), c.name)
	return 2
}

// fail prints an error of the work itself (not of the command line).
func (c *command) fail(code int, err error) int {
	fmt.Fprintf(c.stderr, "pier %s: %v\n", c.name, err)
	return code
}

// remote is the flags of a command that talks to a pier server.
type remote struct {
	server, context *string
	// clientID and clientSecret, when set, win over the environment and
	// the context (pier run's --client-id).
	clientID, clientSecret string
}

func (c *command) remote() *remote {
	return &remote{
		server:  c.fs.String("server", "", "pier's URL (default $"+client.EnvURL+", the context's, "+client.DefaultServer+")"),
		context: c.fs.String("context", "", "the context of the config file to use (default $"+client.EnvContext+", the current one)"),
	}
}

// connect resolves the target and logs in when there are credentials,
// reusing the context's token while it lasts and saving a new one;
// without credentials, requests are anonymous (what --anonymous-reads
// allows).
func (r *remote) connect(ctx context.Context) (*client.Client, client.Target, error) {
	path := client.ConfigPath(os.Getenv)
	cfg, err := client.LoadConfig(path)
	if err != nil {
		return nil, client.Target{}, err
	}
	t, err := cfg.Resolve(*r.server, *r.context, os.Getenv)
	if err != nil {
		return nil, t, err
	}
	if r.clientID != "" && r.clientID != t.ClientID {
		t.ClientID, t.ClientSecret, t.Token = r.clientID, r.clientSecret, ""
	}
	c := client.New(t.Server)
	if t.ClientID == "" {
		return c, t, nil
	}
	login := func(ctx context.Context) error {
		if err := c.Login(ctx, t.ClientID, t.ClientSecret); err != nil {
			return err
		}
		if x, ok := cfg.Find(t.Context); ok && x.ClientID == t.ClientID && x.Server == c.Base {
			x.Token, x.TokenExpires = c.Token, c.Expires
			// A token not saved is asked for again next time: not an error.
			cfg.Save(path)
		}
		return nil
	}
	if t.Token != "" {
		c.Token, c.Refresh = t.Token, login
		return c, t, nil
	}
	if err := login(ctx); err != nil {
		return nil, t, err
	}
	return c, t, nil
}

func quoteArgs(args []string) string {
	if len(args) == 0 {
		return "none"
	}
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = fmt.Sprintf("%q", a)
	}
	return strings.Join(q, " ")
}
