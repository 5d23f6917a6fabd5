package store

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/pierhq/pier/internal/catalog"
)

// Replication is what replicas of pier serve share through a store that
// several processes open at once (PostgreSQL): the leader's lease, the
// notifications that wake the others, and the changes they follow. A
// SQLite store has one process and no Replication.
type Replication interface {
	Leases
	// Listen calls fn with every notification until ctx ends or the
	// connection is lost (an error): a listener that comes back must
	// catch up, since what was sent meanwhile is gone. ready is called
	// once the store listens, before any notification.
	Listen(ctx context.Context, ready func(), fn func(Notification)) error
	// Notify sends n to every listener (pier's own writes notify in
	// their transaction; this is for what is not a write: a push to
	// look at, a reconcile asked for).
	Notify(ctx context.Context, n Notification) error
	// ChangesSince returns what revisions applied after the one of
	// sequence number seq changed, up to the newest applied one.
	ChangesSince(ctx context.Context, seq int64) (*Changes, error)
	// RuntimesSince returns the runtime values written after the write
	// numbered seq (Runtime.Seq), cleared ones with no Properties.
	RuntimesSince(ctx context.Context, seq int64) ([]Runtime, error)
	// RuntimeSeq is the number of the newest runtime write.
	RuntimeSeq(ctx context.Context) (int64, error)
}

// Leases keep who leads. A lease is taken for a time and renewed before
// it runs out; its epoch grows each time it changes hands or lapses, and
// the leader's writes carry the epoch they were made under (a Fence),
// checked in the same transaction.
type Leases interface {
	// TakeLease takes the lease for holder, or renews it, for ttl by the
	// store's clock, if it is free, lapsed or holder's already. held is
	// false when another holder has it; lease says who.
	TakeLease(ctx context.Context, holder, addr string, ttl time.Duration) (lease Lease, held bool, err error)
	// ReleaseLease gives the lease up, if holder still has it at epoch,
	// so that another replica takes it without waiting for it to lapse.
	ReleaseLease(ctx context.Context, holder string, epoch int64) error
	// Lease says who holds the lease (ErrNotFound before anyone took
	// it); a lapsed lease is returned with its ExpiresAt in the past.
	Lease(ctx context.Context) (Lease, error)
}

// Lease is the leader's lease as the store keeps it.
type Lease struct {
	Holder    string    `json:"holder"`
	Addr      string    `json:"addr,omitempty"` // where the holder serves, for people and replicas
	Epoch     int64     `json:"epoch"`
	RenewedAt time.Time `json:"renewedAt"`
	ExpiresAt time.Time `json:"expiresAt"`
	// Now is the store's clock when the lease was read, to compare
	// ExpiresAt with.
	Now time.Time `json:"-"`
}

// Live reports whether the lease had not lapsed when it was read.
func (l Lease) Live() bool { return l.Holder != "" && l.ExpiresAt.After(l.Now) }

// Notification kinds.
const (
	// NotifyRevision: a revision was applied (Seq is its number).
	NotifyRevision = "revision"
	// NotifyRuntime: runtime values were written (Seq is the write's
	// number, Blueprint and ID the entity).
	NotifyRuntime = "runtime"
	// NotifyRun: a run was created or changed by a replica that does not
	// lead (ID): the leader moves it along.
	NotifyRun = "run"
	// NotifyPush: a push webhook reached a replica that does not lead.
	NotifyPush = "push"
	// NotifyReconcile: someone asked for a reconcile.
	NotifyReconcile = "reconcile"
	// NotifyMembership: GitHub said a person's teams changed (ID is the
	// login); every replica forgets what it knew.
	NotifyMembership = "membership"
	// NotifyOutbox: a replica that does not lead wrote deliveries.
	NotifyOutbox = "outbox"
	// NotifyLease: the lease was released; waiting replicas take it now.
	NotifyLease = "lease"
)

// Notification is one message between replicas. It is a wake-up, never
// the data: a listener reads what changed from the store, so one lost
// notification only delays.
type Notification struct {
	Kind      string `json:"k"`
	Seq       int64  `json:"s,omitempty"`
	Blueprint string `json:"b,omitempty"`
	ID        string `json:"i,omitempty"`
	// From is the replica that sent it (Notify fills it in).
	From string `json:"f,omitempty"`
}

// Encode is the notification's payload.
func (n Notification) Encode() string {
	b, _ := json.Marshal(n)
	return string(b)
}

// DecodeNotification reads a payload Encode wrote.
func DecodeNotification(s string) (Notification, error) {
	var n Notification
	err := json.Unmarshal([]byte(s), &n)
	return n, err
}

// Changes is what a replica applies to follow the leader: the newest
// applied revision, the objects written since the one it has (whole, as
// State reads them) and the keys deleted since.
type Changes struct {
	// Since is the sequence number the changes were read from: they
	// apply to a state at that revision, and to no other.
	Since    int64
	Revision Revision
	Settings json.RawMessage
	Objects  []Object
	Deleted  []catalog.Key
}

// Fence is the right to make the leader's writes, under one epoch of the
// lease. The leader's work carries it in its context (WithFence); a store
// that has leases checks, in the transaction of each write made under
// it, that the lease is still at that epoch and holder, so a leader that
// was paused past its lease and wakes writes nothing. Held is the
// holder's own view, by its monotonic clock: false as soon as the lease
// may have lapsed, before the store would say so, for what cannot be
// checked in a transaction (a request to GitHub).
type Fence struct {
	Holder string
	Epoch  int64

	mu    sync.Mutex
	until time.Time // monotonic
	lost  bool
}

// NewFence returns a fence held until until (a time.Now reading, so
// compared on the monotonic clock).
func NewFence(holder string, epoch int64, until time.Time) *Fence {
	return &Fence{Holder: holder, Epoch: epoch, until: until}
}

// Extend moves the end of the fence on after a renewal.
func (f *Fence) Extend(until time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.lost && until.After(f.until) {
		f.until = until
	}
}

// Drop ends the fence at once.
func (f *Fence) Drop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lost = true
}

// Held reports whether the lease is still certainly the holder's.
func (f *Fence) Held() bool {
	if f == nil {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return !f.lost && time.Now().Before(f.until)
}

// ErrFenced is the error of a write or a request made under a fence that
// no longer holds: another replica leads, or may.
var ErrFenced = errors.New("fenced: this replica no longer leads")

// Check returns ErrFenced when the fence no longer holds.
func (f *Fence) Check() error {
	if !f.Held() {
		return ErrFenced
	}
	return nil
}

type fenceKey struct{}

// WithFence returns ctx carrying f: the store's writes and pier's
// requests made with it are the leader's, under f.
func WithFence(ctx context.Context, f *Fence) context.Context {
	return context.WithValue(ctx, fenceKey{}, f)
}

// FenceOf returns the fence ctx carries, or nil.
func FenceOf(ctx context.Context) *Fence {
	f, _ := ctx.Value(fenceKey{}).(*Fence)
	return f
}
