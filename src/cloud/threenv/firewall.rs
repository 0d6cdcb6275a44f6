//! 3nv.io firewalls (`/v1/network/firewalls…`, JSON bodies) and their VM assignments.

use serde::{Deserialize, Serialize};

use super::ThreenvClient;
use super::de::nd;
use crate::cloud::error::ApiError;
use crate::cloud::http::{Request, seg};

/// One firewall rule. `port_start: None` means all ports; `port_end: None` equals `port_start`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FirewallRule {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    #[serde(deserialize_with = "nd")]
    pub protocol: String,
    /// `inbound` or `outbound`.
    #[serde(deserialize_with = "nd")]
    pub direction: String,
    pub port_start: Option<i64>,
    pub port_end: Option<i64>,
    /// `any` or `ip_prefixes`.
    #[serde(deserialize_with = "nd")]
    pub endpoint_spec_type: String,
    /// IP addresses / CIDR prefixes for `ip_prefixes` (absent for `any`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint_spec: Option<Vec<String>>,
}

/// A resource a firewall is assigned to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FirewallAssignment {
    #[serde(deserialize_with = "nd")]
    pub resource_type: String,
    #[serde(deserialize_with = "nd")]
    pub resource_uuid: String,
}

/// A firewall (`name` in lists, `display_name` in create answers: both are read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Firewall {
    #[serde(deserialize_with = "nd")]
    pub uuid: String,
    pub name: Option<String>,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub billing_account_id: Option<i64>,
    pub user_id: Option<i64>,
    #[serde(deserialize_with = "nd")]
    pub rules: Vec<FirewallRule>,
    #[serde(deserialize_with = "nd")]
    pub resources_assigned: Vec<FirewallAssignment>,
    pub created_at: Option<String>,
    pub deleted_at: Option<String>,
}

impl Firewall {
    /// The firewall's name, whichever field carries it.
    pub fn title(&self) -> &str {
        self.display_name
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or("")
    }
}

/// JSON body of create (`display_name`, `billing_account_id`, `rules`) and update (`name`,
/// `description`, `rules`: the full new rule set; rules keep their `uuid`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct FirewallSpec {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_account_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<FirewallRule>>,
}

#[derive(Serialize)]
struct VmQuery<'a> {
    vm_uuid: &'a str,
}

const FW: &str = "/v1/network/firewalls/{firewallUuid}";
const FW_VMS: &str = "/v1/network/firewalls/{firewallUuid}/vms";

impl ThreenvClient {
    pub async fn list_firewalls(&self) -> Result<Vec<Firewall>, ApiError> {
        let req = Request::get("/v1/network/firewalls", "/v1/network/firewalls");
        self.core.json(req).await
    }

    /// Creates a firewall (never retried).
    pub async fn create_firewall(&self, spec: &FirewallSpec) -> Result<Firewall, ApiError> {
        let req = Request::post("/v1/network/firewalls", "/v1/network/firewalls").json(spec);
        self.core.json(req).await
    }

    pub async fn update_firewall(
        &self,
        uuid: &str,
        spec: &FirewallSpec,
    ) -> Result<Firewall, ApiError> {
        let req = Request::put(FW, format!("/v1/network/firewalls/{}", seg(uuid))).json(spec);
        self.core.json(req).await
    }

    pub async fn delete_firewall(&self, uuid: &str) -> Result<(), ApiError> {
        let req = Request::delete(FW, format!("/v1/network/firewalls/{}", seg(uuid)));
        self.core.empty(req).await
    }

    /// Assigns the firewall to a VM; answers the current assignments.
    pub async fn assign_firewall(
        &self,
        uuid: &str,
        vm_uuid: &str,
    ) -> Result<Vec<FirewallAssignment>, ApiError> {
        let req = Request::post(FW_VMS, format!("/v1/network/firewalls/{}/vms", seg(uuid)))
            .query(&VmQuery { vm_uuid });
        self.core.json(req).await
    }

    pub async fn unassign_firewall(&self, uuid: &str, vm_uuid: &str) -> Result<(), ApiError> {
        let req = Request::delete(FW_VMS, format!("/v1/network/firewalls/{}/vms", seg(uuid)))
            .query(&VmQuery { vm_uuid });
        self.core.empty(req).await
    }
}
