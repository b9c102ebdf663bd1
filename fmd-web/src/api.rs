//! The JSON API under `/{custom_link}/api`. Every answer is JSON; errors are
//! `{"error": "..."}` with a 4xx status (503 while the database is unavailable).

use http::StatusCode;
use serde::Serialize;

use crate::auth::{Role, Session};
use crate::dispatch::{blocking, csrf_header, json, json_error, Reply, Req};
use crate::time::{rfc3339, windows};
use crate::{charts, reports};

enum Caller {
    Session(Session),
    Token,
}

/// An API error: its status and the message of the `{"error": ...}` body.
struct ApiError(StatusCode, String);

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError(status, message.into())
    }

    fn unavailable(why: String) -> Self {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database is unavailable ({why}); recorded requests are kept and written when it returns"),
        )
    }
}

fn caller(req: &Req) -> Result<Caller, ApiError> {
    if let Some(token) = req.bearer() {
        return if req.inner.auth.bearer_ok(token) {
            Ok(Caller::Token)
        } else {
            Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "the bearer token is not the configured security_token",
            ))
        };
    }
    req.session().map(Caller::Session).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!(
                "log in at {}/login, or send `Authorization: Bearer <security_token>`",
                req.base()
            ),
        )
    })
}

pub(crate) async fn handle(req: &Req, path: &[&str]) -> Reply {
    match route(req, path).await {
        Ok(reply) => reply,
        Err(ApiError(status, message)) => json_error(status, &message),
    }
}

async fn route(req: &Req, path: &[&str]) -> Result<Reply, ApiError> {
    let caller = caller(req)?;
    let method = req.method.as_str();
    match path {
        ["overview"] if method == "GET" => overview(req).await,
        ["instances"] if method == "GET" => instances(req).await,
        ["endpoints", id, "requests"] if method == "GET" => requests(req, id).await,
        ["endpoints", id, "level"] if method == "PUT" => set_level(req, &caller, id).await,
        ["endpoints", id, "outliers"] if method == "GET" => outliers(req, id).await,
        ["endpoints", id, "profiler"] if method == "GET" => profiler(req, id).await,
        ["endpoints", id, "grouped_profiler"] if method == "GET" => grouped(req, id).await,
        ["functions", id, "source"] if method == "GET" => source(req, id).await,
        ["exceptions"] if method == "GET" => exceptions(req, None).await,
        ["endpoints", id, "exceptions"] if method == "GET" => {
            exceptions(req, Some(parse_id(id)?)).await
        }
        ["exceptions", id] if method == "DELETE" => delete_group(req, &caller, id).await,
        ["prune"] if method == "POST" => prune(req, &caller).await,
        ["charts", kind] if method == "GET" => app_chart(req, kind).await,
        ["reports"] if method == "GET" => report(req).await,
        ["status"] if method == "GET" => status(req).await,
        ["graphs"] if method == "GET" => graphs(req).await,
        ["graphs", id, "data"] if method == "GET" => graph_data(req, id).await,
        ["users"] if method == "GET" => users(req, &caller).await,
        ["users"] if method == "POST" => add_user(req, &caller).await,
        ["users", id, "password"] if method == "PUT" => set_password(req, &caller, id).await,
        ["users", id] if method == "DELETE" => delete_user(req, &caller, id).await,
        ["endpoints", id, "charts", kind] if method == "GET" => {
            endpoint_chart(req, parse_id(id)?, kind).await
        }
        ["endpoints", id, "data"] if method == "DELETE" => delete_data(req, &caller, id).await,
        ["overview" | "instances" | "exceptions"]
        | ["endpoints", _, "requests" | "level" | "outliers" | "profiler" | "grouped_profiler" | "exceptions"]
        | ["functions", _, "source"]
        | ["exceptions", _]
        | ["prune"]
        | ["endpoints", _, "data"]
        | ["charts", _]
        | ["reports"]
        | ["status"]
        | ["graphs"]
        | ["graphs", _, "data"]
        | ["users"]
        | ["users", _, "password"]
        | ["users", _]
        | ["endpoints", _, "charts", _] => Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not allowed on this route"),
        )),
        _ => Err(ApiError::new(StatusCode::NOT_FOUND, "no such API route")),
    }
}

/// The date range of a chart request (`from`, `to`), or a 400 saying what to send.
fn chart_range(req: &Req) -> Result<charts::Range, ApiError> {
    charts::Range::parse(
        req.query_param("from").as_deref(),
        req.query_param("to").as_deref(),
        fmd_core::now_micros(),
        req.inner.config.tz(),
    )
    .map_err(bad_request)
}

/// The application's charts, over every endpoint.
const APP_CHARTS: &str = "hourly, daily, versions, performance";
/// One endpoint's charts.
const ENDPOINT_CHARTS: &str = "hourly, versions, users, user_versions, ip_versions, status";

