//! The test harness's backends themselves: whichever backend is selected starts, serves the
//! built-in namespaces and answers as the admin user; the real backend's RBAC, TokenRequest and
//! service-account authentication work (those tests need the real backend: the devcluster has no
//! authentication or authorization, and say so when it is the one selected).

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use kube::api::{Api, ListParams, ObjectMeta, PostParams};
use nno_testkit::{Backend, TestCluster};

#[tokio::test]
async fn selected_backend_starts_and_serves_namespaces() {
    let tc = TestCluster::start().await;
    let client = tc.client().await;
    let names: Vec<String> = Api::<Namespace>::all(client)
        .list(&ListParams::default())
        .await
        .expect("list namespaces")
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    for ns in ["default", "kube-system", "kube-public"] {
        assert!(names.iter().any(|n| n == ns), "{ns} in {names:?}");
    }
    assert!(tc.kubeconfig_path().is_file());
}

/// Needs the real backend (the devcluster authenticates and authorizes nobody): a ServiceAccount's
/// token from TokenRequest authenticates, and RBAC denies what no role grants.
#[tokio::test]
async fn real_backend_only_service_account_token_is_denied_by_rbac() {
    if nno_testkit::selected() != Backend::Real {
        eprintln!("needs the real backend (NNO_TEST_KUBE_APISERVER, NNO_TEST_ETCD): not run");
        return;
    }
    let tc = TestCluster::start().await;
    let client = tc.client().await;
    let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some("probe".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    sas.create(&PostParams::default(), &sa)
        .await
        .expect("sa created");
    let tr = TokenRequest {
        spec: Some(TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..Default::default()
        }),
        ..Default::default()
    };
    let token = sas
        .create_token_request("probe", &PostParams::default(), &tr)
        .await
        .expect("token request")
        .status
        .expect("token status")
        .token
        .expect("token");
    let real = tc.real().expect("real backend");
    let sa_client = nno_testkit::real::client_from_kubeconfig(&real.kubeconfig_for_token(&token))
        .await
        .expect("sa client");
    let err = Api::<Secret>::namespaced(sa_client, "default")
        .list(&ListParams::default())
        .await
        .expect_err("no role grants listing secrets");
    match err {
        kube::Error::Api(s) => {
            assert_eq!(s.code, 403, "{s:?}");
            assert!(
                s.message.contains("system:serviceaccount:default:probe"),
                "{}",
                s.message
            );
        }
        other => panic!("expected 403, got {other:?}"),
    }
}
