package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pierhq/pier/internal/outbox"
	"github.com/pierhq/pier/internal/runs"
)

const receiveUsage = `usage: pier receive [--listen ADDR] [--secret S]...

Listens for what pier sends — WEBHOOK action invocations, run
notifications, outbound catalog events — and prints each request, with
its signature checked when --secret is given (repeat it for senders with
different secrets: a request signed with any of them is valid): what you
need to develop a webhook action on your machine, without the receiving
service.

options:
`

// runReceive implements `pier receive`.
func runReceive(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newCommand("receive", strings.TrimSuffix(receiveUsage, "options:\n"), stdout, stderr)
	fs := c.fs
	listen := fs.String("listen", "127.0.0.1:9999", "address to listen on")
	var secrets secretList
	fs.Var(&secrets, "secret", "a secret the requests are signed with (Port's x-port-signature or pier's X-Pier-Signature); repeatable")
	status := fs.Int("status", http.StatusOK, "status to answer with")
	if code := c.parse(args); code >= 0 {
		return code
	}
	if len(c.args) > 0 {
		return c.usageError("unexpected argument %q", c.args[0])
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "pier receive: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "pier receive: listening on http://%s\n", ln.Addr())
	var mu sync.Mutex
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stdout, "\n%s %s %s\n", time.Now().Format("15:04:05"), r.Method, r.URL.RequestURI())
		for _, h := range []string{"X-Pier-Event", "X-Pier-Delivery", "X-Run"} {
			if v := r.Header.Get(h); v != "" {
				fmt.Fprintf(stdout, "  %s: %s\n", h, v)
			}
		}
		if len(secrets) > 0 {
			fmt.Fprintf(stdout, "  signature: %s\n", checkSignature(secrets, r.Header, body))
		}
		var pretty bytes.Buffer
		if json.Indent(&pretty, body, "  ", "  ") == nil {
			body = pretty.Bytes()
		}
		fmt.Fprintf(stdout, "  %s\n", body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(*status)
		io.WriteString(w, `{"ok": true}`)
	})}
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "pier receive: %v\n", err)
		return 1
	}
	return 0
}

// secretList is a repeated flag.
type secretList []string

func (l *secretList) String() string     { return strings.Join(*l, ",") }
func (l *secretList) Set(v string) error { *l = append(*l, v); return nil }

// checkSignature verifies whichever of the two signature schemes the
// request carries, with any of the secrets.
func checkSignature(secrets []string, h http.Header, body []byte) string {
	ts, sig := h.Get(runs.HeaderPortTimestamp), h.Get(runs.HeaderPortSignature)
	if sig == "" {
		ts, sig = h.Get(outbox.HeaderTimestamp), h.Get(outbox.HeaderSignature)
	}
	if sig == "" {
		return "MISSING"
	}
	var err error
	for _, secret := range secrets {
		if err = outbox.Verify(secret, ts, sig, body, time.Now(), 0); err == nil {
			return "valid"
		}
	}
	return "BAD (" + err.Error() + ")"
}
