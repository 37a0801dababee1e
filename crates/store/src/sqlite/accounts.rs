//! [`Accounts`] for the embedded backend: users, sessions, API tokens, the setup token and
//! failed sign-in attempts in their own tables (migration 2), and Ward's audit trail read from
//! `events` through the partial index on `product = 'ward'`.
//!
//! Must never build SQL from a value, and never name a token, hash or password in an error.

use super::{During, EVENT_COLUMNS, SqliteStore, decode_event_row, limit_value, uint};
use crate::accounts::{
    AUDIT_PRODUCT, Accounts, ApiTokenRecord, AuditQuery, SessionRecord, SessionStage, UserChange,
    UserRecord,
};
use crate::{Result, StoreError};
use rusqlite::types::Value;
use rusqlite::{OptionalExtension, Row, TransactionBehavior, params, params_from_iter};
use ward_model::{Event, Timestamp};

/// Failed attempts older than this are pruned when a new one is recorded; throttling windows
/// are far shorter.
const ATTEMPT_RETENTION_MS: i64 = 24 * 3_600_000;

const USER_COLUMNS: &str = "SELECT name, role, password_hash, totp_secret, failed_logins, locked_until, disabled, created_at FROM users";

fn user_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        name: row.get(0)?,
        role: row.get(1)?,
        password_hash: row.get(2)?,
        totp_secret: row.get(3)?,
        failed_logins: u32::try_from(row.get::<_, i64>(4)?).unwrap_or(u32::MAX),
        locked_until: row.get::<_, Option<i64>>(5)?.map(Timestamp),
        disabled: row.get::<_, i64>(6)? != 0,
        created_at: Timestamp(row.get(7)?),
    })
}

/// A sealed TOTP secret: this marker, the data key's id (8 bytes, little-endian), then the
/// sealed secret. A plain secret (a store without encryption) is 20 random bytes and never
/// this long.
const SEALED_TOTP: &[u8] = b"WK1";

impl SqliteStore {
    /// What the `totp_secret` column holds for `secret`: sealed in an encrypted store.
    fn seal_totp(&self, name: &str, secret: &[u8]) -> Result<Vec<u8>> {
        let Some(key) = self.sealing_key()? else {
            return Ok(secret.to_vec());
        };
        let mut out = SEALED_TOTP.to_vec();
        out.extend_from_slice(&key.id().to_le_bytes());
        key.seal_into(&totp_aad(name), secret, &mut out)
            .map_err(|e| crate::StoreError::Keys(e.to_string()))?;
        Ok(out)
    }

    /// The user as stored, with the TOTP secret opened.
    fn open_totp(&self, mut user: UserRecord) -> Result<UserRecord> {
        let Some(stored) = &user.totp_secret else {
            return Ok(user);
        };
        if stored.len() < SEALED_TOTP.len() + 8 + 28 || !stored.starts_with(SEALED_TOTP) {
            return Ok(user);
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&stored[3..11]);
        let opened = crate::keyring::open_sealed(
            self.vault.as_ref(),
            i64::from_le_bytes(id),
            &totp_aad(&user.name),
            &stored[11..],
            &format!("the TOTP secret of {}", user.name),
        )?;
        user.totp_secret = Some(opened);
        Ok(user)
    }
}

fn totp_aad(name: &str) -> Vec<u8> {
    format!("totp\0{name}").into_bytes()
}

const SESSION_COLUMNS: &str =
    "SELECT token_sha256, user, stage, created_at, last_seen, ip FROM sessions";

fn session_row(row: &Row<'_>) -> rusqlite::Result<(Vec<u8>, SessionRecordParts)> {
    Ok((
        row.get(0)?,
        SessionRecordParts {
            user: row.get(1)?,
            stage: row.get(2)?,
            created_at: row.get(3)?,
            last_seen: row.get(4)?,
            ip: row.get(5)?,
        },
    ))
}

struct SessionRecordParts {
    user: String,
    stage: String,
    created_at: i64,
    last_seen: i64,
    ip: Option<String>,
}

