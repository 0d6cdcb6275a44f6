//! Pax8 simulator records and the validation of the bodies the OpenAPI document defines
//! (`ProvisionTestingOrderEvent`, `ProvisionResult`, `WebhookCreate`).

use chrono::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::validate::{Fields, is_external_id};

pub const REQUEST_TYPES: [&str; 8] = [
    "NetNew",
    "Update",
    "Deprovision",
    "TrialCreate",
    "TrialConvert",
    "ChangeProduct",
    "PartnerEnrollment",
    "Renewal",
];
pub const BILLING_TERMS: [&str; 7] = [
    "2 Year",
    "3 Year",
    "Activation",
    "Annual",
    "Monthly",
    "One-Time",
    "Trial",
];
/// Every `ProvisionRequest` property; answers carry all of them (null when unknown), as Jackson does.
pub const REQUEST_FIELDS: [&str; 23] = [
    "id",
    "partnerId",
    "partnerName",
    "partnerDomain",
    "partnerAddress",
    "partnerEnrollmentId",
    "companyId",
    "companyName",
    "companyDomain",
    "companyAddress",
    "productId",
    "oldProductId",
    "productName",
    "quantity",
    "subscriptionId",
    "type",
    "createdDate",
    "trialEndDate",
    "trialAutoConverts",
    "commitmentTermMonths",
    "commitmentTermEndDate",
    "commitment",
    "billingTerm",
];

