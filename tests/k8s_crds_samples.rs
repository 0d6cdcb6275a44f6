//! The shipped manifests against either backend (see nno-testkit), with `kubectl`: every CRD in
//! crds/ installs and becomes Established, every sample in config/samples/ applies, invalid objects
//! are rejected naming the field (OpenAPI and CEL rules), the RBAC in config/rbac/ applies, and
//! kstatus (the verdict Flux and Argo CD wait on) reads the status the controllers write as
//! InProgress while converging and Current once Ready and observed.

use nno_testkit::kubectl::{Kube, root};
use serde_json::Value;
use std::path::Path;

/// The `.yaml` files of a directory, sorted.
fn yaml_files(dir: &str) -> Vec<String> {
    let mut files: Vec<String> = std::fs::read_dir(root().join(dir))
        .expect("dir exists")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

async fn install_crds(k: &Kube) -> Vec<String> {
    k.ok(&["apply", "-f", "crds/"]).await;
    let crds: Vec<String> = yaml_files("crds")
        .iter()
        .map(|f| format!("crd/{}", f.trim_end_matches(".yaml")))
        .collect();
    assert_eq!(crds.len(), 7, "{crds:?}");
    let mut args = vec!["wait", "--for=condition=established", "--timeout=60s"];
    args.extend(crds.iter().map(String::as_str));
    k.ok(&args).await;
    crds
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_crd_establishes_and_every_sample_applies() {
    let k = Kube::start().await;
    for crd in install_crds(&k).await {
        let names = k
            .ok(&[
                "get",
                &crd,
                "-o",
                "jsonpath={.status.conditions[?(@.type==\"NamesAccepted\")].status}",
            ])
            .await;
        assert_eq!(names, "True", "{crd} names accepted");
    }
    let out = k.ok(&["apply", "-f", "config/samples/"]).await;
    for kind in [
        "secret/acme-3nv-credentials",
        "platform.nno.app/acme",
        "virtualmachine.nno.app/acme-web-1",
        "disk.nno.app/",
        "bucket.nno.app/",
        "firewall.nno.app/acme-web",
        "loadbalancer.nno.app/",
        "servicepackage.nno.app/",
    ] {
        assert!(
            out.contains(kind) && out.contains("created"),
            "{kind}: {out}"
        );
    }
    // A second apply changes nothing; the Secret reports `configured` on every backend, because its
    // `stringData` is write-only and so always differs from the live object.
    let again = k.ok(&["apply", "-f", "config/samples/"]).await;
    let changed: Vec<&str> = again
        .lines()
        .filter(|l| l.contains("configured") && !l.starts_with("secret/"))
        .collect();
    assert!(changed.is_empty(), "samples are stable: {again}");
    let listed = k.ok(&["get", "nno", "-o", "name"]).await;
    assert_eq!(listed.lines().count(), 7, "{listed}");

    // An OpenAPI violation and a CEL rule violation, each rejected with the field's path.
    let vm = std::fs::read_to_string(root().join("config/samples/virtualmachine.yaml"))
        .unwrap()
        .replace("name: acme-web-1\n", "name: bad-vm\n")
        .replace("vcpu: 2", "vcpu: 40");
    let err = k.fails(&["apply", "-f", "-"], Some(&vm)).await;
    assert!(
        err.contains("spec.vcpu") && err.contains("less than or equal to 16"),
        "{err}"
    );
    let fw = std::fs::read_to_string(root().join("config/samples/firewall.yaml"))
        .unwrap()
        .replace("name: acme-web\n", "name: bad-fw\n")
        .replacen("portEnd: 80", "portEnd: 79", 1);
    let err = k.fails(&["apply", "-f", "-"], Some(&fw)).await;
    assert!(
        err.contains("spec.rules[0]")
            && err.contains("portStart must be less than or equal to portEnd"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_rbac_applies() {
    let k = Kube::start().await;
    k.ok(&["create", "namespace", "nno-system"]).await;
    let out = k.ok(&["apply", "-k", "config/rbac/"]).await;
    for obj in [
        "serviceaccount/nno-operator",
        "clusterrole.rbac.authorization.k8s.io/nno-operator",
        "clusterrolebinding.rbac.authorization.k8s.io/nno-operator",
    ] {
        assert!(out.contains(&format!("{obj} created")), "{obj}: {out}");
    }
}

/// kstatus's verdicts (`NNO_TEST_KSTATUS`, built by tests/k8s/build) for every nno object.
async fn kstatus(k: &Kube, bin: &Path) -> Vec<(String, String)> {
    let json = k.ok(&["get", "nno", "-o", "json"]).await;
    let mut child = tokio::process::Command::new(bin)
        .args(["-o", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("kstatus runs");
    use tokio::io::AsyncWriteExt;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(json.as_bytes()).await.unwrap();
    drop(stdin);
    let out = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("kstatus finishes")
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    verdicts
        .iter()
        .map(|v| {
            (
                format!(
                    "{}/{}",
                    v["kind"].as_str().unwrap(),
                    v["name"].as_str().unwrap()
                ),
                v["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Writes the status the controllers write: conditions Ready and Synced, observedGeneration.
async fn set_status(k: &Kube, obj: &str, ready: bool, observed: &str) {
    let (status, reason) = if ready {
        ("True", "Available")
    } else {
        ("False", "Creating")
    };
    let patch = format!(
        r#"{{"status":{{"observedGeneration":{observed},"conditions":[
        {{"type":"Ready","status":"{status}","reason":"{reason}","message":"m","lastTransitionTime":"2026-01-01T00:00:00Z","observedGeneration":{observed}}},
        {{"type":"Synced","status":"True","reason":"ReconcileSuccess","message":"m","lastTransitionTime":"2026-01-01T00:00:00Z","observedGeneration":{observed}}}]}}}}"#
    );
    k.ok(&[
        "patch",
        obj,
        "--subresource",
        "status",
        "--type",
        "merge",
        "-p",
        &patch,
    ])
    .await;
}

/// Needs the kstatus binary (Go, built by tests/k8s/build; `.ci/run` sets `NNO_TEST_KSTATUS` for
/// both backends): without it this test says so and does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kstatus_sees_converging_then_current_then_in_progress_after_a_spec_change() {
    let Some(bin) = std::env::var_os("NNO_TEST_KSTATUS").filter(|v| !v.is_empty()) else {
        assert!(
            std::env::var_os("NNO_TEST_REQUIRE_TOOLS").is_none(),
            "NNO_TEST_REQUIRE_TOOLS is set but NNO_TEST_KSTATUS is not"
        );
        eprintln!("needs NNO_TEST_KSTATUS (tests/k8s/build makes target/k8s/bin/kstatus): not run");
        return;
    };
    let bin = Path::new(&bin).to_path_buf();
    let k = Kube::start().await;
    install_crds(&k).await;
    k.ok(&["apply", "-f", "config/samples/"]).await;
    let objs: Vec<String> = k
        .ok(&["get", "nno", "-o", "name"])
        .await
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(objs.len(), 7);

    for obj in &objs {
        set_status(&k, obj, false, "1").await;
    }
    for (obj, verdict) in kstatus(&k, &bin).await {
        assert_eq!(verdict, "InProgress", "{obj} while converging");
    }
    for obj in &objs {
        set_status(&k, obj, true, "1").await;
    }
    for (obj, verdict) in kstatus(&k, &bin).await {
        assert_eq!(verdict, "Current", "{obj} once Ready");
    }
    // A spec change bumps metadata.generation past status.observedGeneration.
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
    let verdicts = kstatus(&k, &bin).await;
    for (obj, verdict) in &verdicts {
        let want = if obj == "VirtualMachine/acme-web-1" {
            "InProgress"
        } else {
            "Current"
        };
        assert_eq!(verdict, want, "{obj} after the VM's spec change");
    }
    set_status(&k, "vm/acme-web-1", true, "2").await;
    for (obj, verdict) in kstatus(&k, &bin).await {
        assert_eq!(
            verdict, "Current",
            "{obj} once the new generation is observed"
        );
    }
}
