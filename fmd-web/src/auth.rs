//! Logins, sessions and API tokens.
//!
//! Passwords are kept as argon2 hashes. A session is a random token in an `HttpOnly` cookie;
//! the database keeps its SHA-256 with the user, role, expiry and a CSRF token, so a session
//! works on every instance and ends everywhere when it is logged out, expires, or its user is
//! deleted or changes password. Each instance keeps what it looked up for
//! [`SESSION_CACHE`], so a dashboard request costs at most one indexed look-up and an ending
//! reaches every instance within that time. State-changing calls must echo the CSRF token in
//! the `X-CSRF-Token` header (double submit: the readable `fmd_csrf` cookie holds it for
//! scripts).

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use fmd_core::Config;
use fmd_store::{SessionRow, Store, StoreError};

use crate::throttle::Throttle;
use crate::Error;

/// How long an instance trusts what it looked up about a session: the most an ended session
/// can go on working on another instance.
pub(crate) const SESSION_CACHE: Duration = Duration::from_secs(2);
/// Sessions an instance remembers at most.
const MAX_CACHED: usize = 10_000;

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Sees and changes everything.
    Admin,
    /// Sees everything, changes nothing.
    Guest,
}

/// A logged-in user.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// The stored id: the SHA-256 of the cookie's token.
    pub(crate) id: String,
    pub(crate) username: String,
    pub(crate) role: Role,
    pub(crate) csrf: String,
    /// When it ends, microseconds since the epoch.
    pub(crate) expires: i64,
}

impl From<SessionRow> for Session {
    fn from(row: SessionRow) -> Self {
        Session {
            id: row.id,
            username: row.username,
            role: if row.is_admin != 0 {
                Role::Admin
            } else {
                Role::Guest
            },
            csrf: row.csrf,
            expires: row.expires,
        }
    }
}

