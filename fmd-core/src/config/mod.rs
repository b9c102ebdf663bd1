//! Configuration: a TOML file with the reference guide's sections, `FMD_<KEY>` environment
//! overrides, and defaults.
//!
//! ```
//! let config = fmd_core::Config::default()
//!     .app_version("2.1")
//!     .monitor_level(1)
//!     .database("sqlite://monitoring.db");
//! assert_eq!(config.custom_link, "dashboard");
//! assert!(config.validate().is_ok());
//! ```

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::GroupBy;

mod keys;

pub use keys::Config;
use keys::KEYS;

/// The function that computes a request's group-by value from its description.
pub type GroupByFn = Arc<dyn Fn(&RequestInfo) -> Option<GroupBy> + Send + Sync>;

/// What the group-by function sees of a request.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// The HTTP method, upper case.
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string, without `?`.
    pub query: Option<String>,
    /// The client address (after `trusted_proxy_header`, when configured).
    pub remote_addr: Option<IpAddr>,
    /// The request headers, names in lower case.
    pub headers: Vec<(String, String)>,
}

impl RequestInfo {
    /// The first value of header `name` (case-insensitive).
    ///
    /// ```
    /// let info = fmd_core::RequestInfo {
    ///     headers: vec![("x-user".into(), "42".into())],
    ///     ..Default::default()
    /// };
    /// assert_eq!(info.header("X-User"), Some("42"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Config");
        for (_, key, value) in self.entries() {
            d.field(key, &value);
        }
        d.field("group_by", &self.group_by.as_ref().map(|_| "<fn>"))
            .finish()
    }
}

impl Config {
    /// Every key of the file by section, with its value as text and secrets hidden
    /// (passwords, the security token, a password in the database URL): what the dashboard's
    /// settings page and `Debug` show.
    ///
    /// ```
    /// let config = fmd_core::Config::default().password("s3cret");
    /// let entries = config.entries();
    /// assert!(entries.contains(&("authentication", "password", "<hidden>".into())));
    /// assert!(entries.contains(&("dashboard", "monitor_level", "1".into())));
    /// assert!(!format!("{config:?}").contains("s3cret"));
    /// ```
    pub fn entries(&self) -> Vec<(&'static str, &'static str, String)> {
        KEYS.iter()
            .flat_map(|(section, keys)| keys.iter().map(move |k| (*section, *k)))
            .map(|(section, key)| (section, key, self.shown(key)))
            .collect()
    }
}

/// A configuration problem: which file or variable, which key, and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error(
        "cannot read configuration file {path}: {source} (check the path, or unset FMD_CONFIG)"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("{origin} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        origin: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A section or key that fmd does not know.
    #[error("{origin}: unknown {what} `{key}`{hint}")]
    Unknown {
        /// The file or variable.
        origin: String,
        /// "key" or "section".
        what: &'static str,
        /// The unknown name.
        key: String,
        /// A suggestion, e.g. "; did you mean `monitor_level`?".
        hint: String,
    },
    /// A key with a value of the wrong type or out of range.
    #[error("{origin}: `{key}` must be {expected}, found {found}")]
    Invalid {
        /// The file or variable.
        origin: String,
        /// The key.
        key: String,
        /// What is accepted.
        expected: String,
        /// What was given.
        found: String,
    },
}

fn closest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let lower = name.to_ascii_lowercase();
    candidates
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

fn suggestion<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> String {
    closest(name, candidates)
        .map(|c| format!("; did you mean `{c}`?"))
        .unwrap_or_default()
}

fn all_keys() -> impl Iterator<Item = &'static str> {
    KEYS.iter().flat_map(|(_, keys)| keys.iter().copied())
}

fn describe(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("the string {s:?}"),
        toml::Value::Integer(i) => format!("the integer {i}"),
        toml::Value::Float(f) => format!("the number {f}"),
        toml::Value::Boolean(b) => format!("`{b}`"),
        toml::Value::Datetime(d) => format!("the date {d}"),
        toml::Value::Array(_) => "a list".into(),
        toml::Value::Table(_) => "a table".into(),
    }
}

