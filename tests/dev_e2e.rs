//! `nno-operator dev`, the real binary: the samples become Ready and `--exit-when-ready` exits 0;
//! while it runs, the real kubectl works against the kubeconfig it prints (including
//! `kubectl apply -n team-a -f config/samples/`) and its plain view follows; a second `dev` on the
//! same directory is refused with a clear message; Ctrl-C stops it cleanly; `--state-dir` keeps
//! the objects for the next run; a timeout exits non-zero naming what is not Ready and why.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nno_support::testing::{eventually, within};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const WAIT: Duration = Duration::from_secs(240);
const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/config/samples");

fn dev(dir: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nno-operator"));
    c.arg("dev")
        .arg("--state-dir")
        .arg(dir)
        .args(["--sim-provision-delay-ms", "300"])
        .args(extra)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    c
}

/// A running `dev` whose stdout is collected line by line.
struct Running {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn start(dir: &Path, extra: &[&str]) -> Self {
        let mut child = dev(dir, extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn nno-operator dev");
        let out = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let out = out.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(l)) = lines.next_line().await {
                    out.lock().unwrap().push(l);
                }
            });
        }
        Self { child, out }
    }

    fn text(&self) -> String {
        self.out.lock().unwrap().join("\n")
    }

    async fn wait_line(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        eventually(WAIT, what, || {
            let found = self.out.lock().unwrap().iter().find(|l| pred(l)).cloned();
            async move { found }
        })
        .await
    }

    async fn interrupt_and_wait(mut self) -> (std::process::ExitStatus, String) {
        let pid = self.child.id().expect("running").to_string();
        let sent = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .await
            .expect("run kill");
        assert!(sent.success(), "SIGINT to dev");
        let status = within(WAIT, "dev stops after Ctrl-C", self.child.wait())
            .await
            .expect("wait for dev");
        // Let the readers drain.
        tokio::time::sleep(Duration::from_millis(200)).await;
        (status, self.text())
    }
}

struct Kubectl {
    kubeconfig: PathBuf,
}

impl Kubectl {
    async fn run(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new(nno_testkit::kubectl::kubectl())
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env_remove("KUBECONFIG")
            .args(args)
            .output()
            .await
            .expect("run kubectl (install it or set $KUBECTL)");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    async fn ok(&self, args: &[&str]) -> String {
        let (ok, text) = self.run(args).await;
        assert!(ok, "kubectl {args:?} failed: {text}");
        text
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_converges_the_samples_and_kubectl_works_against_it() {
    let dir = tempfile::tempdir().unwrap();
    let dev1 = Running::start(dir.path(), &["--plain"]);
    let export = dev1
        .wait_line("the export KUBECONFIG line", |l| {
            l.starts_with("export KUBECONFIG=")
        })
        .await;
    let kubeconfig = PathBuf::from(export.trim_start_matches("export KUBECONFIG="));
    assert_eq!(
        kubeconfig,
        std::path::absolute(dir.path().join("kubeconfig")).unwrap()
    );
    dev1.wait_line("every sample Ready", |l| l.ends_with(" 7/7 Ready"))
        .await;

    // A second dev on the same directory is refused, naming the first.
    let second = within(
        WAIT,
        "the second dev exits",
        dev(dir.path(), &["--plain"]).output(),
    )
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(!second.status.success());
    assert!(err.contains("already running"), "{err}");

    let k = Kubectl { kubeconfig };
    let names = k.ok(&["get", "nno", "-o", "name"]).await;
    assert_eq!(names.lines().count(), 7, "{names}");
    k.ok(&["describe", "vm", "acme-web-1"]).await;
    // Samples name no namespace: they apply to any namespace, and the view follows.
    k.ok(&["create", "namespace", "team-a"]).await;
    k.ok(&["apply", "-n", "team-a", "-f", SAMPLES]).await;
    let team = k.ok(&["get", "nno", "-n", "team-a", "-o", "name"]).await;
    assert_eq!(team.lines().count(), 7, "{team}");
    dev1.wait_line("the view shows team-a", |l| l.contains("team-a/acme-web-1"))
        .await;
    k.ok(&["delete", "-n", "team-a", "-f", SAMPLES, "--wait=false"])
        .await;
    dev1.wait_line("the view shows the deletion", |l| {
        l.contains("VirtualMachine/team-a/acme-web-1 deleted")
    })
    .await;

    let (status, text) = dev1.interrupt_and_wait().await;
    assert!(status.success(), "dev exits 0 after Ctrl-C: {text}");
    assert!(text.contains("stopped; state kept in"), "{text}");
    let log = std::fs::read_to_string(dir.path().join("dev.log")).unwrap();
    assert!(
        !log.contains("dev-api-key"),
        "the sample API key never reaches the log"
    );

    // The state survives: without samples, the next run has the 7 objects again, all Ready.
    let again = within(
        WAIT,
        "dev --no-samples --exit-when-ready",
        dev(dir.path(), &["--no-samples", "--exit-when-ready=200s"]).output(),
    )
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(out.contains("all 7 objects Ready"), "{out}");
    assert!(!out.contains("applied"), "no samples applied: {out}");
}

#[tokio::test]
async fn exit_when_ready_times_out_naming_what_is_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    // Every 3nv.io call fails: nothing of the cloud kinds can become Ready.
    let out = within(
        WAIT,
        "dev --exit-when-ready=8s",
        dev(
            dir.path(),
            &["--exit-when-ready=8s", "--sim-error-rate", "1"],
        )
        .output(),
    )
    .await
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("not everything was Ready after 8s"), "{err}");
    assert!(err.contains("VirtualMachine/default/acme-web-1"), "{err}");
}

#[tokio::test]
async fn bad_flags_fail_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = dev(dir.path(), &["--sim-error-rate", "1.5"])
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("not a probability between 0 and 1"), "{err}");
    let out = dev(dir.path(), &["--exit-when-ready=soon"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("examples: 90s, 5m"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
