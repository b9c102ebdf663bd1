//! An alert's shapes: the body each kind of webhook wants (the alert as is for Slack and most
//! tools, Discord's, Microsoft Teams' cards) and an email's subject and HTML.

use serde_json::{json, Value};

use super::message::{Alert, ERROR_RATE, LATENCY, NEW_EXCEPTION, RESOLVED};

/// How a webhook wants its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// The alert as is: Slack, Mattermost, Rocket.Chat and anything reading JSON.
    Json,
    /// `{"content": text}`, at most 2000 characters.
    Discord,
    /// An Office 365 connector card (`*.webhook.office.com`).
    TeamsCard,
    /// An Adaptive Card in a message (Teams workflows, `*.logic.azure.com`).
    TeamsWorkflow,
}

impl Format {
    /// The format a URL's ending (`#discord`, `#teams`, `#slack`, `#json`) asks for, else the
    /// one its host implies; and the URL without the ending.
    pub(crate) fn of(url: &str) -> (Format, &str) {
        if let Some((bare, tag)) = url.rsplit_once('#') {
            let format = match tag.to_ascii_lowercase().as_str() {
                "discord" => Some(Format::Discord),
                "teams" => Some(Format::TeamsCard),
                "teams-workflow" => Some(Format::TeamsWorkflow),
                "slack" | "json" | "mattermost" => Some(Format::Json),
                _ => None,
            };
            if let Some(f) = format {
                return (f, bare);
            }
        }
        let host = fmd_core::config::scheme_and_host(url)
            .map(|(_, host)| host.split(':').next().unwrap_or(""))
            .unwrap_or("")
            .to_ascii_lowercase();
        let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
        let format = if under("discord.com") || under("discordapp.com") {
            Format::Discord
        } else if under("webhook.office.com") || under("outlook.office.com") {
            Format::TeamsCard
        } else if under("logic.azure.com") || under("powerplatform.com") {
            Format::TeamsWorkflow
        } else {
            Format::Json
        };
        (format, url)
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON (Slack, Mattermost)",
            Format::Discord => "Discord",
            Format::TeamsCard => "Microsoft Teams",
            Format::TeamsWorkflow => "Microsoft Teams workflow",
        }
    }

    /// The body to POST for `alert`.
    pub(crate) fn body(self, alert: &Alert) -> Value {
        match self {
            Format::Json => json!(alert),
            Format::Discord => {
                let text: String = alert.text.chars().take(2000).collect();
                json!({ "content": text })
            }
            Format::TeamsCard => json!({
                "@type": "MessageCard",
                "@context": "https://schema.org/extensions",
                "summary": alert.title,
                "themeColor": colour(&alert.kind),
                "title": alert.title,
                "text": alert.text,
                "potentialAction": [{
                    "@type": "OpenUri",
                    "name": "Open in fmd",
                    "targets": [{"os": "default", "uri": alert.url}],
                }],
            }),
            Format::TeamsWorkflow => json!({
                "type": "message",
                "attachments": [{
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "content": {
                        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                        "type": "AdaptiveCard",
                        "version": "1.4",
                        "body": [
                            {"type": "TextBlock", "text": alert.title, "weight": "Bolder", "wrap": true},
                            {"type": "TextBlock", "text": alert.text, "wrap": true},
                        ],
                        "actions": [{"type": "Action.OpenUrl", "title": "Open in fmd", "url": alert.url}],
                    },
                }],
            }),
        }
    }
}

/// A card's colour: red for problems, green for their end, grey otherwise.
fn colour(kind: &str) -> &'static str {
    match kind {
        NEW_EXCEPTION | ERROR_RATE | LATENCY => "D93F0B",
        RESOLVED => "2DA44E",
        _ => "6E7781",
    }
}

/// An email's subject: the kind and the endpoint's name, as the issue asks.
pub(crate) fn subject(alert: &Alert) -> String {
    format!("[fmd] {}", alert.title)
}

/// An email's HTML part: the title, the paragraph and a link, escaped.
pub(crate) fn html(alert: &Alert) -> String {
    let esc = handlebars::html_escape;
    let text = esc(alert.text.trim_end_matches(alert.url.as_str()).trim_end());
    format!(
        "<!doctype html><html><body style=\"font-family: sans-serif\">\
         <h2 style=\"color: #{}\">{}</h2><p style=\"white-space: pre-line\">{}</p>\
         <p><a href=\"{url}\">Open in fmd</a></p>\
         <p style=\"color: #6e7781; font-size: small\">{} · {}</p></body></html>",
        colour(&alert.kind),
        esc(&alert.title),
        text,
        esc(&alert.instance),
        esc(&alert.time),
        url = esc(&alert.url),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::message::tests::{context, group};

    #[test]
    fn the_generic_body_is_the_alert_with_the_documented_fields() {
        let alert = context().new_exception(&group(), 0);
        let body = Format::Json.body(&alert);
        for key in ["text", "kind", "endpoint", "url", "type", "message"] {
            assert!(body.get(key).is_some(), "{key} in {body}");
        }
        assert_eq!(body["type"], "panic");
        assert!(body.get("rule").is_none(), "absent fields are left out");
    }

    #[test]
    fn formats_follow_the_host_or_the_ending() {
        let of = |u| Format::of(u).0;
        assert_eq!(of("https://hooks.slack.com/services/T/B/X"), Format::Json);
        assert_eq!(
            of("https://discord.com/api/webhooks/1/abc"),
            Format::Discord
        );
        assert_eq!(
            of("https://ptb.discordapp.com/api/webhooks/1/abc"),
            Format::Discord
        );
        assert_eq!(
            of("https://contoso.webhook.office.com/webhookb2/x"),
            Format::TeamsCard
        );
        assert_eq!(
            of("https://prod-1.westus.logic.azure.com:443/workflows/x"),
            Format::TeamsWorkflow
        );
        assert_eq!(of("https://notdiscord.com/hook"), Format::Json);
        let (format, url) = Format::of("http://127.0.0.1:9/hook#discord");
        assert_eq!((format, url), (Format::Discord, "http://127.0.0.1:9/hook"));
        // An unknown ending is part of the URL.
        assert_eq!(Format::of("http://h/x#y"), (Format::Json, "http://h/x#y"));

        let alert = context().new_exception(&group(), 0);
        let discord = Format::Discord.body(&alert);
        assert_eq!(discord["content"], alert.text);
        let teams = Format::TeamsCard.body(&alert);
        assert_eq!(teams["title"], alert.title);
        assert_eq!(teams["potentialAction"][0]["targets"][0]["uri"], alert.url);
        let flow = Format::TeamsWorkflow.body(&alert);
        assert_eq!(
            flow["attachments"][0]["content"]["actions"][0]["url"],
            alert.url
        );
    }

    #[test]
    fn emails_escape_and_link() {
        let mut g = group();
        g.message = "<script>alert(1)</script>".into();
        let alert = context().new_exception(&g, 0);
        assert_eq!(subject(&alert), "[fmd] New exception in checkout: panic");
        let page = html(&alert);
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
        assert!(page.contains(
            "href=\"https://shop.example.com/dashboard/endpoint/3/exceptions#group-12\""
        ));
    }
}
