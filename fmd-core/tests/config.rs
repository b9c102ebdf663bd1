//! Configuration files, their errors, and environment overrides.

use fmd_core::{Config, ConfigError};

fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fmd.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn reads_every_section_of_a_full_file() {
    let (_dir, path) = write(
        r#"
[dashboard]
app_version = "2.3"
custom_link = "monitor"
monitor_level = 3
outlier_detection_constant = 3.5
enable_logging = true
trusted_proxy_header = "X-Forwarded-For"
[authentication]
username = "root"
password = "pw"
guest_username = "viewer"
guest_password = ["dashboardguest!", "second_pw!"]
security_token = "tok"
session_hours = 0.5
[database]
database = "sqlite:///var/lib/fmd.db"
table_prefix = "mon_"
[visualization]
timezone = "Europe/Amsterdam"
colors = { main = [0, 97, 255], static = [255, 153, 0] }
"#,
    );
    let c = Config::from_file(&path).unwrap();
    assert_eq!(c.app_version, "2.3");
    assert_eq!(c.custom_link, "monitor");
    assert_eq!(c.monitor_level, 3);
    assert_eq!(c.outlier_detection_constant, 3.5);
    assert!(c.enable_logging);
    assert_eq!(c.trusted_proxy_header.as_deref(), Some("X-Forwarded-For"));
    assert_eq!(c.username, "root");
    assert_eq!(c.password.as_deref(), Some("pw"));
    assert_eq!(c.guest_username, "viewer");
    assert_eq!(c.guest_password, vec!["dashboardguest!", "second_pw!"]);
    assert_eq!(c.security_token.as_deref(), Some("tok"));
    assert_eq!(c.session_lifetime().as_secs(), 1800);
    assert_eq!(c.database, "sqlite:///var/lib/fmd.db");
    assert_eq!(c.table_prefix, "mon_");
    assert_eq!(c.tz(), chrono_tz::Europe::Amsterdam);
    assert_eq!(c.colors["static"], [255, 153, 0]);
    assert_eq!(c.source.as_deref(), Some(path.as_path()));
    c.validate().unwrap();
}

#[test]
fn missing_keys_keep_their_defaults() {
    let c = Config::from_toml_str("[dashboard]\napp_version = \"9\"\n", "t").unwrap();
    let d = Config::default();
    assert_eq!(c.app_version, "9");
    assert_eq!(c.monitor_level, d.monitor_level);
    assert_eq!(c.monitor_level, 1);
    assert_eq!(c.custom_link, "dashboard");
    assert_eq!(c.database, "sqlite://fmd.db");
    assert_eq!(c.table_prefix, "fmd_");
    assert!(c.password.is_none() && c.security_token.is_none());
}

#[test]
fn unknown_key_names_the_file_and_suggests_the_closest() {
    let (_dir, path) = write("[dashboard]\nmonitor_levl = 2\n");
    let err = Config::from_file(&path).unwrap_err().to_string();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("monitor_levl"), "{err}");
    assert!(err.contains("did you mean `monitor_level`"), "{err}");
}

#[test]
fn key_in_the_wrong_section_says_where_it_belongs() {
    let err = Config::from_toml_str("[dashboard]\ndatabase = \"sqlite://x.db\"\n", "f.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("`database` belongs in [database]"), "{err}");
}

#[test]
fn unknown_section_is_an_error_with_a_suggestion() {
    let err = Config::from_toml_str("[dashbord]\n", "f.toml")
        .unwrap_err()
        .to_string();
    assert!(err.contains("unknown section `[dashbord]`"), "{err}");
    assert!(err.contains("did you mean `[dashboard]`"), "{err}");
}

#[test]
fn wrong_types_say_what_was_expected() {
    let cases = [
        (
            "[dashboard]\nmonitor_level = \"high\"\n",
            "`monitor_level` must be a whole number from 0 to 3, found the string \"high\"",
        ),
        (
            "[dashboard]\nmonitor_level = 4\n",
            "`monitor_level` must be a whole number from 0 to 3, found the integer 4",
        ),
        (
            "[dashboard]\nenable_logging = \"yes\"\n",
            "`enable_logging` must be `true` or `false`",
        ),
        (
            "[authentication]\nguest_password = [1, 2]\n",
            "`guest_password` must be a string or a list of strings",
        ),
        (
            "[visualization]\ncolors = { main = [0, 97] }\n",
            "`colors` must be a table of endpoint names to [r, g, b] lists",
        ),
        (
            "[dashboard]\noutlier_detection_constant = 0.5\n",
            "`outlier_detection_constant` must be a number greater than 1",
        ),
    ];
    for (text, expected) in cases {
        let err = Config::from_toml_str(text, "f.toml").unwrap_err();
        assert!(
            matches!(err, ConfigError::Invalid { .. }),
            "{text}: {err:?}"
        );
        let msg = err.to_string();
        assert!(msg.starts_with("f.toml: "), "{msg}");
        assert!(msg.contains(expected), "{msg} should contain {expected}");
    }
}

#[test]
fn syntax_errors_and_missing_files_are_reported() {
    let err = Config::from_toml_str("[dashboard\n", "broken.toml")
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("broken.toml is not valid TOML"), "{err}");
    let err = Config::from_file("/no/such/fmd.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot read configuration file /no/such/fmd.toml"),
        "{err}"
    );
}

