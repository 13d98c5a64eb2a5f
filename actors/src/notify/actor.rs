//! `NotifierActor`: takes stored alert changes, finds the rule's channels and delivers to
//! each in a task of its own, so a slow receiver holds up nothing else.

use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use chrono::Utc;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use urbanstream_schema::models::{ChannelRow, NewDeadLetter};
use urbanstream_schema::store::Store;

use super::logic::{
    backoff, recipients, sign, ChannelKind, DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};
use crate::metrics::{NOTIFICATIONS_TOTAL, NOTIFICATION_ATTEMPTS_TOTAL};
use crate::rules::{AlertAction, AlertChanged};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (a relay on the same host or network).
    None,
    /// STARTTLS on the submission port.
    Starttls,
    /// TLS from the first byte (port 465).
    Tls,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<String>,
    pub from: String,
}

#[derive(Debug, Clone)]
pub struct NotifySettings {
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub timeout: Duration,
    /// Deliveries in flight at once; the rest wait their turn.
    pub max_concurrent: usize,
    pub smtp: Option<SmtpSettings>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(300),
            timeout: Duration::from_secs(10),
            max_concurrent: 64,
            smtp: None,
        }
    }
}

pub struct NotifierActor {
    store: Store,
    settings: Arc<NotifySettings>,
    http: reqwest::Client,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    permits: Arc<tokio::sync::Semaphore>,
}

impl NotifierActor {
    pub fn new(store: Store, settings: NotifySettings) -> Self {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .user_agent(concat!("urbanstream/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        let smtp = settings
            .smtp
            .as_ref()
            .and_then(|s| match smtp_transport(s, settings.timeout) {
                Ok(t) => Some(t),
                Err(e) => {
                    tracing::error!("notifications.smtp unusable, e-mail channels disabled: {e}");
                    None
                }
            });
        Self {
            store,
            permits: Arc::new(tokio::sync::Semaphore::new(settings.max_concurrent.max(1))),
            settings: Arc::new(settings),
            http,
            smtp,
        }
    }
}

fn smtp_transport(
    s: &SmtpSettings,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
    let builder = match s.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host),
        SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&s.host)?,
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&s.host)?,
    };
    let mut builder = builder.port(s.port).timeout(Some(timeout));
    if let (Some(u), Some(p)) = (&s.username, &s.password) {
        builder = builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
            u.clone(),
            p.clone(),
        ));
    }
    Ok(builder.build())
}

impl Actor for NotifierActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.set_mailbox_capacity(10_000);
    }
}

impl Supervised for NotifierActor {}

impl Handler<AlertChanged> for NotifierActor {
    type Result = ();

    fn handle(&mut self, msg: AlertChanged, _ctx: &mut Self::Context) {
        // Live alerts only: raised and cleared. Late ones are history.
        if msg.alert.late || !matches!(msg.action, AlertAction::Raised | AlertAction::Cleared) {
            return;
        }
        let delivery = Delivery {
            store: self.store.clone(),
            settings: self.settings.clone(),
            http: self.http.clone(),
            smtp: self.smtp.clone(),
        };
        let permits = self.permits.clone();
        actix::spawn(async move {
            let rule = match delivery.store.alert_rule(msg.alert.rule_id).await {
                Ok(Some(r)) => r,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!("notification: rule {} not read: {e}", msg.alert.rule_id);
                    return;
                }
            };
            let ids: Vec<i64> = serde_json::from_str(&rule.channel_ids).unwrap_or_default();
            for id in ids {
                match delivery.store.channel(id).await {
                    Ok(Some(ch)) if ch.enabled => {
                        let d = delivery.clone();
                        let msg = msg.clone();
                        let permits = permits.clone();
                        actix::spawn(async move {
                            // A storm of alerts queues here instead of opening a connection each.
                            let Ok(_turn) = permits.acquire_owned().await else {
                                return;
                            };
                            d.deliver(&ch, &msg).await;
                        });
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("notification: channel {id} not read: {e}"),
                }
            }
        });
    }
}

#[derive(Clone)]
struct Delivery {
    store: Store,
    settings: Arc<NotifySettings>,
    http: reqwest::Client,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
}

