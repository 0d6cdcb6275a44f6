//! Kill -9 and restart of the real binary with `--state-file`: every acknowledged write survives and
//! resourceVersions keep increasing.

use k8s_openapi::api::core::v1::ConfigMap;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams, PostParams};
use nno_support::testing::{eventually, wait_until};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Server {
    child: Child,
    client: kube::Client,
}

async fn spawn(state: &Path, dir: &Path, n: usize) -> Server {
    let kubeconfig = dir.join(format!("kubeconfig-{n}"));
    let child = Command::new(env!("CARGO_BIN_EXE_nno-operator"))
        .args(["devcluster", "--addr", "127.0.0.1:0", "--kubeconfig-out"])
        .arg(&kubeconfig)
        .arg("--state-file")
        .arg(state)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("binary starts");
    let text = eventually(
        Duration::from_secs(60),
        "the devcluster's kubeconfig",
        || async { std::fs::read_to_string(&kubeconfig).ok() },
    )
    .await;
    let kc = kube::config::Kubeconfig::from_yaml(&text).unwrap();
    let server = kc.clusters[0]
        .cluster
        .as_ref()
        .unwrap()
        .server
        .clone()
        .unwrap();
    assert!(
        !server.ends_with(":0"),
        "kubeconfig shows the real port: {server}"
    );
    let config = kube::Config::new(server.parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    Server { child, client }
}

fn cm(name: &str, v: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("v".into(), v.into())])),
        ..Default::default()
    }
}

fn rv(o: &ConfigMap) -> u64 {
    o.resource_version().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.jsonl");

    let mut s1 = spawn(&state, dir.path(), 1).await;
    let api: Api<ConfigMap> = Api::default_namespaced(s1.client.clone());
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    let mut max_rv = 0;
    for i in 0..30 {
        let o = api
            .create(&PostParams::default(), &cm(&format!("c{i}"), "0"))
            .await
            .unwrap();
        max_rv = max_rv.max(rv(&o));
        expected.insert(format!("c{i}"), "0".into());
    }
    for i in 0..10 {
        let o = api
            .patch(
                &format!("c{i}"),
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"v": "1"}})),
            )
            .await
            .unwrap();
        max_rv = max_rv.max(rv(&o));
        expected.insert(format!("c{i}"), "1".into());
    }
    for i in 20..25 {
        api.delete(&format!("c{i}"), &DeleteParams::default())
            .await
            .unwrap();
        expected.remove(&format!("c{i}"));
    }

    // A writer keeps going while the process is killed: whatever it saw acknowledged must survive.
    let acked: Arc<Mutex<Vec<(String, u64)>>> = Arc::default();
    let writer = {
        let api = api.clone();
        let acked = acked.clone();
        tokio::spawn(async move {
            for i in 0.. {
                let name = format!("live{i}");
                match api.create(&PostParams::default(), &cm(&name, "x")).await {
                    Ok(o) => acked.lock().unwrap().push((name, rv(&o))),
                    Err(_) => break,
                }
            }
        })
    };
    wait_until(
        Duration::from_secs(60),
        "20 acknowledged creates",
        || async { acked.lock().unwrap().len() >= 20 },
    )
    .await;
    s1.child.kill().expect("kill -9");
    s1.child.wait().unwrap();
    writer.await.unwrap();
    let acked = acked.lock().unwrap().clone();
    max_rv = max_rv.max(acked.iter().map(|(_, r)| *r).max().unwrap());

    let mut s2 = spawn(&state, dir.path(), 2).await;
    let api: Api<ConfigMap> = Api::default_namespaced(s2.client.clone());
    for (name, v) in &expected {
        let o = api
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("{name} lost: {e}"));
        assert_eq!(&o.data.unwrap()["v"], v, "{name}");
    }
    for i in 20..25 {
        assert!(
            api.get_opt(&format!("c{i}")).await.unwrap().is_none(),
            "deletes survive too"
        );
    }
    for (name, r) in &acked {
        let o = api
            .get(name)
            .await
            .unwrap_or_else(|e| panic!("acknowledged {name} lost: {e}"));
        assert_eq!(rv(&o), *r, "{name} keeps its resourceVersion");
    }
    let fresh = api
        .create(&PostParams::default(), &cm("after-restart", "y"))
        .await
        .unwrap();
    assert!(
        rv(&fresh) > max_rv,
        "resourceVersion {} must exceed {max_rv}",
        rv(&fresh)
    );

    // And once more, with a clean restart in between.
    s2.child.kill().unwrap();
    s2.child.wait().unwrap();
    let mut s3 = spawn(&state, dir.path(), 3).await;
    let api: Api<ConfigMap> = Api::default_namespaced(s3.client.clone());
    assert_eq!(
        api.get("after-restart").await.unwrap().data.unwrap()["v"],
        "y"
    );
    s3.child.kill().unwrap();
    s3.child.wait().unwrap();
}
