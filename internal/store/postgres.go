package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgReaders is the size of the PostgreSQL read pool: the API's queries run
// there, a search several at once.
const pgReaders = 8

// openPostgres connects to the PostgreSQL database of opts.DSN (a
// postgres:// URL or a libpq key=value string) through pgx and brings its
// schema up to date. Writes go through one connection, as on SQLite: the
// ingest pipeline, the indexer and the monitor's bookkeeping of this
// process are serialised there.
func openPostgres(ctx context.Context, opts Options) (*Store, error) {
	if opts.DSN == "" {
		return nil, errors.New("store: database_url is empty")
	}
	cfg, err := pgx.ParseConfig(opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("store: database_url: %w", redactErr(err, opts.DSN))
	}
	// Statements are prepared per connection and cached by pgx; the
	// default mode does that.
	open := func(n int) *sql.DB {
		d := stdlib.OpenDB(*cfg)
		d.SetMaxOpenConns(n)
		d.SetMaxIdleConns(n)
		return d
	}
	w := open(1)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("store: connect to PostgreSQL %s: %w", RedactURL(opts.DSN), err)
	}
	r := w
	if !opts.ReadOnly {
		r = open(pgReaders)
	}
	s := &Store{w: newDB(w, true), r: newDB(r, true), d: postgresDialect, loc: opts.Location, readOnly: opts.ReadOnly, pgConfig: cfg, log: opts.Logger}
	if opts.ReadOnly {
		if err := s.checkVersion(ctx, "the PostgreSQL database"); err != nil {
			w.Close()
			return nil, err
		}
		return s, nil
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// RedactURL returns a database URL with its password replaced by "xxxxx",
// for messages and logs.
func RedactURL(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		// key=value form: drop the password's value.
		f := strings.Fields(dsn)
		for i, kv := range f {
			if strings.HasPrefix(strings.ToLower(kv), "password=") {
				f[i] = "password=xxxxx"
			}
		}
		return strings.Join(f, " ")
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// redactErr keeps a parse error from echoing the password.
func redactErr(err error, dsn string) error {
	msg := err.Error()
	if u, perr := url.Parse(dsn); perr == nil {
		if p, ok := u.User.Password(); ok && p != "" {
			msg = strings.ReplaceAll(msg, p, "xxxxx")
		}
	}
	return errors.New(msg)
}

// postgresDialect is the schema and the differing statements on
// PostgreSQL 15 or newer. Its migrations are those of SQLite, step for
// step (version N means the same tables on both; PostgreSQL adds an index
// where several writers need one), in PostgreSQL's types:
// times are Unix milliseconds in bigint, frames bytea, flags smallint as
// SQLite's 0/1 (targets.paused is boolean: Go writes a bool there).
var postgresDialect = &dialect{
	name: "postgres",
	// Every migration step runs under this transaction-scoped lock, so
	// that processes starting together against one database migrate it
	// once, one after the other.
	lockMigrations:   `SELECT pg_advisory_xact_lock(8243470192)`,
	createMigrations: `CREATE TABLE IF NOT EXISTS schema_migrations (version bigint PRIMARY KEY, applied_at text NOT NULL)`,
	recordMigration:  `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
	migrations: [][]string{
		// 1: messages, sessions, ingest cursor, the chat_messages view.
		{
			`CREATE TABLE messages (
				id          bigint   PRIMARY KEY,
				target      text     NOT NULL,
				session_id  bigint   NOT NULL,
				received_at bigint   NOT NULL,
				sent_at     bigint,
				username    text     NOT NULL,
				room        text     NOT NULL,
				type        text     NOT NULL,
				content     text     NOT NULL,
				raw         bytea    NOT NULL,
				is_binary   smallint NOT NULL DEFAULT 0,
				ext_id      text,
				dedup_key   bigint,
				reason      text     NOT NULL DEFAULT ''
			)`,
			`CREATE TABLE sessions (
				id              bigint PRIMARY KEY,
				target          text   NOT NULL,
				url             text   NOT NULL,
				connected_at    bigint NOT NULL,
				disconnected_at bigint,
				close_code      bigint,
				close_reason    text   NOT NULL DEFAULT '',
				messages        bigint NOT NULL DEFAULT 0,
				error           text   NOT NULL DEFAULT ''
			)`,
			`CREATE INDEX sessions_target ON sessions (target, connected_at)`,
			`CREATE TABLE ingest_state (id bigint PRIMARY KEY CHECK (id = 1), applied_seq bigint NOT NULL)`,
			`INSERT INTO ingest_state (id, applied_seq) VALUES (1, 0)`,
			// Times in the session's TimeZone (SQLite's view uses the
			// machine's local time).
			`CREATE VIEW chat_messages AS
				SELECT id,
				       to_char(to_timestamp(received_at / 1000.0), 'YYYY-MM-DD HH24:MI:SS.MS') AS received_at,
				       username,
				       type AS message_type,
				       content,
				       CASE WHEN is_binary <> 0 THEN upper(encode(raw, 'hex')) ELSE convert_from(raw, 'UTF8') END AS raw_data,
				       target,
				       room,
				       CASE WHEN sent_at IS NULL THEN NULL
				            ELSE to_char(to_timestamp(sent_at / 1000.0), 'YYYY-MM-DD HH24:MI:SS.MS') END AS sent_at,
				       session_id,
				       reason
				FROM messages`,
		},
		// 2: search index segments and statistics rollups (internal/index).
		{
			`CREATE TABLE index_state (id bigint PRIMARY KEY CHECK (id = 1), indexed_id bigint NOT NULL, deleted_below bigint NOT NULL)`,
			`INSERT INTO index_state (id, indexed_id, deleted_below) VALUES (1, 0, 0)`,
			`CREATE TABLE index_segments (seg bigint PRIMARY KEY, lo bigint NOT NULL, hi bigint NOT NULL, messages bigint NOT NULL)`,
			`CREATE TABLE index_blobs (bucket bigint NOT NULL, seg bigint NOT NULL, data bytea NOT NULL)`,
			`CREATE UNIQUE INDEX index_blobs_key ON index_blobs (bucket, seg)`,
			`CREATE TABLE index_lists (seg bigint NOT NULL, gram bigint NOT NULL, data bytea NOT NULL)`,
			`CREATE UNIQUE INDEX index_lists_key ON index_lists (seg, gram)`,
			`CREATE TABLE rollup_quarter (target text NOT NULL, bucket bigint NOT NULL, count bigint NOT NULL,
				min_id bigint NOT NULL, max_id bigint NOT NULL, PRIMARY KEY (target, bucket))`,
			`CREATE TABLE rollup_users (target text NOT NULL, username text NOT NULL, count bigint NOT NULL,
				first_seen bigint NOT NULL, last_seen bigint NOT NULL, PRIMARY KEY (target, username))`,
		},
		// 3: the protocol each session spoke and its control-frame count.
		{
			`ALTER TABLE sessions ADD COLUMN protocol text NOT NULL DEFAULT ''`,
			`ALTER TABLE sessions ADD COLUMN control_frames bigint NOT NULL DEFAULT 0`,
		},
		// 4: targets managed at runtime, and their live status.
		{
			`CREATE TABLE targets (
				name       text    PRIMARY KEY,
				config     text    NOT NULL,
				paused     boolean NOT NULL DEFAULT false,
				source     text    NOT NULL,
				updated_at bigint  NOT NULL
			)`,
			`CREATE TABLE target_status (
				name        text   PRIMARY KEY,
				state       text   NOT NULL,
				protocol    text   NOT NULL DEFAULT '',
				last_error  text   NOT NULL DEFAULT '',
				stopped     text   NOT NULL DEFAULT '',
				since       bigint NOT NULL,
				reconnects  bigint NOT NULL DEFAULT 0,
				frames      bigint NOT NULL DEFAULT 0,
				last_message_at bigint NOT NULL DEFAULT 0,
				updated_at  bigint NOT NULL
			)`,
		},
		// 5: alert rules managed at runtime, and the alert history.
		{
			`CREATE TABLE rules (
				name       text   PRIMARY KEY,
				config     text   NOT NULL,
				source     text   NOT NULL,
				updated_at bigint NOT NULL
			)`,
			`CREATE TABLE alerts (
				id          bigint   GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
				rule        text     NOT NULL,
				rule_type   text     NOT NULL,
				target      text     NOT NULL,
				room        text     NOT NULL DEFAULT '',
				username    text     NOT NULL DEFAULT '',
				content     text     NOT NULL DEFAULT '',
				message_id  bigint,
				detail      text     NOT NULL,
				at          bigint   NOT NULL,
				suppressed  bigint   NOT NULL DEFAULT 0,
				acked_at    bigint,
				delivery    text     NOT NULL DEFAULT ''
			)`,
			`CREATE INDEX alerts_at ON alerts (at)`,
			`CREATE UNIQUE INDEX alerts_message ON alerts (rule, message_id) WHERE message_id IS NOT NULL`,
		},
		// 6: the automatic reply a rule sent for an alert.
		{
			`ALTER TABLE alerts ADD COLUMN reply text NOT NULL DEFAULT ''`,
			`ALTER TABLE alerts ADD COLUMN reply_error text NOT NULL DEFAULT ''`,
		},
		// 7: failed connection attempts, error codes, the monitor's heartbeat.
		{
			`CREATE TABLE connection_attempts (
				id          bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
				target      text   NOT NULL,
				url         text   NOT NULL,
				at          bigint NOT NULL,
				step        text   NOT NULL,
				error       text   NOT NULL,
				code        text   NOT NULL,
				http_status bigint NOT NULL DEFAULT 0
			)`,
			`CREATE INDEX connection_attempts_target ON connection_attempts (target, at)`,
			`ALTER TABLE target_status ADD COLUMN error_code text NOT NULL DEFAULT ''`,
			`ALTER TABLE target_status ADD COLUMN next_attempt_at bigint NOT NULL DEFAULT 0`,
			`CREATE TABLE monitor_process (
				id           bigint PRIMARY KEY CHECK (id = 1),
				pid          bigint NOT NULL,
				mode         text   NOT NULL,
				version      text   NOT NULL,
				started_at   bigint NOT NULL,
				heartbeat_at bigint NOT NULL,
				stopped_at   bigint NOT NULL DEFAULT 0
			)`,
		},
		// 8: per-user activity in the rollups.
		{
			`ALTER TABLE rollup_users ADD COLUMN activity bigint NOT NULL DEFAULT 0`,
			`ALTER TABLE rollup_users ADD COLUMN last_active bigint NOT NULL DEFAULT 0`,
			`UPDATE rollup_users u SET activity = m.n, last_active = m.la
				FROM (SELECT target, username, COUNT(*) AS n, MAX(received_at) AS la FROM messages
					WHERE username <> '' AND type NOT IN ('system', 'join', 'leave') AND id <= (SELECT indexed_id FROM index_state WHERE id = 1)
					GROUP BY target, username) m
				WHERE m.target = u.target AND m.username = u.username`,
		},
		// 9: the incremental analyses' persisted state.
		{
			`CREATE TABLE analysis_state (
				name       text   PRIMARY KEY,
				applied_id bigint NOT NULL,
				data       bytea  NOT NULL
			)`,
		},
		// 10: several collectors per database.
		{
			`CREATE TABLE collectors (
				id           bigint PRIMARY KEY,
				name         text   NOT NULL DEFAULT '',
				pid          bigint NOT NULL DEFAULT 0,
				mode         text   NOT NULL DEFAULT '',
				version      text   NOT NULL DEFAULT '',
				started_at   bigint NOT NULL DEFAULT 0,
				heartbeat_at bigint NOT NULL DEFAULT 0,
				stopped_at   bigint NOT NULL DEFAULT 0,
				applied_seq  bigint NOT NULL DEFAULT 0
			)`,
			`INSERT INTO collectors (id, applied_seq) SELECT 1, applied_seq FROM ingest_state WHERE id = 1`,
			`CREATE TABLE leases (
				name       text   PRIMARY KEY,
				owner      bigint NOT NULL,
				epoch      bigint NOT NULL,
				prev_owner bigint NOT NULL DEFAULT 0,
				granted_at bigint NOT NULL,
				granted_id bigint NOT NULL,
				expires_at bigint NOT NULL
			)`,
			`CREATE TABLE database_identity (id bigint PRIMARY KEY CHECK (id = 1), uid text NOT NULL)`,
			`INSERT INTO database_identity (id, uid) VALUES (1, md5(random()::text || clock_timestamp()::text))`,
			// Dedup keys are looked up across collectors after a target
			// changed hands (write_pg.go). SQLite has one writer, whose
			// in-memory dedup sees every key: it has no such index.
			`CREATE INDEX messages_dedup ON messages (dedup_key) WHERE dedup_key IS NOT NULL`,
		},
		// 11: user behaviour rollups (internal/analysis, analysis_behaviour):
		// kept behind ingest, written with the analysis's applied id in
		// analysis_state. Hours are local hours (the configured zone's
		// wall clock as Unix ms / 3,600,000), so days and heatmaps fold
		// from them exactly.
		{
			`CREATE TABLE beh_users (username text PRIMARY KEY, messages bigint NOT NULL, first_seen bigint NOT NULL,
				last_seen bigint NOT NULL, prev_seen bigint NOT NULL, sessions bigint NOT NULL)`,
			`CREATE INDEX beh_users_messages ON beh_users (messages, username)`,
			`CREATE INDEX beh_users_last ON beh_users (last_seen, username)`,
			`CREATE INDEX beh_users_first ON beh_users (first_seen, username)`,
			`CREATE TABLE beh_user_hours (username text NOT NULL, hour bigint NOT NULL, count bigint NOT NULL,
				PRIMARY KEY (username, hour))`,
			`CREATE TABLE beh_user_rooms (username text NOT NULL, target text NOT NULL, room text NOT NULL,
				count bigint NOT NULL, last_seen bigint NOT NULL, PRIMARY KEY (username, target, room))`,
			`CREATE TABLE beh_pairs (first_user text NOT NULL, second_user text NOT NULL, count bigint NOT NULL,
				PRIMARY KEY (first_user, second_user))`,
			`CREATE INDEX beh_pairs_second ON beh_pairs (second_user)`,
			`CREATE TABLE beh_room_hours (room text NOT NULL, target text NOT NULL, hour bigint NOT NULL, count bigint NOT NULL,
				PRIMARY KEY (room, target, hour))`,
			`CREATE INDEX beh_room_hours_hour ON beh_room_hours (hour)`,
			`CREATE TABLE beh_target_hours (hour bigint NOT NULL, target text NOT NULL, count bigint NOT NULL,
				PRIMARY KEY (hour, target))`,
			`CREATE TABLE beh_target_minutes (minute bigint NOT NULL, target text NOT NULL, count bigint NOT NULL,
				PRIMARY KEY (minute, target))`,
		},
		// 12: the behaviour rollups key users by an integer id (beh_users.id)
		// instead of the name: a flush's b-tree work per row is a fraction
		// (internal/store BenchmarkFlushBehaviour). The rollups are derived:
		// they are emptied with their state, and the analysis rebuilds them
		// from the stored messages at its next start.
		{
			`DROP TABLE beh_pairs`,
			`DROP TABLE beh_user_rooms`,
			`DROP TABLE beh_user_hours`,
			`DROP TABLE beh_users`,
			`DELETE FROM beh_room_hours`,
			`DELETE FROM beh_target_hours`,
			`DELETE FROM beh_target_minutes`,
			`DELETE FROM analysis_state WHERE name = 'behaviour'`,
			`CREATE TABLE beh_users (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, username text NOT NULL UNIQUE, messages bigint NOT NULL,
				first_seen bigint NOT NULL, last_seen bigint NOT NULL, prev_seen bigint NOT NULL, sessions bigint NOT NULL)`,
			`CREATE INDEX beh_users_messages ON beh_users (messages, username)`,
			`CREATE INDEX beh_users_last ON beh_users (last_seen, username)`,
			`CREATE INDEX beh_users_first ON beh_users (first_seen, username)`,
			`CREATE TABLE beh_user_hours (user_id bigint NOT NULL, hour bigint NOT NULL, count bigint NOT NULL,
				PRIMARY KEY (user_id, hour))`,
			`CREATE TABLE beh_user_rooms (user_id bigint NOT NULL, target text NOT NULL, room text NOT NULL,
				count bigint NOT NULL, last_seen bigint NOT NULL, PRIMARY KEY (user_id, target, room))`,
			`CREATE TABLE beh_pairs (first_id bigint NOT NULL, second_id bigint NOT NULL, count bigint NOT NULL,
				PRIMARY KEY (first_id, second_id))`,
			`CREATE INDEX beh_pairs_second ON beh_pairs (second_id)`,
		},
	},

	upsertSessionStart: `INSERT INTO sessions (id, target, url, connected_at, protocol) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
	updateSessionEnd:   `UPDATE sessions SET disconnected_at = $1, close_code = $2, close_reason = $3, error = $4, control_frames = $5 WHERE id = $6`,
	sessionProtocol:    `SELECT protocol FROM sessions WHERE id = $1`,
	lastSessionMessage: `SELECT received_at FROM messages WHERE session_id = $1 ORDER BY id DESC LIMIT 1`,
	closeOrphanSession: `UPDATE sessions SET disconnected_at = $1, error = $2 WHERE id = $3 AND disconnected_at IS NULL`,
	addSessionMessages: `UPDATE sessions SET messages = messages + $1 WHERE id = $2`,
	setApplied:         `UPDATE collectors SET applied_seq = $1 WHERE id = $2`,
	getApplied:         `SELECT applied_seq FROM collectors WHERE id = $1`,
	nowMillis:          `(extract(epoch from clock_timestamp()) * 1000)::bigint`,
	usedBytes: `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')`,
}
