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

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::GroupBy;

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

/// The whole configuration. Fields mirror the keys of the configuration file; the builder
/// methods of the same names set them for chaining. [`Config::validate`] checks values set
/// either way.
#[derive(Clone)]
pub struct Config {
    /// `[dashboard] app_version`: the version requests are recorded under.
    pub app_version: String,
    /// `[dashboard] git`: a git directory whose checked-out commit is the version (relative to
    /// the configuration file). Takes precedence over `app_version`.
    pub git: Option<PathBuf>,
    /// `[dashboard] custom_link`: the dashboard's path prefix, without slashes.
    pub custom_link: String,
    /// `[dashboard] monitor_level`: the level (0-3) of endpoints seen for the first time.
    pub monitor_level: u8,
    /// `[dashboard] outlier_detection_constant`: a request slower than this times the average is
    /// an outlier.
    pub outlier_detection_constant: f64,
    /// `[dashboard] outlier_min_samples`: requests an endpoint needs before outliers are judged.
    pub outlier_min_samples: u32,
    /// `[dashboard] scrub_headers`: a request header whose name contains one of these (in any
    /// case) is stored as `[scrubbed]` with outliers; `Authorization`, `Cookie`, `Set-Cookie`
    /// and `Proxy-Authorization` always are. Default: token, secret, key, password, auth,
    /// cookie, session.
    pub scrub_headers: Vec<String>,
    /// `[dashboard] scrub_query_params`: query parameters whose values are stored as
    /// `[scrubbed]` in outliers' URLs (names in any case). Default: password, passwd, pwd,
    /// secret, token, access_token, refresh_token, api_key, apikey, key, auth, session,
    /// signature, sig, code, client_secret.
    pub scrub_query_params: Vec<String>,
    /// `[dashboard] capture_source`: store the source text of monitored and profiled functions
    /// (shown with profiles and exception frames); off, only their hashes are stored.
    pub capture_source: bool,
    /// `[dashboard] data_retention_days`: requests older than this are deleted once a day, with
    /// their outliers, profiles and exceptions; 0 keeps everything.
    pub data_retention_days: u32,
    /// `[dashboard] enable_logging`: log every recorded request at debug level.
    pub enable_logging: bool,
    /// `[dashboard] trusted_proxy_header`: a header such as `X-Forwarded-For` whose first
    /// address is the client's. Only set it behind a proxy that overwrites the header.
    pub trusted_proxy_header: Option<String>,
    /// `[dashboard] queue_capacity`: records waiting for the writer before new ones are dropped.
    pub queue_capacity: usize,
    /// `[dashboard] backlog_capacity`: records the writer keeps while the database is
    /// unavailable, before it drops new ones.
    pub backlog_capacity: usize,
    /// `[dashboard] instance_name`: names this process among the instances writing to one
    /// database; unset means host name and process id ([`Config::effective_instance_name`]).
    pub instance_name: Option<String>,
    /// `[authentication] username`: the administrator's user name.
    pub username: String,
    /// `[authentication] password`: the administrator's password, hashed at start-up.
    pub password: Option<String>,
    /// `[authentication] password_hash`: the administrator's password as an argon2 PHC string.
    pub password_hash: Option<String>,
    /// `[authentication] guest_username`: the read-only user's name.
    pub guest_username: String,
    /// `[authentication] guest_password`: passwords accepted for the guest user.
    pub guest_password: Vec<String>,
    /// `[authentication] security_token`: Bearer token for read-only API access; none disables
    /// Bearer access.
    pub security_token: Option<String>,
    /// `[authentication] session_hours`: how long a login lasts (fractions allowed).
    pub session_hours: f64,
    /// `[database] database`: `sqlite://path`, `postgres://user@host/db` (feature `postgres`) or
    /// `mysql://user@host/db` (feature `mysql`).
    pub database: String,
    /// `[database] table_prefix`: prefix of every table fmd creates.
    pub table_prefix: String,
    /// `[visualization] timezone`: the IANA timezone pages show times in.
    pub timezone: String,
    /// `[visualization] colors`: fixed RGB colours per endpoint name.
    pub colors: BTreeMap<String, [u8; 3]>,
    /// The group-by function (code only, not in the file).
    pub group_by: Option<GroupByFn>,
    /// The file this configuration was read from, if any.
    pub source: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            app_version: "1.0".into(),
            git: None,
            custom_link: "dashboard".into(),
            monitor_level: 1,
            outlier_detection_constant: 2.5,
            outlier_min_samples: 10,
            scrub_headers: crate::outlier::DEFAULT_SCRUB_HEADERS
                .map(String::from)
                .to_vec(),
            scrub_query_params: crate::outlier::DEFAULT_SCRUB_QUERY_PARAMS
                .map(String::from)
                .to_vec(),
            capture_source: true,
            data_retention_days: 30,
            enable_logging: false,
            trusted_proxy_header: None,
            queue_capacity: 10_000,
            backlog_capacity: 100_000,
            instance_name: None,
            username: "admin".into(),
            password: None,
            password_hash: None,
            guest_username: "guest".into(),
            guest_password: Vec::new(),
            security_token: None,
            session_hours: 12.0,
            database: "sqlite://fmd.db".into(),
            table_prefix: "fmd_".into(),
            timezone: "UTC".into(),
            colors: BTreeMap::new(),
            group_by: None,
            source: None,
        }
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
        let hidden = |o: &Option<String>| match o {
            Some(_) => "<hidden>".to_owned(),
            None => "(not set)".to_owned(),
        };
        let optional = |o: &Option<String>| o.clone().unwrap_or_else(|| "(not set)".into());
        let value = |key: &str| -> String {
            match key {
                "app_version" => self.app_version.clone(),
                "git" => self
                    .git
                    .as_ref()
                    .map_or("(not set)".into(), |p| p.display().to_string()),
                "custom_link" => self.custom_link.clone(),
                "monitor_level" => self.monitor_level.to_string(),
                "outlier_detection_constant" => self.outlier_detection_constant.to_string(),
                "outlier_min_samples" => self.outlier_min_samples.to_string(),
                "scrub_headers" => format!("{:?}", self.scrub_headers),
                "scrub_query_params" => format!("{:?}", self.scrub_query_params),
                "capture_source" => self.capture_source.to_string(),
                "data_retention_days" => self.data_retention_days.to_string(),
                "enable_logging" => self.enable_logging.to_string(),
                "trusted_proxy_header" => optional(&self.trusted_proxy_header),
                "queue_capacity" => self.queue_capacity.to_string(),
                "backlog_capacity" => self.backlog_capacity.to_string(),
                "instance_name" => optional(&self.instance_name),
                "username" => self.username.clone(),
                "password" => hidden(&self.password),
                "password_hash" => hidden(&self.password_hash),
                "guest_username" => self.guest_username.clone(),
                "guest_password" => format!("<{} hidden>", self.guest_password.len()),
                "security_token" => hidden(&self.security_token),
                "session_hours" => self.session_hours.to_string(),
                "database" => redact_url(&self.database),
                "table_prefix" => self.table_prefix.clone(),
                "timezone" => self.timezone.clone(),
                "colors" => format!("{:?}", self.colors),
                other => unreachable!("KEYS names {other}, which has no value here"),
            }
        };
        KEYS.iter()
            .flat_map(|(section, keys)| keys.iter().map(move |k| (*section, *k)))
            .map(|(section, key)| (section, key, value(key)))
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

