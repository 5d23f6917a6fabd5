package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/pierhq/pier/internal/outbox/record"
	"github.com/pierhq/pier/internal/store"
)

// The methods in this file implement store.Exporter and store.Importer,
// for store.Copy (pier migrate).

// exports are the queries Export reads each table with, in the order of
// their ids where they have one, so that Import numbers them alike.
var exports = []struct {
	table store.Table
	query string
	scan  func(scanner) (any, error)
}{
	{store.TableRevisions, `SELECT ` + revisionColumns + ` FROM revisions ORDER BY seq`, anyScan(scanRevision)},
	{store.TableObjects, `SELECT ` + objectColumns + ` FROM objects ORDER BY kind, blueprint, identifier`, anyScan(scanObject)},
	{store.TableHistory, `SELECT id, seq, blueprint, identifier, revision, op, before, after, at FROM entity_history ORDER BY id`,
		func(sc scanner) (any, error) {
			var (
				h             store.HistoryRecord
				op, at        string
				before, after []byte
			)
			if err := sc.Scan(&h.ID, &h.Seq, &h.Blueprint, &h.Identifier, &h.Revision, &op, &before, &after, &at); err != nil {
				return nil, err
			}
			h.Op, h.Before, h.After = store.Op(op), before, after
			var err error
			h.At, err = parseTime(at)
			return h, err
		}},
	{store.TableRuntime, `SELECT ` + runtimeColumns + ` FROM runtime_properties ORDER BY blueprint, identifier`, anyScan(scanRuntime)},
	{store.TableAudit, `SELECT ` + auditColumns + ` FROM audit_log ORDER BY id`, anyScan(scanAudit)},
	{store.TableDeliveryIDs, `SELECT id, at FROM webhook_deliveries ORDER BY at, id`,
		func(sc scanner) (any, error) {
			var (
				d  store.DeliveryID
				at string
			)
			if err := sc.Scan(&d.ID, &at); err != nil {
				return nil, err
			}
			var err error
			d.At, err = parseTime(at)
			return d, err
		}},
	{store.TableOutbox, `SELECT ` + outboxColumns + ` FROM outbox ORDER BY seq`, anyScan(scanDelivery)},
	{store.TableTimers, `SELECT blueprint, identifier, property, expires_at, fired_at FROM timer_expiries
		ORDER BY blueprint, identifier, property, expires_at`,
		func(sc scanner) (any, error) {
			var (
				f     store.FiredTimer
				fired string
			)
			if err := sc.Scan(&f.Blueprint, &f.Identifier, &f.Property, &f.ExpiresAt, &fired); err != nil {
				return nil, err
			}
			var err error
			f.FiredAt, err = parseOptionalTime(fired)
			return f, err
		}},
	{store.TableRuns, `SELECT json FROM runs ORDER BY created_at, id`, anyScan(scanRun)},
	{store.TableRunEvents, `SELECT run_id, seq, at, actor, from_status, to_status, note FROM run_events ORDER BY run_id, seq`,
		func(sc scanner) (any, error) {
			var (
				e  store.RunEventRecord
				at string
			)
			if err := sc.Scan(&e.RunID, &e.Seq, &at, &e.Actor, &e.From, &e.To, &e.Note); err != nil {
				return nil, err
			}
			var err error
			e.At, err = parseTime(at)
			return e, err
		}},
	{store.TableRunLogs, `SELECT run_id, at, message, termination_status, actor FROM run_logs ORDER BY id`,
		func(sc scanner) (any, error) {
			var (
				l  store.RunLogRecord
				at string
			)
			if err := sc.Scan(&l.RunID, &at, &l.Message, &l.TerminationStatus, &l.Actor); err != nil {
				return nil, err
			}
			var err error
			l.At, err = parseTime(at)
			return l, err
		}},
	{store.TableLevelHistory, `SELECT ` + levelColumns + ` FROM scorecard_history ORDER BY id`, anyScan(scanLevel)},
	{store.TableSessions, `SELECT id_hash, login, person, csrf, created_at, expires_at FROM sessions ORDER BY id_hash`,
		func(sc scanner) (any, error) {
			var (
				ss               store.Session
				person, cat, exp string
			)
			if err := sc.Scan(&ss.IDHash, &ss.Login, &person, &ss.CSRF, &cat, &exp); err != nil {
				return nil, err
			}
			ss.Person = []byte(person)
			var err error
			if ss.CreatedAt, err = parseTime(cat); err == nil {
				ss.ExpiresAt, err = parseTime(exp)
			}
			return ss, err
		}},
	{store.TableTokens, `SELECT ` + tokenColumns + ` FROM api_tokens ORDER BY id`, anyScan(scanToken)},
	{store.TablePeople, `SELECT login, person, signed_in FROM people ORDER BY login`, anyScan(scanPerson)},
}

