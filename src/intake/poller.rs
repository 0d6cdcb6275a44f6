//! Leader-only work of the intake: webhook registration at start (unless a webhook with the URL
//! exists), polling of `GET /provision-requests/unfulfilled` every `--pax8-poll-interval` so that
//! an order whose webhook was missed is still handled, and the result reporter.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::orders::{self, Source};
use super::{DEFAULT_SECRET_HEADER, Intake, IntakeError, reporter};
use crate::cloud::pax8::{
    OrderEvent, PageRequest, ProvisionRequestType, SharedSecretCreate, WebhookCreate,
};

/// At most this many pages of 100 unfulfilled requests per poll.
const MAX_PAGES: u32 = 10;

/// Runs registration, polling and the reporter until `shutdown` (while this replica leads).
pub async fn run_leader(intake: Arc<Intake>, shutdown: CancellationToken) {
    let reporter = tokio::spawn(reporter::run(intake.clone(), shutdown.clone()));
    let registration = tokio::spawn(register_until_done(intake.clone(), shutdown.clone()));
    let mut tick = tokio::time::interval(intake.cfg.poll_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Err(e) = poll(&intake).await {
            tracing::warn!(error = %e, "polling Pax8 unfulfilled provision requests failed");
        }
    }
    let _ = reporter.await;
    let _ = registration.await;
}

/// [`register`], retried with exponential backoff (1 s … 60 s) until it succeeds.
async fn register_until_done(intake: Arc<Intake>, shutdown: CancellationToken) {
    let mut wait = Duration::from_secs(1);
    let mut unsaved = None;
    loop {
        match register(&intake, &mut unsaved).await {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?wait, "Pax8 webhook registration failed")
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(Duration::from_secs(60));
    }
}

/// Registers `--pax8-webhook-url` unless Pax8 already has a webhook with that URL, and keeps the
/// returned shared secret in the Secret. A credential that could not be stored yet waits in
/// `unsaved` for the next try (Pax8 shows it only once).
pub async fn register(
    intake: &Intake,
    unsaved: &mut Option<(String, crate::cloud::Secret)>,
) -> Result<(), IntakeError> {
    let (Some(url), Some(prov)) = (&intake.cfg.webhook_url, &intake.cfg.provisioner_id) else {
        return Ok(());
    };
    if let Some((header, credential)) = unsaved.as_ref() {
        intake.secret.store(header, credential).await?;
        *unsaved = None;
        return Ok(());
    }
    let page = PageRequest {
        page: Some(0),
        size: Some(100),
    };
    let hooks = intake.pax8.list_webhooks(prov, page).await?;
    if hooks.content.iter().any(|w| &w.url == url) {
        if !intake.secret.stored().await? {
            tracing::warn!(url = %url, secret = super::WEBHOOK_SECRET_NAME,
                "a Pax8 webhook with this URL exists but its shared secret is not in the Secret; deliveries are refused until it is (delete the webhook in Pax8 to have the operator register it again)");
        }
        return Ok(());
    }
    let created = intake
        .pax8
        .create_webhook(
            prov,
            &WebhookCreate {
                url: url.clone(),
                shared_secret: Some(SharedSecretCreate { header: None }),
            },
        )
        .await?;
    let header = created
        .shared_secret
        .header
        .clone()
        .unwrap_or_else(|| DEFAULT_SECRET_HEADER.to_owned());
    tracing::info!(url = %url, webhook = ?created.id, "Pax8 webhook registered");
    let credential = created.shared_secret.credential;
    if let Err(e) = intake.secret.store(&header, &credential).await {
        *unsaved = Some((header, credential));
        return Err(e);
    }
    Ok(())
}

/// Handles every unfulfilled request, oldest first.
pub async fn poll(intake: &Intake) -> Result<(), IntakeError> {
    let mut requests = intake.pax8.all_unfulfilled(MAX_PAGES).await?;
    requests.reverse();
    for req in requests {
        let Some(id) = req.id.clone() else { continue };
        if req.kind.is_none_or(|k| k == ProvisionRequestType::Unknown) {
            tracing::warn!(request = %id, "unfulfilled request of an unknown type; skipped");
            continue;
        }
        let detail = match intake.pax8.latest_detail(&id).await {
            Ok(d) => Some(d),
            Err(e) if e.status() == Some(404) => None,
            Err(e) => return Err(e.into()),
        };
        let event = OrderEvent {
            provision_request: Some(req),
            provision_detail: detail,
            provision_attempt: None,
        };
        if let Err(e) = orders::handle(intake, event, Source::Poll).await {
            tracing::warn!(request = %id, error = %e, "polled Pax8 order not handled yet");
        }
    }
    Ok(())
}