/// `GET charts/{kind}?from&to&instance`.
async fn app_chart(req: &Req, kind: &str) -> Result<Reply, ApiError> {
    if !APP_CHARTS.split(", ").any(|k| k == kind) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no chart {kind:?}; the application's charts are {APP_CHARTS}"),
        ));
    }
    let range = chart_range(req)?;
    let instance = instance_filter(req).await?;
    let colors = req.inner.config.colors.clone();
    let kind = kind.to_owned();
    let value = blocking(req, move |s| {
        let endpoints = s.endpoints()?;
        let names = charts::Names::new(&endpoints, &colors);
        let (start, end) = (range.start, range.end);
        Ok(match kind.as_str() {
            "hourly" => charts::hourly(&range, &s.hour_counts(None, start, end, instance)?),
            "daily" => charts::daily(&range, &s.hour_counts(None, start, end, instance)?, &names),
            "versions" => {
                charts::version_shares(&range, &s.hour_counts(None, start, end, instance)?, &names)
            }
            _ => charts::performance(&range, s.histograms(None, start, end, instance)?, &names),
        })
    })
    .await
    .map_err(ApiError::unavailable)?;
    Ok(json(StatusCode::OK, &value))
}

/// The report `ask` selects (`Err` with what to send instead when the query is bad), and the
/// versions that served requests, earliest first; `Err` when the database is unavailable.
pub(crate) async fn compute_report(
    req: &Req,
    ask: reports::Ask,
) -> Result<(Result<reports::Report, String>, Vec<String>), String> {
    let now = fmd_core::now_micros();
    let tz = req.inner.config.tz();
    blocking(req, move |s| {
        let versions: Vec<String> = s.versions()?.into_iter().map(|(v, _)| v).collect();
        let report = match reports::sides(&ask, now, tz, &versions) {
            Ok((baseline, current)) => {
                let compare = ask.compare.unwrap_or_else(|| "day".into());
                Ok(reports::build(s, compare, baseline, current)?)
            }
            Err(why) => Err(why),
        };
        Ok((report, versions))
    })
    .await
}

/// The report's parameters from the query string.
pub(crate) fn report_ask(req: &Req) -> reports::Ask {
    let p = |name: &str| req.query_param(name).filter(|v| !v.is_empty());
    reports::Ask {
        compare: p("compare"),
        baseline_from: p("baseline_from"),
        baseline_to: p("baseline_to"),
        current_from: p("current_from"),
        current_to: p("current_to"),
        baseline: p("baseline"),
        current: p("current"),
    }
}

/// `GET reports?compare=...`.
async fn report(req: &Req) -> Result<Reply, ApiError> {
    match compute_report(req, report_ask(req)).await {
        Ok((Ok(report), _)) => Ok(json(StatusCode::OK, &report)),
        Ok((Err(why), _)) => Err(bad_request(why)),
        Err(why) => Err(ApiError::unavailable(why)),
    }
}

/// What the settings page shows of this process and its database.
#[derive(Serialize)]
pub(crate) struct StatusItem {
    pub(crate) version: String,
    pub(crate) instance: String,
    pub(crate) uptime_seconds: u64,
    pub(crate) backend: &'static str,
    pub(crate) database_size_bytes: Option<i64>,
    pub(crate) writer: WriterItem,
    pub(crate) config: Vec<ConfigItem>,
}

#[derive(Serialize)]
pub(crate) struct WriterItem {
    pub(crate) written: u64,
    pub(crate) backlog: u64,
    pub(crate) dropped_queue_full: u64,
    pub(crate) dropped_backlog: u64,
    pub(crate) failing: bool,
    pub(crate) last_error: Option<String>,
    pub(crate) queue_capacity: usize,
    pub(crate) backlog_capacity: usize,
}

#[derive(Serialize)]
pub(crate) struct ConfigItem {
    pub(crate) section: &'static str,
    pub(crate) key: &'static str,
    pub(crate) value: String,
}

pub(crate) async fn status_item(req: &Req) -> Result<StatusItem, String> {
    use std::sync::atomic::Ordering::Relaxed;
    let size = blocking(req, |s| s.database_size()).await?;
    let inner = &req.inner;
    let stats = &inner.recorder.stats;
    Ok(StatusItem {
        version: inner.version.clone(),
        instance: inner.config.effective_instance_name(),
        uptime_seconds: inner.started.elapsed().as_secs(),
        backend: inner.store.backend().name(),
        database_size_bytes: size,
        writer: WriterItem {
            written: stats.written.load(Relaxed),
            backlog: stats.backlog.load(Relaxed),
            dropped_queue_full: stats.dropped_queue_full.load(Relaxed),
            dropped_backlog: stats.dropped_backlog.load(Relaxed),
            failing: stats.failing.load(Relaxed),
            last_error: stats.last_error.lock().ok().and_then(|e| e.clone()),
            queue_capacity: inner.config.queue_capacity,
            backlog_capacity: inner.config.backlog_capacity,
        },
        config: inner
            .config
            .entries()
            .into_iter()
            .map(|(section, key, value)| ConfigItem {
                section,
                key,
                value,
            })
            .collect(),
    })
}