func anyScan[T any](scan func(scanner) (T, error)) func(scanner) (any, error) {
	return func(sc scanner) (any, error) { return scan(sc) }
}

// Export emits every record from one read transaction: in WAL mode it
// sees the last commit before it began, whole, while pier writes on.
func (s *Store) Export(ctx context.Context, emit func(store.Table, any) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: export: %w", err)
	}
	defer tx.Rollback() // read-only: nothing to commit
	for _, e := range exports {
		if err := exportTable(ctx, tx, e.query, e.scan, func(rec any) error { return emit(e.table, rec) }); err != nil {
			return fmt.Errorf("sqlite: export %s: %w", e.table, err)
		}
	}
	return nil
}

func exportTable(ctx context.Context, tx *sql.Tx, q string, scan func(scanner) (any, error), emit func(any) error) error {
	rows, err := tx.QueryContext(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		rec, err := scan(rows)
		if err != nil {
			return err
		}
		if err := emit(rec); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Counts counts the records of every table.
func (s *Store) Counts(ctx context.Context) (map[store.Table]int64, error) {
	return counts(ctx, s.r)
}

func counts(ctx context.Context, q rowQuerier) (map[store.Table]int64, error) {
	return store.CountTables(func(t store.Table) (n int64, err error) {
		// Table names are the store's constants, not input.
		err = q.QueryRowContext(ctx, `SELECT count(*) FROM `+string(t)).Scan(&n)
		return n, err
	})
}

var importers = map[store.Table]store.Insert{
	store.TableRevisions: store.InsertOf(`INSERT INTO revisions
		(seq, revision, result, started_at, duration_ns, created, updated, deleted, entities, errors, settings)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, func(r store.Revision) ([]any, error) {
		errs, err := encodeErrors(r.Errors)
		return []any{r.Seq, r.Revision, r.Result, formatTime(r.StartedAt), int64(r.Duration),
			r.Counts.Created, r.Counts.Updated, r.Counts.Deleted, r.Counts.Entities, errs, nullJSON(r.Settings)}, err
	}),
	store.TableObjects: store.InsertOf(`INSERT INTO objects (`+objectColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		func(o store.Object) ([]any, error) {
			k := o.Key
			return []any{k.Kind, k.Blueprint, k.ID, string(o.JSON), o.Hash, o.Source.File, o.Source.Line, o.Source.Col,
				formatOptionalTime(o.CreatedAt), formatOptionalTime(o.UpdatedAt)}, nil
		}),
	store.TableHistory: store.InsertOf(`INSERT INTO entity_history (id, seq, blueprint, identifier, revision, op, before, after, at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, func(h store.HistoryRecord) ([]any, error) {
		return []any{h.ID, h.Seq, h.Blueprint, h.Identifier, h.Revision, string(h.Op),
			nullJSON(h.Before), nullJSON(h.After), formatTime(h.At)}, nil
	}),
	store.TableRuntime: store.InsertOf(`INSERT INTO runtime_properties (`+runtimeColumns+`) VALUES (?, ?, ?, ?, ?)`,
		func(rt store.Runtime) ([]any, error) {
			js, err := json.Marshal(rt.Properties)
			return []any{rt.Blueprint, rt.Identifier, string(js), formatTime(rt.UpdatedAt), rt.UpdatedBy}, err
		}),
	store.TableAudit: store.InsertOf(`INSERT INTO audit_log (`+auditColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		func(e store.AuditEntry) ([]any, error) {
			return []any{e.ID, formatTime(e.At), store.Text(e.Actor), store.Text(e.Action), store.Text(e.Resource), e.Status, nullJSON(e.Details)}, nil
		}),
	store.TableDeliveryIDs: store.InsertOf(`INSERT INTO webhook_deliveries (id, at) VALUES (?, ?)`,
		func(d store.DeliveryID) ([]any, error) { return []any{d.ID, formatTime(d.At)}, nil }),
	store.TableOutbox: store.InsertOf(`INSERT INTO outbox (`+outboxColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		func(d record.Delivery) ([]any, error) {
			return []any{d.ID, d.Subscription, d.URL, d.Event, string(d.Body), d.State, d.Attempts,
				formatTime(d.NextAt), formatTime(d.CreatedAt), formatOptionalTime(d.DeliveredAt), d.LastStatus, d.LastError}, nil
		}),
	store.TableTimers: store.InsertOf(`INSERT INTO timer_expiries (blueprint, identifier, property, expires_at, fired_at) VALUES (?, ?, ?, ?, ?)`,
		func(f store.FiredTimer) ([]any, error) {
			return []any{f.Blueprint, f.Identifier, f.Property, f.ExpiresAt, formatOptionalTime(f.FiredAt)}, nil
		}),
	store.TableRuns: store.InsertOf(`INSERT INTO runs (`+runColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		func(r store.Run) ([]any, error) {
			args, _, err := encodeRun(r)
			return args, err
		}),
	store.TableRunEvents: store.InsertOf(`INSERT INTO run_events (run_id, seq, at, actor, from_status, to_status, note) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		func(e store.RunEventRecord) ([]any, error) {
			return []any{e.RunID, e.Seq, formatTime(e.At), store.Text(e.Actor), store.Text(e.From), store.Text(e.To), store.Text(e.Note)}, nil
		}),
	store.TableRunLogs: store.InsertOf(`INSERT INTO run_logs (run_id, at, message, termination_status, actor) VALUES (?, ?, ?, ?, ?)`,
		func(l store.RunLogRecord) ([]any, error) {
			return []any{l.RunID, formatTime(l.At), store.Text(l.Message), store.Text(l.TerminationStatus), store.Text(l.Actor)}, nil
		}),
	store.TableLevelHistory: store.InsertOf(`INSERT INTO scorecard_history (`+levelColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		func(c store.LevelChange) ([]any, error) {
			return []any{c.ID, c.Scorecard, c.Blueprint, c.Identifier, c.From, c.To, c.Revision, formatTime(c.At)}, nil
		}),
	store.TableSessions: store.InsertOf(`INSERT INTO sessions (id_hash, login, person, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
		func(ss store.Session) ([]any, error) {
			return []any{ss.IDHash, ss.Login, string(ss.Person), ss.CSRF, formatTime(ss.CreatedAt), formatTime(ss.ExpiresAt)}, nil
		}),
	store.TableTokens: store.InsertOf(`INSERT INTO api_tokens (`+tokenColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		func(t store.APIToken) ([]any, error) {
			return []any{t.ID, t.Hash, t.Login, store.Text(t.Name), formatTime(t.CreatedAt), formatOptionalTime(t.ExpiresAt)}, nil
		}),
	store.TablePeople: store.InsertOf(`INSERT INTO people (login, person, signed_in) VALUES (?, ?, ?)`,
		func(p store.Person) ([]any, error) {
			return []any{p.Login, string(p.Person), formatTime(p.SignedIn)}, nil
		}),
}

// Import writes what export emits in one write transaction, after
// checking in it that the store is empty. AUTOINCREMENT continues after
// the largest id imported.
func (s *Store) Import(ctx context.Context, export store.ExportFunc) error {
	if err := s.importAll(ctx, export); err != nil {
		return fmt.Errorf("sqlite: import: %w", err)
	}
	return nil
}

func (s *Store) importAll(ctx context.Context, export store.ExportFunc) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	held, err := counts(ctx, tx)
	if err != nil {
		return err
	}
	if err := store.CheckEmpty(held); err != nil {
		return err
	}
	stmts := map[store.Table]*sql.Stmt{}
	defer func() {
		for _, st := range stmts {
			st.Close()
		}
	}()
	err = export(ctx, func(t store.Table, rec any) error {
		imp, ok := importers[t]
		if !ok {
			return fmt.Errorf("unknown table %q", t)
		}
		args, err := imp.Args(rec)
		if err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		st := stmts[t]
		if st == nil {
			if st, err = tx.PrepareContext(ctx, imp.Stmt); err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
			stmts[t] = st
		}
		if _, err := st.ExecContext(ctx, args...); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tx.Commit()
}
