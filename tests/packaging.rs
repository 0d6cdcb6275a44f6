//! The install manifests, on either backend (see nno-testkit): `kubectl kustomize config/default`
//! renders every piece, the Helm chart lints and renders (real helm, `NNO_TEST_HELM`, built by
//! tests/k8s/build), the chart's RBAC rules are exactly config/rbac's, bad values fail on the
//! chart's values.schema.json, and both renderings pass `kubectl apply --dry-run=server`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use nno_testkit::kubectl::{Kube, root};
use serde_json::Value;

fn docs(yaml: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(yaml)
        .map(|d| serde::Deserialize::deserialize(d).expect("valid YAML"))
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn kinds(docs: &[Value]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for d in docs {
        *out.entry(d["kind"].as_str().unwrap_or_default().to_owned())
            .or_default() += 1;
    }
    out
}

/// The rules of the (Cluster)Role in `docs`, each verb and resource list sorted.
fn rules(docs: &[Value], kind: &str) -> Vec<Value> {
    let role = docs
        .iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} rendered"));
    let mut out: Vec<Value> = role["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| {
            let mut r = r.clone();
            for k in ["apiGroups", "resources", "verbs"] {
                if let Some(a) = r[k].as_array_mut() {
                    a.sort_by_key(|v| v.to_string());
                }
            }
            r
        })
        .collect();
    out.sort_by_key(|v| v.to_string());
    out
}

/// The helm binary: `NNO_TEST_HELM`. `.ci/run` sets it (and `NNO_TEST_REQUIRE_TOOLS`, which makes a
/// missing binary a failure); a plain `cargo test` without it says so and skips the helm part.
fn helm() -> Option<PathBuf> {
    match std::env::var_os("NNO_TEST_HELM").filter(|v| !v.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("NNO_TEST_REQUIRE_TOOLS").is_some() => {
            panic!(
                "NNO_TEST_REQUIRE_TOOLS is set but NNO_TEST_HELM is not (tests/k8s/build makes target/k8s/bin/helm)"
            )
        }
        None => {
            eprintln!(
                "needs NNO_TEST_HELM (tests/k8s/build makes target/k8s/bin/helm): helm checks not run"
            );
            None
        }
    }
}

/// What `helm template` renders for (the real backend's version; helm built from source without
/// release flags would assume 1.20 and refuse the chart's kubeVersion).
const KUBE_VERSION: &str = "1.37.2";

async fn helm_run(bin: &PathBuf, args: &[&str]) -> std::process::Output {
    let mut args: Vec<&str> = args.to_vec();
    if args.first() == Some(&"template") {
        args.extend(["--kube-version", KUBE_VERSION]);
    }
    tokio::process::Command::new(bin)
        .args(&args)
        .current_dir(root())
        // No repository config, cache or plugins of the machine's user.
        .env("HELM_CONFIG_HOME", root().join("target/helm/config"))
        .env("HELM_CACHE_HOME", root().join("target/helm/cache"))
        .env("HELM_DATA_HOME", root().join("target/helm/data"))
        .output()
        .await
        .expect("run helm")
}