/// `GET status`: version, uptime, database, writer counters and the configuration (secrets
/// hidden).
async fn status(req: &Req) -> Result<Reply, ApiError> {
    let item = status_item(req).await.map_err(ApiError::unavailable)?;
    Ok(json(StatusCode::OK, &item))
}

/// Refuses anyone but a logged-in administrator (no CSRF check: for reading); `what`
/// completes "only administrators can ...".
fn require_admin_session<'a>(caller: &'a Caller, what: &str) -> Result<&'a Session, ApiError> {
    match caller {
        Caller::Token => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the security token gives read-only access; log in as an administrator",
        )),
        Caller::Session(s) if s.role == Role::Admin => Ok(s),
        Caller::Session(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("only administrators can {what}"),
        )),
    }
}

#[derive(Serialize)]
pub(crate) struct UserItem {
    pub(crate) id: i64,
    pub(crate) username: String,
    pub(crate) role: &'static str,
}

/// `GET users`: the users stored in the database (not the configuration's guest).
async fn users(req: &Req, caller: &Caller) -> Result<Reply, ApiError> {
    require_admin_session(caller, "see users")?;
    let rows = blocking(req, |s| s.users())
        .await
        .map_err(ApiError::unavailable)?;
    let items: Vec<UserItem> = rows.into_iter().map(user_item).collect();
    Ok(json(StatusCode::OK, &items))
}

pub(crate) fn user_item(u: fmd_store::UserRow) -> UserItem {
    UserItem {
        id: u.id,
        role: if u.is_admin != 0 { "admin" } else { "guest" },
        username: u.username,
    }
}

/// Shortest password the users page accepts.
const MIN_PASSWORD: usize = 8;

/// The body's `password` and `confirm`, which must match; returns the password.
fn new_password(body: &serde_json::Value) -> Result<String, ApiError> {
    let field = |k: &str| body.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    let (password, confirm) = (field("password"), field("confirm"));
    if password.chars().count() < MIN_PASSWORD {
        return Err(bad_request(format!(
            "the password must have at least {MIN_PASSWORD} characters"
        )));
    }
    if password != confirm {
        return Err(bad_request("the passwords do not match".into()));
    }
    Ok(password.to_owned())
}

/// The request's body as JSON, or a 400 saying to send `expected`.
fn json_body(req: &Req, expected: &str) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(&req.body)
        .map_err(|e| bad_request(format!("the body is not JSON ({e}); send {expected}")))
}

/// Hashes a password off the async threads (argon2 is slow by design).
async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || crate::auth::hash_password(&password))
        .await
        .map_err(|_| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "hashing was interrupted"))?
        .map_err(|e| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("cannot hash the password: {e}"),
            )
        })
}

/// `POST users {"username", "password", "confirm", "role": "admin"|"guest"}`.
async fn add_user(req: &Req, caller: &Caller) -> Result<Reply, ApiError> {
    require_admin(req, caller, "add users")?;
    let body = json_body(
        req,
        "{\"username\": ..., \"password\": ..., \"confirm\": ..., \"role\": \"admin\" or \"guest\"}",
    )?;
    let username = body
        .get("username")
        .and_then(|v| v.as_str())
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    if username.is_empty() || username.len() > 255 || username.chars().any(char::is_control) {
        return Err(bad_request(
            "the username must be 1 to 255 characters, without control characters".into(),
        ));
    }
    let is_admin = match body.get("role").and_then(|v| v.as_str()) {
        Some("admin") => true,
        Some("guest") => false,
        _ => return Err(bad_request("role must be \"admin\" or \"guest\"".into())),
    };
    let password = new_password(&body)?;
    if username == req.inner.config.guest_username && !req.inner.config.guest_password.is_empty() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("{username:?} is the configured guest_username; choose another name"),
        ));
    }
    let hashed = hash(password).await?;
    let name = username.clone();
    let added = blocking(req, move |s| {
        Ok(if s.add_user(&name, &hashed, is_admin)? {
            s.user(&name)?
        } else {
            None
        })
    })
    .await
    .map_err(ApiError::unavailable)?;
    match added {
        Some(user) => Ok(json(StatusCode::CREATED, &user_item(user))),
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("there is already a user {username:?}"),
        )),
    }
}

/// `PUT users/{id}/password {"password", "confirm"}`.
async fn set_password(req: &Req, caller: &Caller, raw_id: &str) -> Result<Reply, ApiError> {
    require_admin(req, caller, "change passwords")?;
    let id = parse_id_of(raw_id, "user")?;
    let body = json_body(req, "{\"password\": ..., \"confirm\": ...}")?;
    let password = new_password(&body)?;
    let user = blocking(req, move |s| s.user_by_id(id))
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no user with id {id}")))?;
    if crate::auth::password_from_config(&req.inner.config, &user.username) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "{:?}'s password comes from the configuration ([authentication] password) and is set again at every start; change it there",
                user.username
            ),
        ));
    }
    let hashed = hash(password).await?;
    blocking(req, move |s| s.set_password(id, &hashed))
        .await
        .map_err(ApiError::unavailable)?;
    Ok(json(StatusCode::OK, &user_item(user)))
}

