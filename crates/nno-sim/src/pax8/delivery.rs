//! Webhook delivery of simulated orders: POST the order event to the webhook URL with the
//! webhook's shared-secret header, retrying with backoff; the attempt record shows the outcome.

use std::sync::Arc;

use serde_json::Value;

use super::{Pax8Sim, Webhook};

/// Delivers `payload` to `webhook` in the background, updating attempt `attempt_id`.
pub fn spawn(sim: Arc<Pax8Sim>, attempt_id: String, webhook: Webhook, payload: Value) {
    tokio::spawn(async move {
        let mut last_error = String::new();
        for i in 0..=sim.retry_delays.len() {
            if i > 0 {
                tokio::time::sleep(sim.retry_delays[i - 1]).await;
            }
            let sent = sim
                .http
                .post(&webhook.url)
                .header(
                    webhook.shared_secret.header.as_str(),
                    webhook.shared_secret.credential.as_str(),
                )
                .json(&payload)
                .send()
                .await;
            match sent {
                Ok(resp) if resp.status().is_success() => {
                    set_status(&sim, &attempt_id, "Success", None);
                    return;
                }
                Ok(resp) => {
                    last_error = format!("Webhook answered HTTP {}", resp.status().as_u16())
                }
                Err(e) => last_error = format!("Webhook delivery failed: {e}"),
            }
            tracing::debug!(attempt = %attempt_id, try_no = i + 1, error = %last_error, "pax8 webhook delivery failed");
            set_status(&sim, &attempt_id, "Pending", Some(last_error.clone()));
        }
        set_status(&sim, &attempt_id, "Failed", Some(last_error));
    });
}

fn set_status(sim: &Pax8Sim, attempt_id: &str, status: &str, error: Option<String>) {
    let mut st = sim.state();
    if let Some(a) = st.attempts.iter_mut().find(|a| a.attempt.id == attempt_id) {
        a.attempt.status = status.to_owned();
        a.attempt.error_detail = error;
    }
}
