//! Every key of the configuration file, declared once: its section, field, type, default, how
//! the dashboard shows it, what a valid value is, and its builder method. The [`config_keys!`]
//! macro turns the list into the [`Config`](super::Config) struct and its key tables.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{redact_url, suggestion, url_host, valid_table_prefix, valid_url, GroupByFn};

/// How a key's value is shown on the dashboard's settings page and in `Debug`.
mod shown {
    use std::fmt::Debug;
    use std::path::PathBuf;

    const NOT_SET: &str = "(not set)";

    pub(super) fn text(v: &str) -> String {
        v.to_owned()
    }
    pub(super) fn display(v: &impl ToString) -> String {
        v.to_string()
    }
    pub(super) fn debug(v: &impl Debug) -> String {
        format!("{v:?}")
    }
    pub(super) fn optional(v: &Option<String>) -> String {
        v.clone().unwrap_or_else(|| NOT_SET.into())
    }
    pub(super) fn path(v: &Option<PathBuf>) -> String {
        v.as_ref()
            .map_or(NOT_SET.into(), |p| p.display().to_string())
    }
    pub(super) fn hidden(v: &Option<String>) -> String {
        match v {
            Some(_) => "<hidden>".into(),
            None => NOT_SET.into(),
        }
    }
    pub(super) fn hidden_list(v: &[String]) -> String {
        format!("<{} hidden>", v.len())
    }
    pub(super) fn url(v: &str) -> String {
        super::redact_url(v)
    }
    pub(super) fn optional_url(v: &Option<String>) -> String {
        v.as_deref().map_or(NOT_SET.into(), super::redact_url)
    }
    /// Webhook URLs carry their secret in the path: only scheme and host are shown.
    pub(super) fn webhooks(v: &[String]) -> String {
        let shown: Vec<String> = v.iter().map(|u| super::url_host(u)).collect();
        format!("{shown:?}")
    }
}

/// A check that passes: for keys whose type says all.
fn any<T: ?Sized>(_: &T) -> Result<(), String> {
    Ok(())
}

/// A check of a whole number's range.
fn within<T: Copy + Into<u64>>(low: u64, high: u64) -> impl Fn(&T) -> Result<(), String> {
    move |v| {
        let v: u64 = (*v).into();
        if (low..=high).contains(&v) {
            Ok(())
        } else {
            Err(String::new())
        }
    }
}

fn ok_if(valid: bool) -> Result<(), String> {
    if valid {
        Ok(())
    } else {
        Err(String::new())
    }
}