/// `DELETE users/{id}`: not yourself, not the last administrator.
async fn delete_user(req: &Req, caller: &Caller, raw_id: &str) -> Result<Reply, ApiError> {
    let me = require_admin(req, caller, "delete users")?.username.clone();
    let id = parse_id_of(raw_id, "user")?;
    let user = blocking(req, move |s| s.user_by_id(id))
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no user with id {id}")))?;
    if user.username == me {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "you cannot delete yourself; log in as another administrator to do it",
        ));
    }
    match blocking(req, move |s| s.delete_user(id))
        .await
        .map_err(ApiError::unavailable)?
    {
        Some(true) => Ok(json(StatusCode::OK, &serde_json::json!({ "deleted": id }))),
        Some(false) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "this is the last administrator; add another first",
        )),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no user with id {id}"),
        )),
    }
}

/// A custom graph and how this process's runs of it went; times are microseconds since the
/// epoch, RFC 3339 in the JSON.
#[derive(Serialize)]
pub(crate) struct GraphItem {
    pub(crate) id: i64,
    pub(crate) title: String,
    #[serde(serialize_with = "crate::time::serialize_rfc3339")]
    pub(crate) time_added: i64,
    /// Whether this process runs it (else another instance does, or did).
    pub(crate) runs_here: bool,
    pub(crate) schedule: Option<String>,
    pub(crate) runs: u64,
    #[serde(serialize_with = "crate::time::serialize_rfc3339_opt")]
    pub(crate) last_run: Option<i64>,
    pub(crate) last_value: Option<f64>,
    pub(crate) last_error: Option<String>,
    #[serde(serialize_with = "crate::time::serialize_rfc3339_opt")]
    pub(crate) last_error_time: Option<i64>,
    #[serde(serialize_with = "crate::time::serialize_rfc3339_opt")]
    pub(crate) next_run: Option<i64>,
}

/// The stored custom graphs, with how this process's runs of them went.
pub(crate) async fn graph_items(req: &Req) -> Result<Vec<GraphItem>, String> {
    let rows = blocking(req, |s| s.graphs()).await?;
    let local: Vec<crate::graphs::GraphStatus> = req
        .inner
        .graphs
        .lock()
        .map(|g| {
            g.iter()
                .map(|s| s.lock().map(|s| s.clone()).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default();
    Ok(rows
        .into_iter()
        .map(|g| {
            let here = local.iter().find(|s| s.title == g.title);
            let error = here.and_then(|s| s.last_error.clone());
            GraphItem {
                id: g.id,
                time_added: g.time_added,
                runs_here: here.is_some(),
                schedule: here.map(|s| s.schedule.clone()),
                runs: here.map_or(0, |s| s.runs),
                last_run: here.and_then(|s| s.last_run),
                last_value: here.and_then(|s| s.last_value),
                last_error_time: error.as_ref().map(|e| e.0),
                last_error: error.map(|e| e.1),
                next_run: here.and_then(|s| s.next_run),
                title: g.title,
            }
        })
        .collect())
}

/// `GET graphs`.
async fn graphs(req: &Req) -> Result<Reply, ApiError> {
    let items = graph_items(req).await.map_err(ApiError::unavailable)?;
    Ok(json(StatusCode::OK, &items))
}

/// `GET graphs/{id}/data?from&to`: the values recorded in the range, oldest first.
async fn graph_data(req: &Req, raw_id: &str) -> Result<Reply, ApiError> {
    let id = parse_id_of(raw_id, "graph")?;
    let range = chart_range(req)?;
    let (graph, points) = blocking(req, move |s| {
        let graph = s.graphs()?.into_iter().find(|g| g.id == id);
        let points = match graph {
            Some(_) => s.graph_values(id, range.start, range.end)?,
            None => Vec::new(),
        };
        Ok((graph, points))
    })
    .await
    .map_err(ApiError::unavailable)?;
    let graph = graph
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no graph with id {id}")))?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({
            "id": id,
            "title": graph.title,
            "from": range.from.to_string(),
            "to": range.to.to_string(),
            "timezone": range.tz.name(),
            "start": rfc3339(range.start),
            "end": rfc3339(range.end),
            "points": points.into_iter().map(|(t, v)| serde_json::json!([rfc3339(t), v])).collect::<Vec<_>>(),
        }),
    ))
}

/// How many error requests the status chart lists.
const ERROR_REQUESTS: i64 = 50;