const TOKEN_COLUMNS: &str = "SELECT id, token_sha256, name, role, created_by, created_at, expires_at, revoked FROM api_tokens";

fn token_row(row: &Row<'_>) -> rusqlite::Result<(Vec<u8>, ApiTokenRecord)> {
    Ok((
        row.get(1)?,
        ApiTokenRecord {
            id: row.get(0)?,
            token_sha256: [0; 32],
            name: row.get(2)?,
            role: row.get(3)?,
            created_by: row.get(4)?,
            created_at: Timestamp(row.get(5)?),
            expires_at: Timestamp(row.get(6)?),
            revoked: row.get::<_, i64>(7)? != 0,
        },
    ))
}

fn hash32(bytes: &[u8], what: &str) -> Result<[u8; 32]> {
    <[u8; 32]>::try_from(bytes).map_err(|_| StoreError::Corrupt {
        what: what.to_string(),
        reason: format!("its token hash is {} bytes, not 32", bytes.len()),
    })
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

impl Accounts for SqliteStore {
    fn create_user(&self, user: &UserRecord) -> Result<bool> {
        const OP: &str = "create user";
        let totp = user
            .totp_secret
            .as_deref()
            .map(|secret| self.seal_totp(&user.name, secret))
            .transpose()?;
        let writer = self.writer();
        let inserted = writer
            .conn
            .prepare_cached(
                "INSERT INTO users (name, role, password_hash, totp_secret, failed_logins, locked_until, disabled, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    user.name,
                    user.role,
                    user.password_hash,
                    totp,
                    i64::from(user.failed_logins),
                    user.locked_until.map(Timestamp::millis),
                    i64::from(user.disabled),
                    user.created_at.millis(),
                ])
            });
        match inserted {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e).during(OP),
        }
    }

    fn get_user(&self, name: &str) -> Result<Option<UserRecord>> {
        const OP: &str = "get user";
        let reader = self.reader()?;
        let sql = format!("{USER_COLUMNS} WHERE name = ?1");
        let user = reader
            .prepare_cached(&sql)
            .and_then(|mut s| s.query_row([name], user_row).optional())
            .during(OP)?;
        user.map(|u| self.open_totp(u)).transpose()
    }

    fn list_users(&self) -> Result<Vec<UserRecord>> {
        const OP: &str = "list users";
        let reader = self.reader()?;
        let sql = format!("{USER_COLUMNS} ORDER BY name");
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let rows = stmt.query_map([], user_row).during(OP)?;
        let users = rows.collect::<rusqlite::Result<Vec<_>>>().during(OP)?;
        users.into_iter().map(|u| self.open_totp(u)).collect()
    }

    fn count_users(&self) -> Result<u64> {
        const OP: &str = "count users";
        let reader = self.reader()?;
        let n: i64 = reader
            .prepare_cached("SELECT count(*) FROM users")
            .and_then(|mut s| s.query_row([], |row| row.get(0)))
            .during(OP)?;
        Ok(uint(n))
    }

    fn update_user(&self, name: &str, change: &UserChange) -> Result<bool> {
        const OP: &str = "update user";
        // Sealed before the writer lock is taken: starting a period's data key needs it.
        let totp = match &change.totp_secret {
            None => None,
            Some(None) => Some(Value::Null),
            Some(Some(secret)) => Some(Value::Blob(self.seal_totp(name, secret)?)),
        };
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        let exists = tx
            .prepare_cached("SELECT 1 FROM users WHERE name = ?1")
            .and_then(|mut s| s.exists([name]))
            .during(OP)?;
        if !exists {
            return Ok(false);
        }
        let run = |sql: &str, value: Value| -> Result<()> {
            tx.prepare_cached(sql)
                .and_then(|mut s| s.execute(params![name, value]))
                .during(OP)?;
            Ok(())
        };
        if let Some(role) = &change.role {
            run(
                "UPDATE users SET role = ?2 WHERE name = ?1",
                Value::Text(role.clone()),
            )?;
        }
        if let Some(hash) = &change.password_hash {
            run(
                "UPDATE users SET password_hash = ?2 WHERE name = ?1",
                Value::Text(hash.clone()),
            )?;
        }
        if let Some(value) = totp {
            run("UPDATE users SET totp_secret = ?2 WHERE name = ?1", value)?;
        }
        if let Some(disabled) = change.disabled {
            run(
                "UPDATE users SET disabled = ?2 WHERE name = ?1",
                Value::Integer(i64::from(disabled)),
            )?;
        }
        if change.unlock {
            run(
                "UPDATE users SET failed_logins = 0, locked_until = ?2 WHERE name = ?1",
                Value::Null,
            )?;
        }
        tx.commit().during(OP)?;
        Ok(true)
    }

    fn record_failed_login(
        &self,
        name: &str,
        lock_after: u32,
        lock_until: Timestamp,
    ) -> Result<Option<UserRecord>> {
        const OP: &str = "record failed sign-in";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        tx.prepare_cached(
            "UPDATE users SET failed_logins = failed_logins + 1,
                 locked_until = CASE WHEN failed_logins + 1 >= ?2 THEN ?3 ELSE locked_until END
             WHERE name = ?1",
        )
        .and_then(|mut s| s.execute(params![name, i64::from(lock_after), lock_until.millis()]))
        .during(OP)?;
        let sql = format!("{USER_COLUMNS} WHERE name = ?1");
        let user = tx
            .prepare_cached(&sql)
            .and_then(|mut s| s.query_row([name], user_row).optional())
            .during(OP)?;
        tx.commit().during(OP)?;
        user.map(|u| self.open_totp(u)).transpose()
    }

    fn record_successful_login(&self, name: &str) -> Result<()> {
        const OP: &str = "record sign-in";
        let writer = self.writer();
        writer
            .conn
            .prepare_cached(
                "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE name = ?1",
            )
            .and_then(|mut s| s.execute([name]))
            .during(OP)?;
        Ok(())
    }

    fn record_login_attempt(&self, key: &str, at: Timestamp) -> Result<()> {
        const OP: &str = "record sign-in attempt";
        let mut writer = self.writer();
        let tx = writer
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .during(OP)?;
        tx.prepare_cached("INSERT INTO login_attempts (key, time) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![key, at.millis()]))
            .during(OP)?;
        tx.prepare_cached("DELETE FROM login_attempts WHERE key = ?1 AND time < ?2")
            .and_then(|mut s| s.execute(params![key, at.millis() - ATTEMPT_RETENTION_MS]))
            .during(OP)?;
        tx.commit().during(OP)
    }

    fn count_login_attempts(&self, key: &str, since: Timestamp) -> Result<u64> {
        const OP: &str = "count sign-in attempts";
        let reader = self.reader()?;
        let n: i64 = reader
            .prepare_cached("SELECT count(*) FROM login_attempts WHERE key = ?1 AND time >= ?2")
            .and_then(|mut s| s.query_row(params![key, since.millis()], |row| row.get(0)))
            .during(OP)?;
        Ok(uint(n))
    }

    fn create_session(&self, session: &SessionRecord) -> Result<()> {
        const OP: &str = "create session";
        let writer = self.writer();
        writer
            .conn
            .prepare_cached(
                "INSERT INTO sessions (token_sha256, user, stage, created_at, last_seen, ip)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    &session.token_sha256[..],
                    session.user,
                    session.stage.as_str(),
                    session.created_at.millis(),
                    session.last_seen.millis(),
                    session.ip,
                ])
            })
            .during(OP)?;
        Ok(())
    }

    fn get_session(&self, token_sha256: &[u8; 32]) -> Result<Option<SessionRecord>> {
        const OP: &str = "get session";
        let reader = self.reader()?;
        let sql = format!("{SESSION_COLUMNS} WHERE token_sha256 = ?1");
        let row = reader
            .prepare_cached(&sql)
            .and_then(|mut s| s.query_row([&token_sha256[..]], session_row).optional())
            .during(OP)?;
        let Some((hash, parts)) = row else {
            return Ok(None);
        };
        let stage = SessionStage::parse(&parts.stage).ok_or_else(|| StoreError::Corrupt {
            what: "a session".into(),
            reason: "its stage is not one Ward knows".into(),
        })?;
        Ok(Some(SessionRecord {
            token_sha256: hash32(&hash, "a session")?,
            user: parts.user,
            stage,
            created_at: Timestamp(parts.created_at),
            last_seen: Timestamp(parts.last_seen),
            ip: parts.ip,
        }))
    }

    fn touch_session(
        &self,
        token_sha256: &[u8; 32],
        last_seen: Timestamp,
        stage: Option<SessionStage>,
    ) -> Result<bool> {
        const OP: &str = "touch session";
        let writer = self.writer();
        let changed = writer
            .conn
            .prepare_cached(
                "UPDATE sessions SET last_seen = max(last_seen, ?2), stage = coalesce(?3, stage)
                 WHERE token_sha256 = ?1",
            )
            .and_then(|mut s| {
                s.execute(params![
                    &token_sha256[..],
                    last_seen.millis(),
                    stage.map(SessionStage::as_str)
                ])
            })
            .during(OP)?;
        Ok(changed > 0)
    }

    fn delete_session(&self, token_sha256: &[u8; 32]) -> Result<bool> {
        const OP: &str = "delete session";
        let writer = self.writer();
        let changed = writer
            .conn
            .prepare_cached("DELETE FROM sessions WHERE token_sha256 = ?1")
            .and_then(|mut s| s.execute([&token_sha256[..]]))
            .during(OP)?;
        Ok(changed > 0)
    }

    fn delete_user_sessions(&self, user: &str) -> Result<u64> {
        const OP: &str = "delete sessions";
        let writer = self.writer();
        let changed = writer
            .conn
            .prepare_cached("DELETE FROM sessions WHERE user = ?1")
            .and_then(|mut s| s.execute([user]))
            .during(OP)?;
        Ok(changed as u64)
    }

    fn expire_sessions(&self, idle_before: Timestamp, created_before: Timestamp) -> Result<u64> {
        const OP: &str = "expire sessions";
        let writer = self.writer();
        let changed = writer
            .conn
            .prepare_cached("DELETE FROM sessions WHERE last_seen < ?1 OR created_at < ?2")
            .and_then(|mut s| s.execute(params![idle_before.millis(), created_before.millis()]))
            .during(OP)?;
        Ok(changed as u64)
    }

    fn create_api_token(&self, token: &ApiTokenRecord) -> Result<bool> {
        const OP: &str = "create API token";
        let writer = self.writer();
        let inserted = writer
            .conn
            .prepare_cached(
                "INSERT INTO api_tokens (id, token_sha256, name, role, created_by, created_at, expires_at, revoked)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    token.id,
                    &token.token_sha256[..],
                    token.name,
                    token.role,
                    token.created_by,
                    token.created_at.millis(),
                    token.expires_at.millis(),
                    i64::from(token.revoked),
                ])
            });
        match inserted {
            Ok(_) => Ok(true),
            Err(e) if is_unique_violation(&e) => Ok(false),
            Err(e) => Err(e).during(OP),
        }
    }

    fn get_api_token(&self, token_sha256: &[u8; 32]) -> Result<Option<ApiTokenRecord>> {
        const OP: &str = "get API token";
        let reader = self.reader()?;
        let sql = format!("{TOKEN_COLUMNS} WHERE token_sha256 = ?1");
        let row = reader
            .prepare_cached(&sql)
            .and_then(|mut s| s.query_row([&token_sha256[..]], token_row).optional())
            .during(OP)?;
        row.map(|(hash, mut token)| {
            token.token_sha256 = hash32(&hash, "an API token")?;
            Ok(token)
        })
        .transpose()
    }

    fn list_api_tokens(&self) -> Result<Vec<ApiTokenRecord>> {
        const OP: &str = "list API tokens";
        let reader = self.reader()?;
        let sql = format!("{TOKEN_COLUMNS} ORDER BY created_at DESC, id DESC");
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let rows = stmt.query_map([], token_row).during(OP)?;
        let mut tokens = Vec::new();
        for row in rows {
            let (hash, mut token) = row.during(OP)?;
            token.token_sha256 = hash32(&hash, "an API token")?;
            tokens.push(token);
        }
        Ok(tokens)
    }

    fn revoke_api_token(&self, id: &str) -> Result<bool> {
        const OP: &str = "revoke API token";
        let writer = self.writer();
        let changed = writer
            .conn
            .prepare_cached("UPDATE api_tokens SET revoked = 1 WHERE id = ?1")
            .and_then(|mut s| s.execute([id]))
            .during(OP)?;
        Ok(changed > 0)
    }

    fn set_setup_token(&self, token_sha256: Option<&[u8; 32]>) -> Result<()> {
        const OP: &str = "set setup token";
        let writer = self.writer();
        let result = match token_sha256 {
            Some(hash) => writer
                .conn
                .prepare_cached(
                    "INSERT OR REPLACE INTO setup_token (one, token_sha256) VALUES (1, ?1)",
                )
                .and_then(|mut s| s.execute([&hash[..]])),
            None => writer
                .conn
                .prepare_cached("DELETE FROM setup_token")
                .and_then(|mut s| s.execute([])),
        };
        result.during(OP)?;
        Ok(())
    }

    fn setup_token_pending(&self) -> Result<bool> {
        const OP: &str = "read setup token";
        let reader = self.reader()?;
        reader
            .prepare_cached("SELECT 1 FROM setup_token")
            .and_then(|mut s| s.exists([]))
            .during(OP)
    }

    fn consume_setup_token(&self, token_sha256: &[u8; 32]) -> Result<bool> {
        const OP: &str = "use setup token";
        let writer = self.writer();
        // One statement: two requests racing with the same token cannot both delete the row.
        let changed = writer
            .conn
            .prepare_cached("DELETE FROM setup_token WHERE one = 1 AND token_sha256 = ?1")
            .and_then(|mut s| s.execute([&token_sha256[..]]))
            .during(OP)?;
        Ok(changed > 0)
    }

    fn audit_events(&self, query: &AuditQuery) -> Result<Vec<Event>> {
        const OP: &str = "read audit trail";
        debug_assert_eq!(AUDIT_PRODUCT, "ward");
        // The product is written into the SQL (not bound) so the planner can match the partial
        // index `events_ward_audit`.
        let mut sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE product = 'ward'");
        let mut args: Vec<Value> = Vec::new();
        if let Some(since) = query.since {
            sql.push_str(" AND time >= ?");
            args.push(Value::Integer(since.millis()));
        }
        if let Some(until) = query.until {
            sql.push_str(" AND time < ?");
            args.push(Value::Integer(until.millis()));
        }
        if let Some(user) = &query.user {
            sql.push_str(" AND user_key = ?");
            args.push(Value::Text(self.keys.lookup_key(user).into_owned()));
        }
        if let Some(patient) = &query.patient {
            sql.push_str(" AND patient_key = ?");
            args.push(Value::Text(self.keys.lookup_key(patient).into_owned()));
        }
        sql.push_str(" ORDER BY time DESC, id DESC LIMIT ?");
        args.push(limit_value(query.limit));
        let reader = self.reader()?;
        let mut stmt = reader.prepare_cached(&sql).during(OP)?;
        let mut rows = stmt.query(params_from_iter(&args)).during(OP)?;
        let mut events = Vec::new();
        while let Some(row) = rows.next().during(OP)? {
            events.push(decode_event_row(row, self.vault.as_ref())?);
        }
        Ok(events)
    }
}
