//! Mapping of a provision request to a `Platform`: NetNew / TrialCreate create it, Update /
//! ChangeProduct / Renewal / TrialConvert patch it, Deprovision deletes it, PartnerEnrollment is
//! acknowledged with nothing created. The request id is the idempotency key recorded on the
//! Platform, so a request seen twice (webhook + poll, redelivery, two replicas) is applied once.

use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, ResourceExt};
use serde_json::{Map, Value, json};

use super::{
    COMPANY_LABEL, Intake, IntakeError, MANAGED_LABEL, PARTNER_LABEL, PENDING, PRODUCT,
    REQUEST_KEY, REQUEST_TYPE, SUBSCRIPTION_LABEL, TERM, reporter,
};
use crate::api::platform::Platform;
use crate::cloud::pax8::{
    OrderEvent, ProvisionRequest, ProvisionRequestType as T, ProvisionResult,
};

/// Where a request came from (a metric label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Webhook,
    Poll,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Webhook => "webhook",
            Source::Poll => "poll",
        }
    }
}

/// What handling a request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A Platform was created, patched or deleted; the reporter posts the result later.
    Applied,
    /// Seen before: nothing done.
    Duplicate,
    /// Answered at once with a result (unknown product, enrollment, nothing to delete).
    Reported,
}

pub fn type_label(t: Option<T>) -> &'static str {
    match t {
        Some(T::NetNew) => "NetNew",
        Some(T::Update) => "Update",
        Some(T::Deprovision) => "Deprovision",
        Some(T::TrialCreate) => "TrialCreate",
        Some(T::TrialConvert) => "TrialConvert",
        Some(T::ChangeProduct) => "ChangeProduct",
        Some(T::PartnerEnrollment) => "PartnerEnrollment",
        Some(T::Renewal) => "Renewal",
        Some(T::Unknown) | None => "Unknown",
    }
}

/// The Platform name (and NNO platform id) of a subscription: `pax8-<subscription id>`.
pub fn platform_name(subscription_id: &str) -> String {
    let clean: String = subscription_id
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut name = format!("pax8-{}", clean.trim_matches('-'));
    name.truncate(63);
    name.trim_end_matches('-').to_owned()
}

/// A label value: at most 63 characters of `[A-Za-z0-9._-]`.
fn label_value(s: &str) -> String {
    let mut v: String = s
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    v.truncate(63);
    v.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned()
}

/// Whether the Platform already recorded request `id`.
pub fn recorded(p: &Platform, id: &str) -> bool {
    let a = p.annotations();
    a.get(REQUEST_KEY).is_some_and(|v| v == id) || pending(p).iter().any(|x| x == id)
}