/// `GET endpoints/{id}/charts/{kind}?from&to&instance`.
async fn endpoint_chart(req: &Req, id: i64, kind: &str) -> Result<Reply, ApiError> {
    if !ENDPOINT_CHARTS.split(", ").any(|k| k == kind) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no chart {kind:?}; an endpoint's charts are {ENDPOINT_CHARTS}"),
        ));
    }
    let range = chart_range(req)?;
    endpoint(req, id).await?;
    let instance = instance_filter(req).await?;
    let kind = kind.to_owned();
    let value = blocking(req, move |s| {
        let (start, end) = (range.start, range.end);
        let counts = || s.hour_counts(Some(id), start, end, instance);
        let samples = || s.samples(id, start, end, instance, charts::SAMPLE_LIMIT);
        Ok(match kind.as_str() {
            "hourly" => charts::hourly(&range, &counts()?),
            "versions" => {
                charts::version_boxes(&range, &counts()?, s.histograms(Some(id), start, end, instance)?)
            }
            "users" => {
                let (rows, total) = samples()?;
                charts::user_boxes(&range, &rows, total)
            }
            "user_versions" | "ip_versions" => {
                let (rows, total) = samples()?;
                let key = if kind == "ip_versions" { charts::Key::Ip } else { charts::Key::User };
                charts::key_versions(&range, &counts()?, &rows, total, key)
            }
            _ => {
                let codes = s.status_counts(id, start, end, instance, None)?;
                let errors = s.error_requests(id, start, end, instance, ERROR_REQUESTS)?;
                serde_json::json!({
                    "from": range.from.to_string(),
                    "to": range.to.to_string(),
                    "timezone": range.tz.name(),
                    "codes": codes.iter().map(|(code, n)| serde_json::json!({"status_code": code, "count": n})).collect::<Vec<_>>(),
                    "errors": errors.into_iter().map(request_item).collect::<Vec<_>>(),
                })
            }
        })
    })
    .await
    .map_err(ApiError::unavailable)?;
    Ok(json(StatusCode::OK, &value))
}

#[derive(Serialize)]
struct OverviewItem {
    id: i64,
    name: String,
    monitor_level: i32,
    hits_today: i64,
    hits_week: i64,
    hits_overall: i64,
    errors_today: i64,
    errors_week: i64,
    errors_overall: i64,
    median_today_ms: Option<f64>,
    median_week_ms: Option<f64>,
    median_overall_ms: Option<f64>,
    p90_today_ms: Option<f64>,
    p90_week_ms: Option<f64>,
    p90_overall_ms: Option<f64>,
    p99_today_ms: Option<f64>,
    p99_week_ms: Option<f64>,
    p99_overall_ms: Option<f64>,
    last_requested: Option<String>,
    exception_groups: i64,
}

/// The `instance` query parameter: an instance id, checked to exist.
async fn instance_filter(req: &Req) -> Result<Option<i64>, ApiError> {
    let Some(raw) = req.query_param("instance") else {
        return Ok(None);
    };
    let id = raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("instance must be an instance id (a positive whole number, see GET instances), not {raw:?}"),
        )
    })?;
    let known = blocking(req, |s| s.instances())
        .await
        .map_err(ApiError::unavailable)?
        .iter()
        .any(|i| i.id == id);
    if !known {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no instance with id {id} (see GET instances)"),
        ));
    }
    Ok(Some(id))
}

#[derive(Serialize)]
struct InstanceItem {
    id: i64,
    name: String,
    version: String,
    started: String,
    last_seen: String,
    seconds_since_seen: i64,
    /// When it shut down cleanly, if it did since it last started.
    stopped: Option<String>,
    live: bool,
}

async fn instances(req: &Req) -> Result<Reply, ApiError> {
    let rows = blocking(req, |s| s.instances())
        .await
        .map_err(ApiError::unavailable)?;
    let now = fmd_core::now_micros();
    let items: Vec<InstanceItem> = rows
        .into_iter()
        .map(|i| InstanceItem {
            id: i.id,
            started: rfc3339(i.started),
            last_seen: rfc3339(i.last_seen),
            seconds_since_seen: ((now - i.last_seen) / 1_000_000).max(0),
            stopped: i.stopped.map(rfc3339),
            live: i.is_live(now),
            name: i.name,
            version: i.version,
        })
        .collect();
    Ok(json(StatusCode::OK, &items))
}

async fn overview(req: &Req) -> Result<Reply, ApiError> {
    let instance = instance_filter(req).await?;
    let (today, week) = windows(fmd_core::now_micros(), req.inner.config.tz());
    let rows = blocking(req, move |s| s.overview(today, week, instance))
        .await
        .map_err(ApiError::unavailable)?;
    let items: Vec<OverviewItem> = rows
        .into_iter()
        .map(|r| OverviewItem {
            id: r.endpoint.id,
            name: r.endpoint.name,
            monitor_level: r.endpoint.monitor_level,
            hits_today: r.hits_today,
            hits_week: r.hits_week,
            hits_overall: r.hits_overall,
            errors_today: r.errors_today,
            errors_week: r.errors_week,
            errors_overall: r.errors_overall,
            median_today_ms: r.median_today_ms,
            median_week_ms: r.median_week_ms,
            median_overall_ms: r.median_overall_ms,
            p90_today_ms: r.p90_today_ms,
            p90_week_ms: r.p90_week_ms,
            p90_overall_ms: r.p90_overall_ms,
            p99_today_ms: r.p99_today_ms,
            p99_week_ms: r.p99_week_ms,
            p99_overall_ms: r.p99_overall_ms,
            last_requested: r.endpoint.last_requested.map(rfc3339),
            exception_groups: r.exception_groups,
        })
        .collect();
    Ok(json(StatusCode::OK, &items))
}

