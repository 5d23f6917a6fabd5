package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-github/v62/github"

	"github.com/pierhq/pier/internal/githubfake/examples"
)

// fuzzMaxBody is small enough that the fuzzer reaches the size limit.
const fuzzMaxBody = 8 << 10

// Signature modes of FuzzWebhook: how the delivery is signed.
const (
	sigValid = iota
	sigWrongSecret
	sigFlipped // the right MAC with one hex digit changed
	sigMissing
	sigGarbage // the fuzzer's own header text
	sigModes
)

// FuzzWebhook drives the real Handler with arbitrary payloads, event
// names, delivery ids and signatures. The payload travels as GitHub sends
// it, as application/json or form-encoded in payload=, signed over the
// wire body; so the target does not depend on how other content types
// are answered. It checks that:
//
//   - no delivery is answered 5xx (the handler succeeds at once), and
//     every answer is JSON {status, message};
//   - a body over MaxBody is 413 and never reaches the handler;
//   - a wrong, missing or garbled signature is 401 and never reaches the
//     handler, nor burns the delivery id;
//   - a signed delivery with both headers of a handled event whose JSON
//     go-github parses is 202, the handler getting exactly that event,
//     id and payload; redelivered, it is a 200 duplicate that the
//     handler does not see; a payload go-github refuses is 400;
//   - PushBranch of a parsed push names the branch of its ref.
//
// go test -run='^$' -fuzz='^FuzzWebhook$' -fuzztime=60s ./internal/webhook/
func FuzzWebhook(f *testing.F) {
	for _, name := range []string{"ping.json", "pull_request.closed.json", "pull_request.opened.json", "pull_request.synchronize.json",
		"pull_request_review.dismissed.json", "pull_request_review.submitted.json", "push.1.json", "push.json",
		"push.with-new-branch.json", "workflow_job.completed.success.with-organization.json", "workflow_run.completed.json",
		"workflow_run.requested.json"} {
		body := examples.Load(name)
		if len(body) > fuzzMaxBody {
			// Keep the example under the limit: its shape, not its size, is the seed.
			var v map[string]any
			if json.Unmarshal(body, &v) == nil {
				for _, k := range []string{"repository", "sender", "organization", "installation", "enterprise"} {
					delete(v, k)
				}
				body, _ = json.Marshal(v)
			}
		}
		event, _, _ := strings.Cut(name, ".")
		f.Add(body, event, "72d3162e-cc78-11e3-81ab-4c9367dc0958", uint8(sigValid), false, "")
		f.Add(body, event, "d-1", uint8(sigFlipped), true, "")
	}
	f.Add([]byte(`{"ref":"refs/heads/main","after":"0000000000000000000000000000000000000000","deleted":true}`), "push", "d", uint8(sigValid), true, "")
	f.Add([]byte(`{"ref":"refs/tags/v1","after":"abc"}`), "push", "d", uint8(sigValid), false, "")
	f.Add([]byte(`{"ref":5}`), "push", "d", uint8(sigValid), false, "")
	f.Add([]byte(`not json`), "pull_request", "d", uint8(sigValid), true, "")
	f.Add([]byte(`{}`), "push", "", uint8(sigValid), false, "")
	f.Add([]byte(`{}`), "", "d", uint8(sigValid), false, "")
	f.Add([]byte(`{}`), "issues", "d", uint8(sigValid), false, "")
	f.Add([]byte(`{}`), "push", "d", uint8(sigGarbage), false, "sha256=00")
	f.Add([]byte(`{}`), "push", "d", uint8(sigMissing), false, "")
	f.Add(bytes.Repeat([]byte(" "), fuzzMaxBody+1), "push", "d", uint8(sigValid), false, "")

	f.Fuzz(func(t *testing.T, payload []byte, event, id string, mode uint8, form bool, garbage string) {
		mode %= sigModes
		var got []Delivery
		h := New(Options{Secret: secret, MaxBody: fuzzMaxBody})
		for _, ev := range []string{"push", "pull_request", "pull_request_review", "workflow_run", "workflow_job"} {
			h.On(ev, func(_ context.Context, d Delivery) error {
				got = append(got, d)
				if e, ok := d.Payload.(*github.PushEvent); ok {
					if b, ok := PushBranch(e); ok && (b == "" || e.GetRef() != "refs/heads/"+b) {
						t.Errorf("PushBranch of ref %q = %q", e.GetRef(), b)
					}
				}
				return nil
			})
		}

		body, ctype := payload, "application/json"
		if form {
			body, ctype = []byte(url.Values{"payload": {string(payload)}}.Encode()), "application/x-www-form-urlencoded"
		}
		sig := sign(body, secret)
		switch mode {
		case sigWrongSecret:
			sig = sign(body, []byte("not the secret"))
		case sigFlipped:
			i := len("sha256=") + int((id + event + "x")[0])%64
			flip := byte('0')
			if sig[i] == '0' {
				flip = '1'
			}
			sig = sig[:i] + string(flip) + sig[i+1:]
		case sigMissing:
			sig = ""
		case sigGarbage:
			sig = garbage
		}
		authentic := validSignature(sig, body, secret)
		if mode != sigValid && mode != sigGarbage && authentic {
			t.Fatalf("mode %d made a valid signature", mode)
		}

		serve := func() (int, answer) {
			r := httptest.NewRequest(http.MethodPost, Path, bytes.NewReader(body))
			r.Header.Set("Content-Type", ctype)
			r.Header.Set("X-GitHub-Event", event)
			r.Header.Set("X-GitHub-Delivery", id)
			if sig != "" {
				r.Header.Set("X-Hub-Signature-256", sig)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			var a answer
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Fatalf("answer %d has Content-Type %q", w.Code, ct)
			}
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || a.Status == "" || a.Message == "" {
				t.Fatalf("answer %d is not {status, message}: %q", w.Code, w.Body)
			}
			if w.Code >= 500 {
				t.Fatalf("answer %d %+v", w.Code, a)
			}
			return w.Code, a
		}
		code, a := serve()
		// What GitHub's own headers and parser say the delivery is.
		raw := payload
		handled := event == "push" || event == "pull_request" || event == "pull_request_review" || event == "workflow_run" || event == "workflow_job"
		_, perr := github.ParseWebHook(event, raw)
		switch {
		case len(body) > fuzzMaxBody:
			if code != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d-byte body: %d %+v, want 413", len(body), code, a)
			}
		case !authentic:
			if code != http.StatusUnauthorized {
				t.Fatalf("signature %q: %d %+v, want 401", sig, code, a)
			}
		case event == "" || id == "":
			if code != http.StatusBadRequest {
				t.Fatalf("event %q id %q: %d %+v, want 400", event, id, code, a)
			}
		case event == "ping":
			if code != http.StatusOK {
				t.Fatalf("ping: %d %+v", code, a)
			}
		case !handled:
			if code != http.StatusOK || a.Status != statusIgnored {
				t.Fatalf("unhandled %q: %d %+v, want 200 ignored", event, code, a)
			}
		case form && len(payload) == 0:
			if code != http.StatusBadRequest {
				t.Fatalf("form without payload: %d %+v, want 400", code, a)
			}
		case perr != nil:
			if code != http.StatusBadRequest || !strings.Contains(a.Message, event) {
				t.Fatalf("go-github refuses the payload (%v): %d %+v, want 400 naming the event", perr, code, a)
			}
		default:
			if code != http.StatusAccepted || len(got) != 1 {
				t.Fatalf("%s delivery: %d %+v, handler called %d times; want 202 once", event, code, a, len(got))
			}
			if d := got[0]; d.ID != id || d.Event != event || !bytes.Equal(d.Raw, raw) || d.Payload == nil {
				t.Fatalf("handler got id %q event %q payload %T raw %q", d.ID, d.Event, d.Payload, d.Raw)
			}
			if code, a := serve(); code != http.StatusOK || a.Status != statusDuplicate || len(got) != 1 {
				t.Fatalf("redelivery: %d %+v, handler called %d times; want 200 duplicate", code, a, len(got))
			}
			return
		}
		if len(got) != 0 {
			t.Fatalf("answered %d, yet the handler ran", code)
		}
		if !authentic && len(body) <= fuzzMaxBody && event != "" && id != "" {
			// A forged delivery must not burn the id of the genuine one.
			if seen, _ := h.opts.Deliveries.Seen(context.Background(), id, h.opts.Now()); seen {
				t.Fatalf("a forged delivery recorded id %q", id)
			}
		}
	})
}