/// The stored id of the session whose cookie holds `token`.
pub(crate) fn session_id(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

pub(crate) struct Auth {
    guest_username: String,
    guest_hashes: Vec<String>,
    lifetime: Duration,
    security_token: Option<String>,
    /// What this instance looked up about sessions, by id, and when.
    cache: Mutex<HashMap<String, (Option<Session>, Instant)>>,
    pub(crate) throttle: Throttle,
}

/// Whether `username`'s password comes from the configuration (the administrator with
/// `password` or `password_hash` set), which sets it again at every start.
pub(crate) fn password_from_config(config: &Config, username: &str) -> bool {
    username == config.username && (config.password.is_some() || config.password_hash.is_some())
}

pub(crate) fn hash_password(password: &str) -> Result<String, String> {
    let salt_bytes: [u8; 16] = rand::rng().random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

pub(crate) fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

pub(crate) fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Constant-time comparison, so a token cannot be guessed byte by byte from response times.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

impl Auth {
    /// Sets up users at start-up: the configured administrator (hashing a plain password), or a
    /// generated one printed once when the database has no administrator yet. A configured
    /// password that differs from the stored one ends the administrator's sessions.
    pub(crate) fn start(config: &Config, store: &Store) -> Result<Auth, Error> {
        let stored = store.user(&config.username)?;
        let unchanged = |stored_hash: &str| match (&config.password_hash, &config.password) {
            (Some(hash), _) => hash == stored_hash,
            (None, Some(plain)) => verify_password(plain, stored_hash),
            (None, None) => true,
        };
        let admin_hash = match (&config.password_hash, &config.password) {
            _ if stored
                .as_ref()
                .is_some_and(|u| u.is_admin != 0 && unchanged(&u.password_hash)) =>
            {
                None
            }
            (Some(hash), _) => {
                PasswordHash::new(hash).map_err(|e| {
                    Error::Password(format!("password_hash is not an argon2 PHC string ({e})"))
                })?;
                Some(hash.clone())
            }
            (None, Some(plain)) => Some(hash_password(plain).map_err(Error::Password)?),
            (None, None) => None,
        };
        match admin_hash {
            Some(hash) => {
                store.upsert_user(&config.username, &hash, true)?;
                store.delete_sessions_of(&config.username, None)?;
            }
            None if store.admin_count()? == 0 => {
                let password = random_password();
                let hash = hash_password(&password).map_err(Error::Password)?;
                store.upsert_user(&config.username, &hash, true)?;
                eprintln!(
                    "fmd: created dashboard administrator {:?} with password {password:?}. \
                     It is shown only this once and stored hashed; set [authentication] password \
                     (or FMD_PASSWORD) to choose your own.",
                    config.username
                );
            }
            None => {}
        }
        let guest_hashes = config
            .guest_password
            .iter()
            .map(|p| hash_password(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(Error::Password)?;
        Ok(Auth {
            guest_username: config.guest_username.clone(),
            guest_hashes,
            lifetime: config.session_lifetime(),
            security_token: config.security_token.clone().filter(|t| !t.is_empty()),
            cache: Mutex::new(HashMap::new()),
            throttle: Throttle::default(),
        })
    }

    /// Checks a login; slow by design (argon2), so call it off the async threads.
    pub(crate) fn login(
        &self,
        store: &Store,
        username: &str,
        password: &str,
    ) -> Result<Option<Role>, StoreError> {
        if username == self.guest_username && !self.guest_hashes.is_empty() {
            let ok = self
                .guest_hashes
                .iter()
                .any(|h| verify_password(password, h));
            return Ok(ok.then_some(Role::Guest));
        }
        let Some(user) = store.user(username)? else {
            // Hash anyway so an unknown name takes as long as a wrong password.
            let _ = hash_password(password);
            return Ok(None);
        };
        let ok = verify_password(password, &user.password_hash);
        Ok(ok.then_some(if user.is_admin != 0 {
            Role::Admin
        } else {
            Role::Guest
        }))
    }

    /// Opens a session for `username` (a store call): the cookie's token and the session.
    /// Sessions that have expired are forgotten on the way.
    pub(crate) fn open(
        &self,
        store: &Store,
        username: &str,
        role: Role,
    ) -> Result<(String, Session), StoreError> {
        let token = random_token(32);
        let now = fmd_core::now_micros();
        let row = SessionRow {
            id: session_id(&token),
            username: username.to_owned(),
            is_admin: i32::from(role == Role::Admin),
            csrf: random_token(18),
            created: now,
            expires: now.saturating_add(self.lifetime.as_micros().min(i64::MAX as u128) as i64),
        };
        store.delete_expired_sessions(now)?;
        store.add_session(&row)?;
        Ok((token, row.into()))
    }

    /// What this instance knows of session `id` from a look-up less than [`SESSION_CACHE`]
    /// ago: `Some(None)` when it was not there, `None` when it must be looked up.
    pub(crate) fn cached(&self, id: &str) -> Option<Option<Session>> {
        let cache = self.cache.lock();
        let (session, when) = cache.get(id)?;
        if when.elapsed() >= SESSION_CACHE {
            return None;
        }
        let now = fmd_core::now_micros();
        Some(session.clone().filter(|s| s.expires > now))
    }

    /// Looks session `id` up in the store (a store call) and remembers the answer.
    pub(crate) fn look_up(&self, store: &Store, id: String) -> Result<Option<Session>, StoreError> {
        let session = store
            .session(&id, fmd_core::now_micros())?
            .map(Session::from);
        let mut cache = self.cache.lock();
        if cache.len() >= MAX_CACHED {
            cache.retain(|_, (_, when)| when.elapsed() < SESSION_CACHE);
            if cache.len() >= MAX_CACHED {
                cache.clear();
            }
        }
        cache.insert(id, (session.clone(), Instant::now()));
        Ok(session)
    }

    /// Ends session `id` (a store call), at once on this instance.
    pub(crate) fn end(&self, store: &Store, id: &str) -> Result<(), StoreError> {
        store.delete_session(id)?;
        self.forget(|s| s.id == id);
        Ok(())
    }

    /// Drops the remembered sessions `ended` picks, so this instance refuses them at once after
    /// they were ended in the store (others within [`SESSION_CACHE`]).
    pub(crate) fn forget(&self, ended: impl Fn(&Session) -> bool) {
        self.cache
            .lock()
            .retain(|_, (session, _)| !session.as_ref().is_some_and(&ended));
    }

    /// Whether `token` is the configured security token.
    pub(crate) fn bearer_ok(&self, token: &str) -> bool {
        self.security_token
            .as_ref()
            .is_some_and(|t| same(t.as_bytes(), token.as_bytes()))
    }

    pub(crate) fn lifetime(&self) -> Duration {
        self.lifetime
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hashes_verify() {
        let hash = hash_password("s3cret").unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("s3cret", &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password("s3cret", "not a hash"));
    }

    #[test]
    fn constant_time_compare() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
    }
}