/// The sections and keys of the file; every key is unique across sections, so each has one
/// `FMD_<KEY>` environment variable.
const KEYS: &[(&str, &[&str])] = &[
    (
        "dashboard",
        &[
            "app_version",
            "git",
            "custom_link",
            "monitor_level",
            "outlier_detection_constant",
            "outlier_min_samples",
            "scrub_headers",
            "scrub_query_params",
            "capture_source",
            "data_retention_days",
            "enable_logging",
            "trusted_proxy_header",
            "queue_capacity",
            "backlog_capacity",
            "instance_name",
        ],
    ),
    (
        "authentication",
        &[
            "username",
            "password",
            "password_hash",
            "guest_username",
            "guest_password",
            "security_token",
            "session_hours",
        ],
    ),
    ("database", &["database", "table_prefix"]),
    ("visualization", &["timezone", "colors"]),
];

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
                config.apply(key, value, origin)?;
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
            let value = format!("v = {raw}")
                .parse::<toml::Table>()
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(raw.clone()));
            config.apply(&key, &value, &origin)?;
        }
        Ok(config)
    }

    fn apply(&mut self, key: &str, value: &toml::Value, origin: &str) -> Result<(), ConfigError> {
        let invalid = |expected: &str| ConfigError::Invalid {
            origin: origin.to_owned(),
            key: key.to_owned(),
            expected: expected.to_owned(),
            found: describe(value),
        };
        let string = || match value {
            toml::Value::String(s) => Ok(s.clone()),
            // Environment values such as FMD_APP_VERSION=2 parse as numbers; a version is text.
            toml::Value::Integer(i) if origin.starts_with("environment") => Ok(i.to_string()),
            toml::Value::Float(f) if origin.starts_with("environment") => Ok(f.to_string()),
            _ => Err(invalid("a string")),
        };
        // A single string is a list of one: `FMD_SCRUB_HEADERS=X-Api-Key` reads naturally.
        let strings = || match value {
            toml::Value::String(s) => Ok(vec![s.clone()]),
            toml::Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| invalid("a string or a list of strings")),
            _ => Err(invalid("a string or a list of strings")),
        };
        let boolean = || match value {
            toml::Value::Boolean(b) => Ok(*b),
            _ => Err(invalid("`true` or `false`")),
        };
        let uint = |max: u64| match value {
            toml::Value::Integer(i) if *i >= 0 && (*i as u64) <= max => Ok(*i as u64),
            _ => Err(invalid(&format!("a whole number from 0 to {max}"))),
        };
        match key {
            "app_version" => self.app_version = string()?,
            "git" => self.git = Some(PathBuf::from(string()?)),
            "custom_link" => self.custom_link = string()?,
            "monitor_level" => self.monitor_level = uint(3)? as u8,
            "outlier_detection_constant" => {
                self.outlier_detection_constant = match value {
                    toml::Value::Float(f) if *f > 1.0 => *f,
                    toml::Value::Integer(i) if *i > 1 => *i as f64,
                    _ => return Err(invalid("a number greater than 1")),
                }
            }
            "outlier_min_samples" => self.outlier_min_samples = uint(u32::MAX as u64)? as u32,
            "enable_logging" => self.enable_logging = boolean()?,
            "capture_source" => self.capture_source = boolean()?,
            "data_retention_days" => self.data_retention_days = uint(36_500)? as u32,
            "trusted_proxy_header" => self.trusted_proxy_header = Some(string()?),
            "queue_capacity" => self.queue_capacity = uint(100_000_000)?.max(1) as usize,
            "backlog_capacity" => self.backlog_capacity = uint(100_000_000)? as usize,
            "instance_name" => self.instance_name = Some(string()?),
            "username" => self.username = string()?,
            "password" => self.password = Some(string()?),
            "password_hash" => self.password_hash = Some(string()?),
            "guest_username" => self.guest_username = string()?,
            "scrub_headers" => self.scrub_headers = strings()?,
            "scrub_query_params" => self.scrub_query_params = strings()?,
            "guest_password" => self.guest_password = strings()?,
            "security_token" => self.security_token = Some(string()?),
            "session_hours" => {
                self.session_hours = match value {
                    toml::Value::Float(f) if *f > 0.0 && *f <= 24.0 * 366.0 => *f,
                    toml::Value::Integer(i) if *i > 0 && *i <= 24 * 366 => *i as f64,
                    _ => return Err(invalid("a number of hours greater than 0 and at most 8784")),
                }
            }
            "database" => self.database = string()?,
            "table_prefix" => self.table_prefix = string()?,
            "timezone" => self.timezone = string()?,
            "colors" => {
                let expected =
                    "a table of endpoint names to [r, g, b] lists, e.g. { main = [0, 97, 255] }";
                let toml::Value::Table(t) = value else {
                    return Err(invalid(expected));
                };
                let mut colors = BTreeMap::new();
                for (name, rgb) in t {
                    let parsed = rgb.as_array().and_then(|a| {
                        let v: Option<Vec<u8>> = a
                            .iter()
                            .map(|c| c.as_integer().and_then(|i| u8::try_from(i).ok()))
                            .collect();
                        v.and_then(|v| <[u8; 3]>::try_from(v).ok())
                    });
                    colors.insert(name.clone(), parsed.ok_or_else(|| invalid(expected))?);
                }
                self.colors = colors;
            }
            _ => unreachable!("key list and apply() disagree on {key}"),
        }
        Ok(())
    }

    /// Checks values that the builder methods or direct field writes may have set wrongly.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &str, expected: &str, found: String| ConfigError::Invalid {
            origin: self
                .source
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "configuration".into()),
            key: key.into(),
            expected: expected.into(),
            found,
        };
        if self.monitor_level > 3 {
            return Err(invalid(
                "monitor_level",
                "0, 1, 2 or 3",
                self.monitor_level.to_string(),
            ));
        }
        let link = &self.custom_link;
        if link.is_empty()
            || !link
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
        {
            return Err(invalid(
                "custom_link",
                "a non-empty path segment of letters, digits, `-`, `_` or `.`",
                format!("{link:?}"),
            ));
        }
        if let Some(name) = &self.instance_name {
            if name.trim().is_empty() || name.len() > 255 {
                return Err(invalid(
                    "instance_name",
                    "a name of 1 to 255 bytes",
                    format!("{name:?}"),
                ));
            }
        }
        if !valid_table_prefix(&self.table_prefix) {
            return Err(invalid(
                "table_prefix",
                "letters, digits and `_` only",
                format!("{:?}", self.table_prefix),
            ));
        }
        if self.timezone.parse::<chrono_tz::Tz>().is_err() {
            let hint = suggestion(
                &self.timezone,
                chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()),
            );
            return Err(invalid(
                "timezone",
                &format!("an IANA timezone such as \"Europe/Amsterdam\"{hint}"),
                format!("{:?}", self.timezone),
            ));
        }
        if !(self.session_hours > 0.0 && self.session_hours <= 24.0 * 366.0) {
            return Err(invalid(
                "session_hours",
                "a number of hours greater than 0 and at most 8784",
                self.session_hours.to_string(),
            ));
        }
        Ok(())
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

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty => $conv:expr;)*) => {
        impl Config {
            $(
                $(#[$doc])*
                #[allow(clippy::useless_conversion, clippy::redundant_closure_call)]
                pub fn $name(mut self, value: $ty) -> Self {
                    self.$name = ($conv)(value.into());
                    self
                }
            )*
        }
    };
}

