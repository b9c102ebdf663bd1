//! Builders of JSON Schemas (2020-12, OpenAPI 3.1's dialect). Objects list every field as
//! required and allow no other, so a field added, renamed or made nullable in an answer
//! without its schema fails the tests.

use serde_json::{json, Map, Value};

pub(crate) fn int() -> Value {
    json!({ "type": "integer" })
}

pub(crate) fn num() -> Value {
    json!({ "type": "number" })
}

pub(crate) fn string() -> Value {
    json!({ "type": "string" })
}

pub(crate) fn boolean() -> Value {
    json!({ "type": "boolean" })
}

/// An RFC 3339 time in UTC.
pub(crate) fn time() -> Value {
    json!({ "type": "string", "format": "date-time" })
}

/// A day, `YYYY-MM-DD`.
pub(crate) fn date() -> Value {
    json!({ "type": "string", "format": "date" })
}

/// A database id.
pub(crate) fn id() -> Value {
    json!({ "type": "integer", "minimum": 1, "maximum": i64::MAX })
}

/// One of `values`.
pub(crate) fn one_of(values: &[&str]) -> Value {
    json!({ "type": "string", "enum": values })
}

/// `schema` or `null`.
pub(crate) fn nullable(schema: Value) -> Value {
    match schema.get("type") {
        Some(Value::String(t)) => {
            let mut s = schema.clone();
            s["type"] = json!([t, "null"]);
            s
        }
        _ => json!({ "anyOf": [schema, { "type": "null" }] }),
    }
}

/// `schema`, or an empty string meaning "not given": what the pages' forms send for a field
/// left blank.
pub(crate) fn or_empty(schema: Value) -> Value {
    json!({ "anyOf": [schema, { "type": "string", "maxLength": 0 }] })
}

pub(crate) fn array(items: Value) -> Value {
    json!({ "type": "array", "items": items })
}

/// A fixed-length array of these items, in this order.
///
/// Said without `prefixItems`: schemathesis (4.32) rewrites it to draft 7's `items: [...]` in
/// response schemas and then refuses that as OpenAPI 3.1. So the positions' types are merged.
pub(crate) fn tuple(items: &[Value]) -> Value {
    let mut kinds: Vec<&Value> = Vec::new();
    for item in items {
        if !kinds.contains(&item) {
            kinds.push(item);
        }
    }
    let item = match kinds.as_slice() {
        [one] => (*one).clone(),
        _ => json!({ "anyOf": kinds }),
    };
    json!({
        "type": "array",
        "items": item,
        "minItems": items.len(),
        "maxItems": items.len(),
    })
}

/// `[[name, value]]` pairs.
pub(crate) fn pairs() -> Value {
    array(tuple(&[string(), string()]))
}

/// An object with exactly these fields.
pub(crate) fn object(fields: &[(&str, Value)]) -> Value {
    object_with(fields, &[])
}

/// An object with `fields` (required) and `optional` fields, and no others.
pub(crate) fn object_with(fields: &[(&str, Value)], optional: &[(&str, Value)]) -> Value {
    let properties: Map<String, Value> = fields
        .iter()
        .chain(optional)
        .map(|(name, schema)| (name.to_string(), schema.clone()))
        .collect();
    let required: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// A schema of `components/schemas`.
pub(crate) fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A list of these components.
pub(crate) fn list(name: &str) -> Value {
    array(reference(name))
}
