package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

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
	scan  func(pgx.Rows) (any, error)
}{
	{store.TableRevisions, `SELECT ` + revisionColumns + ` FROM revisions ORDER BY seq`, anyScan(scanRevision)},
	{store.TableObjects, `SELECT ` + objectColumns + ` FROM objects ORDER BY kind, blueprint, identifier`, anyScan(scanObject)},
	{store.TableHistory, `SELECT id, seq, blueprint, identifier, revision, op, before, after, at FROM entity_history ORDER BY id`,
		func(r pgx.Rows) (any, error) {
			var (
				h             store.HistoryRecord
				op            string
				before, after []byte
			)
			err := r.Scan(&h.ID, &h.Seq, &h.Blueprint, &h.Identifier, &h.Revision, &op, &before, &after, &h.At)
			h.Op, h.Before, h.After = store.Op(op), before, after
			return h, err
		}},
	{store.TableRuntime, `SELECT ` + runtimeColumns + ` FROM runtime_properties ORDER BY blueprint, identifier`, anyScan(scanRuntime)},
	{store.TableAudit, `SELECT ` + auditColumns + ` FROM audit_log ORDER BY id`, anyScan(scanAudit)},
	{store.TableDeliveryIDs, `SELECT id, at FROM webhook_deliveries ORDER BY at, id`,
		func(r pgx.Rows) (any, error) {
			var d store.DeliveryID
			err := r.Scan(&d.ID, &d.At)
			return d, err
		}},
	{store.TableOutbox, `SELECT ` + outboxColumns + ` FROM outbox ORDER BY seq`, anyScan(scanDelivery)},
	{store.TableTimers, `SELECT blueprint, identifier, property, expires_at, fired_at FROM timer_expiries
		ORDER BY blueprint, identifier, property, expires_at`,
		func(r pgx.Rows) (any, error) {
			var f store.FiredTimer
			err := r.Scan(&f.Blueprint, &f.Identifier, &f.Property, &f.ExpiresAt, optTime{&f.FiredAt})
			return f, err
		}},
	{store.TableRuns, `SELECT json FROM runs ORDER BY created_at, id`, anyScan(scanRun)},
	{store.TableRunEvents, `SELECT run_id, seq, at, actor, from_status, to_status, note FROM run_events ORDER BY run_id, seq`,
		func(r pgx.Rows) (any, error) {
			var e store.RunEventRecord
			err := r.Scan(&e.RunID, &e.Seq, &e.At, &e.Actor, &e.From, &e.To, &e.Note)
			return e, err
		}},
	{store.TableRunLogs, `SELECT run_id, at, message, termination_status FROM run_logs ORDER BY id`,
		func(r pgx.Rows) (any, error) {
			var l store.RunLogRecord
			err := r.Scan(&l.RunID, &l.At, &l.Message, &l.TerminationStatus)
			return l, err
		}},
	{store.TableLevelHistory, `SELECT ` + levelColumns + ` FROM scorecard_history ORDER BY id`, anyScan(scanLevel)},
	{store.TableSessions, `SELECT ` + sessionColumns + ` FROM sessions ORDER BY id_hash`, anyScan(scanSession)},
	{store.TableTokens, `SELECT ` + tokenColumns + ` FROM api_tokens ORDER BY id`, anyScan(scanToken)},
	{store.TablePeople, `SELECT login, person, signed_in FROM people ORDER BY login`, anyScan(scanPerson)},
}

func anyScan[T any](scan func(pgx.Row) (T, error)) func(pgx.Rows) (any, error) {
	return func(r pgx.Rows) (any, error) { return scan(r) }
}

// Export emits every record from one REPEATABLE READ snapshot.
func (s *Store) Export(ctx context.Context, emit func(store.Table, any) error) error {
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		for _, e := range exports {
			if err := exportTable(ctx, tx, e.query, e.scan, func(rec any) error { return emit(e.table, rec) }); err != nil {
				return fmt.Errorf("%s: %w", e.table, err)
			}
		}
		return nil
	})
	if err != nil {
		return s.fail("export", err)
	}
	return nil
}