/// A path segment that must be an endpoint's database id.
fn parse_id(raw: &str) -> Result<i64, ApiError> {
    parse_id_of(raw, "endpoint")
}

/// A path segment that must be the database id of a `what`.
fn parse_id_of(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().ok().filter(|id| *id > 0).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the {what} id must be a positive whole number, not {raw:?}"),
        )
    })
}

/// `offset` (default 0) and `limit` (default 50, at most 1000) from the query string.
fn paging(query: Option<&str>) -> Result<(i64, i64), String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or(""))
        .map_err(|e| format!("cannot read the query string: {e}"))?;
    let mut offset = 0;
    let mut limit = 50;
    for (key, value) in pairs {
        let parsed = value.parse::<i64>();
        match key.as_str() {
            "offset" => match parsed {
                Ok(v) if v >= 0 => offset = v,
                _ => return Err(format!("offset must be a whole number >= 0, not {value:?}")),
            },
            "limit" => match parsed {
                Ok(v) if (1..=1000).contains(&v) => limit = v,
                _ => {
                    return Err(format!(
                        "limit must be a whole number from 1 to 1000, not {value:?}"
                    ))
                }
            },
            _ => {}
        }
    }
    Ok((offset, limit))
}

#[derive(Serialize)]
struct RequestItem {
    id: i64,
    duration_ms: f64,
    time_requested: String,
    version: String,
    group_by: String,
    ip: String,
    status_code: i32,
    instance: String,
}

async fn requests(req: &Req, raw_id: &str) -> Result<Reply, ApiError> {
    let id = parse_id(raw_id)?;
    let (offset, limit) =
        paging(req.query.as_deref()).map_err(|why| ApiError::new(StatusCode::BAD_REQUEST, why))?;
    let instance = instance_filter(req).await?;
    let rows = blocking(req, move |s| {
        Ok(match s.endpoint(id)? {
            Some(_) => Some(s.requests(id, instance, offset, limit)?),
            None => None,
        })
    })
    .await
    .map_err(ApiError::unavailable)?
    .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no endpoint with id {id}")))?;
    let items: Vec<RequestItem> = rows.into_iter().map(request_item).collect();
    Ok(json(StatusCode::OK, &items))
}

fn request_item(r: fmd_store::RequestRow) -> RequestItem {
    RequestItem {
        id: r.id,
        duration_ms: r.duration_us as f64 / 1000.0,
        time_requested: rfc3339(r.time_requested),
        version: r.version_requested,
        group_by: r.group_by.unwrap_or_default(),
        ip: r.ip.unwrap_or_default(),
        status_code: r.status_code,
        instance: r.instance.unwrap_or_default(),
    }
}

/// Refuses a change unless an administrator's session asks for it with its CSRF token; `what`
/// completes "only administrators can ...".
fn require_admin<'a>(req: &Req, caller: &'a Caller, what: &str) -> Result<&'a Session, ApiError> {
    let session = require_admin_session(caller, what)?;
    if csrf_header(req) != Some(session.csrf.as_str()) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "missing or wrong X-CSRF-Token header: send the value of the fmd_csrf cookie",
        ));
    }
    Ok(session)
}

async fn set_level(req: &Req, caller: &Caller, raw_id: &str) -> Result<Reply, ApiError> {
    require_admin(req, caller, "change monitoring levels")?;
    let id = parse_id(raw_id)?;
    let body = json_body(req, "{\"level\": 0..3}")?;
    let level = match body.get("level").and_then(|l| l.as_u64()) {
        Some(level) if level <= 3 => level as u8,
        _ => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "send {\"level\": 0, 1, 2 or 3}",
            ))
        }
    };
    let found = blocking(req, move |s| s.set_level(id, level))
        .await
        .map_err(ApiError::unavailable)?;
    if !found {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no endpoint with id {id}"),
        ));
    }
    if let Some(endpoint) = req.inner.by_id.get(&id) {
        endpoint.set_level(level);
    }
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "id": id, "monitor_level": level }),
    ))
}

/// The endpoint with this id, or a 404.
async fn endpoint(req: &Req, id: i64) -> Result<fmd_store::EndpointRow, ApiError> {
    blocking(req, move |s| s.endpoint(id))
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no endpoint with id {id}")))
}

fn bad_request(why: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, why)
}

