//! Defaults a minimal manifest gets when the operator reads it (serde defaults mirror the schema's).

use nno_operator::api::common::{DeletionPolicy, DriftPolicy, ManagementPolicy};
use nno_operator::api::disk::SourceImageType;
use nno_operator::api::firewall::{Direction, EndpointSpecType, Protocol};
use nno_operator::api::platform::{Environment, OnboardingTier};
use nno_operator::api::virtual_machine::PowerState;
use nno_operator::api::{Disk, Firewall, LoadBalancer, Platform, ServicePackage, VirtualMachine};
use serde_json::{Value, json};

fn manifest(kind: &str, spec: Value) -> Value {
    json!({"apiVersion": "nno.app/v1alpha1", "kind": kind, "metadata": {"name": "m", "namespace": "default"}, "spec": spec})
}

#[test]
fn platform_defaults() {
    let p: Platform = serde_json::from_value(manifest(
        "Platform",
        json!({"platformId": "p", "planTier": "t", "billingEmail": "a@b.example",
               "onboarding": {"onboardingId": "o", "platformName": "P", "slug": "p", "userId": "u"}}),
    ))
    .unwrap();
    assert_eq!(p.spec.environment, Environment::Prod);
    assert_eq!(p.spec.max_job_retries, 3);
    assert!(!p.spec.delete_data);
    assert_eq!(p.spec.deletion_policy, DeletionPolicy::Delete);
    assert_eq!(p.spec.onboarding.unwrap().tier, OnboardingTier::Starter);
    assert!(p.spec.features.is_empty() && p.spec.cloud.is_none());
}

#[test]
fn virtual_machine_defaults() {
    let vm: VirtualMachine = serde_json::from_value(manifest(
        "VirtualMachine",
        json!({"platformRef": {"name": "acme"}, "vcpu": 1, "ramMb": 512, "diskGb": 20}),
    ))
    .unwrap();
    assert!(vm.spec.reserve_public_ip);
    assert!(!vm.spec.backup);
    assert!(!vm.spec.allow_restart);
    assert_eq!(vm.spec.power_state, PowerState::Running);
    assert_eq!(vm.spec.policies.deletion_policy, DeletionPolicy::Delete);
    assert_eq!(vm.spec.policies.management_policy, ManagementPolicy::Manage);
    assert_eq!(vm.spec.policies.drift_policy, DriftPolicy::Correct);
    assert!(vm.spec.policies.ignore_changes.is_empty());
    assert!(vm.spec.name.is_none() && vm.status.is_none());
}

#[test]
fn disk_firewall_lb_and_service_defaults() {
    let d: Disk = serde_json::from_value(manifest(
        "Disk",
        json!({"platformRef": {"name": "acme"}, "sizeGb": 10}),
    ))
    .unwrap();
    assert_eq!(d.spec.source_image_type, SourceImageType::Empty);
    assert!(!d.spec.read_only_bootable);

    let fw: Firewall = serde_json::from_value(manifest(
        "Firewall",
        json!({"platformRef": {"name": "acme"}, "rules": [{"portStart": 22}]}),
    ))
    .unwrap();
    let rule = &fw.spec.rules[0];
    assert_eq!(
        (rule.protocol, rule.direction, rule.endpoint_spec_type),
        (Protocol::Tcp, Direction::Inbound, EndpointSpecType::Any)
    );
    assert_eq!(rule.port_end, None);

    let lb: LoadBalancer = serde_json::from_value(manifest(
        "LoadBalancer",
        json!({"platformRef": {"name": "acme"}}),
    ))
    .unwrap();
    assert!(lb.spec.reserve_public_ip && lb.spec.rules.is_empty());

    let svc: ServicePackage = serde_json::from_value(manifest(
        "ServicePackage",
        json!({"platformRef": {"name": "acme"}, "service": "postgresql", "version": "14.0",
               "vmCpu": 1, "vmRam": 1024, "vmDiskGb": 30}),
    ))
    .unwrap();
    assert!(!svc.spec.is_multi_node && svc.spec.whitelist.is_empty());
}

#[test]
fn enum_values_serialize_as_the_apis_spell_them() {
    assert_eq!(
        serde_json::to_value(SourceImageType::OsBase).unwrap(),
        json!("OS_BASE")
    );
    assert_eq!(
        serde_json::to_value(EndpointSpecType::IpPrefixes).unwrap(),
        json!("ip_prefixes")
    );
    assert_eq!(
        serde_json::to_value(Environment::Stg).unwrap(),
        json!("stg")
    );
    assert_eq!(serde_json::to_value(Protocol::Icmp).unwrap(), json!("icmp"));
}

#[test]
fn a_missing_required_field_is_an_error() {
    let err = serde_json::from_value::<VirtualMachine>(manifest(
        "VirtualMachine",
        json!({"platformRef": {"name": "acme"}, "vcpu": 1, "ramMb": 512}),
    ))
    .unwrap_err();
    assert!(err.to_string().contains("diskGb"), "{err}");
}
