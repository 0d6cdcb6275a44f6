//! `VirtualMachine` on 3nv.io compute: the mapping between the spec and `/v1/[{slug}/]user-resource/vm…`
//! (create form, compared fields, rename / vCPU / RAM / power / backup / disk growth / password).

use std::collections::BTreeMap;

use kube::ResourceExt;
use rand::RngExt;

use crate::api::common::{CloudPolicies, CommonStatus};
use crate::api::virtual_machine::{PowerState, VirtualMachine, VirtualMachineStatus, VmStorage};
use crate::cloud::threenv::ThreenvClient;
use crate::cloud::threenv::vm::{CreateVm, ModifyVm, Vm};
use crate::cloud::{ApiError, Secret};

use super::drift::applied_record;
use super::error::ReconcileError;
use super::managed::{Field, InputContext, ManagedKind, Pending, Readiness, Target, UpdateOutcome};
use super::{secrets, token};

/// The 3nv.io name rule of `GET /v1/api/parameters/vm`.
const NAME_RULE: &str = "^[0-9a-zA-Z][-0-9a-zA-Z]{2,}[0-9a-zA-Z]$";
/// The 3nv.io password rule of `GET /v1/api/parameters/vm`.
const PASSWORD_RULE: &str = "^(?=.*[a-z])(?=.*[A-Z])(?=.*\\d).{8,}$";

/// What a VM reads besides its spec.
#[derive(Debug, Default)]
pub struct VmInputs {
    /// The login password (referenced, kept in the connection Secret, or generated).
    password: Option<Secret>,
    /// `resourceVersion` of the referenced password Secret, to notice a changed password.
    password_version: Option<String>,
}