#[derive(Serialize)]
struct OutlierItem {
    request: i64,
    time_requested: String,
    duration_ms: f64,
    status_code: i32,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    cpu_percent: Vec<f32>,
    memory_bytes: i64,
    system_memory_bytes: i64,
    stuck_after_ms: Option<f64>,
    stack: Vec<fmd_store::StackFrame>,
}

async fn outliers(req: &Req, raw_id: &str) -> Result<Reply, ApiError> {
    let id = parse_id(raw_id)?;
    let (offset, limit) = paging(req.query.as_deref()).map_err(bad_request)?;
    endpoint(req, id).await?;
    let rows = blocking(req, move |s| s.outliers(id, offset, limit))
        .await
        .map_err(ApiError::unavailable)?;
    let items: Vec<OutlierItem> = rows
        .into_iter()
        .map(|o| OutlierItem {
            request: o.request_id,
            time_requested: rfc3339(o.time_requested),
            duration_ms: o.duration_us as f64 / 1000.0,
            status_code: o.status_code,
            method: o.method,
            url: o.url,
            headers: o.headers,
            cpu_percent: o.cpu_percent,
            memory_bytes: o.memory_bytes,
            system_memory_bytes: o.system_memory_bytes,
            stuck_after_ms: o.stack.after_ms,
            stack: o.stack.frames,
        })
        .collect();
    Ok(json(StatusCode::OK, &items))
}

#[derive(Serialize)]
pub(crate) struct SpanItem {
    pub(crate) position: i32,
    pub(crate) parent: Option<i32>,
    pub(crate) function: String,
    pub(crate) function_id: i64,
    pub(crate) depth: i32,
    pub(crate) start_ms: f64,
    pub(crate) duration_ms: f64,
    pub(crate) share: f64,
    pub(crate) cancelled: bool,
}

#[derive(Serialize)]
pub(crate) struct ProfileItem {
    pub(crate) request: i64,
    pub(crate) time_requested: String,
    pub(crate) duration_ms: f64,
    pub(crate) dropped_spans: i32,
    pub(crate) spans: Vec<SpanItem>,
}

/// A stored profile as the API and the page show it: times in ms, shares of the request.
pub(crate) fn profile_item(p: fmd_store::ProfileRow) -> ProfileItem {
    let total = p.duration_us.max(1) as f64;
    ProfileItem {
        request: p.request_id,
        time_requested: rfc3339(p.time_requested),
        duration_ms: p.duration_us as f64 / 1000.0,
        dropped_spans: p.dropped_spans,
        spans: p
            .spans
            .into_iter()
            .map(|s| SpanItem {
                position: s.position,
                parent: s.parent_position,
                function: s.function,
                function_id: s.function_id,
                depth: s.depth,
                start_ms: s.start_us as f64 / 1000.0,
                duration_ms: s.duration_us as f64 / 1000.0,
                share: (s.duration_us as f64 / total).min(1.0),
                cancelled: s.cancelled != 0,
            })
            .collect(),
    }
}

async fn profiler(req: &Req, raw_id: &str) -> Result<Reply, ApiError> {
    let id = parse_id(raw_id)?;
    let (offset, limit) = paging(req.query.as_deref()).map_err(bad_request)?;
    endpoint(req, id).await?;
    let rows = blocking(req, move |s| s.profiles(id, offset, limit))
        .await
        .map_err(ApiError::unavailable)?;
    let items: Vec<ProfileItem> = rows.into_iter().map(profile_item).collect();
    Ok(json(StatusCode::OK, &items))
}

/// How many of the latest profiled requests the grouped profiler merges, as the original.
pub(crate) const GROUPED_REQUESTS: i64 = 100;

#[derive(Serialize)]
pub(crate) struct GroupedItem {
    pub(crate) path: Vec<String>,
    pub(crate) function: String,
    pub(crate) depth: usize,
    pub(crate) hits: u64,
    pub(crate) total_ms: f64,
    pub(crate) avg_ms: f64,
    pub(crate) std_ms: f64,
    pub(crate) hits_share: f64,
    pub(crate) share: f64,
}

pub(crate) fn grouped_items(stats: Vec<fmd_core::profile::PathStats>) -> Vec<GroupedItem> {
    stats
        .into_iter()
        .map(|p| GroupedItem {
            function: p.path.last().cloned().unwrap_or_default(),
            depth: p.path.len().saturating_sub(1),
            path: p.path,
            hits: p.hits,
            total_ms: p.total,
            avg_ms: p.average,
            std_ms: p.std_dev,
            hits_share: p.hits_share,
            share: p.time_share,
        })
        .collect()
}

async fn grouped(req: &Req, raw_id: &str) -> Result<Reply, ApiError> {
    let id = parse_id(raw_id)?;
    let name = endpoint(req, id).await?.name;
    let (stats, _) = blocking(req, move |s| s.grouped_profile(id, &name, GROUPED_REQUESTS))
        .await
        .map_err(ApiError::unavailable)?;
    Ok(json(StatusCode::OK, &grouped_items(stats)))
}