impl Config {
    /// Reads a configuration file; keys not in the file keep their defaults.
    ///
    /// Errors name the file, the key and what was expected; an unknown key is an error with
    /// the closest known key suggested.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Config::from_toml_str(&text, &path.display().to_string())?;
        config.source = Some(path.to_owned());
        Ok(config)
    }

    /// Parses configuration text; `origin` names it in error messages.
    ///
    /// ```
    /// let c = fmd_core::Config::from_toml_str("[dashboard]\nmonitor_level = 3\n", "inline").unwrap();
    /// assert_eq!(c.monitor_level, 3);
    /// let e = fmd_core::Config::from_toml_str("[dashboard]\nmonitor_levle = 3\n", "inline").unwrap_err();
    /// assert!(e.to_string().contains("did you mean `monitor_level`"));
    /// ```
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| ConfigError::Syntax {
                    origin: origin.to_owned(),
                    message: e.to_string().trim().replace('\n', " "),
                })?;
        let mut config = Config::default();
        for (section, value) in &table {
            let Some((_, keys)) = KEYS.iter().find(|(s, _)| s == section) else {
                return Err(ConfigError::Unknown {
                    origin: origin.to_owned(),
                    what: "section",
                    key: format!("[{section}]"),
                    hint: closest(section, KEYS.iter().map(|(s, _)| *s))
                        .map(|s| format!("; did you mean `[{s}]`?"))
                        .unwrap_or_default(),
                });
            };
            let toml::Value::Table(entries) = value else {
                return Err(ConfigError::Invalid {
                    origin: origin.to_owned(),
                    key: section.clone(),
                    expected: format!("a section `[{section}]`"),
                    found: describe(value),
                });
            };
            for (key, value) in entries {
                if !keys.contains(&key.as_str()) {
                    let elsewhere = KEYS
                        .iter()
                        .find(|(_, ks)| ks.contains(&key.as_str()))
                        .map(|(s, _)| format!("; `{key}` belongs in [{s}]"));
                    return Err(ConfigError::Unknown {
                        origin: origin.to_owned(),
                        what: "key",
                        key: format!("{key}` in `[{section}]"),
                        hint: elsewhere.unwrap_or_else(|| suggestion(key, all_keys())),
                    });
                }
                config.apply(key, value.clone(), origin)?;
            }
        }
        Ok(config)
    }

    /// Reads `FMD_CONFIG` (a file path) if set, else starts from the defaults, then applies every
    /// `FMD_<KEY>` variable (`FMD_DATABASE`, `FMD_MONITOR_LEVEL`, ...). Values are read as TOML
    /// values when they parse as one (`3`, `true`, `["a", "b"]`), else as plain strings.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_vars(std::env::vars())
    }

    /// [`Config::from_env`] over the given variables instead of the process environment.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("FMD_"))
            .collect();
        let mut config = match vars.iter().find(|(k, _)| k == "FMD_CONFIG") {
            Some((_, path)) => Config::from_file(path)?,
            None => Config::default(),
        };
        for (name, raw) in &vars {
            if name == "FMD_CONFIG" {
                continue;
            }
            let key = name["FMD_".len()..].to_ascii_lowercase();
            let origin = format!("environment variable {name}");
            if !all_keys().any(|k| k == key) {
                return Err(ConfigError::Unknown {
                    origin,
                    what: "variable",
                    key: name.clone(),
                    hint: closest(&key, all_keys())
                        .map(|k| format!("; did you mean `FMD_{}`?", k.to_ascii_uppercase()))
                        .unwrap_or_default(),
                });
            }
            let plain = toml::Value::String(raw.clone());
            // `3`, `true` and `["a", "b"]` are read as TOML values; anything else, or a value the
            // key does not take that way (FMD_APP_VERSION=2), as the plain string.
            let parsed = format!("v = {raw}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"));
            match parsed {
                Some(value) => config
                    .apply(&key, value, &origin)
                    .or_else(|e| config.apply(&key, plain, &origin).map_err(|_| e))?,
                None => config.apply(&key, plain, &origin)?,
            }
        }
        Ok(config)
    }

    /// Sets `key` from `value`, read from `origin`, and checks it. A single string is a list of
    /// one (`FMD_SCRUB_HEADERS=X-Api-Key` reads naturally).
    fn apply(&mut self, key: &str, value: toml::Value, origin: &str) -> Result<(), ConfigError> {
        let invalid = |expected: String, found: String| ConfigError::Invalid {
            origin: origin.to_owned(),
            key: key.to_owned(),
            expected,
            found,
        };
        let found = describe(&value);
        let read = match self.read_key(key, value.clone()) {
            Err(expected) if value.is_str() => self
                .read_key(key, toml::Value::Array(vec![value]))
                .map_err(|_| expected),
            read => read,
        };
        read.map_err(|expected| invalid(expected.to_owned(), found.clone()))?;
        self.check_key(key)
            .map_err(|(expected, _)| invalid(expected, found))
    }

    /// Checks values that the builder methods or direct field writes may have set wrongly.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for key in all_keys() {
            self.check_key(key)
                .map_err(|(expected, found)| ConfigError::Invalid {
                    origin: self.origin(),
                    key: key.into(),
                    expected,
                    found,
                })?;
        }
        if !self.email_to.is_empty() && self.smtp_url.is_none() {
            return Err(ConfigError::Invalid {
                origin: self.origin(),
                key: "smtp_url".into(),
                expected: "set when `email_to` is (the mail server alerts are sent through)".into(),
                found: "nothing".into(),
            });
        }
        Ok(())
    }

    fn origin(&self) -> String {
        self.source
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "configuration".into())
    }

    /// The configured timezone (UTC when invalid; [`Config::validate`] reports that).
    pub fn tz(&self) -> chrono_tz::Tz {
        self.timezone.parse().unwrap_or(chrono_tz::UTC)
    }

    /// This process's name among the instances sharing the database: `instance_name`, or the
    /// host name and process id.
    ///
    /// ```
    /// let named = fmd_core::Config::default().instance_name("web-1");
    /// assert_eq!(named.effective_instance_name(), "web-1");
    /// let default = fmd_core::Config::default().effective_instance_name();
    /// assert!(default.ends_with(&format!("-{}", std::process::id())));
    /// ```
    pub fn effective_instance_name(&self) -> String {
        match &self.instance_name {
            Some(name) => name.clone(),
            None => format!(
                "{}-{}",
                gethostname::gethostname().to_string_lossy(),
                std::process::id()
            ),
        }
    }

    /// How long a login lasts.
    pub fn session_lifetime(&self) -> Duration {
        Duration::from_secs_f64(self.session_hours.clamp(0.0, 24.0 * 366.0) * 3600.0)
    }

    /// The git directory, resolved against the configuration file's folder.
    pub fn git_dir(&self) -> Option<PathBuf> {
        let git = self.git.as_ref()?;
        let base = self.source.as_ref().and_then(|p| p.parent());
        Some(match base {
            Some(dir) if git.is_relative() => dir.join(git),
            _ => git.clone(),
        })
    }

    /// Sets the function that computes each request's group-by value (typically the user).
    ///
    /// ```
    /// let config = fmd_core::Config::default()
    ///     .group_by(|req| req.header("x-user").map(|u| ("User", u.to_owned()).into()));
    /// assert!(config.group_by.is_some());
    /// ```
    pub fn group_by<F>(mut self, f: F) -> Self
    where
        F: Fn(&RequestInfo) -> Option<GroupBy> + Send + Sync + 'static,
    {
        self.group_by = Some(Arc::new(f));
        self
    }
}

