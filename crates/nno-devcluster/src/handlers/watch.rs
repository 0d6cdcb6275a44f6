//! WATCH: newline-delimited `WatchEvent`s replayed from history and then live, with selectors,
//! BOOKMARKs, `sendInitialEvents`, `timeoutSeconds`, and an `ERROR` 410 event for expired versions.

use super::read::{Filter, table};
use super::{App, Req};
use crate::status::{ApiError, ApiResult};
use crate::store::{EventType, StoreError, StoreEvent};
use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};

const BOOKMARK_EVERY: Duration = Duration::from_secs(5);

struct Watch {
    req: Req,
    filter: Filter,
    name: Option<String>,
    key: String,
    tx: mpsc::Sender<Result<Bytes, std::io::Error>>,
    shutdown: tokio_util::sync::CancellationToken,
}

impl Watch {
    fn matches(&self, obj: &Value) -> bool {
        self.filter.matches(obj)
            && self
                .name
                .as_deref()
                .is_none_or(|n| obj["metadata"]["name"].as_str() == Some(n))
    }

    /// The event to send for a store event, after selector transitions.
    fn translate(&self, ev: &StoreEvent) -> Option<(&'static str, Arc<Value>)> {
        if ev.key != self.key {
            return None;
        }
        let now = self.matches(&ev.object);
        match ev.kind {
            EventType::Added | EventType::Deleted => {
                now.then(|| (ev.kind.as_str(), ev.object.clone()))
            }
            EventType::Modified => {
                let before = ev.prev.as_deref().is_some_and(|p| self.matches(p));
                match (before, now) {
                    (true, true) => Some(("MODIFIED", ev.object.clone())),
                    (false, true) => Some(("ADDED", ev.object.clone())),
                    (true, false) => Some(("DELETED", ev.object.clone())),
                    (false, false) => None,
                }
            }
        }
    }

    async fn send(&self, ty: &str, obj: &Value) -> bool {
        let object = if self.req.wants_table() && ty != "BOOKMARK" && ty != "ERROR" {
            table(&self.req, &[self.req.present(obj)])
        } else if ty == "BOOKMARK" || ty == "ERROR" {
            obj.clone()
        } else {
            self.req.render(obj)
        };
        let mut line = crate::wire::watch_event(ty, &object);
        line.push(b'\n');
        self.tx.send(Ok(Bytes::from(line))).await.is_ok()
    }

    async fn bookmark(&self, rv: u64, initial_end: bool) -> bool {
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if initial_end {
            meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
        }
        let obj = json!({"kind": self.req.res.kind, "apiVersion": self.req.wire_api_version(), "metadata": meta});
        self.send("BOOKMARK", &obj).await
    }

    async fn run(
        self,
        initial: Vec<(&'static str, Arc<Value>)>,
        end_bookmark: Option<u64>,
        mut rx: broadcast::Receiver<Arc<StoreEvent>>,
        mut seen: u64,
        timeout: Duration,
        bookmarks: bool,
    ) {
        for (ty, obj) in &initial {
            seen = seen.max(crate::store::rv_of(obj));
            if !self.send(ty, obj).await {
                return;
            }
        }
        if let Some(rv) = end_bookmark
            && !self.bookmark(rv, true).await
        {
            return;
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut tick = tokio::time::interval(BOOKMARK_EVERY);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = self.shutdown.cancelled() => return,
                _ = self.tx.closed() => return,
                _ = tick.tick() => {
                    if bookmarks && !self.bookmark(seen, false).await {
                        return;
                    }
                }
                ev = rx.recv() => match ev {
                    Ok(ev) => {
                        if ev.rv <= seen {
                            continue;
                        }
                        seen = ev.rv;
                        if let Some((ty, obj)) = self.translate(&ev)
                            && !self.send(ty, &obj).await
                        {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let e = ApiError::gone(format!("too old resource version: {seen}"));
                        let _ = self.send("ERROR", &e.to_status()).await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    }
}

/// GET with `watch=true`.
pub async fn watch(app: &App, req: Req) -> ApiResult<Response> {
    let filter = Filter::from_req(&req)?;
    let key = req.res.storage_key();
    let timeout = req
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .unwrap_or(1800);
    let bookmarks = req.query.flag("allowWatchBookmarks");
    let send_initial = req.query.flag("sendInitialEvents");
    let rv_param = req
        .query
        .get("resourceVersion")
        .unwrap_or_default()
        .to_string();
    let name = req.name.clone();
    let (tx, rx_body) = mpsc::channel(256);
    let w = Watch {
        req,
        filter,
        name,
        key: key.clone(),
        tx,
        shutdown: app.shutdown.clone(),
    };
    let (initial, end_bookmark, rx, seen) =
        if send_initial || rv_param.is_empty() || rv_param == "0" {
            let (objs, rv, rx) = app.store.list_and_subscribe(&key);
            let initial = objs
                .into_iter()
                .filter(|o| w.matches(o))
                .map(|o| ("ADDED", o))
                .collect();
            (initial, send_initial.then_some(rv), rx, rv)
        } else {
            let rv: u64 = rv_param.parse().map_err(|_| {
                ApiError::bad_request(format!("invalid resourceVersion {rv_param:?}"))
            })?;
            match app.store.watch_from(&key, rv) {
                Ok((past, rx)) => {
                    let initial = past.iter().filter_map(|e| w.translate(e)).collect();
                    let seen = past.last().map(|e| e.rv).unwrap_or(rv);
                    (initial, None, rx, seen)
                }
                Err(StoreError::Gone(_)) => {
                    let e = ApiError::gone(format!(
                        "too old resource version: {rv} ({})",
                        app.store.compacted_rv()
                    ));
                    let mut line =
                        serde_json::to_vec(&json!({"type": "ERROR", "object": e.to_status()}))
                            .unwrap_or_default();
                    line.push(b'\n');
                    return Ok((
                        StatusCode::OK,
                        [(header::CONTENT_TYPE, "application/json")],
                        line,
                    )
                        .into_response());
                }
                Err(e) => return Err(ApiError::internal(e.to_string())),
            }
        };
    tokio::spawn(w.run(
        initial,
        end_bookmark,
        rx,
        seen,
        Duration::from_secs(timeout),
        bookmarks,
    ));
    let stream =
        futures::stream::unfold(
            rx_body,
            |mut rx| async move { rx.recv().await.map(|x| (x, rx)) },
        );
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(stream),
    )
        .into_response())
}
