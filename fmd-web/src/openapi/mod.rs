//! The OpenAPI 3.1 document of the JSON API, served at `/{custom_link}/api/openapi.json`.
//!
//! It cannot drift from the routes: the route table names each API route's [`Operation`]
//! beside its handler, and [`document`] builds the paths from that table, so a route without a
//! description does not compile and a description without a route has nowhere to appear. The
//! answers' schemas ([`schemas`]) are checked against real answers by the tests and by
//! schemathesis in CI.

pub(crate) mod json_schema;
pub(crate) mod operations;
pub(crate) mod schemas;
pub(crate) mod schemas_settings;

use http::Method;
use serde_json::{json, Map, Value};

/// Who may call an operation.
#[derive(Clone, Copy, PartialEq)]
enum Access {
    /// Anyone (the document itself).
    Public,
    /// A logged-in user or the read-only security token.
    Read,
    /// A logged-in administrator (reading).
    AdminRead,
    /// A logged-in administrator, with the `X-CSRF-Token` header (changes).
    Admin,
}

/// What the document says of one route of the JSON API.
pub(crate) struct Operation {
    tag: &'static str,
    summary: &'static str,
    access: Access,
    query: Vec<Value>,
    path: Vec<(&'static str, Value)>,
    body: Option<Value>,
    status: u16,
    content: Value,
    errors: Vec<u16>,
}

impl Operation {
    /// An operation answering `schema` as JSON with a 200, for a session or the token.
    pub(crate) fn new(tag: &'static str, summary: &'static str, schema: Value) -> Operation {
        Operation {
            tag,
            summary,
            access: Access::Read,
            query: Vec::new(),
            path: Vec::new(),
            body: None,
            status: 200,
            content: json!({ "application/json": { "schema": schema } }),
            errors: Vec::new(),
        }
    }

    /// A query parameter.
    pub(crate) fn query(mut self, name: &str, schema: Value, description: &str) -> Self {
        self.query.push(json!({
            "name": name,
            "in": "query",
            "required": false,
            "description": description,
            "schema": schema,
        }));
        self
    }

    /// `offset` and `limit`.
    pub(crate) fn paged(self) -> Self {
        self.query(
            "offset",
            json!({ "type": "integer", "minimum": 0, "maximum": i64::MAX, "default": 0 }),
            "How many items to skip.",
        )
        .query(
            "limit",
            json!({ "type": "integer", "minimum": 1, "maximum": 1000, "default": 50 }),
            "How many items at most.",
        )
    }

    /// `instance`: only this service instance's requests.
    pub(crate) fn instance(self) -> Self {
        self.query(
            "instance",
            json_schema::id(),
            "Only the requests of this instance (an id from `GET /instances`).",
        )
    }

    /// `from`, `to` (whole days) and `instance`.
    pub(crate) fn days(self) -> Self {
        self.query(
            "from",
            json_schema::date(),
            "First day, in the dashboard's timezone (default: 6 days before `to`).",
        )
        .query(
            "to",
            json_schema::date(),
            "Last day, included (default: today); at most 366 days after `from`.",
        )
        .instance()
    }

    /// A path parameter's schema; those not named are database ids.
    pub(crate) fn path(mut self, name: &'static str, schema: Value) -> Self {
        self.path.push((name, schema));
        self
    }

    /// A change by an administrator, with a JSON body of `schema`.
    pub(crate) fn change(mut self, body: Option<Value>) -> Self {
        self.access = Access::Admin;
        self.body = body;
        self
    }

    /// Readable by administrators only.
    pub(crate) fn admin_read(mut self) -> Self {
        self.access = Access::AdminRead;
        self
    }

    /// Readable without authentication.
    pub(crate) fn public(mut self) -> Self {
        self.access = Access::Public;
        self
    }

    /// Answered with `status` on success instead of 200.
    pub(crate) fn status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The success answer's content, by media type.
    pub(crate) fn content(mut self, content: Value) -> Self {
        self.content = content;
        self
    }

    /// Error statuses of this operation besides those every operation of its kind has.
    pub(crate) fn errors(mut self, statuses: &[u16]) -> Self {
        self.errors.extend_from_slice(statuses);
        self
    }

