//! The dashboard's Handlebars templates, embedded in the binary and registered once; values
//! are escaped by default.

use handlebars::Handlebars;

/// The registered templates.
pub(crate) struct Templates {
    hb: Handlebars<'static>,
}

impl Templates {
    pub(crate) fn new() -> Templates {
        let mut hb = Handlebars::new();
        let templates = [
            ("layout", include_str!("../assets/templates/layout.hbs")),
            ("login", include_str!("../assets/templates/login.hbs")),
            ("overview", include_str!("../assets/templates/overview.hbs")),
            ("endpoint", include_str!("../assets/templates/endpoint.hbs")),
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
            (
                "source_dialog",
                include_str!("../assets/templates/source_dialog.hbs"),
            ),
            ("charts", include_str!("../assets/templates/charts.hbs")),
            ("reports", include_str!("../assets/templates/reports.hbs")),
            ("graphs", include_str!("../assets/templates/graphs.hbs")),
            ("settings", include_str!("../assets/templates/settings.hbs")),
            ("users", include_str!("../assets/templates/users.hbs")),
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
