package outbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Request headers.
const (
	HeaderDelivery  = "X-Pier-Delivery"
	HeaderEvent     = "X-Pier-Event"
	HeaderTimestamp = "X-Pier-Timestamp"
	HeaderSignature = "X-Pier-Signature"
)

const signatureVersion = "v1,"

// Sign returns the X-Pier-Signature value for body sent at timestamp
// (seconds since the epoch): "v1," and the standard Base64 of the
// HMAC-SHA256 of timestamp + "." + body keyed with secret, as Port signs
// its webhooks.
func Sign(secret string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(timestamp, 10)))
	m.Write([]byte{'.'})
	m.Write(body)
	return signatureVersion + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is returned by Verify for a missing, malformed, wrong or
// stale signature.
var ErrBadSignature = errors.New("outbox: bad webhook signature")

// Verify checks the X-Pier-Timestamp and X-Pier-Signature header values
// of a request whose raw body is body, for receivers written in Go. A
// timestamp further than tolerance from now is refused, against replays;
// tolerance 0 means five minutes.
func Verify(secret, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = 5 * time.Minute
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not a number", ErrBadSignature, timestamp)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: timestamp is %s from now", ErrBadSignature, d.Round(time.Second))
	}
	if !hmac.Equal([]byte(signature), []byte(Sign(secret, ts, body))) {
		return fmt.Errorf("%w: signature does not match", ErrBadSignature)
	}
	return nil
}