/// Whether `prefix` may prefix fmd's table names: letters, digits and `_` only, since it is
/// pasted into SQL.
///
/// ```
/// assert!(fmd_core::config::valid_table_prefix("fmd_"));
/// assert!(!fmd_core::config::valid_table_prefix("fmd; DROP TABLE x; --"));
/// ```
pub fn valid_table_prefix(prefix: &str) -> bool {
    prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `url` is an absolute URL with one of `schemes` and a host.
///
/// ```
/// assert!(fmd_core::config::valid_url("https://hooks.slack.com/services/T/B/X", &["https"]));
/// assert!(!fmd_core::config::valid_url("hooks.slack.com/services", &["http", "https"]));
/// assert!(!fmd_core::config::valid_url("ftp://example.com", &["http", "https"]));
/// ```
pub fn valid_url(url: &str, schemes: &[&str]) -> bool {
    let Some((scheme, host)) = scheme_and_host(url) else {
        return false;
    };
    schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme))
        && !host.is_empty()
        && !host.starts_with(':')
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// A URL's scheme and its host with the port, without user info, path, query or fragment.
///
/// ```
/// assert_eq!(
///     fmd_core::config::scheme_and_host("https://u:p@hooks.example.com:8443/x?y#z"),
///     Some(("https", "hooks.example.com:8443"))
/// );
/// assert_eq!(fmd_core::config::scheme_and_host("hooks.example.com/x"), None);
/// ```
pub fn scheme_and_host(url: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    Some((scheme, authority.rsplit('@').next().unwrap_or("")))
}

/// A URL's scheme and host only, for showing a URL whose path or query is a secret (a
/// webhook's).
///
/// ```
/// assert_eq!(
///     fmd_core::config::url_host("https://hooks.slack.com/services/T0/B0/XXXX"),
///     "https://hooks.slack.com/…"
/// );
/// ```
pub fn url_host(url: &str) -> String {
    match scheme_and_host(url) {
        Some((scheme, host)) => format!("{scheme}://{host}/…"),
        None => "<hidden>".into(),
    }
}

/// The URL with any password replaced by `***`, for messages, logs and `Debug`.
///
/// ```
/// assert_eq!(
///     fmd_core::config::redact_url("postgres://fmd:s3cret@db:5432/fmd"),
///     "postgres://fmd:***@db:5432/fmd"
/// );
/// assert_eq!(fmd_core::config::redact_url("sqlite://fmd.db"), "sqlite://fmd.db");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}{path}")
        }
        _ => url.to_owned(),
    }
}
