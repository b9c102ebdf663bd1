//! Logins, sessions and API tokens.
//!
//! Passwords are kept as argon2 hashes. A session is a signed cookie (HMAC-SHA256 with a key
//! stored in the database, so logins survive restarts and work across instances) carrying the
//! user, role, expiry and a CSRF token; state-changing calls must echo that token in the
//! `X-CSRF-Token` header (double submit: the readable `fmd_csrf` cookie holds it for scripts).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use rand::Rng;
use sha2::Sha256;

use fmd_core::Config;
use fmd_store::Store;

use crate::Error;

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
    pub(crate) username: String,
    pub(crate) role: Role,
    pub(crate) csrf: String,
    pub(crate) expires: i64,
}

/// Failed logins from one address before further attempts are refused for a while.
const MAX_FAILURES: u32 = 5;
/// How long failures count, and how long an address stays refused.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Addresses tracked at most; the oldest are forgotten first.
const MAX_TRACKED: usize = 10_000;

pub(crate) struct Auth {
    key: Vec<u8>,
    guest_username: String,
    guest_hashes: Vec<String>,
    lifetime: Duration,
    security_token: Option<String>,
    failures: Mutex<HashMap<Option<IpAddr>, (u32, Instant)>>,
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
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Auth {
    /// Sets up users at start-up: the configured administrator (hashing a plain password), or a
    /// generated one printed once when the database has no administrator yet.
    pub(crate) fn start(config: &Config, store: &Store) -> Result<Auth, Error> {
        let admin_hash = match (&config.password_hash, &config.password) {
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
            Some(hash) => store.upsert_user(&config.username, &hash, true)?,
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
        let key = store.setting_or_insert("session_key", &random_token(32))?;
        Ok(Auth {
            key: key.into_bytes(),
            guest_username: config.guest_username.clone(),
            guest_hashes,
            lifetime: config.session_lifetime(),
            security_token: config.security_token.clone().filter(|t| !t.is_empty()),
            failures: Mutex::new(HashMap::new()),
        })
    }

    /// Seconds until `ip` may try again, when it has failed too often.
    pub(crate) fn throttled(&self, ip: Option<IpAddr>) -> Option<u64> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let (count, since) = failures.get(&ip)?;
        let left = FAILURE_WINDOW.checked_sub(since.elapsed())?;
        (*count >= MAX_FAILURES).then(|| left.as_secs().max(1))
    }

    pub(crate) fn record_failure(&self, ip: Option<IpAddr>) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, (_, since)| since.elapsed() < FAILURE_WINDOW);
            if failures.len() >= MAX_TRACKED {
                failures.clear();
            }
        }
        let entry = failures.entry(ip).or_insert((0, Instant::now()));
        if entry.1.elapsed() >= FAILURE_WINDOW {
            *entry = (0, Instant::now());
        }
        entry.0 += 1;
    }

    pub(crate) fn record_success(&self, ip: Option<IpAddr>) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&ip);
    }

    /// Checks a login; slow by design (argon2), so call it off the async threads.
    pub(crate) fn login(
        &self,
        store: &Store,
        username: &str,
        password: &str,
    ) -> Result<Option<Role>, Error> {
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

    fn sign(&self, payload: &str) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
            .expect("HMAC takes any key length");
        mac.update(payload.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// A new session for `username`, as the cookie value to set.
    pub(crate) fn issue(&self, username: &str, role: Role) -> (String, Session) {
        let session = Session {
            username: username.to_owned(),
            role,
            csrf: random_token(18),
            expires: fmd_core::now_micros() / 1_000_000 + self.lifetime.as_secs() as i64,
        };
        let role_tag = match role {
            Role::Admin => "a",
            Role::Guest => "g",
        };
        let payload = format!(
            "1|{}|{role_tag}|{}|{}",
            URL_SAFE_NO_PAD.encode(username),
            session.expires,
            session.csrf
        );
        let cookie = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            self.sign(&payload)
        );
        (cookie, session)
    }

    /// The session in a cookie value, when its signature holds and it has not expired.
    pub(crate) fn verify(&self, cookie: &str) -> Option<Session> {
        let (payload_b64, signature) = cookie.split_once('.')?;
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(payload_b64).ok()?).ok()?;
        if !same(self.sign(&payload).as_bytes(), signature.as_bytes()) {
            return None;
        }
        let mut parts = payload.split('|');
        if parts.next()? != "1" {
            return None;
        }
        let username = String::from_utf8(URL_SAFE_NO_PAD.decode(parts.next()?).ok()?).ok()?;
        let role = match parts.next()? {
            "a" => Role::Admin,
            "g" => Role::Guest,
            _ => return None,
        };
        let expires: i64 = parts.next()?.parse().ok()?;
        let csrf = parts.next()?.to_owned();
        if expires <= fmd_core::now_micros() / 1_000_000 {
            return None;
        }
        Some(Session {
            username,
            role,
            csrf,
            expires,
        })
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