pub fn pending(p: &Platform) -> Vec<String> {
    p.annotations()
        .get(PENDING)
        .map(|v| v.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn billing_email(req: &ProvisionRequest, details: &Map<String, Value>) -> String {
    let from_details = ["platform", "billing"].iter().find_map(|k| {
        let o = details.get(*k)?;
        o.get("billingEmail")
            .or_else(|| o.get("email"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    });
    from_details.unwrap_or_else(|| {
        let domain = req
            .company_domain
            .as_deref()
            .filter(|d| {
                d.contains('.')
                    && d.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
            })
            .unwrap_or("pax8.invalid");
        format!("billing@{domain}")
    })
}

/// Labels and annotations of request `req` (merged into the Platform's metadata).
fn meta(req: &ProvisionRequest, id: &str, pending_ids: &[String]) -> Value {
    let l = |v: &Option<String>| {
        v.as_deref()
            .map(label_value)
            .map(Value::from)
            .unwrap_or(Value::Null)
    };
    let mut annotations = json!({
        REQUEST_KEY: id,
        REQUEST_TYPE: type_label(req.kind),
        PENDING: pending_ids.join(" "),
    });
    let ids = [
        ("pax8.nno.app/partner-id", &req.partner_id),
        ("pax8.nno.app/company-id", &req.company_id),
        ("pax8.nno.app/subscription-id", &req.subscription_id),
        (PRODUCT, &req.product_id),
    ];
    for (k, v) in ids {
        if let Some(v) = v {
            annotations[k] = Value::from(v.clone());
        }
    }
    json!({
        "labels": {
            MANAGED_LABEL: "true",
            PARTNER_LABEL: l(&req.partner_id),
            COMPANY_LABEL: l(&req.company_id),
            SUBSCRIPTION_LABEL: l(&req.subscription_id),
            REQUEST_KEY: label_value(id),
        },
        "annotations": annotations,
    })
}

fn term(req: &ProvisionRequest) -> String {
    let mut parts = Vec::new();
    if let Some(b) = &req.billing_term {
        parts.push(format!("billingTerm={b}"));
    }
    if let Some(m) = req.commitment_term_months {
        parts.push(format!("months={m}"));
    }
    if let Some(e) = &req.commitment_term_end_date {
        parts.push(format!("endDate={e}"));
    }
    if let Some(e) = &req.trial_end_date {
        parts.push(format!("trialEndDate={e}"));
    }
    parts.join(",")
}

fn unknown_product(req: &ProvisionRequest) -> String {
    format!(
        "Product {} ({}) is not offered by this provisioner: it is missing from the operator's product mapping (--pax8-products). Add it with its planTier and resend the order.",
        req.product_id.as_deref().unwrap_or("<none>"),
        req.product_name.as_deref().unwrap_or("unnamed"),
    )
}

/// Handles one provision request idempotently (counted in the metrics unless it was a duplicate).
pub async fn handle(
    intake: &Intake,
    ev: OrderEvent,
    source: Source,
) -> Result<Outcome, IntakeError> {
    let kind = ev.provision_request.as_ref().and_then(|r| r.kind);
    let out = apply(intake, ev, source).await?;
    if out != Outcome::Duplicate {
        intake.metrics.pax8_order(type_label(kind), source.label());
    }
    Ok(out)
}

async fn apply(intake: &Intake, ev: OrderEvent, source: Source) -> Result<Outcome, IntakeError> {
    let req = ev.provision_request.unwrap_or_default();
    let id = req.id.clone().unwrap_or_default();
    if reporter::has_result(intake, &id).await? {
        return Ok(Outcome::Duplicate);
    }
    let details = ev.provision_detail.map(|d| d.details).unwrap_or_default();
    let api: Api<Platform> = Api::namespaced(intake.kube.clone(), &intake.cfg.namespace);
    let Some(sub) = req.subscription_id.clone().filter(|s| !s.is_empty()) else {
        if req.kind == Some(T::PartnerEnrollment) {
            return enrollment(intake, &req, &id).await;
        }
        let msg =
            "The provision request carries no subscriptionId, so no platform can be identified.";
        reporter::post(intake, &id, ProvisionResult::fail(msg)).await?;
        return Ok(Outcome::Reported);
    };
    let name = platform_name(&sub);
    let existing = api.get_opt(&name).await?;
    if let Some(p) = &existing
        && recorded(p, &id)
    {
        return Ok(Outcome::Duplicate);
    }
    let kind = req.kind.unwrap_or(T::Unknown);
    if kind == T::PartnerEnrollment {
        return enrollment(intake, &req, &id).await;
    }
    if source == Source::Poll {
        // The webhook delivery of this request failed; record the attempt this handling is.
        intake.pax8.create_attempt(&id).await?;
    }
    match (kind, existing) {
        (T::Deprovision, None) => {
            reporter::post(intake, &id, reporter::success(&req, &name)).await?;
            Ok(Outcome::Reported)
        }
        (T::Deprovision, Some(p)) => {
            let mut ids = pending(&p);
            ids.push(id.clone());
            patch(&api, &p, json!({"metadata": meta(&req, &id, &ids)})).await?;
            api.delete(&name, &DeleteParams::default()).await?;
            tracing::info!(platform = %name, request = %id, "Pax8 Deprovision: Platform deleted");
            Ok(Outcome::Applied)
        }
        (T::NetNew | T::TrialCreate, None) => {
            let Some(product) = intake.products.get(req.product_id.as_deref().unwrap_or("")) else {
                reporter::post(intake, &id, ProvisionResult::fail(unknown_product(&req))).await?;
                return Ok(Outcome::Reported);
            };
            let mut spec = json!({
                "platformId": name,
                "planTier": product.plan_tier,
                "billingEmail": billing_email(&req, &details),
            });
            if let Some(c) = &req.company_id {
                spec["defaultEntityId"] = Value::from(c.clone());
            }
            if !product.features.is_empty() {
                spec["features"] = serde_json::to_value(&product.features).unwrap_or_default();
            }
            let mut metadata = meta(&req, &id, std::slice::from_ref(&id));
            metadata["name"] = Value::from(name.clone());
            if kind == T::TrialCreate {
                metadata["annotations"][TERM] = Value::from(term(&req));
            }
            let obj: Platform = serde_json::from_value(json!({
                "apiVersion": "nno.app/v1alpha1", "kind": "Platform",
                "metadata": metadata, "spec": spec,
            }))
            .map_err(|e| IntakeError::Config(format!("building the Platform: {e}")))?;
            match api.create(&PostParams::default(), &obj).await {
                Ok(_) => {
                    tracing::info!(platform = %name, request = %id, tier = %product.plan_tier, "Pax8 order: Platform created");
                    Ok(Outcome::Applied)
                }
                // Another replica (or delivery) created it in the meantime.
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(Outcome::Duplicate),
                Err(e) => Err(e.into()),
            }
        }
        (_, None) => {
            let msg = format!(
                "No platform exists for subscription {sub} (expected Platform {}/{name}); a {} needs the subscription's NetNew first.",
                intake.cfg.namespace,
                type_label(req.kind)
            );
            reporter::post(intake, &id, ProvisionResult::fail(msg)).await?;
            Ok(Outcome::Reported)
        }
        (_, Some(p)) => {
            let mut spec = json!({});
            let moves_product = matches!(
                kind,
                T::ChangeProduct | T::Update | T::NetNew | T::TrialCreate
            );
            if moves_product && let Some(pid) = req.product_id.as_deref() {
                let Some(product) = intake.products.get(pid) else {
                    reporter::post(intake, &id, ProvisionResult::fail(unknown_product(&req)))
                        .await?;
                    return Ok(Outcome::Reported);
                };
                spec["planTier"] = Value::from(product.plan_tier.clone());
                if !product.features.is_empty() {
                    spec["features"] = serde_json::to_value(&product.features).unwrap_or_default();
                }
            }
            let mut ids = pending(&p);
            ids.push(id.clone());
            let mut metadata = meta(&req, &id, &ids);
            if matches!(kind, T::Renewal | T::TrialConvert) {
                metadata["annotations"][TERM] = Value::from(term(&req));
            }
            patch(&api, &p, json!({"metadata": metadata, "spec": spec})).await?;
            tracing::info!(platform = %name, request = %id, kind = type_label(req.kind), "Pax8 order: Platform patched");
            Ok(Outcome::Applied)
        }
    }
}

async fn enrollment(
    intake: &Intake,
    req: &ProvisionRequest,
    id: &str,
) -> Result<Outcome, IntakeError> {
    let mut r = ProvisionResult::success();
    r.external_provisioner_partner_id = req.partner_id.as_deref().map(reporter::external_id);
    r.external_provisioner_partner_enrollment_id = req
        .partner_enrollment_id
        .as_deref()
        .map(reporter::external_id);
    reporter::post(intake, id, r).await?;
    Ok(Outcome::Reported)
}

/// A merge patch guarded by the object's resourceVersion (a concurrent change is a 409).
async fn patch(api: &Api<Platform>, p: &Platform, mut body: Value) -> Result<(), IntakeError> {
    body["metadata"]["resourceVersion"] = Value::from(p.resource_version().unwrap_or_default());
    api.patch(&p.name_any(), &PatchParams::default(), &Patch::Merge(body))
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_deterministic_and_valid() {
        let n = platform_name("3F2504E0-4F89-41D3-9A0C-0305E82C3301");
        assert_eq!(n, "pax8-3f2504e0-4f89-41d3-9a0c-0305e82c3301");
        assert_eq!(n, platform_name("3f2504e0-4f89-41d3-9a0c-0305e82c3301"));
        assert!(platform_name(&"x".repeat(100)).len() <= 63);
        assert_eq!(label_value("a b/c"), "abc");
    }

    #[test]
    fn the_billing_email_comes_from_details_or_the_company_domain() {
        let mut req = ProvisionRequest {
            company_domain: Some("acme.example".into()),
            ..ProvisionRequest::default()
        };
        assert_eq!(billing_email(&req, &Map::new()), "billing@acme.example");
        let d = json!({"platform": {"billingEmail": "ap@acme.example"}});
        assert_eq!(
            billing_email(&req, d.as_object().unwrap()),
            "ap@acme.example"
        );
        req.company_domain = Some("not a domain".into());
        assert_eq!(billing_email(&req, &Map::new()), "billing@pax8.invalid");
    }
}
