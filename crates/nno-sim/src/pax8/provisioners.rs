//! Pax8 simulator handlers of provisioners and their webhooks.

// Handlers return error responses by value straight to axum; boxing them buys nothing.
#![allow(clippy::result_large_err)]

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::Uri;

use super::model::{SharedSecret, Webhook};
use super::routes::*;
use super::{DEFAULT_SECRET_HEADER, now_ts};
use crate::validate::Fields;

pub(super) async fn list_provisioners(
    State(sim): Sim,
    uri: Uri,
    RawQuery(raw): RawQuery,
) -> Response {
    done((|| {
        let q = query(raw, &uri)?;
        Ok(page(vec![to_value(&sim.state().provisioner)], &q))
    })())
}

pub(super) async fn get_provisioner(
    State(sim): Sim,
    uri: Uri,
    Path(pid): Path<String>,
) -> Response {
    let st = sim.state();
    done(
        check_provisioner(&st, &pid, &uri)
            .map(|()| Json(to_value(&st.provisioner)).into_response()),
    )
}

pub(super) async fn list_webhooks(
    State(sim): Sim,
    uri: Uri,
    Path(pid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let st = sim.state();
    done((|| {
        check_provisioner(&st, &pid, &uri)?;
        let q = query(raw, &uri)?;
        Ok(page(
            st.webhooks.iter().rev().map(Webhook::masked).collect(),
            &q,
        ))
    })())
}

pub(super) async fn create_webhook(
    State(sim): Sim,
    uri: Uri,
    Path(pid): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Response {
    done((|| {
        check_provisioner(&sim.state(), &pid, &uri)?;
        let obj = body(&headers, &bytes, false, &uri)?;
        let mut f = Fields::new(&obj);
        let url = f.string("url", true, 1, false);
        if let Some(u) = &url {
            let ok = reqwest::Url::parse(u)
                .map(|p| matches!(p.scheme(), "http" | "https") && p.host_str().is_some())
                .unwrap_or(false);
            if !ok {
                f.fail("url", "Must be an absolute http or https URL");
            }
        }
        let mut header = DEFAULT_SECRET_HEADER.to_owned();
        if let Some(ss) = f.object("sharedSecret") {
            let mut sf = f.child(ss, "sharedSecret");
            if let Some(h) = sf.string("header", false, 1, true) {
                if http::HeaderName::from_bytes(h.as_bytes()).is_ok() {
                    header = h;
                } else {
                    sf.fail("header", "Not a valid HTTP header name");
                }
            }
            f.errors.append(&mut sf.errors);
        }
        if !f.errors.is_empty() {
            return Err(invalid(&f, &uri));
        }
        let hook = Webhook {
            id: sim.new_id(),
            url: url.unwrap_or_default(),
            shared_secret: SharedSecret {
                header,
                credential: URL_SAFE_NO_PAD.encode(sim.random_bytes()),
            },
            created_date: now_ts(),
        };
        sim.state().webhooks.push(hook.clone());
        Ok(Json(to_value(&hook)).into_response())
    })())
}

pub(super) async fn latest_webhook(State(sim): Sim, uri: Uri, Path(pid): Path<String>) -> Response {
    let st = sim.state();
    done((|| {
        check_provisioner(&st, &pid, &uri)?;
        st.webhooks
            .last()
            .map(|w| Json(w.masked()).into_response())
            .ok_or_else(|| missing("Webhook for provisioner", &pid, &uri))
    })())
}

pub(super) async fn get_webhook(
    State(sim): Sim,
    uri: Uri,
    Path((pid, wid)): Path<(String, String)>,
) -> Response {
    let st = sim.state();
    done((|| {
        check_provisioner(&st, &pid, &uri)?;
        uuid_param(&wid, &uri)?;
        st.webhooks
            .iter()
            .find(|w| w.id == wid)
            .map(|w| Json(w.masked()).into_response())
            .ok_or_else(|| missing("Webhook", &wid, &uri))
    })())
}
