//! The `nno-operator` binary as a user runs it: `crds` output and `--help` texts.

use std::path::Path;
use std::process::Command;

fn nno(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nno-operator"))
        .args(args)
        .output()
        .expect("run nno-operator")
}

fn stdout(args: &[&str]) -> String {
    let out = nno(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn crds_prints_exactly_the_checked_in_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let expected: String = nno_operator::api::crds()
        .iter()
        .map(|c| std::fs::read_to_string(dir.join(nno_operator::api::crd_file_name(c))).unwrap())
        .collect();
    assert_eq!(stdout(&["crds"]), expected);
}

#[test]
fn crds_into_a_reader_that_stops_early_exits_cleanly() {
    use std::io::Read;
    let mut child = Command::new(env!("CARGO_BIN_EXE_nno-operator"))
        .arg("crds")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run nno-operator crds");
    let mut head = [0u8; 64];
    child.stdout.take().unwrap().read_exact(&mut head).unwrap();
    // The read end is closed now; the CRDs are far more than a pipe's buffer, so writing fails.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn crds_out_dir_writes_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    let out = stdout(&["crds", "--out-dir", tmp.path().to_str().unwrap()]);
    assert_eq!(out.lines().count(), 7, "{out}");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name();
        assert_eq!(
            std::fs::read_to_string(tmp.path().join(&name)).unwrap(),
            std::fs::read_to_string(dir.join(&name)).unwrap(),
            "{name:?}"
        );
    }
}

#[test]
fn crds_out_dir_that_cannot_be_written_fails_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, "x").unwrap();
    let out = nno(&["crds", "--out-dir", file.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot write") && err.contains("not-a-dir"),
        "{err}"
    );
}

#[test]
fn help_explains_every_subcommand_and_flag() {
    let top = stdout(&["--help"]);
    assert!(top.contains("crds"), "{top}");
    let crds = stdout(&["crds", "--help"]);
    assert!(
        crds.contains("--out-dir <DIR>") && crds.contains("one file per CRD"),
        "{crds}"
    );
}

#[test]
fn unknown_subcommand_is_rejected() {
    let out = nno(&["frobnicate"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unrecognized subcommand"));
}
