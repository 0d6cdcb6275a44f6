//! The typed 3nv.io client against the in-process simulator: every method, then error
//! classification, retries of GETs (backoff, Retry-After), timeouts, rate limiting and the
//! "never blindly retry a create" rule under injected faults.

use crate::sim_threenv_common;
use crate::threenv_client;

use nno_operator::cloud::ApiError;
use nno_operator::cloud::threenv::firewall::{FirewallRule, FirewallSpec};
use nno_operator::cloud::threenv::floating_ip::FloatingIpSpec;
use nno_operator::cloud::threenv::load_balancer::{CreateLoadBalancer, RuleSpec, TargetSpec};
use nno_operator::cloud::threenv::service_package::{CreateServicePackage, UpdateServicePackage};
use nno_operator::cloud::threenv::storage::{CreateDisk, ModifyDisk};
use nno_operator::cloud::threenv::vm::ModifyVm;
use sim_threenv_common::*;
use threenv_client::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_method_against_the_simulator() {
    let r = start().await;
    let c = client(&r);

    // Catalog.
    let locs = c.locations().await.unwrap();
    assert_eq!(
        locs.iter().map(|l| l.slug.as_str()).collect::<Vec<_>>(),
        ["cyc01", "bus02"]
    );
    assert!(locs[0].is_default);
    let pools = c.host_pools().await.unwrap();
    assert!(pools.iter().any(|p| p.is_default_designated));
    let params = c.vm_parameters().await.unwrap();
    let disks = params.iter().find(|p| p.parameter == "disks").unwrap();
    assert_eq!((disks.min, disks.max), (Some(20), Some(240)));
    assert!(c.vm_images().await.unwrap().len() > c.vm_images_app_catalog().await.unwrap().len());
    assert!(
        c.vm_images_plain_os()
            .await
            .unwrap()
            .iter()
            .all(|i| !i.is_app_catalog)
    );
    let boot = c.boot_images().await.unwrap();
    assert!(!boot.is_empty());
    assert_eq!(c.pricing_policy().await.unwrap().policy.len(), 8);

    // VMs in two locations.
    let vm = c.create_vm(None, &new_vm("web-1")).await.unwrap();
    assert_eq!(
        (vm.vcpu, vm.memory, vm.status.as_str()),
        (2, 2048, "running")
    );
    assert_eq!(vm.storage.len(), 1);
    assert!(vm.public_ipv4.is_some());
    let far = c.create_vm(Some("bus02"), &new_vm("far-1")).await.unwrap();
    assert_eq!(c.list_vms(None).await.unwrap().len(), 1);
    assert_eq!(c.list_vms(Some("bus02")).await.unwrap()[0].uuid, far.uuid);
    assert!(c.get_vm(None, &far.uuid).await.unwrap_err().is_not_found());
    assert_eq!(c.get_vm(None, &vm.uuid).await.unwrap().name, "web-1");
    let renamed = c
        .modify_vm(
            None,
            &ModifyVm {
                uuid: vm.uuid.clone(),
                name: Some("web-2".into()),
                ..ModifyVm::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(renamed.name, "web-2");
    assert!(
        c.change_vm_password(None, &vm.uuid, "example", "Password999")
            .await
            .unwrap()
            .success
    );
    assert_eq!(
        c.stop_vm(None, &vm.uuid, true).await.unwrap().status,
        "stopped"
    );
    let bigger = c
        .modify_vm(
            None,
            &ModifyVm {
                uuid: vm.uuid.clone(),
                vcpu: Some(4),
                ram: Some(4096),
                ..ModifyVm::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((bigger.vcpu, bigger.memory), (4, 4096));
    assert_eq!(c.start_vm(None, &vm.uuid).await.unwrap().status, "running");
    assert!(c.toggle_vm_backup(None, &vm.uuid).await.unwrap().backup);
    let re = c
        .reinstall_vm(None, &vm.uuid, Some("ubuntu"), Some("22.04-lts"))
        .await
        .unwrap();
    assert_eq!(re.os_version, "22.04-lts");
    assert_eq!(
        c.boot_vm_iso_media(None, &vm.uuid, &boot[0].uuid, None)
            .await
            .unwrap()
            .status,
        "running"
    );
    let released = c.release_vm_public_ip(None, &vm.uuid).await.unwrap();
    assert_eq!(released.public_ipv4, None);
    assert!(
        c.reserve_vm_public_ip(None, &vm.uuid)
            .await
            .unwrap()
            .public_ipv4
            .is_some()
    );
    let clone = c
        .clone_vm(None, &vm.uuid, "Name of the Clone")
        .await
        .unwrap();
    assert_ne!(clone.uuid, vm.uuid);

    // Replicas.
    let snap = c.create_replica(None, &vm.uuid).await.unwrap();
    let replica = snap.replica.last().unwrap().uuid.clone();
    assert_eq!(
        c.list_replicas(None, &vm.uuid, None).await.unwrap().len(),
        1
    );
    assert!(
        c.list_replicas(None, &vm.uuid, Some("backup"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        c.rebuild_vm(None, &vm.uuid, &replica).await.unwrap().uuid,
        vm.uuid
    );
    c.delete_replica(None, &replica).await.unwrap();
    assert!(
        c.list_replicas(None, &vm.uuid, None)
            .await
            .unwrap()
            .is_empty()
    );

    // VM storage and block storage.
    let added = c.add_vm_disk(None, &vm.uuid, 50).await.unwrap();
    assert_eq!(
        c.resize_vm_disk(None, &vm.uuid, &added.uuid, 60)
            .await
            .unwrap()
            .size,
        60
    );
    assert!(
        c.resize_vm_disk(None, &vm.uuid, &added.uuid, 10)
            .await
            .unwrap_err()
            .message()
            .contains("smaller")
    );
    c.delete_vm_disk(None, &vm.uuid, &added.uuid).await.unwrap();
    let disk = c
        .create_disk(&CreateDisk {
            size_gb: Some(15),
            billing_account_id: Some(6),
            display_name: Some("data".into()),
            ..CreateDisk::default()
        })
        .await
        .unwrap();
    assert_eq!(
        c.get_disk(&disk.uuid)
            .await
            .unwrap()
            .display_name
            .as_deref(),
        Some("data")
    );
    let attached = c.attach_disk(None, &vm.uuid, &disk.uuid).await.unwrap();
    assert_eq!(attached.uuid, disk.uuid);
    assert!(c.delete_disk(&disk.uuid).await.unwrap_err().is_conflict());
    assert!(
        c.detach_disk(None, &vm.uuid, &disk.uuid)
            .await
            .unwrap()
            .success
    );
    let m = c
        .modify_disk(
            &disk.uuid,
            &ModifyDisk {
                read_only_bootable: Some(true),
                display_name: Some("iso".into()),
                ..ModifyDisk::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(m.read_only_bootable, Some(true));
    assert_eq!(c.list_disks(true).await.unwrap().len(), 1);
    assert!(c.list_disks(false).await.unwrap().len() >= 3);
    c.delete_disk(&disk.uuid).await.unwrap();

    // Object storage.
    assert_eq!(c.s3_api().await.unwrap().url, "https://s3.3nv.io:8080/");
    let b = c.create_bucket("client-bucket", Some(6)).await.unwrap();
    assert_eq!(b.num_objects, 0);
    assert!(
        c.create_bucket("client-bucket", Some(6))
            .await
            .unwrap_err()
            .is_conflict()
    );
    assert_eq!(
        c.modify_bucket("client-bucket", 7)
            .await
            .unwrap()
            .billing_account_id,
        Some(7)
    );
    assert_eq!(
        c.get_bucket("client-bucket").await.unwrap().name,
        "client-bucket"
    );
    assert_eq!(c.list_buckets(Some(7)).await.unwrap().len(), 1);
    assert!(c.list_buckets(Some(8)).await.unwrap().is_empty());
    r.sim.set_bucket_content("client-bucket", 2, 10).unwrap();
    assert!(
        c.delete_bucket("client-bucket")
            .await
            .unwrap_err()
            .is_conflict()
    );
    r.sim.set_bucket_content("client-bucket", 0, 0).unwrap();
    c.delete_bucket("client-bucket").await.unwrap();
    let user = c.s3_user().await.unwrap();
    assert_eq!(user.s3_credentials.len(), 1);
    assert!(!format!("{user:?}").contains(&user.s3_credentials[0].secret_key));
    let keys = c.create_s3_key().await.unwrap();
    assert_eq!(keys.len(), 2);
    c.delete_s3_key(&keys[0].access_key).await.unwrap();
    assert_eq!(c.list_s3_keys().await.unwrap(), vec![keys[1].clone()]);

    // Networks.
    let default = c.create_network(None).await.unwrap();
    assert!(default.is_default);
    let net = c.create_network(Some("backend")).await.unwrap();
    assert!(!net.is_default);
    assert_eq!(
        c.rename_network(&net.uuid, "backend-2").await.unwrap().name,
        "backend-2"
    );
    assert!(c.set_default_network(&net.uuid).await.unwrap().is_default);
    assert!(c.delete_network(&net.uuid).await.unwrap_err().is_conflict());
    c.set_default_network(&default.uuid).await.unwrap();
    c.delete_network(&net.uuid).await.unwrap();
    assert!(c.get_network(&net.uuid).await.unwrap_err().is_not_found());
    assert!(
        c.list_networks()
            .await
            .unwrap()
            .iter()
            .any(|n| n.uuid == default.uuid)
    );
    assert!(
        c.get_network(&default.uuid)
            .await
            .unwrap()
            .vm_uuids
            .contains(&vm.uuid)
    );

    // Floating IPs (location specific).
    let ip = c
        .create_floating_ip(
            Some("bus02"),
            &FloatingIpSpec {
                name: Some("edge".into()),
                billing_account_id: Some(6),
            },
        )
        .await
        .unwrap();
    assert!(
        c.get_floating_ip(None, &ip.address)
            .await
            .unwrap_err()
            .is_not_found()
    );
    let upd = c
        .update_floating_ip(
            Some("bus02"),
            &ip.address,
            &FloatingIpSpec {
                name: Some("edge-2".into()),
                billing_account_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(upd.name, "edge-2");
    c.release_vm_public_ip(Some("bus02"), &far.uuid)
        .await
        .unwrap();
    let assigned = c
        .assign_floating_ip(Some("bus02"), &ip.address, &far.uuid)
        .await
        .unwrap();
    assert_eq!(assigned.assigned_to.as_deref(), Some(far.uuid.as_str()));
    assert_eq!(
        c.list_floating_ips(Some("bus02"), None, Some(&far.uuid))
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        c.delete_floating_ip(Some("bus02"), &ip.address)
            .await
            .unwrap_err()
            .is_conflict()
    );
    assert_eq!(
        c.unassign_floating_ip(Some("bus02"), &ip.address)
            .await
            .unwrap()
            .assigned_to,
        None
    );
    assert_eq!(
        c.get_floating_ip(Some("bus02"), &ip.address)
            .await
            .unwrap()
            .name,
        "edge-2"
    );
    c.delete_floating_ip(Some("bus02"), &ip.address)
        .await
        .unwrap();

    // Firewalls.
    let rule = FirewallRule {
        protocol: "tcp".into(),
        direction: "inbound".into(),
        port_start: Some(22),
        port_end: Some(22),
        endpoint_spec_type: "ip_prefixes".into(),
        endpoint_spec: Some(vec!["10.0.0.0/24".into()]),
        uuid: None,
    };
    let fw = c
        .create_firewall(&FirewallSpec {
            display_name: Some("ssh".into()),
            billing_account_id: Some(6),
            rules: Some(vec![rule.clone()]),
            ..FirewallSpec::default()
        })
        .await
        .unwrap();
    assert_eq!(fw.title(), "ssh");
    let mut kept = fw.rules[0].clone();
    kept.port_start = Some(2222);
    kept.port_end = Some(2222);
    let fw2 = c
        .update_firewall(
            &fw.uuid,
            &FirewallSpec {
                name: Some("ssh-2".into()),
                rules: Some(vec![kept.clone()]),
                ..FirewallSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (fw2.title(), fw2.rules[0].uuid.clone()),
        ("ssh-2", kept.uuid.clone())
    );
    let bad = FirewallRule {
        direction: "sideways".into(),
        ..rule.clone()
    };
    let e = c
        .create_firewall(&FirewallSpec {
            display_name: Some("x".into()),
            billing_account_id: Some(6),
            rules: Some(vec![bad]),
            ..FirewallSpec::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(e, ApiError::Rejected { status: 400, .. }), "{e:?}");
    assert_eq!(
        c.assign_firewall(&fw.uuid, &vm.uuid).await.unwrap()[0].resource_uuid,
        vm.uuid
    );
    assert_eq!(
        c.list_firewalls().await.unwrap()[0]
            .resources_assigned
            .len(),
        1
    );
    c.unassign_firewall(&fw.uuid, &vm.uuid).await.unwrap();
    c.delete_firewall(&fw.uuid).await.unwrap();
    assert!(c.list_firewalls().await.unwrap().is_empty());

    // Load balancers.
    let lb = c
        .create_load_balancer(&CreateLoadBalancer {
            display_name: Some("lb".into()),
            billing_account_id: Some(6),
            rules: vec![RuleSpec {
                source_port: 80,
                target_port: 8080,
                protocol: None,
            }],
            targets: vec![TargetSpec {
                target_uuid: vm.uuid.clone(),
                target_type: "vm".into(),
            }],
            ..CreateLoadBalancer::default()
        })
        .await
        .unwrap();
    assert_eq!(
        lb.targets[0].target_ip_address.as_deref(),
        re.private_ipv4.as_deref()
    );
    assert_eq!(
        c.rename_load_balancer(&lb.uuid, "lb-2")
            .await
            .unwrap()
            .display_name
            .as_deref(),
        Some("lb-2")
    );
    let t = c
        .add_load_balancer_target(
            &lb.uuid,
            &TargetSpec {
                target_uuid: clone.uuid.clone(),
                target_type: "vm".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(t.target_uuid, clone.uuid);
    let fr = c
        .add_forwarding_rule(
            &lb.uuid,
            &RuleSpec {
                source_port: 443,
                target_port: 8443,
                protocol: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(fr.source_port, Some(443));
    assert!(
        c.add_forwarding_rule(
            &lb.uuid,
            &RuleSpec {
                source_port: 443,
                target_port: 1,
                protocol: None
            }
        )
        .await
        .unwrap_err()
        .is_conflict()
    );
    c.remove_forwarding_rule(&lb.uuid, fr.uuid.as_deref().unwrap())
        .await
        .unwrap();
    c.remove_load_balancer_target(&lb.uuid, &clone.uuid)
        .await
        .unwrap();
    assert_eq!(
        c.set_load_balancer_billing_account(&lb.uuid, 99)
            .await
            .unwrap()
            .billing_account_id,
        Some(99)
    );
    let got = c.get_load_balancer(&lb.uuid).await.unwrap();
    assert_eq!((got.targets.len(), got.forwarding_rules.len()), (1, 1));
    assert_eq!(c.list_load_balancers().await.unwrap().len(), 1);
    c.delete_load_balancer(&lb.uuid).await.unwrap();
    assert!(
        c.get_load_balancer(&lb.uuid)
            .await
            .unwrap_err()
            .is_not_found()
    );

    // Managed services.
    let pkg = c
        .create_service_package(&CreateServicePackage {
            billing_account_id: 6,
            service: "postgresql".into(),
            version: "14.0".into(),
            display_name: "db".into(),
            vm_cpu: 2,
            vm_ram: 4096,
            vm_disk_gb: 40,
            package_parameters: Some("{\"location\":\"dc1\"}".into()),
            is_multi_node: Some(true),
        })
        .await
        .unwrap();
    assert_eq!(pkg.resources.len(), 3);
    assert_eq!(c.list_service_packages().await.unwrap().len(), 1);
    assert_eq!(
        c.update_service_package(
            &pkg.uuid,
            &UpdateServicePackage {
                display_name: Some("db-2".into()),
                billing_account_id: Some(7)
            }
        )
        .await
        .unwrap()
        .display_name,
        "db-2"
    );
    assert_eq!(
        c.get_service_package(&pkg.uuid)
            .await
            .unwrap()
            .billing_account_id,
        Some(7)
    );
    let secrets = c.service_package_secrets(&pkg.uuid).await.unwrap();
    let pass = secrets.0["sql_pass"].as_str().unwrap().to_string();
    assert!(!format!("{secrets:?}").contains(&pass));
    assert_eq!(
        c.add_service_whitelist(&pkg.uuid, "1.2.3.0/24")
            .await
            .unwrap(),
        ["1.2.3.0/24"]
    );
    assert_eq!(c.service_whitelist(&pkg.uuid).await.unwrap().len(), 1);
    assert!(
        c.delete_service_whitelist(&pkg.uuid, "1.2.3.0/24")
            .await
            .unwrap()
            .is_empty()
    );
    let deleted = c.delete_service_package(&pkg.uuid).await.unwrap();
    assert!(deleted.is_deleted && deleted.deleted_at.is_some());

    // Billing views.
    assert!(!c.usage(6).await.unwrap().is_empty());
    assert_eq!(
        c.billing_resources(Some("bus02"), 6).await.unwrap().len(),
        1
    );
    let moved = c.set_resource_billing(None, &vm.uuid, 42).await.unwrap();
    assert_eq!(moved["billing_account"], 42);

    // Deletes.
    c.delete_vm(None, &clone.uuid).await.unwrap();
    c.delete_vm(None, &vm.uuid).await.unwrap();
    c.delete_vm(Some("bus02"), &far.uuid).await.unwrap();
    assert!(c.list_vms(None).await.unwrap().is_empty());
    assert!(!format!("{:?}", new_vm("x")).contains("Password123"));
    r.server.stop().await;
}
