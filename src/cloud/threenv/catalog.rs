//! 3nv.io catalog and billing views: locations, host pools, VM parameters, VM and boot images,
//! pricing policy, usage, billing resources and resource billing.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::de::nd;
use super::vm::Vm;
use super::{ThreenvClient, located};
use crate::cloud::error::ApiError;
use crate::cloud::http::Request;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Location {
    #[serde(deserialize_with = "nd")]
    pub slug: String,
    #[serde(deserialize_with = "nd")]
    pub display_name: String,
    #[serde(deserialize_with = "nd")]
    pub is_default: bool,
    #[serde(deserialize_with = "nd")]
    pub is_preferred: bool,
    pub description: Option<String>,
    pub order_nr: Option<i64>,
    pub country_code: Option<String>,
}

/// A server class VMs can be placed in (`designated_pool_uuid`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HostPool {
    #[serde(deserialize_with = "nd")]
    pub uuid: String,
    #[serde(deserialize_with = "nd")]
    pub name: String,
    pub description: Option<String>,
    #[serde(deserialize_with = "nd")]
    pub is_default_designated: bool,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// One entry of `GET /v1/api/parameters/vm` (fields depend on `constraint`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmParameter {
    #[serde(deserialize_with = "nd")]
    pub parameter: String,
    #[serde(deserialize_with = "nd")]
    pub constraint: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub description: Option<String>,
    #[serde(deserialize_with = "nd")]
    pub mandatory: bool,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub expression: Option<String>,
    pub values: Option<Vec<String>>,
    pub limited_by: Option<String>,
    /// Per-`limited_by` overrides, e.g. `{"os_name":"windows","min":2}`.
    #[serde(deserialize_with = "nd")]
    pub limits: Vec<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ImageVersion {
    #[serde(deserialize_with = "nd")]
    pub os_version: String,
    pub display_name: Option<String>,
    #[serde(deserialize_with = "nd")]
    pub published: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VmImage {
    #[serde(deserialize_with = "nd")]
    pub os_name: String,
    pub display_name: Option<String>,
    pub ui_position: Option<i64>,
    #[serde(deserialize_with = "nd")]
    pub is_default: bool,
    #[serde(deserialize_with = "nd")]
    pub is_app_catalog: bool,
    pub icon: Option<String>,
    #[serde(deserialize_with = "nd")]
    pub versions: Vec<ImageVersion>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BootImage {
    #[serde(deserialize_with = "nd")]
    pub uuid: String,
    #[serde(deserialize_with = "nd")]
    pub image_name: String,
    #[serde(deserialize_with = "nd")]
    pub is_installation_media: bool,
    pub description: Option<String>,
    #[serde(deserialize_with = "nd")]
    pub is_published: bool,
}

/// One priced resource of the pricing policy (fields vary by `resourceType`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PricePolicy {
    #[serde(rename = "policyId")]
    pub policy_id: Option<i64>,
    #[serde(rename = "resourceType", deserialize_with = "nd")]
    pub resource_type: String,
    #[serde(deserialize_with = "nd")]
    pub price: f64,
    #[serde(rename = "numCpus")]
    pub num_cpus: Option<i64>,
    #[serde(rename = "megsRam")]
    pub megs_ram: Option<i64>,
    #[serde(rename = "serviceNameInUptime")]
    pub service_name_in_uptime: Option<String>,
    #[serde(rename = "serviceNameUserFriendly")]
    pub service_name_user_friendly: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PricingPolicy {
    #[serde(deserialize_with = "nd")]
    pub policy: Vec<PricePolicy>,
}

/// One resource's usage in the current month.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Usage {
    pub billing_account_id: Option<i64>,
    #[serde(deserialize_with = "nd")]
    pub configurations: Vec<Value>,
    pub cost: Option<f64>,
    pub description: Option<String>,
    pub hours: Option<f64>,
    pub owner_uuid: Option<String>,
    pub price: Option<f64>,
    pub price_unit: Option<String>,
    #[serde(deserialize_with = "nd")]
    pub uptime_types: Vec<String>,
    pub user_id: Option<i64>,
}

#[derive(Serialize)]
struct BillingId {
    billing_account_id: i64,
}

#[derive(Serialize)]
struct Id<'a> {
    id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_type: Option<&'a str>,
}

#[derive(Serialize)]
struct ResourceBilling<'a> {
    billing_account_id: i64,
    uuid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    resource_type: Option<&'a str>,
}

impl ThreenvClient {
    pub async fn locations(&self) -> Result<Vec<Location>, ApiError> {
        let req = Request::get("/v1/config/locations", "/v1/config/locations");
        self.core.json(req).await
    }

    pub async fn host_pools(&self) -> Result<Vec<HostPool>, ApiError> {
        let p = "/v1/user-resource/host_pool/list";
        self.core.json(Request::get(p, p)).await
    }

    pub async fn vm_parameters(&self) -> Result<Vec<VmParameter>, ApiError> {
        let p = "/v1/api/parameters/vm";
        self.core.json(Request::get(p, p)).await
    }

    pub async fn vm_images(&self) -> Result<Vec<VmImage>, ApiError> {
        let p = "/v1/config/vm_images";
        self.core.json(Request::get(p, p)).await
    }

    pub async fn vm_images_plain_os(&self) -> Result<Vec<VmImage>, ApiError> {
        let p = "/v1/config/vm_images/plain_os";
        self.core.json(Request::get(p, p)).await
    }

    pub async fn vm_images_app_catalog(&self) -> Result<Vec<VmImage>, ApiError> {
        let p = "/v1/config/vm_images/app_catalog";
        self.core.json(Request::get(p, p)).await
    }

    pub async fn boot_images(&self) -> Result<Vec<BootImage>, ApiError> {
        let p = "/v1/config/boot_images";
        self.core.json(Request::get(p, p)).await
    }

    pub async fn pricing_policy(&self) -> Result<PricingPolicy, ApiError> {
        let p = "/v1/pricing/policy";
        self.core.json(Request::get(p, p)).await
    }

    pub async fn usage(&self, billing_account_id: i64) -> Result<Vec<Usage>, ApiError> {
        let p = "/v1/charging/usage";
        let req = Request::get(p, p).query(&BillingId { billing_account_id });
        self.core.json(req).await
    }

    /// VMs of a billing account in one location.
    pub async fn billing_resources(
        &self,
        loc: Option<&str>,
        billing_account_id: i64,
    ) -> Result<Vec<Vm>, ApiError> {
        let req = Request::get(
            "/v1/[{slug}/]user-resource/billing_resources",
            located(loc, "/user-resource/billing_resources"),
        )
        .query(&Id {
            id: billing_account_id,
            resource_type: None,
        });
        self.core.json(req).await
    }

    /// Moves a VM to another billing account.
    pub async fn set_resource_billing(
        &self,
        loc: Option<&str>,
        vm_uuid: &str,
        billing_account_id: i64,
    ) -> Result<Value, ApiError> {
        let req = Request::post(
            "/v1/[{slug}/]user-resource/resource_billing",
            located(loc, "/user-resource/resource_billing"),
        )
        .form(&ResourceBilling {
            billing_account_id,
            uuid: vm_uuid,
            resource_type: Some("vm"),
        });
        self.core.json(req).await
    }
}