async fn source(req: &Req, raw_id: &str) -> Result<Reply, ApiError> {
    let id = parse_id_of(raw_id, "function")?;
    let found = blocking(req, move |s| s.function_source(id))
        .await
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no function with id {id}")))?;
    Ok(json(StatusCode::OK, &found))
}

#[derive(Serialize)]
struct FrameItem {
    position: i32,
    function: String,
    file: String,
    relative_file: String,
    line: i32,
    function_start_line: i32,
    function_id: i64,
    library: bool,
}

#[derive(Serialize)]
struct MessageItem {
    message: String,
    count: i64,
}

#[derive(Serialize)]
struct GroupItem {
    group_id: i64,
    #[serde(rename = "type")]
    type_name: String,
    message: String,
    endpoint: String,
    endpoint_id: i64,
    first_seen: String,
    last_seen: String,
    count: i64,
    user_captured: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    messages: Option<Vec<MessageItem>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frames: Option<Vec<FrameItem>>,
}

/// Exception groups, last seen first: all (`GET exceptions`), or one endpoint's with their
/// messages and frames (`GET endpoints/{id}/exceptions`).
async fn exceptions(req: &Req, endpoint_id: Option<i64>) -> Result<Reply, ApiError> {
    let (offset, limit) = paging(req.query.as_deref()).map_err(bad_request)?;
    if let Some(id) = endpoint_id {
        endpoint(req, id).await?;
    }
    let (groups, (messages, frames)) = blocking(req, move |s| {
        let groups = s.exception_groups(endpoint_id, offset, limit)?;
        let details = match endpoint_id {
            Some(_) => s.group_details(&groups.iter().map(|g| g.group_id).collect::<Vec<_>>())?,
            None => Default::default(),
        };
        Ok((groups, details))
    })
    .await
    .map_err(ApiError::unavailable)?;
    let items: Vec<GroupItem> = groups
        .into_iter()
        .map(|g| {
            let of = |id: i64| id == g.group_id;
            GroupItem {
                messages: endpoint_id.map(|_| {
                    messages
                        .iter()
                        .filter(|m| of(m.group_id))
                        .map(|m| MessageItem {
                            message: m.message.clone(),
                            count: m.count,
                        })
                        .collect()
                }),
                frames: endpoint_id.map(|_| {
                    frames
                        .iter()
                        .filter(|f| of(f.group_id))
                        .map(|f| FrameItem {
                            position: f.position,
                            function: f.function.clone(),
                            file: f.file.clone(),
                            relative_file: f.relative_file.clone(),
                            line: f.line,
                            function_start_line: f.function_start_line,
                            function_id: f.function_id,
                            library: f.library(),
                        })
                        .collect()
                }),
                group_id: g.group_id,
                type_name: g.type_name,
                message: g.message,
                endpoint: g.endpoint,
                endpoint_id: g.endpoint_id,
                first_seen: rfc3339(g.first_seen),
                last_seen: rfc3339(g.last_seen),
                count: g.count,
                user_captured: g.user_captured != 0,
            }
        })
        .collect();
    Ok(json(StatusCode::OK, &items))
}

async fn delete_group(req: &Req, caller: &Caller, raw_id: &str) -> Result<Reply, ApiError> {
    require_admin(req, caller, "delete exceptions")?;
    let id = parse_id_of(raw_id, "group")?;
    let found = blocking(req, move |s| s.delete_exception_group(id))
        .await
        .map_err(ApiError::unavailable)?;
    if !found {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no exception group with id {id}"),
        ));
    }
    Ok(json(StatusCode::OK, &serde_json::json!({ "deleted": id })))
}

/// `POST prune {"days": N}`: deletes requests older than N days with everything recorded
/// about them.
async fn prune(req: &Req, caller: &Caller) -> Result<Reply, ApiError> {
    require_admin(req, caller, "delete data")?;
    let body = json_body(req, "{\"days\": N}")?;
    let days = match body.get("days").and_then(|d| d.as_u64()) {
        Some(days) if days <= 36_500 => days as i64,
        _ => {
            return Err(bad_request(
                "send {\"days\": N} with N a whole number of days from 0 to 36500".into(),
            ))
        }
    };
    let before = fmd_core::now_micros() - days * 86_400_000_000;
    let deleted = blocking(req, move |s| s.prune(before))
        .await
        .map_err(ApiError::unavailable)?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "days": days, "deleted_requests": deleted }),
    ))
}

/// `DELETE endpoints/{id}/data`: deletes everything recorded for one endpoint.
async fn delete_data(req: &Req, caller: &Caller, raw_id: &str) -> Result<Reply, ApiError> {
    require_admin(req, caller, "delete data")?;
    let id = parse_id(raw_id)?;
    endpoint(req, id).await?;
    let deleted = blocking(req, move |s| s.delete_endpoint_data(id))
        .await
        .map_err(ApiError::unavailable)?;
    Ok(json(
        StatusCode::OK,
        &serde_json::json!({ "id": id, "deleted_requests": deleted }),
    ))
}
