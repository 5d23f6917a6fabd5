package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pierhq/pier/internal/catalog"
	"github.com/pierhq/pier/internal/store"
)

// Replicas of pier share this store (store.Replication).
//
// The lease is one row of leader_lease, taken and renewed by the
// database's clock, so that replicas' clocks need not agree. Its fence
// is another row, leader_fence, holding the epoch the leader's writes
// are made under: every transaction made under a store.Fence reads that
// row FOR SHARE and compares, and a replica taking the lease over
// updates it in the same transaction as the lease. The update waits for
// the old leader's transactions that read the row, and those that start
// after it find the new epoch: each of the old leader's writes lands
// entirely before the new leader takes over, or not at all. Renewals
// touch only the lease row, so a leader's long transaction (a cold
// reconcile) never holds up its own renewal.
//
// A leader paused in the middle of a transaction would hold its read of
// the fence, and the takeover with it, for as long as it is paused; the
// server ends such a transaction after IdleInTransaction (set by
// WithIdleInTransaction to the lease's time), rolling it back.

var _ store.Replication = (*Store)(nil)

// takeTimeout bounds how long taking the lease waits for the old leader's
// transactions; a takeover that times out is tried again at the next
// attempt.
const takeTimeout = 5 * time.Second

const leaseColumns = `holder, addr, epoch, renewed_at, expires_at, now()`

func scanLease(row pgx.Row) (store.Lease, error) {
	var l store.Lease
	err := row.Scan(&l.Holder, &l.Addr, &l.Epoch, &l.RenewedAt, &l.ExpiresAt, &l.Now)
	return l, err
}

// micros is a duration as the integer of microseconds SQL multiplies an
// interval by.
func micros(d time.Duration) int64 { return d.Microseconds() }

// TakeLease renews holder's lease, or takes a lapsed or free one, moving
// the fence to the new epoch in the same transaction.
func (s *Store) TakeLease(ctx context.Context, holder, addr string, ttl time.Duration) (lease store.Lease, held bool, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		lease, err = scanLease(tx.QueryRow(ctx, `UPDATE leader_lease
			SET addr = $2, renewed_at = now(), expires_at = now() + $3 * interval '1 microsecond'
			WHERE id = 1 AND holder = $1 RETURNING `+leaseColumns, holder, addr, micros(ttl)))
		if err == nil {
			held = true
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		lease, err = scanLease(tx.QueryRow(ctx, `INSERT INTO leader_lease AS l (id, holder, addr, epoch, renewed_at, expires_at)
			VALUES (1, $1, $2, 1, now(), now() + $3 * interval '1 microsecond')
			ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, addr = excluded.addr, epoch = l.epoch + 1,
				renewed_at = excluded.renewed_at, expires_at = excluded.expires_at
			WHERE l.expires_at <= now()
			RETURNING `+leaseColumns, holder, addr, micros(ttl)))
		if errors.Is(err, pgx.ErrNoRows) { // someone else's, and live
			lease, err = scanLease(tx.QueryRow(ctx, `SELECT `+leaseColumns+` FROM leader_lease WHERE id = 1`))
			return err
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, fmt.Sprintf(`SET LOCAL lock_timeout = %d`, takeTimeout.Milliseconds())); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO leader_fence (id, epoch) VALUES (1, $1)
			ON CONFLICT (id) DO UPDATE SET epoch = excluded.epoch`, lease.Epoch)
		held = err == nil
		return err
	})
	if err != nil {
		return store.Lease{}, false, s.fail("take the leader's lease", err)
	}
	return lease, held, nil
}

// ReleaseLease lets the lease lapse now and tells the other replicas.
func (s *Store) ReleaseLease(ctx context.Context, holder string, epoch int64) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE leader_lease SET expires_at = now() WHERE id = 1 AND holder = $1 AND epoch = $2`, holder, epoch)
		if err != nil || tag.RowsAffected() == 0 {
			return err
		}
		return s.notifyTx(ctx, tx, store.Notification{Kind: store.NotifyLease})
	})
	if err != nil {
		return s.fail("release the leader's lease", err)
	}
	return nil
}

// Lease reads the lease.
func (s *Store) Lease(ctx context.Context) (store.Lease, error) {
	l, err := scanLease(s.pool.QueryRow(ctx, `SELECT `+leaseColumns+` FROM leader_lease WHERE id = 1`))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Lease{}, fmt.Errorf("postgres: the leader's lease: %w", store.ErrNotFound)
	}
	if err != nil {
		return store.Lease{}, s.fail("read the leader's lease", err)
	}
	return l, nil
}

// checkFence fails a transaction made under a fence that no longer holds:
// the holder's own clock says it may have lapsed, or the fence row has
// another epoch. The row stays read (FOR SHARE) until the transaction
// ends, so a takeover waits for it.
func checkFence(ctx context.Context, tx pgx.Tx, f *store.Fence) error {
	if err := f.Check(); err != nil {
		return err
	}
	var epoch int64
	err := tx.QueryRow(ctx, `SELECT epoch FROM leader_fence WHERE id = 1 FOR SHARE`).Scan(&epoch)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && epoch != f.Epoch {
		return fmt.Errorf("%w (epoch %d; the lease is at %d)", store.ErrFenced, f.Epoch, epoch)
	}
	return err
}