#[test]
fn validate_rejects_bad_values_set_in_code() {
    assert!(Config::default()
        .monitor_level(7)
        .validate()
        .unwrap_err()
        .to_string()
        .contains("monitor_level"));
    let tz = Config::default()
        .timezone("Europe/Amsterdm")
        .validate()
        .unwrap_err()
        .to_string();
    assert!(tz.contains("did you mean `Europe/Amsterdam`"), "{tz}");
    assert!(Config::default().custom_link("a/b").validate().is_err());
    assert!(Config::default()
        .table_prefix("x; DROP")
        .validate()
        .is_err());
    assert!(Config::default().session_hours(0.0).validate().is_err());
}

#[test]
fn environment_overrides_the_file() {
    let (_dir, path) = write("[dashboard]\nmonitor_level = 2\napp_version = \"1.0\"\n");
    let c = Config::from_vars(vars(&[
        ("FMD_CONFIG", path.to_str().unwrap()),
        ("FMD_MONITOR_LEVEL", "3"),
        ("FMD_DATABASE", "sqlite://other.db"),
        ("FMD_APP_VERSION", "2"),
        ("FMD_GUEST_PASSWORD", "[\"a\", \"b\"]"),
        ("FMD_ENABLE_LOGGING", "true"),
        ("PATH", "/usr/bin"),
    ]))
    .unwrap();
    assert_eq!(c.monitor_level, 3);
    assert_eq!(c.database, "sqlite://other.db");
    assert_eq!(c.app_version, "2");
    assert_eq!(c.guest_password, vec!["a", "b"]);
    assert!(c.enable_logging);
}

#[test]
fn environment_errors_name_the_variable() {
    let err = Config::from_vars(vars(&[("FMD_MONITOR_LEVEL", "loud")]))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("environment variable FMD_MONITOR_LEVEL: `monitor_level` must be"),
        "{err}"
    );
    let err = Config::from_vars(vars(&[("FMD_DATABSE", "x")]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("did you mean `FMD_DATABASE`"), "{err}");
}

#[test]
fn git_path_is_relative_to_the_config_file() {
    let (dir, path) = write("[dashboard]\ngit = \".git\"\n");
    let c = Config::from_file(&path).unwrap();
    assert_eq!(c.git_dir().unwrap(), dir.path().join(".git"));
}

#[test]
fn values_are_checked_where_they_are_read() {
    let err = Config::from_toml_str(
        "[visualization]\ntimezone = \"Europe/Amsterdm\"\n",
        "f.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("f.toml: `timezone` must be an IANA timezone"),
        "{err}"
    );
    assert!(err.contains("did you mean `Europe/Amsterdam`"), "{err}");
    let c = Config::from_vars(vars(&[("FMD_SCRUB_HEADERS", "X-Api-Key")])).unwrap();
    assert_eq!(c.scrub_headers, ["X-Api-Key"]);
    let err = Config::from_vars(vars(&[("FMD_QUEUE_CAPACITY", "0")]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "`queue_capacity` must be a whole number from 1 to 100000000, found the integer 0"
        ),
        "{err}"
    );
}

#[test]
fn every_key_is_shown_once_with_secrets_hidden() {
    let c = Config::default()
        .password("pw")
        .guest_password(vec!["g".into()])
        .database("postgres://u:secret@h/db")
        .webhook_urls(vec![
            "https://hooks.slack.com/services/T/B/hooksecret".into()
        ])
        .smtp_url("smtps://fmd:mailsecret@mail.example.com");
    let entries = c.entries();
    let keys: std::collections::BTreeSet<_> = entries.iter().map(|(_, k, _)| *k).collect();
    assert_eq!(keys.len(), entries.len(), "a key is listed twice");
    assert_eq!(entries.len(), 38);
    let shown = format!("{entries:?}");
    for secret in ["pw\"", "secret@", "hooksecret", "mailsecret"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert!(entries.contains(&(
        "alerts",
        "webhook_urls",
        "[\"https://hooks.slack.com/…\"]".into()
    )));
    assert!(entries.contains(&("authentication", "guest_password", "<1 hidden>".into())));
}
