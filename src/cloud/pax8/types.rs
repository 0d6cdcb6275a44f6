//! Request and response types of Pax8 vendor provisioning, as the OpenAPI document defines
//! them (unknown fields tolerated, absent and null fields as `None`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::cloud::Secret;

/// `PageInfo`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    pub size: i32,
    pub total_elements: i64,
    pub total_pages: i32,
    pub number: i32,
}

/// `PageDTO<T>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub content: Vec<T>,
    #[serde(default)]
    pub page: PageInfo,
}

/// Which page to read (0-based) and its size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PageRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provisioner {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub created_date: Option<String>,
    pub vendor_id: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SharedSecretCreate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
}

/// `WebhookCreate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookCreate {
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared_secret: Option<SharedSecretCreate>,
}

/// `SharedSecret` / `CreatedSharedSecret`; the credential is a [`Secret`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SharedSecret {
    #[serde(default)]
    pub header: Option<String>,
    #[serde(with = "secret_serde")]
    pub credential: Secret,
}

mod secret_serde {
    use super::Secret;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(s: &Secret, ser: S) -> Result<S::Ok, S::Error> {
        ser.serialize_str(s.expose())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<Secret, D::Error> {
        Ok(Secret::new(String::deserialize(de)?))
    }
}

/// `Webhook` / `CreatedWebhook`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    #[serde(default)]
    pub id: Option<String>,
    pub url: String,
    pub shared_secret: SharedSecret,
    pub created_date: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_or_province: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommitmentTerm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_date: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeCommitment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_amount: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_amount: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_of_measure: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub months: Option<i32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Commitment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term: Option<CommitmentTerm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeCommitment>,
}

/// `ProvisionRequest.type`; unknown values decode as `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProvisionRequestType {
    NetNew,
    Update,
    Deprovision,
    TrialCreate,
    TrialConvert,
    ChangeProduct,
    PartnerEnrollment,
    Renewal,
    #[serde(other)]
    Unknown,
}

/// `ProvisionRequest`: every field is optional in the schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_enrollment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old_product_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_id: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ProvisionRequestType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_end_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trial_auto_converts: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment_term_months: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment_term_end_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<Commitment>,
    /// `2 Year`, `3 Year`, `Activation`, `Annual`, `Monthly`, `One-Time` or `Trial`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_term: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionDetail {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provision_request_id: Option<String>,
    #[serde(default)]
    pub details: Map<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionAttempt {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provision_detail_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date: Option<String>,
}

/// `ProvisionTestingOrderEvent` (body and answer of the order-event simulation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provision_request: Option<ProvisionRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provision_detail: Option<ProvisionDetail>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provision_attempt: Option<ProvisionAttempt>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResultStatus {
    Success,
    Fail,
}

/// `ProvisionResult` (create body and answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provision_attempt_id: Option<String>,
    pub status: ResultStatus,
    /// Truncated to 500 characters by Pax8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Map<String, Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_provisioner_subscription_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_provisioner_partner_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_provisioner_company_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_provisioner_partner_enrollment_id: Option<String>,
}

impl ProvisionResult {
    pub fn success() -> Self {
        Self::new(ResultStatus::Success, None)
    }

    pub fn fail(message: impl Into<String>) -> Self {
        Self::new(ResultStatus::Fail, Some(message.into()))
    }

    fn new(status: ResultStatus, error_message: Option<String>) -> Self {
        Self {
            id: None,
            provision_attempt_id: None,
            status,
            error_message,
            metadata: None,
            external_provisioner_subscription_id: None,
            external_provisioner_partner_id: None,
            external_provisioner_company_id: None,
            external_provisioner_partner_enrollment_id: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tolerant_decoding() {
        let r: ProvisionRequest = serde_json::from_value(json!({
            "id": "x", "type": "SomethingNew", "quantity": null, "partnerAddress": null, "extra": true
        }))
        .unwrap();
        assert_eq!(r.kind, Some(ProvisionRequestType::Unknown));
        assert_eq!(r.quantity, None);
        let p: Page<ProvisionAttempt> =
            serde_json::from_value(json!({"content": [{"id": "a", "status": null}]})).unwrap();
        assert_eq!(p.content[0].status, None);
        assert_eq!(p.page, PageInfo::default());
        let w: Webhook = serde_json::from_value(json!({
            "url": "u", "createdDate": "d", "sharedSecret": {"credential": "top-secret"}
        }))
        .unwrap();
        assert!(!format!("{w:?}").contains("top-secret"));
    }

    #[test]
    fn result_serialises_only_what_is_set() {
        let v = serde_json::to_value(ProvisionResult::fail("no")).unwrap();
        assert_eq!(v, json!({"status": "Fail", "errorMessage": "no"}));
    }
}
