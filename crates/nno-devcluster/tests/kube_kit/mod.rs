//! Shared by the kube-rs suites: the backend under test, a ConfigMap builder and the `Widget`
//! custom resource with its CRD installed and Established.
#![allow(dead_code)]

use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::{CustomResource, CustomResourceExt};
use nno_support::testing::eventually;
use nno_testkit::TestCluster;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "test.nno.app",
    version = "v1",
    kind = "Widget",
    namespaced,
    status = "WidgetStatus"
)]
pub struct WidgetSpec {
    pub size: i32,
}

#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct WidgetStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_size: Option<i32>,
}

pub const WAIT: Duration = Duration::from_secs(30);

/// The selected backend and an admin client.
pub async fn start() -> (TestCluster, kube::Client) {
    let tc = TestCluster::start().await;
    let client = tc.client().await;
    (tc, client)
}

pub fn cm(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("v".to_string(), value.to_string())])),
        ..Default::default()
    }
}

pub async fn install_widget_crd(client: &kube::Client) -> Api<Widget> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &Widget::crd())
        .await
        .expect("crd created");
    // A real API server establishes a new CRD asynchronously (the devcluster at once): wait.
    eventually(WAIT, "CRD reports Established", || {
        let crds = crds.clone();
        async move {
            let crd = crds.get("widgets.test.nno.app").await.ok()?;
            crd.status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True")
                .then_some(())
        }
    })
    .await;
    Api::default_namespaced(client.clone())
}
