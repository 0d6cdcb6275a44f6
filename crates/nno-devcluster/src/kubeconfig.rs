//! Kubeconfig for a running devcluster (plain HTTP on loopback, no credentials).

use std::path::Path;

/// The kubeconfig YAML pointing at `server` (e.g. `http://127.0.0.1:6443`).
pub fn render(server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: devcluster\n  cluster:\n    server: {server}\n\
contexts:\n- name: devcluster\n  context:\n    cluster: devcluster\n    user: devcluster\n    namespace: default\n\
current-context: devcluster\nusers:\n- name: devcluster\n  user: {{}}\npreferences: {{}}\n"
    )
}

/// Writes the kubeconfig atomically (temp file, fsync, rename).
pub fn write(path: &Path, server: &str) -> std::io::Result<()> {
    nno_support::fsutil::write_atomic_bytes(path, render(server).as_bytes())
}

#[cfg(test)]
mod tests {
    #[test]
    fn kube_rs_accepts_it() {
        let cfg: kube::config::Kubeconfig =
            kube::config::Kubeconfig::from_yaml(&super::render("http://127.0.0.1:1")).unwrap();
        assert_eq!(cfg.current_context.as_deref(), Some("devcluster"));
    }
}
