//! 3nv.io floating IPs (`/v1/[{slug}/]network/ip_addresses…`, location specific, JSON bodies).

use serde::{Deserialize, Serialize};

use super::de::nd;
use super::{ThreenvClient, located};
use crate::cloud::error::ApiError;
use crate::cloud::http::{Request, seg};

/// A public IPv4 address reserved by the account.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FloatingIp {
    pub id: Option<i64>,
    pub uuid: Option<String>,
    #[serde(deserialize_with = "nd")]
    pub address: String,
    pub user_id: Option<i64>,
    pub billing_account_id: Option<i64>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub network_id: Option<i64>,
    #[serde(deserialize_with = "nd")]
    pub name: String,
    pub enabled: Option<bool>,
    pub is_deleted: Option<bool>,
    pub is_virtual: Option<bool>,
    /// UUID of the VM (or service) holding the address.
    pub assigned_to: Option<String>,
    pub assigned_to_resource_type: Option<String>,
    pub assigned_to_private_ip: Option<String>,
    pub unassigned_at: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// JSON body of create / update.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FloatingIpSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_account_id: Option<i64>,
}

#[derive(Serialize)]
struct Filter<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    billing_account_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vm_uuid: Option<&'a str>,
}

#[derive(Serialize)]
struct Assign<'a> {
    vm_uuid: &'a str,
}

const IPS: &str = "/v1/[{slug}/]network/ip_addresses";
const IP: &str = "/v1/[{slug}/]network/ip_addresses/{public_ipv4_address}";

fn ip_path(loc: Option<&str>, address: &str, tail: &str) -> String {
    located(
        loc,
        &format!("/network/ip_addresses/{}{tail}", seg(address)),
    )
}

impl ThreenvClient {
    /// Reserves a new address (a create: never retried).
    pub async fn create_floating_ip(
        &self,
        loc: Option<&str>,
        spec: &FloatingIpSpec,
    ) -> Result<FloatingIp, ApiError> {
        let req = Request::post(IPS, located(loc, "/network/ip_addresses")).json(spec);
        self.core.json(req).await
    }

    pub async fn list_floating_ips(
        &self,
        loc: Option<&str>,
        billing_account_id: Option<i64>,
        vm_uuid: Option<&str>,
    ) -> Result<Vec<FloatingIp>, ApiError> {
        let req = Request::get(IPS, located(loc, "/network/ip_addresses")).query(&Filter {
            billing_account_id,
            vm_uuid,
        });
        self.core.json(req).await
    }

    pub async fn get_floating_ip(
        &self,
        loc: Option<&str>,
        address: &str,
    ) -> Result<FloatingIp, ApiError> {
        let req = Request::get(IP, ip_path(loc, address, ""));
        self.core.json(req).await
    }

    pub async fn update_floating_ip(
        &self,
        loc: Option<&str>,
        address: &str,
        spec: &FloatingIpSpec,
    ) -> Result<FloatingIp, ApiError> {
        let req = Request::patch(IP, ip_path(loc, address, "")).json(spec);
        self.core.json(req).await
    }

    pub async fn delete_floating_ip(
        &self,
        loc: Option<&str>,
        address: &str,
    ) -> Result<(), ApiError> {
        let req = Request::delete(IP, ip_path(loc, address, ""));
        self.core.empty(req).await
    }

    pub async fn assign_floating_ip(
        &self,
        loc: Option<&str>,
        address: &str,
        vm_uuid: &str,
    ) -> Result<FloatingIp, ApiError> {
        let req = Request::post(
            "/v1/[{slug}/]network/ip_addresses/{public_ipv4_address}/assign",
            ip_path(loc, address, "/assign"),
        )
        .json(&Assign { vm_uuid });
        self.core.json(req).await
    }

    pub async fn unassign_floating_ip(
        &self,
        loc: Option<&str>,
        address: &str,
    ) -> Result<FloatingIp, ApiError> {
        let req = Request::post(
            "/v1/[{slug}/]network/ip_addresses/{public_ipv4_address}/unassign",
            ip_path(loc, address, "/unassign"),
        );
        self.core.json(req).await
    }
}
