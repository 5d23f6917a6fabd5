// Package client is the command line's way into a pier server: every CLI
// action is a request to the HTTP API with the caller's token, so what
// the CLI may do is exactly what the API's permission check allows, and
// there is no second door around it.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client talks to one pier server.
type Client struct {
	Base  string
	HTTP  *http.Client
	Token string
	// Expires is when Token stops working (zero: unknown).
	Expires time.Time
	// Refresh, when set, gets a new Token after the server refuses the
	// one held (a cached token the server no longer knows, after a
	// restart or a revocation); the request is then sent once more.
	Refresh func(ctx context.Context) error
}

// New returns a client of the server at base (trailing slash dropped).
func New(base string) *Client {
	return &Client{Base: strings.TrimSuffix(base, "/"), HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// Error is a non-2xx answer, carrying pier's message and the field it
// names so the CLI can print what the API said rather than a status code.
type Error struct {
	Method, Path string
	Status       int
	Kind         string `json:"error"`
	Message      string `json:"message"`
	Field        string `json:"field"`
}

func (e *Error) Error() string {
	where := ""
	if e.Field != "" {
		where = " (" + e.Field + ")"
	}
	msg := e.Message
	if msg == "" {
		msg = e.Kind
	}
	return fmt.Sprintf("%s%s: %s", http.StatusText(e.Status), where, msg)
}

// Login exchanges API client credentials for a token (Port's
// POST /v1/auth/access_token) and keeps it for later requests.
func (c *Client) Login(ctx context.Context, id, secret string) error {
	var out struct {
		AccessToken string `json:"accessToken"`
		ExpiresIn   int    `json:"expiresIn"`
	}
	c.Token = "" // a refused token must not ride along with the secret
	if err := c.Do(ctx, "POST", "/v1/auth/access_token", map[string]string{"clientId": id, "clientSecret": secret}, &out); err != nil {
		return fmt.Errorf("log in as %s: %w", id, err)
	}
	c.Token = out.AccessToken
	c.Expires = time.Time{}
	if out.ExpiresIn > 0 {
		c.Expires = time.Now().Add(time.Duration(out.ExpiresIn) * time.Second)
	}
	return nil
}

// Do sends body as JSON and decodes the answer into out; an answer that
// is not 2xx is an *Error.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	code, raw, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	if code < 200 || code > 299 {
		e := &Error{Method: method, Path: path, Status: code}
		json.Unmarshal(raw, e) // a body that is not pier's JSON leaves the status to speak
		return e
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s answered %d with what is not pier's JSON: %w", method, path, code, err)
	}
	return nil
}

// DoStatus is Do that also decodes a refusal's body into out, for callers
// that read fields of an error answer (pier run's field of a 422).
func (c *Client) DoStatus(ctx context.Context, method, path string, body, out any) (int, error) {
	code, raw, err := c.send(ctx, method, path, body)
	if err != nil {
		return 0, err
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return code, fmt.Errorf("%s %s answered %d with what is not pier's JSON: %w", method, path, code, err)
	}
	return code, nil
}

func (c *Client) send(ctx context.Context, method, path string, body any) (int, []byte, error) {
	code, raw, err := c.send1(ctx, method, path, body)
	if err == nil && code == http.StatusUnauthorized && c.Token != "" && c.Refresh != nil {
		refresh := c.Refresh
		c.Refresh = nil // once
		if err := refresh(ctx); err != nil {
			return 0, nil, err
		}
		return c.send1(ctx, method, path, body)
	}
	return code, raw, err
}

func (c *Client) send1(ctx context.Context, method, path string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.Base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // the URL is said once, here
		}
		return 0, nil, fmt.Errorf("%s %s: %w", method, c.Base+path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("%s %s: %w", method, c.Base+path, err)
	}
	return resp.StatusCode, raw, nil
}