    /// The operation object for `path` (the route's path after `api/`).
    fn object(self, method: &Method, path: &str) -> Value {
        let mut params: Vec<Value> = path_params(path)
            .map(|name| {
                let schema = self
                    .path
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or_else(json_schema::id, |(_, s)| s.clone());
                json!({ "name": name, "in": "path", "required": true, "schema": schema })
            })
            .collect();
        let has_path = !params.is_empty();
        params.extend(self.query);
        let mut responses = Map::new();
        let description = if self.status == 201 { "Created" } else { "OK" };
        responses.insert(
            self.status.to_string(),
            json!({ "description": description, "content": self.content }),
        );
        let mut errors = self.errors;
        errors.push(414);
        if self.access != Access::Public {
            errors.extend([401, 503]);
        }
        if !params.is_empty() || self.body.is_some() {
            errors.push(400);
        }
        if has_path || params.iter().any(|p| p["name"] == "instance") {
            errors.push(404);
        }
        if matches!(self.access, Access::Admin | Access::AdminRead) {
            errors.push(403);
        }
        if self.body.is_some() {
            errors.push(413);
        }
        errors.sort_unstable();
        errors.dedup();
        for status in errors {
            responses.insert(
                status.to_string(),
                json!({
                    "description": error_description(status),
                    "content": { "application/json": { "schema": json_schema::reference("Error") } },
                }),
            );
        }
        let security = match self.access {
            Access::Public => json!([]),
            Access::Read => json!([{ "token": [] }, { "session": [] }]),
            Access::AdminRead => json!([{ "session": [] }]),
            Access::Admin => json!([{ "session": [], "csrf": [] }]),
        };
        let id = format!(
            "{}_{}",
            method.as_str().to_lowercase(),
            path.replace(['{', '}'], "").replace(['/', '.'], "_")
        );
        let mut op = json!({
            "operationId": id,
            "tags": [self.tag],
            "summary": self.summary,
            "security": security,
            "responses": responses,
        });
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if let Some(body) = self.body {
            op["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": body } },
            });
        }
        op
    }
}

/// The names of a route path's `{name}` segments, in order.
pub(crate) fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn error_description(status: u16) -> &'static str {
    match status {
        400 => "A parameter or the body is not what the route takes; the error says what to send.",
        401 => "No valid session or security token.",
        403 => "The caller may not do this (the token is read-only; changes need an administrator's session and `X-CSRF-Token`).",
        404 => "No such endpoint, instance, item or chart.",
        409 => "The change conflicts with the configuration or the stored data.",
        413 => "The body is longer than 64 KiB.",
        414 => "The path and query are longer than 8 KiB.",
        502 => "The alert channel refused the test alert or did not answer.",
        503 => "The database is unavailable; recorded requests are kept meanwhile.",
        _ => "An error.",
    }
}

/// The document for a dashboard under `base` (`/{custom_link}`), with the API routes given as
/// method, path after `api/`, and operation.
pub(crate) fn document<'a>(
    base: &str,
    version: &str,
    routes: impl IntoIterator<Item = (&'a Method, &'a str, Operation)>,
) -> Value {
    let mut paths = Map::new();
    for (method, path, op) in routes {
        let entry = paths.entry(format!("/{path}")).or_insert_with(|| json!({}));
        entry[method.as_str().to_lowercase()] = op.object(method, path);
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "fmd dashboard API",
            "version": version,
            "description": "The JSON API of the fmd monitoring dashboard. Times are RFC 3339 in UTC, durations in milliseconds. Errors are `{\"error\": \"...\"}` with a 4xx status, or 503 while the database is unavailable; a wrong method on a route is a 405 whose `Allow` header lists its methods. Read with the security token (`Authorization: Bearer ...`, read-only) or a login's session cookie; changes need an administrator's session and the `X-CSRF-Token` header set to the value of the `fmd_csrf` cookie.",
        },
        "servers": [{ "url": format!("{base}/api") }],
        "paths": paths,
        "components": {
            "schemas": schemas::components()
                .into_iter()
                .chain(schemas_settings::components())
                .map(|(name, schema)| (name.to_owned(), schema))
                .collect::<Map<String, Value>>(),
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The configured `security_token`: read-only access.",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "fmd_session",
                    "description": "The session cookie of a login at `/{custom_link}/login`.",
                },
                "csrf": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-CSRF-Token",
                    "description": "The value of the `fmd_csrf` cookie of the same login.",
                },
            },
        },
    })
}