pub const UNITS: [&str; 23] = [
    "Agents",
    "Devices",
    "Endpoints",
    "Environments",
    "Levels",
    "Points",
    "Users",
    "AUD",
    "CAD",
    "CHF",
    "DKK",
    "EUR",
    "GBP",
    "IDR",
    "MYR",
    "NOK",
    "NZD",
    "PHP",
    "SEK",
    "SGD",
    "THB",
    "USD",
    "VND",
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Provisioner {
    pub id: String,
    pub created_date: String,
    pub vendor_id: String,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SharedSecret {
    pub header: String,
    pub credential: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Webhook {
    pub id: String,
    pub url: String,
    pub shared_secret: SharedSecret,
    pub created_date: String,
}

impl Webhook {
    /// The webhook as reads return it: the credential is masked except its last 4 characters.
    pub fn masked(&self) -> Value {
        let c = &self.shared_secret.credential;
        let tail: String = c
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        serde_json::json!({
            "id": self.id,
            "url": self.url,
            "sharedSecret": { "header": self.shared_secret.header, "credential": format!("********{tail}") },
            "createdDate": self.created_date,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionDetail {
    pub id: String,
    pub provision_request_id: String,
    pub details: Map<String, Value>,
    pub created_date: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionAttempt {
    pub id: String,
    pub provision_detail_id: String,
    pub webhook_id: Option<String>,
    /// `Pending`, `Success` or `Failed`.
    pub status: String,
    pub error_detail: Option<String>,
    pub created_date: String,
}

/// An attempt with the provision request it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredAttempt {
    pub request_id: String,
    pub attempt: ProvisionAttempt,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvisionResult {
    pub id: String,
    pub provision_attempt_id: Option<String>,
    pub status: String,
    pub error_message: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub external_provisioner_subscription_id: Option<String>,
    pub external_provisioner_partner_id: Option<String>,
    pub external_provisioner_company_id: Option<String>,
    pub external_provisioner_partner_enrollment_id: Option<String>,
}

/// A result with the provision request it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredResult {
    pub request_id: String,
    pub result: ProvisionResult,
}

pub fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

fn is_date_time(s: &str) -> bool {
    DateTime::parse_from_rfc3339(s).is_ok()
}

fn uuid_field(f: &mut Fields<'_>, field: &str) -> Option<String> {
    let v = f.string(field, false, 0, true)?;
    if is_uuid(&v) {
        Some(v)
    } else {
        f.fail(field, "Invalid uuid");
        None
    }
}

fn date_field(f: &mut Fields<'_>, field: &str) -> Option<String> {
    let v = f.string(field, false, 0, true)?;
    if is_date_time(&v) {
        Some(v)
    } else {
        f.fail(field, "Invalid date-time (RFC 3339 expected)");
        None
    }
}

fn check_address(f: &mut Fields<'_>, field: &str) {
    if let Some(addr) = f.object(field) {
        let mut a = f.child(addr, field);
        for k in [
            "street",
            "street2",
            "city",
            "postcode",
            "country",
            "stateOrProvince",
        ] {
            a.string(k, false, 0, true);
        }
        f.errors.append(&mut a.errors);
    }
}

/// Checks a `ProvisionRequest` body against the schema's types, formats and enums.
pub fn check_provision_request(f: &mut Fields<'_>) {
    for k in [
        "id",
        "partnerId",
        "partnerEnrollmentId",
        "companyId",
        "productId",
        "oldProductId",
        "subscriptionId",
    ] {
        uuid_field(f, k);
    }
    for k in [
        "partnerName",
        "partnerDomain",
        "companyName",
        "companyDomain",
        "productName",
    ] {
        f.string(k, false, 0, true);
    }
    for k in ["createdDate", "trialEndDate", "commitmentTermEndDate"] {
        date_field(f, k);
    }
    check_address(f, "partnerAddress");
    check_address(f, "companyAddress");
    f.integer("quantity");
    f.integer("commitmentTermMonths");
    f.enumeration("type", &REQUEST_TYPES, false, None);
    f.enumeration("billingTerm", &BILLING_TERMS, false, None);
    f.boolean("trialAutoConverts", false);
    if let Some(c) = f.object("commitment") {
        let mut cf = f.child(c, "commitment");
        if let Some(t) = cf.object("term") {
            let mut tf = cf.child(t, "term");
            tf.integer("months");
            date_field(&mut tf, "endDate");
            cf.errors.append(&mut tf.errors);
        }
        if let Some(v) = cf.object("volume") {
            let mut vf = cf.child(v, "volume");
            let min = vf.number("minAmount");
            let max = vf.number("maxAmount");
            vf.enumeration("unitOfMeasure", &UNITS, false, None);
            vf.integer("months");
            if let (Some(min), Some(max)) = (min, max)
                && min >= max
            {
                vf.fail("minAmount", "minAmount must be less than maxAmount");
            }
            cf.errors.append(&mut vf.errors);
        }
        f.errors.append(&mut cf.errors);
    }
}

/// Checks that `details` (if present) maps names to objects.
pub fn check_details_map(f: &mut Fields<'_>, field: &str) -> Map<String, Value> {
    let Some(m) = f.object(field) else {
        return Map::new();
    };
    for (k, v) in m {
        if !v.is_object() {
            f.fail(&format!("{field}.{k}"), "Expected object");
        }
    }
    m.clone()
}

/// Validated fields of a `ProvisionResult` create body.
pub struct ResultInput {
    pub provision_attempt_id: Option<String>,
    pub status: Option<String>,
    pub error_message: Option<String>,
    pub metadata: Option<Map<String, Value>>,
    pub external: [Option<String>; 4],
}

pub const EXTERNAL_ID_FIELDS: [&str; 4] = [
    "externalProvisionerSubscriptionId",
    "externalProvisionerPartnerId",
    "externalProvisionerCompanyId",
    "externalProvisionerPartnerEnrollmentId",
];

pub fn check_result(f: &mut Fields<'_>) -> ResultInput {
    let provision_attempt_id = uuid_field(f, "provisionAttemptId");
    let status = f.enumeration("status", &["Success", "Fail"], true, None);
    // The reference says the message is truncated to 500 characters, not rejected.
    let error_message = f
        .string("errorMessage", false, 0, true)
        .map(|m| m.chars().take(500).collect());
    let metadata = f
        .object("metadata")
        .is_some()
        .then(|| check_details_map(f, "metadata"));
    let mut external: [Option<String>; 4] = Default::default();
    for (slot, field) in external.iter_mut().zip(EXTERNAL_ID_FIELDS) {
        if let Some(v) = f.string(field, false, 1, true) {
            if is_external_id(&v) {
                *slot = Some(v);
            } else {
                f.fail(
                    field,
                    "Must only contain alphanumeric values, hyphens and underscores",
                );
            }
        }
    }
    ResultInput {
        provision_attempt_id,
        status,
        error_message,
        metadata,
        external,
    }
}
