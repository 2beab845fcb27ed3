package store

// dialect holds everything that differs between databases: SQL text only.
// The Go logic that runs it is shared.
type dialect struct {
	name string
	// lockMigrations, when set, is run first in every migration step's
	// transaction (PostgreSQL: several processes may start at once).
	lockMigrations   string
	createMigrations string
	recordMigration  string
	// migrations[i] holds the statements of schema version i+1. Append-only:
	// never edit a released step, add a new one.
	migrations [][]string

	insertMessagePrefix string // INSERT ... VALUES (SQLite; PostgreSQL copies the rows: COPY)
	messageValues       string // one row's placeholders (SQLite)
	upsertSessionStart  string
	updateSessionEnd    string
	addSessionMessages  string
	sessionProtocol     string
	lastSessionMessage  string // received_at of a session's newest message (walks messages newest first: an orphan session's last message is near the end)
	closeOrphanSession  string
	setApplied          string // applied_seq = ? of collector ?
	getApplied          string // applied_seq of collector ?
	nowMillis           string // the database's clock, Unix milliseconds (an SQL expression): leases expire by it
	// usedBytes is one query for the bytes the database holds
	// (PostgreSQL); SQLite's are counted from its pages (UsedBytes).
	usedBytes string
}

var sqliteDialect = &dialect{
	name:             "sqlite",
	createMigrations: `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`,
	recordMigration:  `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
	migrations: [][]string{
		// 1: messages, sessions, ingest cursor, the chat_messages view.
		{
			// Times are Unix milliseconds, UTC. raw is the frame as received.
			`CREATE TABLE messages (
				id          INTEGER PRIMARY KEY,
				target      TEXT    NOT NULL,
				session_id  INTEGER NOT NULL,
				received_at INTEGER NOT NULL,
				sent_at     INTEGER,
				username    TEXT    NOT NULL,
				room        TEXT    NOT NULL,
				type        TEXT    NOT NULL,
				content     TEXT    NOT NULL,
				raw         BLOB    NOT NULL,
				is_binary   INTEGER NOT NULL DEFAULT 0,
				ext_id      TEXT,
				dedup_key   INTEGER,
				reason      TEXT    NOT NULL DEFAULT ''
			)`,
			`CREATE TABLE sessions (
				id              INTEGER PRIMARY KEY,
				target          TEXT    NOT NULL,
				url             TEXT    NOT NULL,
				connected_at    INTEGER NOT NULL,
				disconnected_at INTEGER,
				close_code      INTEGER,
				close_reason    TEXT    NOT NULL DEFAULT '',
				messages        INTEGER NOT NULL DEFAULT 0,
				error           TEXT    NOT NULL DEFAULT ''
			)`,
			`CREATE INDEX sessions_target ON sessions (target, connected_at)`,
			// applied_seq: the last journal sequence whose effects are in this database.
			`CREATE TABLE ingest_state (id INTEGER PRIMARY KEY CHECK (id = 1), applied_seq INTEGER NOT NULL)`,
			`INSERT INTO ingest_state (id, applied_seq) VALUES (1, 0)`,
			// The Python monitor's table, as a view, so its documented export
			// works: sqlite3 data/chat_monitor.db "SELECT * FROM chat_messages;"
			`CREATE VIEW chat_messages AS
				SELECT id,
				       strftime('%Y-%m-%d %H:%M:%f', received_at / 1000.0, 'unixepoch', 'localtime') AS received_at,
				       username,
				       type AS message_type,
				       content,
				       CASE WHEN is_binary THEN hex(raw) ELSE CAST(raw AS TEXT) END AS raw_data,
				       target,
				       room,
				       CASE WHEN sent_at IS NULL THEN NULL
				            ELSE strftime('%Y-%m-%d %H:%M:%f', sent_at / 1000.0, 'unixepoch', 'localtime') END AS sent_at,
				       session_id,
				       reason
				FROM messages`,
		},
		// 2: search index segments and statistics rollups (internal/index).
		{
			// indexed_id: every message with id <= indexed_id is in the
			// index segments and the rollups.
			// deleted_below: messages with smaller ids were deleted by retention.
			`CREATE TABLE index_state (id INTEGER PRIMARY KEY CHECK (id = 1), indexed_id INTEGER NOT NULL, deleted_below INTEGER NOT NULL)`,
			`INSERT INTO index_state (id, indexed_id, deleted_below) VALUES (1, 0, 0)`,
			// A segment covers messages lo..hi; its postings are split into
			// buckets by gram hash, one row per (bucket, segment).
			`CREATE TABLE index_segments (seg INTEGER PRIMARY KEY, lo INTEGER NOT NULL, hi INTEGER NOT NULL, messages INTEGER NOT NULL)`,
			`CREATE TABLE index_blobs (bucket INTEGER NOT NULL, seg INTEGER NOT NULL, data BLOB NOT NULL)`,
			`CREATE UNIQUE INDEX index_blobs_key ON index_blobs (bucket, seg)`,
			// Long posting lists live in rows of their own, read only when walked.
			`CREATE TABLE index_lists (seg INTEGER NOT NULL, gram INTEGER NOT NULL, data BLOB NOT NULL)`,
			`CREATE UNIQUE INDEX index_lists_key ON index_lists (seg, gram)`,
			// Messages per target per 15-minute bucket (Unix ms / 900000),
			// with the id range, for daily/hourly charts and time filters.
			`CREATE TABLE rollup_quarter (target TEXT NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL,
				min_id INTEGER NOT NULL, max_id INTEGER NOT NULL, PRIMARY KEY (target, bucket)) WITHOUT ROWID`,
			`CREATE TABLE rollup_users (target TEXT NOT NULL, username TEXT NOT NULL, count INTEGER NOT NULL,
				first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, PRIMARY KEY (target, username)) WITHOUT ROWID`,
		},
		// 3: the protocol each session spoke (so records replayed from the
		// journal decode as they did live) and its control-frame count.
		{
			`ALTER TABLE sessions ADD COLUMN protocol TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE sessions ADD COLUMN control_frames INTEGER NOT NULL DEFAULT 0`,
		},
		// 4: targets managed at runtime, and the live status of each target
		// as the monitor process last reported it (read by a separate web
		// process).
		{
			// config is the JSON of a config.Target; source is 'config'
			// (config.json, the starting set) or 'api' (added at runtime).
			`CREATE TABLE targets (
				name       TEXT    PRIMARY KEY,
				config     TEXT    NOT NULL,
				paused     INTEGER NOT NULL DEFAULT 0,
				source     TEXT    NOT NULL,
				updated_at INTEGER NOT NULL
			)`,
			// Written on state changes (and at most every few seconds for
			// counters), never per message.
			`CREATE TABLE target_status (
				name        TEXT    PRIMARY KEY,
				state       TEXT    NOT NULL,
				protocol    TEXT    NOT NULL DEFAULT '',
				last_error  TEXT    NOT NULL DEFAULT '',
				stopped     TEXT    NOT NULL DEFAULT '',
				since       INTEGER NOT NULL,
				reconnects  INTEGER NOT NULL DEFAULT 0,
				frames      INTEGER NOT NULL DEFAULT 0,
				last_message_at INTEGER NOT NULL DEFAULT 0,
				updated_at  INTEGER NOT NULL
			)`,
		},
		// 5: alert rules managed at runtime, and the alert history.
		{
			// config is the JSON of a rules.Rule; source as for targets.
			`CREATE TABLE rules (
				name       TEXT    PRIMARY KEY,
				config     TEXT    NOT NULL,
				source     TEXT    NOT NULL,
				updated_at INTEGER NOT NULL
			)`,
			// One row per alert raised. message_id is set for alerts on a
			// message; (rule, message_id) is unique so that a journal
			// replay after a crash never records an alert twice.
			// delivery says what the notifiers did with it.
			`CREATE TABLE alerts (
				id          INTEGER PRIMARY KEY,
				rule        TEXT    NOT NULL,
				rule_type   TEXT    NOT NULL,
				target      TEXT    NOT NULL,
				room        TEXT    NOT NULL DEFAULT '',
				username    TEXT    NOT NULL DEFAULT '',
				content     TEXT    NOT NULL DEFAULT '',
				message_id  INTEGER,
				detail      TEXT    NOT NULL,
				at          INTEGER NOT NULL,
				suppressed  INTEGER NOT NULL DEFAULT 0,
				acked_at    INTEGER,
				delivery    TEXT    NOT NULL DEFAULT ''
			)`,
			`CREATE INDEX alerts_at ON alerts (at)`,
			`CREATE UNIQUE INDEX alerts_message ON alerts (rule, message_id) WHERE message_id IS NOT NULL`,
		},
		// 6: the automatic reply a rule sent for an alert, or why it was not
		// sent.
		{
			`ALTER TABLE alerts ADD COLUMN reply TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE alerts ADD COLUMN reply_error TEXT NOT NULL DEFAULT ''`,
		},
		// 7: honest status for a separate web process: every failed
		// connection attempt (no session started), the stable code of a
		// target's last error and when its next attempt is due, and the
		// monitor process's heartbeat.
		{
			// step: prepare, dial or handshake; code: capture's stable
			// error code; http_status: the upgrade's answer, 0 if none.
			`CREATE TABLE connection_attempts (
				id          INTEGER PRIMARY KEY,
				target      TEXT    NOT NULL,
				url         TEXT    NOT NULL,
				at          INTEGER NOT NULL,
				step        TEXT    NOT NULL,
				error       TEXT    NOT NULL,
				code        TEXT    NOT NULL,
				http_status INTEGER NOT NULL DEFAULT 0
			)`,
			`CREATE INDEX connection_attempts_target ON connection_attempts (target, at)`,
			`ALTER TABLE target_status ADD COLUMN error_code TEXT NOT NULL DEFAULT ''`,
			`ALTER TABLE target_status ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0`,
			// One row: the process holding the data directory (one writer
			// per directory). heartbeat_at is rewritten every couple of
			// seconds while it runs; stopped_at is set when it stops
			// cleanly (a killed process leaves a stale heartbeat).
			`CREATE TABLE monitor_process (
				id           INTEGER PRIMARY KEY CHECK (id = 1),
				pid          INTEGER NOT NULL,
				mode         TEXT    NOT NULL,
				version      TEXT    NOT NULL,
				started_at   INTEGER NOT NULL,
				heartbeat_at INTEGER NOT NULL,
				stopped_at   INTEGER NOT NULL DEFAULT 0
			)`,
		},
		// 8: the leaderboard and active users count only user activity
		// (not system, join or leave: message.IsActivity): per-user
		// activity count and newest activity time, computed here from the
		// messages the rollups already cover.
		{
			`ALTER TABLE rollup_users ADD COLUMN activity INTEGER NOT NULL DEFAULT 0`,
			`ALTER TABLE rollup_users ADD COLUMN last_active INTEGER NOT NULL DEFAULT 0`,
			`CREATE TEMP TABLE m8 AS SELECT target, username, COUNT(*) AS n, MAX(received_at) AS la FROM messages
				WHERE username <> '' AND type NOT IN ('system', 'join', 'leave') AND id <= (SELECT indexed_id FROM index_state WHERE id = 1)
				GROUP BY target, username`,
			`CREATE INDEX temp.m8_key ON m8 (target, username)`,
			`UPDATE rollup_users SET
				activity = COALESCE((SELECT n FROM m8 WHERE m8.target = rollup_users.target AND m8.username = rollup_users.username), 0),
				last_active = COALESCE((SELECT la FROM m8 WHERE m8.target = rollup_users.target AND m8.username = rollup_users.username), 0)`,
			`DROP TABLE temp.m8`,
		},
		// 9: the incremental analyses' persisted state (internal/analysis):
		// one row per analysis, its state and the highest message id
		// counted into it, so a restart counts each message once.
		{
			`CREATE TABLE analysis_state (
				name       TEXT PRIMARY KEY,
				applied_id INTEGER NOT NULL,
				data       BLOB NOT NULL
			)`,
		},
		// 10: several collectors per database (PostgreSQL; SQLite has one,
		// collector 1, its data directory locked). Each collector's row
		// holds its applied journal position (ingest_state's, now per
		// collector: collector 1 continues from it) and its sign of life;
		// leases say which collector owns a target, and which one writes
		// the index, with an epoch counting the grants; the database's uid
		// tells a data directory whether its collector id is this
		// database's.
		{
			`CREATE TABLE collectors (
				id           INTEGER PRIMARY KEY,
				name         TEXT    NOT NULL DEFAULT '',
				pid          INTEGER NOT NULL DEFAULT 0,
				mode         TEXT    NOT NULL DEFAULT '',
				version      TEXT    NOT NULL DEFAULT '',
				started_at   INTEGER NOT NULL DEFAULT 0,
				heartbeat_at INTEGER NOT NULL DEFAULT 0,
				stopped_at   INTEGER NOT NULL DEFAULT 0,
				applied_seq  INTEGER NOT NULL DEFAULT 0
			)`,
			`INSERT INTO collectors (id, applied_seq) SELECT 1, applied_seq FROM ingest_state WHERE id = 1`,
			`CREATE TABLE leases (
				name       TEXT    PRIMARY KEY,
				owner      INTEGER NOT NULL,
				epoch      INTEGER NOT NULL,
				prev_owner INTEGER NOT NULL DEFAULT 0,
				granted_at INTEGER NOT NULL,
				granted_id INTEGER NOT NULL,
				expires_at INTEGER NOT NULL
			)`,
			`CREATE TABLE database_identity (id INTEGER PRIMARY KEY CHECK (id = 1), uid TEXT NOT NULL)`,
			`INSERT INTO database_identity (id, uid) VALUES (1, lower(hex(randomblob(16))))`,
		},
		// 11: user behaviour rollups (internal/analysis, analysis_behaviour):
		// kept behind ingest, written with the analysis's applied id in
		// analysis_state. Hours are local hours (the configured zone's
		// wall clock as Unix ms / 3,600,000), so days and heatmaps fold
		// from them exactly.
		{
			`CREATE TABLE beh_users (username TEXT PRIMARY KEY, messages INTEGER NOT NULL, first_seen INTEGER NOT NULL,
				last_seen INTEGER NOT NULL, prev_seen INTEGER NOT NULL, sessions INTEGER NOT NULL) WITHOUT ROWID`,
			`CREATE INDEX beh_users_messages ON beh_users (messages, username)`,
			`CREATE INDEX beh_users_last ON beh_users (last_seen, username)`,
			`CREATE INDEX beh_users_first ON beh_users (first_seen, username)`,
			`CREATE TABLE beh_user_hours (username TEXT NOT NULL, hour INTEGER NOT NULL, count INTEGER NOT NULL,
				PRIMARY KEY (username, hour)) WITHOUT ROWID`,
			`CREATE TABLE beh_user_rooms (username TEXT NOT NULL, target TEXT NOT NULL, room TEXT NOT NULL,
				count INTEGER NOT NULL, last_seen INTEGER NOT NULL, PRIMARY KEY (username, target, room)) WITHOUT ROWID`,
			`CREATE TABLE beh_pairs (first_user TEXT NOT NULL, second_user TEXT NOT NULL, count INTEGER NOT NULL,
				PRIMARY KEY (first_user, second_user)) WITHOUT ROWID`,
			`CREATE INDEX beh_pairs_second ON beh_pairs (second_user)`,
			`CREATE TABLE beh_room_hours (room TEXT NOT NULL, target TEXT NOT NULL, hour INTEGER NOT NULL, count INTEGER NOT NULL,
				PRIMARY KEY (room, target, hour)) WITHOUT ROWID`,
			`CREATE INDEX beh_room_hours_hour ON beh_room_hours (hour)`,
			`CREATE TABLE beh_target_hours (hour INTEGER NOT NULL, target TEXT NOT NULL, count INTEGER NOT NULL,
				PRIMARY KEY (hour, target)) WITHOUT ROWID`,
			// Minutes are UTC: Unix ms / 60,000.
			`CREATE TABLE beh_target_minutes (minute INTEGER NOT NULL, target TEXT NOT NULL, count INTEGER NOT NULL,
				PRIMARY KEY (minute, target)) WITHOUT ROWID`,
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
			`CREATE TABLE beh_users (id INTEGER PRIMARY KEY, username TEXT NOT NULL UNIQUE, messages INTEGER NOT NULL,
				first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, prev_seen INTEGER NOT NULL, sessions INTEGER NOT NULL)`,
			`CREATE INDEX beh_users_messages ON beh_users (messages, username)`,
			`CREATE INDEX beh_users_last ON beh_users (last_seen, username)`,
			`CREATE INDEX beh_users_first ON beh_users (first_seen, username)`,
			`CREATE TABLE beh_user_hours (user_id INTEGER NOT NULL, hour INTEGER NOT NULL, count INTEGER NOT NULL,
				PRIMARY KEY (user_id, hour)) WITHOUT ROWID`,
			`CREATE TABLE beh_user_rooms (user_id INTEGER NOT NULL, target TEXT NOT NULL, room TEXT NOT NULL,
				count INTEGER NOT NULL, last_seen INTEGER NOT NULL, PRIMARY KEY (user_id, target, room)) WITHOUT ROWID`,
			`CREATE TABLE beh_pairs (first_id INTEGER NOT NULL, second_id INTEGER NOT NULL, count INTEGER NOT NULL,
				PRIMARY KEY (first_id, second_id)) WITHOUT ROWID`,
			`CREATE INDEX beh_pairs_second ON beh_pairs (second_id)`,
		},
	},

	insertMessagePrefix: `INSERT INTO messages (id, target, session_id, received_at, sent_at, username, room, type, content, raw, is_binary, ext_id, dedup_key, reason) VALUES `,
	messageValues:       `(?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
	upsertSessionStart:  `INSERT INTO sessions (id, target, url, connected_at, protocol) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
	updateSessionEnd:    `UPDATE sessions SET disconnected_at = ?, close_code = ?, close_reason = ?, error = ?, control_frames = ? WHERE id = ?`,
	sessionProtocol:     `SELECT protocol FROM sessions WHERE id = ?`,
	lastSessionMessage:  `SELECT received_at FROM messages WHERE session_id = ? ORDER BY id DESC LIMIT 1`,
	closeOrphanSession:  `UPDATE sessions SET disconnected_at = ?, error = ? WHERE id = ? AND disconnected_at IS NULL`,
	addSessionMessages:  `UPDATE sessions SET messages = messages + ? WHERE id = ?`,
	setApplied:          `UPDATE collectors SET applied_seq = ? WHERE id = ?`,
	getApplied:          `SELECT applied_seq FROM collectors WHERE id = ?`,
	nowMillis:           `CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`,
}