func exportTable(ctx context.Context, tx pgx.Tx, q string, scan func(pgx.Rows) (any, error), emit func(any) error) error {
	rows, err := tx.Query(ctx, q)
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
	out, err := counts(ctx, s.pool)
	if err != nil {
		return nil, s.fail("count records", err)
	}
	return out, nil
}

func counts(ctx context.Context, q querier) (map[store.Table]int64, error) {
	out := map[store.Table]int64{}
	for _, t := range store.Tables {
		var n int64
		// Table names are the store's constants, not input.
		if err := q.QueryRow(ctx, `SELECT count(*) FROM `+string(t)).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}

// importer writes one table's records: its statement, and the
// statement's values for a record.
type importer struct {
	stmt string
	args func(rec any) ([]any, error)
}

func importerOf[T any](stmt string, args func(T) ([]any, error)) importer {
	return importer{stmt, store.RecordArgs(args)}
}

// importers write the ids they are given: OVERRIDING SYSTEM VALUE is
// not needed for GENERATED BY DEFAULT columns, and Import moves each
// identity's sequence past them.
var importers = map[store.Table]importer{
	store.TableRevisions: importerOf(`INSERT INTO revisions (`+revisionColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		func(r store.Revision) ([]any, error) {
			errs, err := encodeErrors(r.Errors)
			return []any{r.Seq, r.Revision, r.Result, r.StartedAt, int64(r.Duration),
				r.Counts.Created, r.Counts.Updated, r.Counts.Deleted, r.Counts.Entities, errs, nullJSON(r.Settings)}, err
		}),
	store.TableObjects: importerOf(`INSERT INTO objects (`+objectColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		func(o store.Object) ([]any, error) {
			k := o.Key
			return []any{k.Kind, k.Blueprint, k.ID, []byte(o.JSON), o.Hash, o.Source.File, o.Source.Line, o.Source.Col,
				optional(o.CreatedAt), optional(o.UpdatedAt)}, nil
		}),
	store.TableHistory: importerOf(`INSERT INTO entity_history (id, seq, blueprint, identifier, revision, op, before, after, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, func(h store.HistoryRecord) ([]any, error) {
		return []any{h.ID, h.Seq, h.Blueprint, h.Identifier, h.Revision, string(h.Op), nullJSON(h.Before), nullJSON(h.After), h.At}, nil
	}),
	store.TableRuntime: importerOf(`INSERT INTO runtime_properties (`+runtimeColumns+`) VALUES ($1, $2, $3, $4, $5)`,
		func(rt store.Runtime) ([]any, error) {
			js, err := json.Marshal(rt.Properties)
			return []any{rt.Blueprint, rt.Identifier, js, rt.UpdatedAt, rt.UpdatedBy}, err
		}),
	store.TableAudit: importerOf(`INSERT INTO audit_log (`+auditColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		func(e store.AuditEntry) ([]any, error) {
			return []any{e.ID, e.At, store.Text(e.Actor), store.Text(e.Action), store.Text(e.Resource), e.Status, nullJSON(e.Details)}, nil
		}),
	store.TableDeliveryIDs: importerOf(`INSERT INTO webhook_deliveries (id, at) VALUES ($1, $2)`,
		func(d store.DeliveryID) ([]any, error) { return []any{d.ID, d.At}, nil }),
	store.TableOutbox: importerOf(`INSERT INTO outbox (`+outboxColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		func(d record.Delivery) ([]any, error) {
			return []any{d.ID, d.Subscription, d.URL, d.Event, []byte(d.Body), d.State, d.Attempts,
				d.NextAt, d.CreatedAt, optional(d.DeliveredAt), d.LastStatus, d.LastError}, nil
		}),
	store.TableTimers: importerOf(`INSERT INTO timer_expiries (blueprint, identifier, property, expires_at, fired_at) VALUES ($1, $2, $3, $4, $5)`,
		func(f store.FiredTimer) ([]any, error) {
			return []any{f.Blueprint, f.Identifier, f.Property, f.ExpiresAt, optional(f.FiredAt)}, nil
		}),
	store.TableRuns: importerOf(`INSERT INTO runs (`+runColumns+`) VALUES (`+runValues+`)`,
		func(r store.Run) ([]any, error) {
			args, _, err := encodeRun(r)
			return args, err
		}),
	store.TableRunEvents: importerOf(`INSERT INTO run_events (run_id, seq, at, actor, from_status, to_status, note) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		func(e store.RunEventRecord) ([]any, error) {
			return []any{e.RunID, e.Seq, e.At, store.Text(e.Actor), store.Text(e.From), store.Text(e.To), store.Text(e.Note)}, nil
		}),
	store.TableRunLogs: importerOf(`INSERT INTO run_logs (run_id, at, message, termination_status) VALUES ($1, $2, $3, $4)`,
		func(l store.RunLogRecord) ([]any, error) {
			return []any{l.RunID, l.At, store.Text(l.Message), store.Text(l.TerminationStatus)}, nil
		}),
	store.TableLevelHistory: importerOf(`INSERT INTO scorecard_history (`+levelColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		func(c store.LevelChange) ([]any, error) {
			return []any{c.ID, c.Scorecard, c.Blueprint, c.Identifier, c.From, c.To, c.Revision, c.At}, nil
		}),
	store.TableSessions: importerOf(`INSERT INTO sessions (`+sessionColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		func(ss store.Session) ([]any, error) {
			return []any{ss.IDHash, ss.Login, []byte(ss.Person), ss.CSRF, ss.CreatedAt, ss.ExpiresAt}, nil
		}),
	store.TableTokens: importerOf(`INSERT INTO api_tokens (`+tokenColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		func(t store.APIToken) ([]any, error) {
			return []any{t.ID, t.Hash, t.Login, store.Text(t.Name), t.CreatedAt, optional(t.ExpiresAt)}, nil
		}),
	store.TablePeople: importerOf(`INSERT INTO people (login, person, signed_in) VALUES ($1, $2, $3)`,
		func(p store.Person) ([]any, error) { return []any{p.Login, []byte(p.Person), p.SignedIn}, nil }),
}

// identities are the columns numbered by the store, whose sequences
// Import moves past what it wrote.
var identities = []struct{ table, column string }{
	{"revisions", "seq"}, {"entity_history", "id"}, {"audit_log", "id"}, {"outbox", "seq"},
	{"run_logs", "id"}, {"scorecard_history", "id"},
}

// Import writes what export emits in one transaction, after checking in
// it that the store is empty; the transaction holds an exclusive lock on
// every table, so nothing else writes while it copies (nor sneaks in
// between the check and the copy). Records go in batches.
func (s *Store) Import(ctx context.Context, export store.ExportFunc) error {
	err := s.tx(ctx, func(tx pgx.Tx) error {
		tables := ""
		for i, t := range store.Tables {
			if i > 0 {
				tables += ", "
			}
			tables += string(t)
		}
		if _, err := tx.Exec(ctx, `LOCK TABLE `+tables+` IN EXCLUSIVE MODE`); err != nil {
			return err
		}
		held, err := counts(ctx, tx)
		if err != nil {
			return err
		}
		if err := store.CheckEmpty(held); err != nil {
			return err
		}
		b := &pgx.Batch{}
		flush := func() error {
			if b.Len() == 0 {
				return nil
			}
			err := tx.SendBatch(ctx, b).Close()
			b = &pgx.Batch{}
			return err
		}
		err = export(ctx, func(t store.Table, rec any) error {
			imp, ok := importers[t]
			if !ok {
				return fmt.Errorf("unknown table %q", t)
			}
			args, err := imp.args(rec)
			if err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
			b.Queue(imp.stmt, args...)
			if b.Len() >= 1000 {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
		for _, id := range identities {
			// setval(..., false) when empty: the next value is 1.
			if _, err := tx.Exec(ctx, fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%[1]s', '%[2]s'),
				COALESCE((SELECT max(%[2]s) FROM %[1]s), 0) + 1, false)`, id.table, id.column)); err != nil {
				return fmt.Errorf("number %s after the copy: %w", id.table, err)
			}
		}
		return nil
	})
	if err != nil {
		return s.fail("import", err)
	}
	return nil
}