setters! {
    /// Sets `app_version`.
    app_version: impl Into<String> => |v: String| v;
    /// Sets `git`.
    git: impl Into<PathBuf> => |v: PathBuf| Some(v);
    /// Sets `custom_link`.
    custom_link: impl Into<String> => |v: String| v;
    /// Sets `monitor_level` (0-3).
    monitor_level: u8 => |v: u8| v;
    /// Sets `outlier_detection_constant`.
    outlier_detection_constant: f64 => |v: f64| v;
    /// Sets `outlier_min_samples`.
    outlier_min_samples: u32 => |v: u32| v;
    /// Sets `scrub_headers`.
    scrub_headers: Vec<String> => |v: Vec<String>| v;
    /// Sets `scrub_query_params`.
    scrub_query_params: Vec<String> => |v: Vec<String>| v;
    /// Sets `capture_source`.
    capture_source: bool => |v: bool| v;
    /// Sets `data_retention_days` (0 keeps everything).
    data_retention_days: u32 => |v: u32| v;
    /// Sets `enable_logging`.
    enable_logging: bool => |v: bool| v;
    /// Sets `trusted_proxy_header`.
    trusted_proxy_header: impl Into<String> => |v: String| Some(v);
    /// Sets `queue_capacity`.
    queue_capacity: usize => |v: usize| v.max(1);
    /// Sets `backlog_capacity`.
    backlog_capacity: usize => |v: usize| v;
    /// Sets `instance_name`.
    instance_name: impl Into<String> => |v: String| Some(v);
    /// Sets `username`.
    username: impl Into<String> => |v: String| v;
    /// Sets `password` (hashed at start-up).
    password: impl Into<String> => |v: String| Some(v);
    /// Sets `password_hash` (an argon2 PHC string).
    password_hash: impl Into<String> => |v: String| Some(v);
    /// Sets `guest_username`.
    guest_username: impl Into<String> => |v: String| v;
    /// Sets `guest_password`.
    guest_password: Vec<String> => |v: Vec<String>| v;
    /// Sets `security_token`.
    security_token: impl Into<String> => |v: String| Some(v);
    /// Sets `session_hours`.
    session_hours: f64 => |v: f64| v;
    /// Sets `database`.
    database: impl Into<String> => |v: String| v;
    /// Sets `table_prefix`.
    table_prefix: impl Into<String> => |v: String| v;
    /// Sets `timezone`.
    timezone: impl Into<String> => |v: String| v;
    /// Sets `colors`.
    colors: BTreeMap<String, [u8; 3]> => |v: BTreeMap<String, [u8; 3]>| v;
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
