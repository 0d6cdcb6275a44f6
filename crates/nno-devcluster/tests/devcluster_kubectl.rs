//! The devcluster against the real `kubectl` binary: CRDs from crds/, discovery with short names and
//! categories, get/describe/explain, label/annotate/patch, client-side and server-side apply, wait,
//! finalizers, `get --watch`, secrets, events, namespaces, and schema errors naming the field.
//! Runs unchanged on either backend (see nno-testkit): the devcluster, or the real API server.

use nno_testkit::kubectl::{Kube, root};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

const WAIT: Duration = Duration::from_secs(60);

const VM: &str = "config/samples/virtualmachine.yaml";

async fn with_crds_and_vm(k: &Kube) {
    let out = k.ok(&["apply", "-f", "crds/"]).await;
    assert!(
        out.contains(
            "customresourcedefinition.apiextensions.k8s.io/virtualmachines.nno.app created"
        ),
        "{out}"
    );
    k.ok(&[
        "wait",
        "--for",
        "condition=established",
        "--timeout=30s",
        "crd/virtualmachines.nno.app",
    ])
    .await;
    let out = k.ok(&["apply", "-f", VM]).await;
    assert!(
        out.contains("virtualmachine.nno.app/acme-web-1 created"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_discovers_crds_and_edits_custom_resources() {
    let k = Kube::start().await;
    with_crds_and_vm(&k).await;

    let res = k.ok(&["api-resources"]).await;
    let vm_line = res
        .lines()
        .find(|l| l.starts_with("virtualmachines"))
        .expect("vm in api-resources");
    assert!(
        vm_line.split_whitespace().collect::<Vec<_>>()
            == [
                "virtualmachines",
                "vm",
                "nno.app/v1alpha1",
                "true",
                "VirtualMachine"
            ],
        "{vm_line}"
    );
    let cat = k
        .ok(&["api-resources", "--categories", "nno", "-o", "name"])
        .await;
    assert!(
        cat.contains("virtualmachines.nno.app") && cat.contains("platforms.nno.app"),
        "{cat}"
    );

    let table = k.ok(&["get", "vm"]).await;
    let header = table.lines().next().unwrap();
    for col in ["NAME", "READY", "SYNCED", "EXTERNAL-ID", "VCPU", "AGE"] {
        assert!(header.contains(col), "missing column {col}: {header}");
    }
    assert!(
        !header.contains("PRIVATE-IP"),
        "priority-1 column only with -o wide"
    );
    assert!(table.contains("acme-web-1"));
    let wide = k.ok(&["get", "vm", "-o", "wide"]).await;
    assert!(
        wide.lines().next().unwrap().contains("PRIVATE-IP"),
        "{wide}"
    );
    let yaml = k.ok(&["get", "vm", "acme-web-1", "-o", "yaml"]).await;
    assert!(
        yaml.contains("kind: VirtualMachine")
            && yaml.contains("uid:")
            && yaml.contains("generation: 1"),
        "{yaml}"
    );
    let jp = k
        .ok(&[
            "get",
            "vm",
            "acme-web-1",
            "-o",
            "jsonpath={.spec.vcpu}/{.spec.osName}",
        ])
        .await;
    assert_eq!(jp, "2/ubuntu");
    let described = k.ok(&["describe", "vm", "acme-web-1"]).await;
    assert!(
        described.contains("Name:         acme-web-1") && described.contains("Vcpu:"),
        "{described}"
    );
    let explained = k.ok(&["explain", "vm.spec.vcpu"]).await;
    assert!(explained.contains("FIELD: vcpu <integer>"), "{explained}");
    let all_nno = k.ok(&["get", "nno"]).await;
    assert!(
        all_nno.contains("virtualmachine.nno.app/acme-web-1"),
        "{all_nno}"
    );

    k.ok(&["label", "vm", "acme-web-1", "env=prod"]).await;
    k.ok(&["annotate", "vm", "acme-web-1", "nno.app/paused=true"])
        .await;
    assert_eq!(
        k.ok(&["get", "vm", "-l", "env=prod", "-o", "name"])
            .await
            .trim(),
        "virtualmachine.nno.app/acme-web-1"
    );
    assert_eq!(
        k.ok(&["get", "vm", "-l", "env notin (prod)", "-o", "name"])
            .await
            .trim(),
        ""
    );
    k.ok(&[
        "patch",
        "vm",
        "acme-web-1",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"vcpu":4}}"#,
    ])
    .await;
    k.ok(&[
        "patch",
        "vm",
        "acme-web-1",
        "--type",
        "json",
        "-p",
        r#"[{"op":"replace","path":"/spec/ramMb","value":8192}]"#,
    ])
    .await;
    let jp = k.ok(&["get", "vm", "acme-web-1", "-o", "jsonpath={.spec.vcpu}/{.spec.ramMb}/{.metadata.generation}/{.metadata.annotations.nno\\.app/paused}"]).await;
    assert_eq!(jp, "4/8192/3/true");

    // Client-side apply twice, then server-side.
    let again = k.ok(&["apply", "-f", VM]).await;
    assert!(
        again.contains("configured"),
        "the patched fields go back to the manifest: {again}"
    );
    let third = k.ok(&["apply", "-f", VM]).await;
    assert!(third.contains("unchanged"), "{third}");
    assert_eq!(
        k.ok(&["get", "vm", "acme-web-1", "-o", "jsonpath={.spec.vcpu}"])
            .await,
        "2"
    );
    let ssa = k.ok(&["apply", "--server-side", "-f", VM]).await;
    assert!(ssa.contains("serverside-applied"), "{ssa}");
    let managers = k
        .ok(&[
            "get",
            "vm",
            "acme-web-1",
            "--show-managed-fields",
            "-o",
            "jsonpath={.metadata.managedFields[*].manager}",
        ])
        .await;
    assert!(managers.contains("kubectl"), "{managers}");

    // Validation errors name the field.
    let bad = std::fs::read_to_string(root().join(VM))
        .unwrap()
        .replace("name: acme-web-1\n  namespace", "name: bad-vm\n  namespace")
        .replace("vcpu: 2", "vcpu: 40");
    let err = k.fails(&["apply", "-f", "-"], Some(&bad)).await;
    assert!(
        err.contains("spec.vcpu") && err.contains("less than or equal to 16"),
        "{err}"
    );
    let err = k
        .fails(
            &[
                "patch",
                "vm",
                "acme-web-1",
                "--type",
                "merge",
                "-p",
                r#"{"spec":{"osName":"debian"}}"#,
            ],
            None,
        )
        .await;
    assert!(
        err.contains("spec.osName") && err.contains("osName is immutable"),
        "{err}"
    );
    // Unknown fields: kubectl apply asks for strict validation (400), a plain patch gets a warning.
    let bogus = std::fs::read_to_string(root().join(VM))
        .unwrap()
        .replace("  vcpu: 2", "  vcpu: 2\n  bogusField: 1");
    let err = k.fails(&["apply", "-f", "-"], Some(&bogus)).await;
    assert!(
        err.contains(r#"strict decoding error: unknown field "spec.bogusField""#),
        "{err}"
    );
    let patch = r#"{"spec":{"bogusField":1}}"#;
    let out = k
        .run(
            &["patch", "vm", "acme-web-1", "--type", "merge", "-p", patch],
            None,
        )
        .await;
    assert!(out.status.success());
    let warn = String::from_utf8_lossy(&out.stderr);
    assert!(
        warn.contains(r#"unknown field "spec.bogusField""#),
        "{warn}"
    );

    // Status update, then wait for the condition.
    // kubectl wait also compares the condition's observedGeneration with metadata.generation.
    let generation = k
        .ok(&[
            "get",
            "vm",
            "acme-web-1",
            "-o",
            "jsonpath={.metadata.generation}",
        ])
        .await;
    let status = format!(
        r#"{{"status":{{"observedGeneration":{generation},"conditions":[{{"type":"Ready","status":"True","reason":"Running","message":"VM is running","lastTransitionTime":"2026-01-01T00:00:00Z","observedGeneration":{generation}}}]}}}}"#
    );
    k.ok(&[
        "patch",
        "vm",
        "acme-web-1",
        "--subresource",
        "status",
        "--type",
        "merge",
        "-p",
        &status,
    ])
    .await;
    k.ok(&[
        "wait",
        "--for=condition=Ready",
        "--timeout=30s",
        "vm/acme-web-1",
    ])
    .await;
    let table = k.ok(&["get", "vm", "acme-web-1", "--no-headers"]).await;
    assert!(
        table.split_whitespace().nth(1) == Some("True"),
        "READY column shows the condition: {table}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_finalizers_watch_secrets_events_namespaces() {
    let k = Kube::start().await;
    with_crds_and_vm(&k).await;

    // get --watch streams changes.
    let mut watch = k.cmd(&["get", "vm", "acme-web-1", "--watch", "--no-headers"]);
    watch
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = watch.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(first.starts_with("acme-web-1"), "{first}");
    k.ok(&[
        "patch",
        "vm",
        "acme-web-1",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"vcpu":3}}"#,
    ])
    .await;
    let second = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(
        second.split_whitespace().any(|c| c == "3"),
        "watch shows the new vcpu: {second}"
    );

    // Delete with a finalizer: the object stays, marked, until the finalizer goes.
    k.ok(&[
        "patch",
        "vm",
        "acme-web-1",
        "--type",
        "merge",
        "-p",
        r#"{"metadata":{"finalizers":["nno.app/cleanup"]}}"#,
    ])
    .await;
    k.ok(&["delete", "vm", "acme-web-1", "--wait=false"]).await;
    let ts = k
        .ok(&[
            "get",
            "vm",
            "acme-web-1",
            "-o",
            "jsonpath={.metadata.deletionTimestamp}",
        ])
        .await;
    assert!(!ts.is_empty(), "deletionTimestamp set");
    k.ok(&[
        "patch",
        "vm",
        "acme-web-1",
        "--type",
        "json",
        "-p",
        r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
    ])
    .await;
    let gone = k.fails(&["get", "vm", "acme-web-1"], None).await;
    assert!(
        gone.contains("NotFound") || gone.contains("not found"),
        "{gone}"
    );
    child.kill().await.ok();

    // Secrets.
    k.ok(&[
        "create",
        "secret",
        "generic",
        "db-creds",
        "--from-literal=password=s3cr3t",
        "--from-literal=user=app",
    ])
    .await;
    let data = k
        .ok(&[
            "get",
            "secret",
            "db-creds",
            "-o",
            "jsonpath={.data.password}",
        ])
        .await;
    assert_eq!(data, "czNjcjN0");
    let listed = k.ok(&["get", "secrets"]).await;
    assert!(
        listed.contains("db-creds") && listed.contains("Opaque"),
        "{listed}"
    );

    // Events.
    let ev = r#"{"apiVersion":"v1","kind":"Event","metadata":{"name":"acme.1","namespace":"default"},
      "involvedObject":{"apiVersion":"nno.app/v1alpha1","kind":"VirtualMachine","name":"acme-web-1","namespace":"default"},
      "reason":"Created","message":"VM created in 3nv.io","type":"Normal","count":1,
      "firstTimestamp":"2026-01-01T00:00:00Z","lastTimestamp":"2026-01-01T00:00:00Z","source":{"component":"nno-operator"}}"#;
    k.ok_in(&["create", "-f", "-"], Some(ev)).await;
    // An events.k8s.io/v1 Event (what kube-rs' Recorder writes) shows up in the core listing.
    let ev2 = r#"{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"acme.2","namespace":"default"},
      "regarding":{"apiVersion":"nno.app/v1alpha1","kind":"VirtualMachine","name":"acme-web-1","namespace":"default"},
      "reason":"Synced","note":"in sync with 3nv.io","type":"Normal","action":"Reconcile",
      "eventTime":"2026-01-01T00:00:00.000000Z","reportingController":"nno-operator","reportingInstance":"nno-operator-0"}"#;
    k.ok_in(&["create", "-f", "-"], Some(ev2)).await;
    let events = k.ok(&["get", "events"]).await;
    assert!(
        events.contains("Created") && events.contains("VM created in 3nv.io"),
        "{events}"
    );
    assert!(events.contains("virtualmachine/acme-web-1"), "{events}");
    // As on the API server, NAME is a wide-only column, so LAST SEEN comes first.
    assert!(events.starts_with("LAST SEEN"), "{events}");
    let synced = events
        .lines()
        .find(|l| l.contains("in sync with 3nv.io"))
        .expect("v1 event listed");
    assert!(
        synced
            .split_whitespace()
            .next()
            .is_some_and(|age| age.ends_with('d')),
        "LAST SEEN from eventTime: {synced}"
    );
    let filtered = k
        .ok(&[
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=acme-web-1",
            "-o",
            "name",
        ])
        .await;
    assert_eq!(filtered.trim(), "event/acme.1\nevent/acme.2");

    // Namespaces: create, fill, delete (contents go too).
    assert!(
        k.tc.has_controllers(),
        "namespace deletion on the real backend needs kube-controller-manager \
         (NNO_TEST_KUBE_CONTROLLER_MANAGER, built by tests/k8s/build)"
    );
    k.ok(&["create", "namespace", "team-a"]).await;
    k.ok(&[
        "create",
        "configmap",
        "settings",
        "-n",
        "team-a",
        "--from-literal=a=b",
    ])
    .await;
    let nss = k.ok(&["get", "namespaces"]).await;
    for ns in ["default", "kube-system", "kube-public", "team-a"] {
        assert!(nss.contains(ns), "{nss}");
    }
    k.ok(&["delete", "namespace", "team-a", "--timeout=30s"])
        .await;
    let err = k.fails(&["get", "namespace", "team-a"], None).await;
    assert!(err.contains("not found"), "{err}");
    let left = k.ok(&["get", "configmaps", "-A", "-o", "name"]).await;
    assert!(!left.contains("settings"), "{left}");
    let err = k.fails(&["delete", "namespace", "default"], None).await;
    assert!(err.contains("forbidden"), "{err}");
}