async fn helm_ok(bin: &PathBuf, args: &[&str]) -> String {
    let out = helm_run(bin, args).await;
    assert!(
        out.status.success(),
        "helm {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kustomize_default_renders_everything_and_dry_runs_on_the_server() {
    let k = Kube::start().await;
    let rendered = k.ok(&["kustomize", "config/default"]).await;
    let all = docs(&rendered);
    let got = kinds(&all);
    let want: BTreeMap<String, usize> = [
        ("CustomResourceDefinition", 7),
        ("Namespace", 1),
        ("ServiceAccount", 1),
        ("ClusterRole", 1),
        ("ClusterRoleBinding", 1),
        ("Deployment", 1),
        ("Service", 1),
        ("PodDisruptionBudget", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_owned(), n))
    .collect();
    assert_eq!(got, want, "{rendered}");
    for d in all.iter().filter(|d| {
        [
            "ServiceAccount",
            "Deployment",
            "Service",
            "PodDisruptionBudget",
        ]
        .contains(&d["kind"].as_str().unwrap_or_default())
    }) {
        assert_eq!(d["metadata"]["namespace"], "nno-system", "{d}");
    }
    // The namespace and CRDs first (the dry run of a namespaced object needs its namespace), then
    // everything at once on the server.
    k.ok(&["apply", "-k", "config/crd"]).await;
    k.ok(&["create", "namespace", "nno-system"]).await;
    let out = k
        .ok_in(&["apply", "--dry-run=server", "-f", "-"], Some(&rendered))
        .await;
    assert!(out.contains("deployment.apps/nno-operator"), "{out}");
    assert!(out.contains("(server dry run)"), "{out}");
    // The samples' kustomize entry renders the same objects `kubectl apply -f` takes.
    let samples = docs(&k.ok(&["kustomize", "config/samples"]).await);
    assert_eq!(samples.len(), 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_helm_chart_lints_renders_the_same_rbac_and_dry_runs_on_the_server() {
    let Some(helm) = helm() else { return };
    helm_ok(&helm, &["lint", "--strict", "charts/nno-operator"]).await;
    let rendered = helm_ok(
        &helm,
        &[
            "template",
            "nno-operator",
            "charts/nno-operator",
            "--namespace",
            "nno-system",
            "--include-crds",
        ],
    )
    .await;
    let all = docs(&rendered);
    let got = kinds(&all);
    assert_eq!(got.get("CustomResourceDefinition"), Some(&7), "{got:?}");
    for kind in [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
        "PodDisruptionBudget",
    ] {
        assert_eq!(got.get(kind), Some(&1), "{kind}: {got:?}");
    }
    assert!(!got.contains_key("ServiceMonitor"), "off by default");
    let kustomize_rbac = std::fs::read_to_string(root().join("config/rbac/role.yaml")).unwrap();
    assert_eq!(
        rules(&all, "ClusterRole"),
        rules(&docs(&kustomize_rbac), "ClusterRole"),
        "the chart's RBAC rules and config/rbac/role.yaml differ"
    );
    let deploy = all.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let pod = &deploy["spec"]["template"]["spec"];
    assert_eq!(deploy["spec"]["replicas"], 2);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let c = &pod["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");

    // Namespace-scoped: a Role and RoleBinding in the watched namespace, the lease's own Role in
    // the release namespace, and NNO_NAMESPACE set.
    let scoped = docs(
        &helm_ok(
            &helm,
            &[
                "template",
                "nno-operator",
                "charts/nno-operator",
                "--namespace",
                "nno-system",
                "--set",
                "watchNamespace=team-a",
            ],
        )
        .await,
    );
    let sk = kinds(&scoped);
    assert!(!sk.contains_key("ClusterRole"), "{sk:?}");
    assert_eq!(sk.get("Role"), Some(&2), "{sk:?}");
    let role = scoped
        .iter()
        .find(|d| d["kind"] == "Role" && d["metadata"]["namespace"] == "team-a")
        .expect("a Role in team-a");
    assert_eq!(role["metadata"]["name"], "nno-operator");
    let env = scoped.iter().find(|d| d["kind"] == "Deployment").unwrap()["spec"]["template"]
        ["spec"]["containers"][0]["env"]
        .clone();
    assert!(
        env.as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "NNO_NAMESPACE" && e["value"] == "team-a"),
        "{env}"
    );

    // values.schema.json rejects bad values at install time.
    let bad = helm_run(
        &helm,
        &[
            "template",
            "x",
            "charts/nno-operator",
            "--set",
            "replicas=two",
        ],
    )
    .await;
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("replicas"), "{err}");
    let bad = helm_run(
        &helm,
        &[
            "template",
            "x",
            "charts/nno-operator",
            "--set",
            "logFormat=xml",
        ],
    )
    .await;
    assert!(!bad.status.success());

    // The rendering passes the server's own checks.
    let k = Kube::start().await;
    k.ok(&["apply", "-f", "charts/nno-operator/crds/"]).await;
    k.ok(&["create", "namespace", "nno-system"]).await;
    let without_crds = helm_ok(
        &helm,
        &[
            "template",
            "nno-operator",
            "charts/nno-operator",
            "--namespace",
            "nno-system",
        ],
    )
    .await;
    let out = k
        .ok_in(
            &["apply", "--dry-run=server", "-f", "-"],
            Some(&without_crds),
        )
        .await;
    assert!(out.contains("(server dry run)"), "{out}");
}