impl Delivery {
    async fn deliver(&self, ch: &ChannelRow, msg: &AlertChanged) {
        let Some(kind) = ChannelKind::parse(&ch.kind) else {
            return;
        };
        let event = match msg.action {
            AlertAction::Cleared => "alert.cleared",
            _ => "alert.raised",
        };
        let body = serde_json::json!({
            "event": event,
            msg.key.field(): msg.key.to_string(),
            "alert": &*msg.alert,
        })
        .to_string();
        let delivery_id = uuid::Uuid::now_v7().to_string();
        let mut last_error = String::new();
        let max = self.settings.max_attempts.max(1);
        for attempt in 1..=max {
            tokio::time::sleep(backoff(
                self.settings.retry_base,
                self.settings.retry_max,
                attempt,
            ))
            .await;
            let result = match kind {
                ChannelKind::Webhook => self.webhook(ch, &body, &delivery_id).await,
                ChannelKind::Email => self.email(ch, msg, event).await,
            };
            match result {
                Ok(()) => {
                    metrics::counter!(NOTIFICATION_ATTEMPTS_TOTAL, "channel" => kind.as_str(), "result" => "ok").increment(1);
                    metrics::counter!(NOTIFICATIONS_TOTAL, "channel" => kind.as_str(), "outcome" => "delivered").increment(1);
                    return;
                }
                Err(e) => {
                    metrics::counter!(NOTIFICATION_ATTEMPTS_TOTAL, "channel" => kind.as_str(), "result" => "error").increment(1);
                    // A transport error quotes the target URL, credentials and all.
                    let e = urbanstream_schema::redact::redact(&e);
                    tracing::debug!(channel = ch.id, attempt, "notification failed: {e}");
                    last_error = e;
                }
            }
        }
        metrics::counter!(NOTIFICATIONS_TOTAL, "channel" => kind.as_str(), "outcome" => "dead_letter").increment(1);
        tracing::warn!(channel = ch.id, alert = %msg.alert.id, "notification undeliverable after {max} attempts: {last_error}");
        let letter = NewDeadLetter {
            channel_id: ch.id,
            alert_id: msg.alert.id.clone(),
            payload: body,
            attempts: i32::try_from(max).unwrap_or(i32::MAX),
            last_error,
            created_ms: Utc::now().timestamp_millis(),
        };
        if let Err(e) = self.store.insert_dead_letter(letter).await {
            tracing::error!("dead letter not stored: {e}");
        }
    }

    async fn webhook(&self, ch: &ChannelRow, body: &str, delivery_id: &str) -> Result<(), String> {
        let ts = Utc::now().timestamp();
        let mut req = self
            .http
            .post(&ch.target)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(DELIVERY_HEADER, delivery_id);
        if let Some(secret) = &ch.secret {
            req = req.header(SIGNATURE_HEADER, sign(secret, ts, body.as_bytes()));
        }
        let resp = req
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", resp.status()))
        }
    }

    async fn email(&self, ch: &ChannelRow, msg: &AlertChanged, event: &str) -> Result<(), String> {
        let (Some(smtp), Some(settings)) = (&self.smtp, &self.settings.smtp) else {
            return Err("no SMTP server configured (notifications.smtp)".into());
        };
        let a = &msg.alert;
        let verb = if event == "alert.cleared" {
            "cleared"
        } else {
            "raised"
        };
        let mut builder = lettre::Message::builder()
            .from(settings.from.parse().map_err(|e| format!("from: {e}"))?)
            .subject(format!("[{}] {} {verb}: {}", a.severity, a.kind, a.message));
        for r in recipients(&ch.target) {
            builder = builder.to(r.parse().map_err(|e| format!("to {r}: {e}"))?);
        }
        let text = format!(
            "{}\n\nAlert {}\nKind: {}\nSeverity: {}\nStatus: {}\nDevice: {} (IMEI {})\nVehicle: {}\nRaised: {}\nDetails: {}\n",
            a.message,
            a.id,
            a.kind,
            a.severity,
            a.status,
            a.device_id,
            msg.key,
            a.vehicle_id.map_or_else(|| "-".to_owned(), |v| v.to_string()),
            chrono::DateTime::<Utc>::from_timestamp_millis(a.raised_ms).map_or_else(String::new, |t| t.to_rfc3339()),
            a.details,
        );
        let email = builder.body(text).map_err(|e| e.to_string())?;
        smtp.send(email).await.map(drop).map_err(|e| e.to_string())
    }
}
