package runs

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/outbox"
	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/store"
)

// EventRunUpdated is the outbound event of a run's change, Port's name.
const EventRunUpdated = "RUN_UPDATED"

// noteApprovalRequested begins the note of the event that records an
// approval request opened (followed by where to find it): besides status
// changes, the one event that is told.
const noteApprovalRequested = "approval requested: "

// actionSubscription is the outbox subscription id of an action's
// approvalNotification target.
func actionSubscription(action string) string { return "action:" + action }

// NotificationSubscriptions returns an outbox subscription for every
// action that names a webhook to tell of its approval requests and
// outcomes. The daemon serves them with the catalog's webhooks, so that
// the outbox worker can find where to send.
func NotificationSubscriptions(actions map[string]*catalog.Action) []outbox.Subscription {
	var subs []outbox.Subscription
	for _, id := range slices.Sorted(maps.Keys(actions)) {
		n := actions[id].ApprovalNotification
		if n != nil && n.Type == "webhook" && n.URL != "" {
			subs = append(subs, outbox.Subscription{ID: actionSubscription(id), URL: n.URL, Addressed: true})
		}
	}
	return subs
}

// Notifier builds the outbound deliveries of run events: to the action's
// approvalNotification webhook (as JSON or in Slack's incoming-webhook
// format) and to every catalog webhook subscribed to RUN_UPDATED.
type Notifier struct {
	// Subscriptions returns the catalog's webhook subscriptions.
	Subscriptions func() []outbox.Subscription
	// RunURL links to a run.
	RunURL func(id string) string
	Now    func() time.Time
}

// RunPayload is the JSON body of a RUN_UPDATED delivery.
type RunPayload struct {
	EventType  string         `json:"eventType"`
	Action     map[string]any `json:"action"`
	Run        store.Run      `json:"run"`
	Event      store.RunEvent `json:"event"`
	Link       string         `json:"link"`
	DeliveryID string         `json:"deliveryId"`
	Timestamp  time.Time      `json:"timestamp"`
}

// Deliveries implements Options.Notify. Only status changes and approval
// requests are told; notes on the way are not.
func (n Notifier) Deliveries(run store.Run, ev store.RunEvent, a *catalog.Action) []record.Delivery {
	if ev.To == "" && !strings.HasPrefix(ev.Note, noteApprovalRequested) {
		return nil
	}
	now := time.Now()
	if n.Now != nil {
		now = n.Now()
	}
	var out []record.Delivery
	add := func(sub, url string, slack bool) {
		id := deliveryID(run, sub)
		var v any = RunPayload{
			EventType: EventRunUpdated, Action: map[string]any{"identifier": a.Identifier, "title": a.Title},
			Run: run, Event: ev, Link: n.RunURL(run.ID), DeliveryID: id, Timestamp: now.UTC(),
		}
		if slack {
			v = map[string]string{"text": n.slackText(run, ev, a)}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // Slack's <url|text> links stay readable
		enc.Encode(v)
		body := bytes.TrimSpace(buf.Bytes())
		out = append(out, record.Delivery{ID: id, Subscription: sub, URL: url, Event: EventRunUpdated, Body: body,
			State: record.Pending, NextAt: now.UTC(), CreatedAt: now.UTC()})
	}
	if nt := a.ApprovalNotification; nt != nil && nt.Type == "webhook" && nt.URL != "" {
		add(actionSubscription(a.Identifier), nt.URL, nt.Format == "slack")
	}
	if n.Subscriptions != nil {
		for _, s := range n.Subscriptions() {
			// RUN_UPDATED only to those that ask for it by name: an
			// entity-events webhook without a filter does not.
			if len(s.Events) > 0 && s.Matches(EventRunUpdated, run.Blueprint) {
				add(s.ID, s.URL, false)
			}
		}
	}
	return out
}

// deliveryID derives from the run's version, so that a write retried
// after losing a race makes the same ids.
func deliveryID(run store.Run, sub string) string {
	h := sha256.Sum256([]byte(run.ID + "\x00" + strconv.FormatInt(run.Version, 10) + "\x00" + sub))
	return "run_" + hex.EncodeToString(h[:12])
}

// slackText is a one-line message for Slack's incoming webhooks.
func (n Notifier) slackText(run store.Run, ev store.RunEvent, a *catalog.Action) string {
	title := cmp.Or(a.Title, a.Identifier)
	on := ""
	if run.Entity != "" {
		on = " on " + run.Entity
	}
	link := fmt.Sprintf("<%s|%s>", n.RunURL(run.ID), run.ID)
	switch ev.To {
	case "":
		url := ""
		if run.Approval != nil {
			url = run.Approval.URL
		}
		return fmt.Sprintf(":raising_hand: %s asks to run *%s*%s (%s). Approve here: %s", run.Requester, title, on, link, url)
	case store.RunWaitingForApproval:
		return fmt.Sprintf(":hourglass: *%s*%s requested by %s is waiting for approval (%s)", title, on, run.Requester, link)
	}
	msg := fmt.Sprintf("*%s*%s requested by %s: %s (%s)", title, on, run.Requester, strings.ToLower(strings.ReplaceAll(ev.To, "_", " ")), link)
	if ev.Note != "" {
		msg += " — " + ev.Note
	}
	return msg
}
