//! 3nv.io managed service packages (`/v1/user-resource/service/package…`): packages, secrets and
//! the IP whitelist.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ThreenvClient;
use super::de::nd;
use crate::cloud::error::ApiError;
use crate::cloud::http::{Request, seg};

/// One resource (VM or virtual IP) of a service package.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PackageResource {
    #[serde(deserialize_with = "nd")]
    pub resource_id: String,
    #[serde(deserialize_with = "nd")]
    pub resource_type: String,
    pub resource_location: Option<String>,
    pub resource_allocation: Option<Value>,
}

/// A managed service package (PostgreSQL, MariaDB, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServicePackage {
    #[serde(deserialize_with = "nd")]
    pub uuid: String,
    #[serde(deserialize_with = "nd")]
    pub display_name: String,
    #[serde(deserialize_with = "nd")]
    pub service: String,
    #[serde(deserialize_with = "nd")]
    pub version: String,
    /// `active`, `deleted`, … (the simulator also reports `provisioning`).
    #[serde(deserialize_with = "nd")]
    pub status: String,
    #[serde(alias = "billing_account")]
    pub billing_account_id: Option<i64>,
    #[serde(deserialize_with = "nd")]
    pub is_deleted: bool,
    #[serde(deserialize_with = "nd")]
    pub is_multi_node: bool,
    #[serde(deserialize_with = "nd")]
    pub prices: Vec<Value>,
    /// `service_ip`, `location`, `sql_user`, `port`, … (varies by service).
    pub properties: Option<Value>,
    #[serde(deserialize_with = "nd")]
    pub resources: Vec<PackageResource>,
    pub user_id: Option<i64>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    pub deleted_at: Option<String>,
}

/// JSON body of `POST /v1/user-resource/service/package`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateServicePackage {
    pub billing_account_id: i64,
    pub service: String,
    pub version: String,
    pub display_name: String,
    pub vm_cpu: i64,
    pub vm_ram: i64,
    pub vm_disk_gb: i64,
    /// JSON object text (as the reference sends it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_parameters: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_multi_node: Option<bool>,
}

/// JSON body of `PATCH …/package/{uuid}`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct UpdateServicePackage {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_account_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// The service's credentials (`sql_pass`, …). `Debug` shows only the key names.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceSecrets(pub serde_json::Map<String, Value>);

impl std::fmt::Debug for ServiceSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

#[derive(Serialize)]
struct IpAddress<'a> {
    ip_address: &'a str,
}

const PKG: &str = "/v1/user-resource/service/package/{service_package_uuid}";
const WL: &str = "/v1/user-resource/service/package/{service_uuid}/whitelist_addresses";

fn pkg_path(uuid: &str, tail: &str) -> String {
    format!("/v1/user-resource/service/package/{}{tail}", seg(uuid))
}

impl ThreenvClient {
    /// Creates a service package (never retried).
    pub async fn create_service_package(
        &self,
        spec: &CreateServicePackage,
    ) -> Result<ServicePackage, ApiError> {
        let req = Request::post(
            "/v1/user-resource/service/package",
            "/v1/user-resource/service/package",
        )
        .json(spec);
        self.core.json(req).await
    }

    pub async fn list_service_packages(&self) -> Result<Vec<ServicePackage>, ApiError> {
        let req = Request::get(
            "/v1/user-resource/service/packages",
            "/v1/user-resource/service/packages",
        );
        self.core.json(req).await
    }

    pub async fn get_service_package(&self, uuid: &str) -> Result<ServicePackage, ApiError> {
        self.core.json(Request::get(PKG, pkg_path(uuid, ""))).await
    }

    pub async fn update_service_package(
        &self,
        uuid: &str,
        spec: &UpdateServicePackage,
    ) -> Result<ServicePackage, ApiError> {
        let req = Request::patch(PKG, pkg_path(uuid, "")).json(spec);
        self.core.json(req).await
    }

    pub async fn service_package_secrets(&self, uuid: &str) -> Result<ServiceSecrets, ApiError> {
        let req = Request::get(
            "/v1/user-resource/service/package/{service_package_uuid}/secrets",
            pkg_path(uuid, "/secrets"),
        );
        self.core.json(req).await
    }

    /// Deletes the package; answers it as deleted.
    pub async fn delete_service_package(&self, uuid: &str) -> Result<ServicePackage, ApiError> {
        self.core
            .json(Request::delete(PKG, pkg_path(uuid, "")))
            .await
    }

    pub async fn service_whitelist(&self, uuid: &str) -> Result<Vec<String>, ApiError> {
        let req = Request::get(WL, pkg_path(uuid, "/whitelist_addresses"));
        self.core.json(req).await
    }

    /// Adds an address or CIDR prefix; answers the new whitelist.
    pub async fn add_service_whitelist(
        &self,
        uuid: &str,
        ip_address: &str,
    ) -> Result<Vec<String>, ApiError> {
        let req = Request::post(WL, pkg_path(uuid, "/whitelist_addresses"))
            .form(&IpAddress { ip_address });
        self.core.json(req).await
    }

    /// Removes an entry; answers the new whitelist.
    pub async fn delete_service_whitelist(
        &self,
        uuid: &str,
        ip_address: &str,
    ) -> Result<Vec<String>, ApiError> {
        let req = Request::delete(WL, pkg_path(uuid, "/whitelist_addresses"))
            .form(&IpAddress { ip_address });
        self.core.json(req).await
    }
}
