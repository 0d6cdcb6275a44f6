//! The Lease leader elector of src/leader.rs against the devcluster: takeover after expiry, clean
//! release on stop.

use kube::api::Api;
use nno_devcluster::{DevCluster, Options};
use nno_operator::leader::{LeaderElector, LeaseConfig};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

#[tokio::test]
async fn lease_leader_election_hands_over() {
    let dc = DevCluster::start(Options::default())
        .await
        .expect("devcluster starts");
    let client = dc.client().expect("client");
    let cfg = |id: &str| LeaseConfig {
        namespace: "default".into(),
        name: "nno-operator-leader".into(),
        identity: id.into(),
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: Duration::from_millis(200),
    };
    let a = LeaderElector::new(client.clone(), cfg("a"));
    let b = LeaderElector::new(client.clone(), cfg("b"));
    assert!(
        a.try_acquire_or_renew().await.unwrap(),
        "a takes the free lease"
    );
    assert!(
        !b.try_acquire_or_renew().await.unwrap(),
        "b cannot while a holds it"
    );
    assert!(a.try_acquire_or_renew().await.unwrap(), "a renews");

    let (_stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let (mut b_leads, b_task) = b.clone().spawn(stop_rx);
    // a stops renewing (crashed): b takes over once the lease expires.
    tokio::time::timeout(WAIT, b_leads.wait_for(|l| *l))
        .await
        .expect("b becomes leader")
        .unwrap();
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::default_namespaced(client.clone());
    let spec = leases
        .get("nno-operator-leader")
        .await
        .unwrap()
        .spec
        .unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(1));
    assert!(!a.try_acquire_or_renew().await.unwrap(), "a lost it");

    // b stops cleanly and releases: a gets it at once.
    _stop_tx.send(true).unwrap();
    b_task.await.unwrap();
    assert!(
        a.try_acquire_or_renew().await.unwrap(),
        "released lease is free"
    );
    dc.stop().await;
}
