//! Where alerts go: each configured webhook URL, and email (one channel for every address).
//! A channel sends one alert and says how it went; retries, caps and records are the
//! delivery worker's.

use std::time::Duration;

use fmd_core::{Config, ConfigError};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::message::Alert;
use super::shapes::{html, subject, Format};

/// How long one delivery may take before it counts as failed.
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_secs(15);

enum Target {
    Webhook {
        url: String,
        format: Format,
        client: reqwest::Client,
    },
    Email {
        from: Mailbox,
        to: Vec<Mailbox>,
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
    },
}

/// One place alerts are delivered to.
pub(crate) struct Channel {
    /// Stable within a configuration: `webhook-1`, `webhook-2`, ..., `email`.
    pub(crate) id: String,
    /// What the dashboard and the history show: no secret (a webhook's path, a password).
    pub(crate) label: String,
    /// `webhook` or `email`.
    pub(crate) kind: &'static str,
    /// The body's shape, or the mail server's address.
    pub(crate) detail: String,
    target: Target,
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("label", &self.label)
            .finish()
    }
}

fn invalid(key: &str, expected: &str, found: String) -> ConfigError {
    ConfigError::Invalid {
        origin: "configuration".into(),
        key: key.into(),
        expected: expected.into(),
        found,
    }
}

fn mailbox(key: &str, address: &str) -> Result<Mailbox, ConfigError> {
    address.parse().map_err(|e| {
        invalid(
            key,
            "an address such as \"ops@example.com\" or \"fmd <fmd@example.com>\"",
            format!("{address:?} ({e})"),
        )
    })
}

/// The SMTP transport for `url`: `smtp://` upgrades with STARTTLS when the server offers it
/// (lettre's `tls=opportunistic`), `smtps://` is TLS from the start; `?tls=required` on an
/// `smtp://` URL refuses a server without STARTTLS.
fn smtp(url: &str) -> Result<AsyncSmtpTransport<Tokio1Executor>, ConfigError> {
    let url = if url.starts_with("smtp://") && !url.contains("tls=") {
        let join = if url.contains('?') { '&' } else { '?' };
        format!("{url}{join}tls=opportunistic")
    } else {
        url.to_owned()
    };
    let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url).map_err(|e| {
        invalid(
            "smtp_url",
            "an smtp:// or smtps:// URL",
            format!("{} ({e})", fmd_core::config::redact_url(&url)),
        )
    })?;
    Ok(builder.timeout(Some(SEND_TIMEOUT)).build())
}

impl Channel {
    /// The channels the configuration names: none when alerting is off.
    pub(crate) fn from_config(config: &Config) -> Result<Vec<Channel>, ConfigError> {
        let mut channels = Vec::new();
        if !config.webhook_urls.is_empty() {
            let client = reqwest::Client::builder()
                .timeout(SEND_TIMEOUT)
                .user_agent(concat!("fmd/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| invalid("webhook_urls", "usable URLs", e.to_string()))?;
            for (i, raw) in config.webhook_urls.iter().enumerate() {
                let (format, url) = Format::of(raw);
                let (scheme, host) = fmd_core::config::scheme_and_host(url).unwrap_or_default();
                channels.push(Channel {
                    id: format!("webhook-{}", i + 1),
                    label: format!("webhook {} ({scheme}://{host})", i + 1),
                    kind: "webhook",
                    detail: format.name().into(),
                    target: Target::Webhook {
                        url: url.to_owned(),
                        format,
                        client: client.clone(),
                    },
                });
            }
        }
        if let (false, Some(url)) = (config.email_to.is_empty(), &config.smtp_url) {
            let to = config
                .email_to
                .iter()
                .map(|a| mailbox("email_to", a))
                .collect::<Result<Vec<_>, _>>()?;
            channels.push(Channel {
                id: "email".into(),
                label: format!("email to {}", config.email_to.join(", ")),
                kind: "email",
                detail: fmd_core::config::redact_url(url),
                target: Target::Email {
                    from: mailbox("email_from", &config.email_from)?,
                    to,
                    transport: Box::new(smtp(url)?),
                },
            });
        }
        Ok(channels)
    }

    /// Delivers `alert` once: `Ok` with the receiver's answer, or `Err` with why not.
    pub(crate) async fn send(&self, alert: &Alert) -> Result<String, String> {
        match &self.target {
            Target::Webhook {
                url,
                format,
                client,
            } => {
                let answer = client
                    .post(url)
                    .json(&format.body(alert))
                    .send()
                    .await
                    // The URL is the secret: keep it out of the history.
                    .map_err(|e| e.without_url().to_string())?;
                let status = answer.status();
                let body = answer.text().await.unwrap_or_default();
                let said: String = body.trim().chars().take(200).collect();
                let detail = match said.is_empty() {
                    true => format!("HTTP {}", status.as_u16()),
                    false => format!("HTTP {}: {said}", status.as_u16()),
                };
                if status.is_success() {
                    Ok(detail)
                } else {
                    Err(detail)
                }
            }
            Target::Email {
                from,
                to,
                transport,
            } => {
                let mut message = Message::builder().from(from.clone());
                for address in to {
                    message = message.to(address.clone());
                }
                let message = message
                    .subject(subject(alert))
                    .multipart(MultiPart::alternative_plain_html(
                        alert.text.clone(),
                        html(alert),
                    ))
                    .map_err(|e| format!("cannot build the email: {e}"))?;
                let answer = transport
                    .send(message)
                    .await
                    .map_err(|e| format!("SMTP: {e}"))?;
                let said: Vec<&str> = answer.message().collect();
                Ok(format!("SMTP {}: {}", answer.code(), said.join(" ")))
            }
        }
    }
}