macro_rules! config_keys {
    ($(
        [$section:ident]
        $(
            $(#[$doc:meta])*
            $key:ident: $ty:ty = $default:expr,
                shown $shown:ident,
                expected $expected:expr,
                check $check:expr,
                set $set_ty:ty => $set:expr;
        )*
    )*) => {
        /// The whole configuration. Fields mirror the keys of the configuration file; the
        /// builder methods of the same names set them for chaining. [`Config::validate`] checks
        /// values set either way.
        #[derive(Clone)]
        pub struct Config {
            $($(
                $(#[$doc])*
                pub $key: $ty,
            )*)*
            /// The group-by function (code only, not in the file).
            pub group_by: Option<GroupByFn>,
            /// The file this configuration was read from, if any.
            pub source: Option<PathBuf>,
        }

        impl Default for Config {
            fn default() -> Self {
                Config {
                    $($($key: $default,)*)*
                    group_by: None,
                    source: None,
                }
            }
        }

        /// The sections and their keys; every key is unique across sections, so each has one
        /// `FMD_<KEY>` environment variable.
        pub(super) const KEYS: &[(&str, &[&str])] = &[
            $((stringify!($section), &[$(stringify!($key)),*]),)*
        ];

        impl Config {
            /// Sets `key` from a TOML value; `Err` with what the key accepts when the value
            /// does not deserialize into the field's type.
            pub(super) fn read_key(&mut self, key: &str, value: toml::Value) -> Result<(), &'static str> {
                match key {
                    $($(stringify!($key) => {
                        self.$key = <$ty as serde::Deserialize>::deserialize(value)
                            .map_err(|_| $expected)?;
                    })*)*
                    other => unreachable!("no key {other}"),
                }
                Ok(())
            }

            /// Checks `key`'s value: `Err` with what the key accepts, and its value as found.
            pub(super) fn check_key(&self, key: &str) -> Result<(), (String, String)> {
                match key {
                    $($(stringify!($key) => {
                        #[allow(clippy::redundant_closure_call)]
                        ($check)(&self.$key)
                            .map_err(|hint| (format!("{}{hint}", $expected), format!("{:?}", self.$key)))
                    })*)*
                    other => unreachable!("no key {other}"),
                }
            }

            /// `key`'s value as the dashboard shows it, secrets hidden.
            pub(super) fn shown(&self, key: &str) -> String {
                match key {
                    $($(stringify!($key) => shown::$shown(&self.$key),)*)*
                    other => unreachable!("no key {other}"),
                }
            }

            $($(
                #[doc = concat!("Sets `", stringify!($key), "`.")]
                #[allow(clippy::useless_conversion, clippy::redundant_closure_call)]
                pub fn $key(mut self, value: $set_ty) -> Self {
                    self.$key = ($set)(value.into());
                    self
                }
            )*)*
        }
    };
}

config_keys! {
    [dashboard]
    /// `[dashboard] app_version`: the version requests are recorded under.
    app_version: String = "1.0".into(),
        shown text, expected "a string", check any,
        set impl Into<String> => |v: String| v;
    /// `[dashboard] git`: a git directory whose checked-out commit is the version (relative to
    /// the configuration file). Takes precedence over `app_version`.
    git: Option<PathBuf> = None,
        shown path, expected "a string", check any,
        set impl Into<PathBuf> => |v: PathBuf| Some(v);
    /// `[dashboard] custom_link`: the dashboard's path prefix, without slashes.
    custom_link: String = "dashboard".into(),
        shown text,
        expected "a non-empty path segment of letters, digits, `-`, `_` or `.`",
        check |v: &String| ok_if(
            !v.is_empty()
                && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        ),
        set impl Into<String> => |v: String| v;
    /// `[dashboard] monitor_level`: the level (0-3) of endpoints seen for the first time.
    monitor_level: u8 = 1,
        shown display, expected "a whole number from 0 to 3", check within::<u8>(0, 3),
        set u8 => |v: u8| v;
    /// `[dashboard] outlier_detection_constant`: a request slower than this times the average is
    /// an outlier.
    outlier_detection_constant: f64 = 2.5,
        shown display, expected "a number greater than 1",
        check |v: &f64| ok_if(*v > 1.0 && v.is_finite()),
        set f64 => |v: f64| v;
    /// `[dashboard] outlier_min_samples`: requests an endpoint needs before outliers are judged.
    outlier_min_samples: u32 = 10,
        shown display, expected "a whole number from 0 to 4294967295", check any,
        set u32 => |v: u32| v;
    /// `[dashboard] scrub_headers`: a request header whose name contains one of these (in any
    /// case) is stored as `[scrubbed]` with outliers; `Authorization`, `Cookie`, `Set-Cookie`
    /// and `Proxy-Authorization` always are. Default: token, secret, key, password, auth,
    /// cookie, session.
    scrub_headers: Vec<String> = crate::outlier::DEFAULT_SCRUB_HEADERS.map(String::from).to_vec(),
        shown debug, expected "a string or a list of strings", check any,
        set Vec<String> => |v: Vec<String>| v;
    /// `[dashboard] scrub_query_params`: query parameters whose values are stored as
    /// `[scrubbed]` in outliers' URLs (names in any case). Default: password, passwd, pwd,
    /// secret, token, access_token, refresh_token, api_key, apikey, key, auth, session,
    /// signature, sig, code, client_secret.
    scrub_query_params: Vec<String> =
        crate::outlier::DEFAULT_SCRUB_QUERY_PARAMS.map(String::from).to_vec(),
        shown debug, expected "a string or a list of strings", check any,
        set Vec<String> => |v: Vec<String>| v;
    /// `[dashboard] capture_source`: store the source text of monitored and profiled functions
    /// (shown with profiles and exception frames); off, only their hashes are stored.
    capture_source: bool = true,
        shown display, expected "`true` or `false`", check any,
        set bool => |v: bool| v;
    /// `[dashboard] data_retention_days`: requests older than this are deleted once a day, with
    /// their outliers, profiles and exceptions; 0 keeps everything.
    data_retention_days: u32 = 30,
        shown display, expected "a whole number from 0 to 36500",
        check within::<u32>(0, 36_500),
        set u32 => |v: u32| v;
    /// `[dashboard] enable_logging`: log every recorded request at debug level.
    enable_logging: bool = false,
        shown display, expected "`true` or `false`", check any,
        set bool => |v: bool| v;
    /// `[dashboard] trusted_proxy_header`: a header such as `X-Forwarded-For` whose first
    /// address is the client's. Only set it behind a proxy that overwrites the header.
    trusted_proxy_header: Option<String> = None,
        shown optional, expected "a string", check any,
        set impl Into<String> => |v: String| Some(v);
    /// `[dashboard] queue_capacity`: records waiting for the writer before new ones are dropped.
    queue_capacity: usize = 10_000,
        shown display, expected "a whole number from 1 to 100000000",
        check |v: &usize| ok_if((1..=100_000_000).contains(v)),
        set usize => |v: usize| v.max(1);
    /// `[dashboard] backlog_capacity`: records the writer keeps while the database is
    /// unavailable, before it drops new ones.
    backlog_capacity: usize = 100_000,
        shown display, expected "a whole number from 0 to 100000000",
        check |v: &usize| ok_if(*v <= 100_000_000),
        set usize => |v: usize| v;
    /// `[dashboard] instance_name`: names this process among the instances writing to one
    /// database; unset means host name and process id ([`Config::effective_instance_name`]).
    instance_name: Option<String> = None,
        shown optional, expected "a name of 1 to 255 bytes",
        check |v: &Option<String>| ok_if(
            v.as_ref().is_none_or(|n| !n.trim().is_empty() && n.len() <= 255)
        ),
        set impl Into<String> => |v: String| Some(v);

    [authentication]
    /// `[authentication] username`: the administrator's user name.
    username: String = "admin".into(),
        shown text, expected "a string", check any,
        set impl Into<String> => |v: String| v;
    /// `[authentication] password`: the administrator's password, hashed at start-up.
    password: Option<String> = None,
        shown hidden, expected "a string", check any,
        set impl Into<String> => |v: String| Some(v);
    /// `[authentication] password_hash`: the administrator's password as an argon2 PHC string.
    password_hash: Option<String> = None,
        shown hidden, expected "a string", check any,
        set impl Into<String> => |v: String| Some(v);
    /// `[authentication] guest_username`: the read-only user's name.
    guest_username: String = "guest".into(),
        shown text, expected "a string", check any,
        set impl Into<String> => |v: String| v;
    /// `[authentication] guest_password`: passwords accepted for the guest user.
    guest_password: Vec<String> = Vec::new(),
        shown hidden_list, expected "a string or a list of strings", check any,
        set Vec<String> => |v: Vec<String>| v;
    /// `[authentication] security_token`: Bearer token for read-only API access; none disables
    /// Bearer access.
    security_token: Option<String> = None,
        shown hidden, expected "a string", check any,
        set impl Into<String> => |v: String| Some(v);
    /// `[authentication] metrics_public`: serve `/{custom_link}/metrics` (Prometheus) to anyone;
    /// otherwise it needs the security token (or a login).
    metrics_public: bool = false,
        shown display, expected "`true` or `false`", check any,
        set bool => |v: bool| v;
    /// `[authentication] session_hours`: how long a login lasts (fractions allowed).
    session_hours: f64 = 12.0,
        shown display, expected "a number of hours greater than 0 and at most 8784",
        check |v: &f64| ok_if(*v > 0.0 && *v <= 24.0 * 366.0),
        set f64 => |v: f64| v;

    [database]
    /// `[database] database`: `sqlite://path`, `postgres://user@host/db` (feature `postgres`) or
    /// `mysql://user@host/db` (feature `mysql`).
    database: String = "sqlite://fmd.db".into(),
        shown url, expected "a string", check any,
        set impl Into<String> => |v: String| v;
    /// `[database] table_prefix`: prefix of every table fmd creates.
    table_prefix: String = "fmd_".into(),
        shown text, expected "letters, digits and `_` only",
        check |v: &String| ok_if(valid_table_prefix(v)),
        set impl Into<String> => |v: String| v;

    [visualization]
    /// `[visualization] timezone`: the IANA timezone pages show times in.
    timezone: String = "UTC".into(),
        shown text, expected "an IANA timezone such as \"Europe/Amsterdam\"",
        check |v: &String| match v.parse::<chrono_tz::Tz>() {
            Ok(_) => Ok(()),
            Err(_) => Err(suggestion(v, chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()))),
        },
        set impl Into<String> => |v: String| v;
    /// `[visualization] colors`: fixed RGB colours per endpoint name.
    colors: BTreeMap<String, [u8; 3]> = BTreeMap::new(),
        shown debug,
        expected "a table of endpoint names to [r, g, b] lists, e.g. { main = [0, 97, 255] }",
        check any,
        set BTreeMap<String, [u8; 3]> => |v: BTreeMap<String, [u8; 3]>| v;

    [alerts]
    /// `[alerts] webhook_urls`: each gets a JSON POST per alert. Slack, Mattermost and most chat
    /// tools take the body as is; Discord and Microsoft Teams URLs get their own shapes (by
    /// host, or by a `#slack`, `#discord`, `#teams` or `#json` ending on the URL).
    webhook_urls: Vec<String> = Vec::new(),
        shown webhooks, expected "a list of http:// or https:// URLs",
        check |v: &Vec<String>| ok_if(v.iter().all(|u| valid_url(u, &["http", "https"]))),
        set Vec<String> => |v: Vec<String>| v;
    /// `[alerts] email_to`: addresses every alert is mailed to (needs `smtp_url`).
    email_to: Vec<String> = Vec::new(),
        shown debug, expected "a list of email addresses",
        check |v: &Vec<String>| ok_if(v.iter().all(|a| a.contains('@'))),
        set Vec<String> => |v: Vec<String>| v;
    /// `[alerts] smtp_url`: the mail server: `smtp://user:pass@host:587` (STARTTLS when the
    /// server offers it) or `smtps://user:pass@host:465` (TLS from the start).
    smtp_url: Option<String> = None,
        shown optional_url, expected "an smtp:// or smtps:// URL",
        check |v: &Option<String>| ok_if(v.as_ref().is_none_or(|u| valid_url(u, &["smtp", "smtps"]))),
        set impl Into<String> => |v: String| Some(v);
    /// `[alerts] email_from`: the sender of alert emails, e.g. `fmd <fmd@example.com>`.
    email_from: String = "fmd <fmd@localhost>".into(),
        shown text, expected "an address such as \"fmd <fmd@example.com>\"",
        check |v: &String| ok_if(v.contains('@')),
        set impl Into<String> => |v: String| v;
    /// `[alerts] dashboard_url`: the dashboard's address as people open it, for links in alerts
    /// (e.g. `https://shop.example.com/dashboard`); unset, links are paths only.
    dashboard_url: Option<String> = None,
        shown optional, expected "an http:// or https:// URL",
        check |v: &Option<String>| ok_if(v.as_ref().is_none_or(|u| valid_url(u, &["http", "https"]))),
        set impl Into<String> => |v: String| Some(v);
    /// `[alerts] new_exception`: one alert per new exception group.
    new_exception: bool = true,
        shown display, expected "`true` or `false`", check any,
        set bool => |v: bool| v;
    /// `[alerts] error_rate_percent`: alert when an endpoint's error rate (status >= 400) over
    /// the window is above this; 0 turns the rule off. Endpoints can override it.
    error_rate_percent: f64 = 10.0,
        shown display, expected "a percentage from 0 to 100",
        check |v: &f64| ok_if((0.0..=100.0).contains(v)),
        set f64 => |v: f64| v;
    /// `[alerts] latency_p95_ms`: alert when an endpoint's 95th percentile duration over the
    /// window is above this many milliseconds; 0 turns the rule off. Endpoints can override it.
    latency_p95_ms: f64 = 0.0,
        shown display, expected "a number of milliseconds, 0 or more",
        check |v: &f64| ok_if(*v >= 0.0 && v.is_finite()),
        set f64 => |v: f64| v;
    /// `[alerts] window_minutes`: the sliding window the rate and latency rules look at.
    window_minutes: u32 = 5,
        shown display, expected "a whole number of minutes from 1 to 1440",
        check within::<u32>(1, 1440),
        set u32 => |v: u32| v;
    /// `[alerts] min_requests`: no rate or latency alert with fewer requests in the window.
    min_requests: u32 = 20,
        shown display, expected "a whole number from 0 to 4294967295", check any,
        set u32 => |v: u32| v;
    /// `[alerts] cooldown_minutes`: no second alert of one rule and endpoint within this.
    cooldown_minutes: u32 = 30,
        shown display, expected "a whole number of minutes from 0 to 10080",
        check within::<u32>(0, 10_080),
        set u32 => |v: u32| v;
}
