//! The dashboard's Handlebars templates, embedded in the binary and registered once; values
//! are escaped by default.

use handlebars::{handlebars_helper, Handlebars};

// `{{plural n "time" "times"}}`: "1 time", "2 times", "0 times". A missing count is 0.
handlebars_helper!(plural: |n: Json, one: str, many: str| {
    let n = n.as_f64().unwrap_or(0.0);
    format!("{n} {}", if n == 1.0 { one } else { many })
});

// `{{num x}}`: a number as people write it: `10`, `2.5`, `0.125`; anything else as is.
handlebars_helper!(num: |v: Json| match v.as_f64() {
    Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
    Some(f) => format!("{f}"),
    None => v.as_str().map(str::to_owned).unwrap_or_default(),
});

/// The registered templates.
pub(crate) struct Templates {
    hb: Handlebars<'static>,
}

impl Templates {
    pub(crate) fn new() -> Templates {
        let mut hb = Handlebars::new();
        hb.register_helper("plural", Box::new(plural));
        hb.register_helper("num", Box::new(num));
        let templates = [
            ("layout", include_str!("../assets/templates/layout.hbs")),
            ("login", include_str!("../assets/templates/login.hbs")),
            ("overview", include_str!("../assets/templates/overview.hbs")),
            ("endpoint", include_str!("../assets/templates/endpoint.hbs")),
            (
                "endpoint_requests",
                include_str!("../assets/templates/endpoint_requests.hbs"),
            ),
            ("timeline", include_str!("../assets/templates/timeline.hbs")),
            (
                "request_view",
                include_str!("../assets/templates/request_view.hbs"),
            ),
            (
                "download_form",
                include_str!("../assets/templates/download_form.hbs"),
            ),
            ("error", include_str!("../assets/templates/error.hbs")),
            ("outliers", include_str!("../assets/templates/outliers.hbs")),
            ("profiler", include_str!("../assets/templates/profiler.hbs")),
            ("grouped", include_str!("../assets/templates/grouped.hbs")),
            (
                "endpoint_tabs",
                include_str!("../assets/templates/endpoint_tabs.hbs"),
            ),
            ("pager", include_str!("../assets/templates/pager.hbs")),
            (
                "exceptions",
                include_str!("../assets/templates/exceptions.hbs"),
            ),
            (
                "endpoint_exceptions",
                include_str!("../assets/templates/endpoint_exceptions.hbs"),
            ),
            ("frame", include_str!("../assets/templates/frame.hbs")),
            ("events", include_str!("../assets/templates/events.hbs")),
            (
                "source_dialog",
                include_str!("../assets/templates/source_dialog.hbs"),
            ),
            ("charts", include_str!("../assets/templates/charts.hbs")),
            ("reports", include_str!("../assets/templates/reports.hbs")),
            ("graphs", include_str!("../assets/templates/graphs.hbs")),
            ("settings", include_str!("../assets/templates/settings.hbs")),
            ("users", include_str!("../assets/templates/users.hbs")),
            ("alerts", include_str!("../assets/templates/alerts.hbs")),
            ("data", include_str!("../assets/templates/data.hbs")),
            (
                "settings_tabs",
                include_str!("../assets/templates/settings_tabs.hbs"),
            ),
            (
                "endpoint_charts",
                include_str!("../assets/templates/endpoint_charts.hbs"),
            ),
            (
                "range_form",
                include_str!("../assets/templates/range_form.hbs"),
            ),
            (
                "instance_select",
                include_str!("../assets/templates/instance_select.hbs"),
            ),
        ];
        for (name, source) in templates {
            // The templates are part of the binary and covered by tests; a broken one is a bug.
            hb.register_template_string(name, source)
                .unwrap_or_else(|e| panic!("template {name} is invalid: {e}"));
        }
        Templates { hb }
    }

    /// Renders template `name` with `data`.
    pub(crate) fn render(
        &self,
        name: &str,
        data: &serde_json::Value,
    ) -> Result<String, handlebars::RenderError> {
        self.hb.render(name, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plural_agrees_with_its_count() {
        let mut hb = Handlebars::new();
        hb.register_helper("plural", Box::new(plural));
        let render = |data: serde_json::Value| {
            hb.render_template(r#"{{plural n "span" "spans"}}"#, &data)
                .unwrap()
        };
        assert_eq!(render(serde_json::json!({"n": 1})), "1 span");
        assert_eq!(render(serde_json::json!({"n": 0})), "0 spans");
        assert_eq!(render(serde_json::json!({"n": 12})), "12 spans");
        assert_eq!(render(serde_json::json!({})), "0 spans");
    }

    #[test]
    fn numbers_drop_a_whole_numbers_decimals() {
        let mut hb = Handlebars::new();
        hb.register_helper("num", Box::new(num));
        let render = |data: serde_json::Value| hb.render_template("{{num v}}", &data).unwrap();
        assert_eq!(render(serde_json::json!({"v": 10.0})), "10");
        assert_eq!(render(serde_json::json!({"v": 2.5})), "2.5");
        assert_eq!(render(serde_json::json!({"v": 7})), "7");
        assert_eq!(render(serde_json::json!({"v": null})), "");
    }
}