// epochOf is the epoch a write is made under: its fence's, or 0.
func epochOf(ctx context.Context) int64 {
	if f := store.FenceOf(ctx); f != nil {
		return f.Epoch
	}
	return 0
}

// notifyTx sends n when tx commits (and never if it does not).
func (s *Store) notifyTx(ctx context.Context, tx pgx.Tx, n store.Notification) error {
	n.From = s.replica
	_, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, s.channel, n.Encode())
	return err
}

// Notify sends n to every replica listening.
func (s *Store) Notify(ctx context.Context, n store.Notification) error {
	n.From = s.replica
	if _, err := s.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, s.channel, n.Encode()); err != nil {
		return s.fail("notify "+n.Kind, err)
	}
	return nil
}

// Listen listens on a connection of its own (a pooled one would be
// handed to others between waits).
func (s *Store) Listen(ctx context.Context, ready func(), fn func(store.Notification)) error {
	conn, err := pgx.ConnectConfig(ctx, s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return s.fail("listen", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `LISTEN `+pgx.Identifier{s.channel}.Sanitize()); err != nil {
		return s.fail("listen", err)
	}
	ready()
	for {
		pn, err := conn.WaitForNotification(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return s.fail("listen", err)
		}
		n, err := store.DecodeNotification(pn.Payload)
		if err != nil {
			continue // not one of pier's
		}
		fn(n)
	}
}

// ChangesSince reads the newest applied revision and what changed after
// seq in one REPEATABLE READ snapshot. A key both deleted and written
// again since is reported written.
func (s *Store) ChangesSince(ctx context.Context, seq int64) (*store.Changes, error) {
	ch := &store.Changes{Since: seq}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rev, err := scanRevision(tx.QueryRow(ctx, `SELECT `+revisionColumns+` FROM revisions
			WHERE `+appliedWhere+` ORDER BY seq DESC LIMIT 1`))
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		ch.Revision, ch.Settings = rev, rev.Settings
		if rev.Seq <= seq {
			return nil
		}
		if ch.Objects, err = queryAll(ctx, tx, `SELECT `+objectColumns+` FROM objects WHERE seq > $1`, []any{seq},
			func(r pgx.Rows) (store.Object, error) { return scanObject(r) }); err != nil {
			return err
		}
		ch.Deleted, err = queryAll(ctx, tx, `SELECT DISTINCT kind, blueprint, identifier FROM object_deletions WHERE seq > $1`, []any{seq},
			func(r pgx.Rows) (k catalog.Key, err error) {
				var kind string
				err = r.Scan(&kind, &k.Blueprint, &k.ID)
				k.Kind = catalog.Kind(kind)
				return k, err
			})
		return err
	})
	if err != nil {
		return nil, s.fail("read changes", err)
	}
	if len(ch.Deleted) > 0 && len(ch.Objects) > 0 {
		written := make(map[catalog.Key]bool, len(ch.Objects))
		for _, o := range ch.Objects {
			written[o.Key] = true
		}
		ch.Deleted = slices.DeleteFunc(ch.Deleted, func(k catalog.Key) bool { return written[k] })
	}
	return ch, nil
}

// RuntimesSince reads runtime writes after seq, in the order they were
// made: runtime writes take runtimeLock, so their numbers are given, and
// committed, one writer at a time, and no write below the newest one
// read can still be in flight.
func (s *Store) RuntimesSince(ctx context.Context, seq int64) ([]store.Runtime, error) {
	var out []store.Runtime
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		out, err = queryAll(ctx, tx, `SELECT `+runtimeColumns+`, seq FROM runtime_properties WHERE seq > $1`, []any{seq},
			func(r pgx.Rows) (store.Runtime, error) { return scanRuntimeSeq(r) })
		if err != nil {
			return err
		}
		cleared, err := queryAll(ctx, tx, `SELECT blueprint, identifier, seq FROM runtime_cleared WHERE seq > $1`, []any{seq},
			func(r pgx.Rows) (rt store.Runtime, err error) {
				err = r.Scan(&rt.Blueprint, &rt.Identifier, &rt.Seq)
				return rt, err
			})
		out = append(out, cleared...)
		return err
	})
	if err != nil {
		return nil, s.fail("read runtime changes", err)
	}
	slices.SortFunc(out, func(a, b store.Runtime) int { return int(a.Seq - b.Seq) })
	return out, nil
}

// RuntimeSeq is the newest runtime write's number.
func (s *Store) RuntimeSeq(ctx context.Context) (int64, error) {
	var n int64
	err := s.pool.QueryRow(ctx, `SELECT GREATEST(
		(SELECT COALESCE(max(seq), 0) FROM runtime_properties),
		(SELECT COALESCE(max(seq), 0) FROM runtime_cleared))`).Scan(&n)
	if err != nil {
		return 0, s.fail("read the runtime sequence", err)
	}
	return n, nil
}

// runtimeLock is the advisory lock runtime writes take (see
// RuntimesSince): "pirt" in ASCII.
const runtimeLock = 0x70697274