fn name_ok(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 4
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

fn password_ok(pw: &str) -> bool {
    pw.chars().count() >= 8
        && pw.chars().any(|c| c.is_ascii_lowercase())
        && pw.chars().any(|c| c.is_ascii_uppercase())
        && pw.chars().any(|c| c.is_ascii_digit())
}

/// A 24-character password that satisfies the 3nv.io rule.
fn generate_password() -> String {
    const LOWER: &[u8] = b"abcdefghijkmnopqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGIT: &[u8] = b"23456789";
    let mut rng = rand::rng();
    let all: Vec<u8> = [LOWER, UPPER, DIGIT].concat();
    let mut out: Vec<u8> = (0..21)
        .map(|_| all[rng.random_range(0..all.len())])
        .collect();
    for set in [LOWER, UPPER, DIGIT] {
        let at = rng.random_range(0..=out.len());
        out.insert(at, set[rng.random_range(0..set.len())]);
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl VirtualMachine {
    /// The VM's name in the cloud: `spec.name`, else `metadata.name`.
    pub fn cloud_name(&self) -> String {
        self.spec.name.clone().unwrap_or_else(|| self.name_any())
    }
}

fn power_of(status: &str) -> String {
    match status {
        "running" => "Running".into(),
        "stopped" => "Stopped".into(),
        other => other.into(),
    }
}

fn primary_disk(vm: &Vm) -> Option<&crate::cloud::threenv::vm::VmStorage> {
    vm.storage.iter().find(|s| s.primary).or(vm.storage.first())
}

impl ManagedKind for VirtualMachine {
    type Observed = Vm;
    type Inputs = VmInputs;
    const KIND: &'static str = "VirtualMachine";

    fn policies(&self) -> &CloudPolicies {
        &self.spec.policies
    }
    fn platform_ref(&self) -> &str {
        &self.spec.platform_ref.name
    }
    fn location_override(&self) -> Option<&str> {
        self.spec.location.as_deref()
    }
    fn billing_account_override(&self) -> Option<i64> {
        self.spec.billing_account_id
    }
    fn common_status(&self) -> Option<&CommonStatus> {
        self.status.as_ref().map(|s| &s.common)
    }
    fn connection_secret_name(&self) -> Option<&str> {
        self.spec
            .write_connection_secret_to_ref
            .as_ref()
            .map(|r| r.name.as_str())
    }
    fn secret_refs(&self) -> Vec<&str> {
        self.spec
            .password_secret_ref
            .iter()
            .map(|r| r.name.as_str())
            .collect()
    }

    async fn list(client: &ThreenvClient, loc: Option<&str>) -> Result<Vec<Vm>, ApiError> {
        client.list_vms(loc).await
    }
    async fn get(client: &ThreenvClient, loc: Option<&str>, id: &str) -> Result<Vm, ApiError> {
        client.get_vm(loc, id).await
    }
    fn external_id(vm: &Vm) -> String {
        vm.uuid.clone()
    }
    fn token_of(vm: &Vm) -> Option<String> {
        token::extract(&vm.description)
    }
    fn readiness(vm: &Vm) -> Readiness {
        match vm.status.as_str() {
            "running" | "stopped" => Readiness::Ready,
            "error" | "failed" | "suspended" => Readiness::Unavailable {
                state: vm.status.clone(),
            },
            other => Readiness::InTransition {
                state: other.to_owned(),
            },
        }
    }

    async fn inputs(&self, ctx: InputContext<'_>) -> Result<VmInputs, ReconcileError> {
        if self.metadata.deletion_timestamp.is_some() {
            // Deleting needs no password, and its Secret may be gone already.
            return Ok(VmInputs {
                password: None,
                password_version: None,
            });
        }
        if let Some(r) = &self.spec.password_secret_ref {
            let found = secrets::read_key(ctx.client, ctx.namespace, &r.name, &r.key).await?;
            let (password, version) = found.ok_or_else(|| {
                ReconcileError::ReferenceNotReady(format!(
                    "Secret {:?} with key {:?} (spec.passwordSecretRef) does not exist",
                    r.name, r.key
                ))
            })?;
            return Ok(VmInputs {
                password: Some(Secret::new(password)),
                password_version: Some(version),
            });
        }
        let kept = ctx
            .connection_secret
            .and_then(|d| d.get("password"))
            .filter(|p| !p.is_empty());
        let password = match kept {
            Some(p) => p.clone(),
            None => generate_password(),
        };
        Ok(VmInputs {
            password: Some(Secret::new(password)),
            password_version: None,
        })
    }

    fn validate(&self, _target: &Target, inputs: &VmInputs) -> Result<(), String> {
        let name = self.cloud_name();
        if !name_ok(&name) {
            let from = if self.spec.name.is_some() {
                "spec.name"
            } else {
                "metadata.name; set spec.name"
            };
            return Err(format!(
                "VM name {name:?} (from {from}) is not valid on 3nv.io: it must match {NAME_RULE} (GET /v1/api/parameters/vm)"
            ));
        }
        if let (Some(r), Some(pw)) = (&self.spec.password_secret_ref, &inputs.password)
            && !password_ok(pw.expose())
        {
            return Err(format!(
                "the password in Secret {:?} key {:?} does not meet the 3nv.io rule {PASSWORD_RULE}: 8+ characters with a lower-case letter, an upper-case letter and a digit",
                r.name, r.key
            ));
        }
        Ok(())
    }

    fn fields(&self, vm: &Vm, inputs: &VmInputs) -> Vec<Field> {
        let s = &self.spec;
        let mut out = vec![
            Field::new("name", self.cloud_name(), &vm.name),
            Field::new("vcpu", s.vcpu, vm.vcpu),
            Field::new("ramMb", s.ram_mb, vm.memory),
            Field::new(
                "powerState",
                match s.power_state {
                    PowerState::Running => "Running",
                    PowerState::Stopped => "Stopped",
                },
                power_of(&vm.status),
            ),
            Field::new("backup", s.backup, vm.backup),
            Field::new(
                "description",
                s.description.clone().unwrap_or_default(),
                token::strip(&vm.description),
            )
            .create_only(),
        ];
        if let Some(disk) = primary_disk(vm) {
            let f = Field::new("diskGb", s.disk_gb, disk.size);
            // Disks grow but never shrink: a larger cloud disk is reported, not "corrected".
            out.push(if disk.size > i64::from(s.disk_gb) {
                f.create_only()
            } else {
                f
            });
        }
        if let Some(os) = &s.os_name {
            out.push(Field::new("osName", os, &vm.os_name).create_only());
        }
        if let Some(v) = &s.os_version {
            out.push(Field::new("osVersion", v, &vm.os_version).create_only());
        }
        if let Some(version) = &inputs.password_version {
            let applied = applied_record(self.annotations())
                .remove("password")
                .unwrap_or_default();
            out.push(Field::new(
                "password",
                format!("secret version {version}"),
                applied,
            ));
        }
        out
    }

    async fn create(
        &self,
        target: &Target,
        inputs: &VmInputs,
        token: &str,
    ) -> Result<Vm, ApiError> {
        let s = &self.spec;
        let boots_from_image = s.source.is_none() && s.boot_disk_uuid.is_none();
        let form = CreateVm {
            name: self.cloud_name(),
            os_name: s.os_name.clone(),
            os_version: s.os_version.clone(),
            disks: boots_from_image.then_some(i64::from(s.disk_gb)),
            vcpu: i64::from(s.vcpu),
            ram: i64::from(s.ram_mb),
            username: s.username.clone(),
            password: inputs
                .password
                .as_ref()
                .map(|p| p.expose().to_owned())
                .unwrap_or_default(),
            billing_account_id: target.billing_account_id,
            designated_pool_uuid: s.designated_pool_uuid.clone(),
            description: Some(token::embed(
                s.description.as_deref().unwrap_or_default(),
                token,
            )),
            backup: Some(s.backup),
            public_key: s.public_key.clone(),
            source_uuid: s.source.as_ref().map(|x| x.vm_uuid.clone()),
            source_replica: s.source.as_ref().map(|x| x.replica_uuid.clone()),
            reserve_public_ip: Some(s.reserve_public_ip),
            network_uuid: s.network_uuid.clone(),
            cloud_init: s.cloud_init.as_ref().map(|v| v.to_string()),
            disk_uuid: s.boot_disk_uuid.clone(),
        };
        target.client.create_vm(target.loc(), &form).await
    }

    async fn update(
        &self,
        target: &Target,
        vm: &Vm,
        inputs: &VmInputs,
        fields: &[Field],
    ) -> Result<UpdateOutcome<Vm>, ApiError> {
        let (c, loc, s) = (&target.client, target.loc(), &self.spec);
        let wants = |p: &str| fields.iter().any(|f| f.path == p);
        let mut out = UpdateOutcome::default();
        let mut cur = vm.clone();
        if wants("name") {
            let m = ModifyVm {
                uuid: cur.uuid.clone(),
                name: Some(self.cloud_name()),
                ..ModifyVm::default()
            };
            cur = c.modify_vm(loc, &m).await?;
            out.applied.push("name");
        }
        if wants("backup") && cur.backup != s.backup {
            cur = c.toggle_vm_backup(loc, &cur.uuid).await?;
            out.applied.push("backup");
        }
        if wants("diskGb")
            && let Some(disk) = primary_disk(&cur)
        {
            let uuid = disk.uuid.clone();
            c.resize_vm_disk(loc, &cur.uuid, &uuid, i64::from(s.disk_gb))
                .await?;
            if let Some(d) = cur.storage.iter_mut().find(|d| d.uuid == uuid) {
                d.size = i64::from(s.disk_gb);
            }
            out.applied.push("diskGb");
        }
        let sizing: Vec<&'static str> =
            ["vcpu", "ramMb"].into_iter().filter(|p| wants(p)).collect();
        let want_running = s.power_state == PowerState::Running;
        if !sizing.is_empty() {
            let summary = format!(
                "vcpu {} -> {}, ramMb {} -> {}",
                cur.vcpu, s.vcpu, cur.memory, s.ram_mb
            );
            if cur.status == "running" && !s.allow_restart {
                for p in &sizing {
                    out.pending.push(Pending {
                        field: p,
                        reason: "RestartRequired",
                        message: format!("{summary} needs the VM stopped; set spec.allowRestart: true to let the operator stop and restart it, or set powerState: Stopped"),
                    });
                }
            } else {
                let restart = cur.status == "running";
                if restart {
                    cur = c.stop_vm(loc, &cur.uuid, false).await?;
                }
                let m = ModifyVm {
                    uuid: cur.uuid.clone(),
                    vcpu: Some(i64::from(s.vcpu)),
                    ram: Some(i64::from(s.ram_mb)),
                    ..ModifyVm::default()
                };
                cur = c.modify_vm(loc, &m).await?;
                if restart && want_running {
                    cur = c.start_vm(loc, &cur.uuid).await?;
                }
                out.applied.extend(sizing);
            }
        }
        if wants("powerState") {
            if want_running && cur.status != "running" {
                cur = c.start_vm(loc, &cur.uuid).await?;
            } else if !want_running && cur.status == "running" {
                cur = c.stop_vm(loc, &cur.uuid, false).await?;
            }
            out.applied.push("powerState");
        }
        if wants("password") {
            match (inputs.password.as_ref(), cur.status.as_str()) {
                (Some(pw), "running") => {
                    let user = s.username.clone().unwrap_or_else(|| cur.username.clone());
                    c.change_vm_password(loc, &cur.uuid, &user, pw.expose()).await?;
                    out.applied.push("password");
                }
                _ => out.pending.push(Pending {
                    field: "password",
                    reason: "PasswordChangePending",
                    message: "the changed password is pushed once the VM is running (3nv.io changes passwords only on running VMs)".into(),
                }),
            }
        }
        out.observed = Some(cur);
        Ok(out)
    }

    async fn delete(&self, target: &Target, vm: &Vm) -> Result<(), ApiError> {
        target.client.delete_vm(target.loc(), &vm.uuid).await
    }

    fn status(&self, vm: &Vm, target: &Target) -> serde_json::Value {
        let status = VirtualMachineStatus {
            state: Some(vm.status.clone()),
            private_ipv4: vm.private_ipv4.clone(),
            public_ipv4: vm.public_ipv4.clone(),
            public_ipv6: vm.public_ipv6.clone(),
            mac: vm.mac.clone(),
            location: target.location.clone(),
            storage: vm
                .storage
                .iter()
                .map(|d| VmStorage {
                    uuid: d.uuid.clone(),
                    name: d.name.clone().unwrap_or_default(),
                    size_gb: d.size,
                    primary: d.primary,
                })
                .collect(),
            ..VirtualMachineStatus::default()
        };
        serde_json::to_value(status).unwrap_or_default()
    }

    fn connection_details(
        &self,
        vm: Option<&Vm>,
        inputs: &VmInputs,
    ) -> Option<BTreeMap<String, String>> {
        self.spec.write_connection_secret_to_ref.as_ref()?;
        let mut d = BTreeMap::new();
        let user = self
            .spec
            .username
            .clone()
            .or_else(|| vm.map(|v| v.username.clone()))
            .unwrap_or_default();
        d.insert("username".to_owned(), user);
        if let Some(pw) = &inputs.password {
            d.insert("password".to_owned(), pw.expose().to_owned());
        }
        if let Some(vm) = vm {
            for (k, v) in [
                ("publicIpv4", &vm.public_ipv4),
                ("privateIpv4", &vm.private_ipv4),
            ] {
                if let Some(v) = v {
                    d.insert(k.to_owned(), v.clone());
                }
            }
        }
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_passwords_meet_the_rule() {
        for _ in 0..200 {
            let p = generate_password();
            assert_eq!(p.len(), 24);
            assert!(password_ok(&p), "{p}");
        }
        assert_ne!(generate_password(), generate_password());
    }

    #[test]
    fn name_rule_matches_the_reference() {
        for ok in ["web1", "acme-web-1", "A-b-C", "1234"] {
            assert!(name_ok(ok), "{ok}");
        }
        for bad in ["web", "-web1", "web1-", "web.example", "we_b1", ""] {
            assert!(!name_ok(bad), "{bad}");
        }
    }

    #[test]
    fn password_rule() {
        assert!(password_ok("Password123"));
        assert!(!password_ok("password123"));
        assert!(!password_ok("PASSWORD123"));
        assert!(!password_ok("Passwordxx"));
        assert!(!password_ok("Pa1"));
    }
}
