//! `/openapi/v3` endpoints: the index and one document per group-version, generated from the registry.

use crate::handlers::App;
use crate::registry::ResourceInfo;
use crate::schema::{self, KindSchema, gv_path};
use crate::status::{ApiError, json_response};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::sync::Arc;

fn kind_schemas(res: &ResourceInfo, version: &str) -> KindSchema {
    let schema = res
        .version(version)
        .and_then(|v| v.schema.clone())
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    KindSchema {
        group: res.group.clone(),
        version: version.to_string(),
        kind: res.kind.clone(),
        plural: res.plural.clone(),
        namespaced: res.namespaced,
        schema,
        list_kind: res.list_kind.clone(),
    }
}

fn all_kinds(app: &App) -> Vec<KindSchema> {
    app.registry
        .all()
        .iter()
        .flat_map(|r| {
            r.versions
                .iter()
                .map(|v| kind_schemas(r, &v.name))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// `GET /openapi/v3`.
pub async fn index(State(app): State<Arc<App>>) -> Response {
    json_response(
        StatusCode::OK,
        &schema::openapi_v3_index_for_kinds(&all_kinds(&app)),
    )
}

/// `GET /openapi/v3/{api/v1 | apis/group/version}`.
pub async fn group_version(State(app): State<Arc<App>>, Path(path): Path<String>) -> Response {
    let path = gv_path(&path);
    let kinds: Vec<KindSchema> = all_kinds(&app)
        .into_iter()
        .filter(|k| gv_path(format!("{}/{}", k.group, k.version).trim_start_matches('/')) == path)
        .collect();
    if kinds.is_empty() {
        return ApiError::no_route().into_response();
    }
    let doc: Value = schema::openapi_v3_group_version(&path, &kinds);
    json_response(StatusCode::OK, &doc)
}
