//! 3nv.io private networks (`/v1/network/network…`, location independent).

use serde::{Deserialize, Serialize};

use super::ThreenvClient;
use super::de::nd;
use crate::cloud::error::ApiError;
use crate::cloud::http::{Request, seg};

/// A private network.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Network {
    #[serde(deserialize_with = "nd")]
    pub uuid: String,
    #[serde(deserialize_with = "nd")]
    pub name: String,
    pub vlan_id: Option<i64>,
    pub subnet: Option<String>,
    pub subnet_ipv6: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "nd")]
    pub is_default: bool,
    #[serde(deserialize_with = "nd")]
    pub vm_uuids: Vec<String>,
    #[serde(deserialize_with = "nd")]
    pub resources_count: i64,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Serialize)]
struct Name<'a> {
    name: &'a str,
}

const NETWORK: &str = "/v1/network/network/{network_uuid}";

impl ThreenvClient {
    pub async fn list_networks(&self) -> Result<Vec<Network>, ApiError> {
        let req = Request::get("/v1/network/networks", "/v1/network/networks");
        self.core.json(req).await
    }

    pub async fn get_network(&self, uuid: &str) -> Result<Network, ApiError> {
        let req = Request::get(NETWORK, format!("/v1/network/network/{}", seg(uuid)));
        self.core.json(req).await
    }

    /// With a name: creates a network (the first one becomes the default). Without: returns the
    /// default network, creating it when missing.
    pub async fn create_network(&self, name: Option<&str>) -> Result<Network, ApiError> {
        let mut req = Request::post("/v1/network/network", "/v1/network/network");
        if let Some(name) = name {
            req = req.query(&Name { name });
        }
        self.core.json(req).await
    }

    /// Deletes an empty, non-default network.
    pub async fn delete_network(&self, uuid: &str) -> Result<(), ApiError> {
        let req = Request::delete(NETWORK, format!("/v1/network/network/{}", seg(uuid)));
        self.core.empty(req).await
    }

    pub async fn set_default_network(&self, uuid: &str) -> Result<Network, ApiError> {
        let req = Request::put(
            "/v1/network/network/{network_uuid}/default",
            format!("/v1/network/network/{}/default", seg(uuid)),
        );
        self.core.json(req).await
    }

    pub async fn rename_network(&self, uuid: &str, name: &str) -> Result<Network, ApiError> {
        let req = Request::patch(NETWORK, format!("/v1/network/network/{}", seg(uuid)))
            .json(&Name { name });
        self.core.json(req).await
    }
}
