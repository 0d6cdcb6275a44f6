//! 3nv.io network load balancers (`/v1/network/load_balancers…`, JSON bodies): load balancers,
//! targets, forwarding rules, billing account.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ThreenvClient;
use super::de::{int_or_text, nd};
use crate::cloud::error::ApiError;
use crate::cloud::http::{Request, seg};

/// A port forwarding rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ForwardingRule {
    pub uuid: Option<String>,
    pub protocol: Option<String>,
    #[serde(deserialize_with = "int_or_text")]
    pub source_port: Option<i64>,
    #[serde(deserialize_with = "int_or_text")]
    pub target_port: Option<i64>,
    pub settings: Option<Value>,
    pub created_at: Option<String>,
}

/// A load balancer target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LbTarget {
    #[serde(deserialize_with = "nd")]
    pub target_uuid: String,
    #[serde(deserialize_with = "nd")]
    pub target_type: String,
    pub target_ip_address: Option<String>,
    pub created_at: Option<String>,
}

/// A network load balancer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LoadBalancer {
    #[serde(deserialize_with = "nd")]
    pub uuid: String,
    pub display_name: Option<String>,
    pub network_uuid: Option<String>,
    pub user_id: Option<i64>,
    #[serde(alias = "billing_account")]
    pub billing_account_id: Option<i64>,
    pub private_address: Option<String>,
    pub is_deleted: Option<bool>,
    #[serde(deserialize_with = "nd")]
    pub forwarding_rules: Vec<ForwardingRule>,
    #[serde(deserialize_with = "nd")]
    pub targets: Vec<LbTarget>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
}

/// A rule in a create request / `POST …/forwarding_rules`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RuleSpec {
    pub source_port: i64,
    pub target_port: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
}

/// A target in a create request / `POST …/targets` (`target_type` is `vm`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct TargetSpec {
    pub target_uuid: String,
    pub target_type: String,
}

/// JSON body of `POST /v1/network/load_balancers`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CreateLoadBalancer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub billing_account_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_uuid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserve_public_ip: Option<bool>,
    pub rules: Vec<RuleSpec>,
    pub targets: Vec<TargetSpec>,
}

#[derive(Serialize)]
struct DisplayName<'a> {
    display_name: &'a str,
}

#[derive(Serialize)]
struct SetId {
    set_id: i64,
}

const LB: &str = "/v1/network/load_balancers/{lb_uuid}";

fn lb_path(uuid: &str, tail: &str) -> String {
    format!("/v1/network/load_balancers/{}{tail}", seg(uuid))
}

impl ThreenvClient {
    pub async fn list_load_balancers(&self) -> Result<Vec<LoadBalancer>, ApiError> {
        let req = Request::get("/v1/network/load_balancers", "/v1/network/load_balancers");
        self.core.json(req).await
    }

    pub async fn get_load_balancer(&self, uuid: &str) -> Result<LoadBalancer, ApiError> {
        self.core.json(Request::get(LB, lb_path(uuid, ""))).await
    }

    /// Creates a load balancer (never retried).
    pub async fn create_load_balancer(
        &self,
        spec: &CreateLoadBalancer,
    ) -> Result<LoadBalancer, ApiError> {
        let req =
            Request::post("/v1/network/load_balancers", "/v1/network/load_balancers").json(spec);
        self.core.json(req).await
    }

    pub async fn rename_load_balancer(
        &self,
        uuid: &str,
        display_name: &str,
    ) -> Result<LoadBalancer, ApiError> {
        let req = Request::patch(LB, lb_path(uuid, "")).json(&DisplayName { display_name });
        self.core.json(req).await
    }

    pub async fn delete_load_balancer(&self, uuid: &str) -> Result<(), ApiError> {
        self.core
            .empty(Request::delete(LB, lb_path(uuid, "")))
            .await
    }

    pub async fn add_load_balancer_target(
        &self,
        uuid: &str,
        target: &TargetSpec,
    ) -> Result<LbTarget, ApiError> {
        let req = Request::post(
            "/v1/network/load_balancers/{lb_uuid}/targets",
            lb_path(uuid, "/targets"),
        )
        .json(target);
        self.core.json(req).await
    }

    pub async fn remove_load_balancer_target(
        &self,
        uuid: &str,
        target_uuid: &str,
    ) -> Result<(), ApiError> {
        let req = Request::delete(
            "/v1/network/load_balancers/{lb_uuid}/targets/{target_uuid}",
            lb_path(uuid, &format!("/targets/{}", seg(target_uuid))),
        );
        self.core.empty(req).await
    }

    pub async fn add_forwarding_rule(
        &self,
        uuid: &str,
        rule: &RuleSpec,
    ) -> Result<ForwardingRule, ApiError> {
        let req = Request::post(
            "/v1/network/load_balancers/{lb_uuid}/forwarding_rules",
            lb_path(uuid, "/forwarding_rules"),
        )
        .json(rule);
        self.core.json(req).await
    }

    pub async fn remove_forwarding_rule(
        &self,
        uuid: &str,
        rule_uuid: &str,
    ) -> Result<(), ApiError> {
        let req = Request::delete(
            "/v1/network/load_balancers/{lb_uuid}/forwarding_rules/{rule_uuid}",
            lb_path(uuid, &format!("/forwarding_rules/{}", seg(rule_uuid))),
        );
        self.core.empty(req).await
    }

    pub async fn set_load_balancer_billing_account(
        &self,
        uuid: &str,
        billing_account_id: i64,
    ) -> Result<LoadBalancer, ApiError> {
        let req = Request::put(
            "/v1/network/load_balancers/{lb_uuid}/billing_account",
            lb_path(uuid, "/billing_account"),
        )
        .json(&SetId {
            set_id: billing_account_id,
        });
        self.core.json(req).await
    }
}
